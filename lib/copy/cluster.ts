/**
 * A Redis Cluster as the source (`--source redis-cluster://host:port[,host:port…]`), into a
 * cluster-mode-disabled target (one keyspace, database 0):
 *
 * 1. Discover the masters: `CLUSTER SHARDS` (7.0+), else `CLUSTER SLOTS` (3.0+), from the
 *    first seed that answers.
 * 2. Copy every master at once: as a replica of it (the replication copy, replication/) where
 *    it allows PSYNC and may fork (fork-safety.ts), else by scanning it: `SCAN` on the node,
 *    each key read through ioredis's `Cluster` (`DUMP`, `PTTL` and `TIME` in one script), which
 *    follows `MOVED` and `ASK` when a slot moves meanwhile. (The project's batch scan copy sends
 *    many keys per script; a cluster node refuses that with CROSSSLOT.)
 * 3. Settle: the masters' copies are independent, so a resharding during them can leave a key
 *    deleted by the old owner's stream after the new owner's copy restored it, or copied twice.
 *    Every key of every current master is compared with the target (structural digest and
 *    absolute expiry, digest.ts, read through `Cluster`), every target key is checked to exist
 *    in the cluster, and what differs is copied again or deleted; repeated until a pass finds
 *    nothing (at most SETTLE_PASSES: a cluster written all along never stops changing, and the
 *    verification then reports it). Writes made to the cluster during the copy are caught
 *    the same way, as of the last pass.
 * 4. `verifyClusterCopy` is that comparison without repairs: the strict verification across
 *    shards.
 *
 * Cluster mode itself: redis.io "Redis cluster specification" (MOVED/ASK), cluster.c
 * (clusterCommandShards, clusterReplyMultiBulkSlots).
 */
import { Cluster, type ClusterOptions, type Redis, type RedisOptions } from 'ioredis';
import { ClusterTopologyError } from '../errors.js';
import { connectRedis, redisOptions, type RedisEndpoint } from '../redis/connect.js';
import { mapRedisError } from '../redis/errors.js';
import { digestKey, type KeyDigest, sameContent } from './digest.js';
import { type CopyMethod, tryReplication } from './fallback.js';
import { startMasterCapture } from './cluster-live.js';
import { ownKeys } from './filter.js';
import { assertForkAllowed, type ContainerKnowledge, decideFork } from './fork-safety.js';
import { copyViaReplication } from './replication/replica-copy.js';
import type { CatchUpStats } from './live.js';
import { readTargetVersion, restoreWithExpiry } from './restore-expiry.js';
import { readSourceFacts } from './source-facts.js';
import { addStats, type CopyStats, emptyStats } from './types.js';
import { emptyReport, type Mismatch, outlives, printableKey, type VerifyReport } from './verify.js';

export interface ClusterMaster {
  id: string;
  host: string;
  port: number;
  /** Slot ranges it serves, inclusive. */
  slots: [number, number][];
}

export interface ClusterCopyOptions {
  method?: CopyMethod;
  connections?: number;
  /** Each master's container, for the fork-safety check (default: not in Kubernetes, no limit). */
  container?: ContainerKnowledge;
  /**
   * Keep copying the cluster's writes this long after each master's copy (`--live`): a master
   * copied as a replica follows its replication stream, one copied by scan its keyspace
   * notifications (cluster-live.ts, subscribed before its scan). The settling passes follow.
   */
  followMs?: number;
  /** Told when the masters are known and when their copies are done, before settling (tests reshard in between). */
  onPhase?: (phase: 'discovered' | 'copied', masters: ClusterMaster[]) => Promise<void> | void;
}

export interface MasterCopy {
  master: string;
  method: 'replication' | 'scan';
  fallbackReason?: string;
  stats: CopyStats;
  /** With `followMs`: writes applied from the master's replication stream, or the keys its notifications had copied/deleted. */
  live?: { commandsApplied: number } | CatchUpStats;
}

export interface ClusterCopyResult {
  masters: MasterCopy[];
  stats: CopyStats;
  /** Settling passes run, keys copied again / deleted by them, and whether the last found nothing (false: the cluster is still being written). */
  settle: { passes: number; recopied: number; deleted: number; converged: boolean };
}

const SETTLE_PASSES = 5;
/** Keys per round of digests (each key is read separately: keys of one batch live in different slots). */
const BATCH = 100;

/** `redis-cluster://[user:password@]h:p[,h:p…]` (or `rediss-cluster://`): the seeds and credentials. */
export function parseClusterUrl(url: string): { tls: boolean; seeds: { host: string; port: number }[]; username?: string; password?: string } {
  const match = /^(rediss?)-cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?$/.exec(url);
  if (!match) throw new ClusterTopologyError(`not a redis-cluster:// URL: ${url.replace(/\/\/[^@/]*@/, '//')}`);
  const [, scheme, userinfo, hosts] = match;
  const seeds = hosts!.split(',').map((hp) => {
    const at = hp.lastIndexOf(':');
    return at < 0 ? { host: hp, port: 6379 } : { host: hp.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(hp.slice(at + 1)) };
  });
  const [user, pass] = userinfo ? userinfo.split(':').map(decodeURIComponent) : [];
  return { tls: scheme === 'rediss', seeds, ...(user ? { username: user } : {}), ...(pass ? { password: pass } : {}) };
}

/** A `redis(s)://host:port` endpoint for one node, with the cluster's password and CA. */
export function nodeEndpoint(source: RedisEndpoint, node: { host: string; port: number }): RedisEndpoint {
  const parsed = parseClusterUrl(source.url);
  const password = source.password ?? parsed.password;
  const user = parsed.username ? `${encodeURIComponent(parsed.username)}@` : '';
  return {
    url: `${parsed.tls ? 'rediss' : 'redis'}://${user}${node.host.includes(':') ? `[${node.host}]` : node.host}:${node.port}`,
    ...(password ? { password } : {}),
    ...(source.caFile ? { caFile: source.caFile } : {}),
  };
}

/** The cluster's masters, from the first seed that answers CLUSTER SHARDS or CLUSTER SLOTS. */
export async function discoverMasters(source: RedisEndpoint): Promise<ClusterMaster[]> {
  const failures: string[] = [];
  for (const seed of parseClusterUrl(source.url).seeds) {
    let client: Redis | undefined;
    try {
      client = await connectRedis(nodeEndpoint(source, seed), { connectionName: 'spin-elasticache-cluster-discovery' });
      const fromShards = await client.call('CLUSTER', 'SHARDS').then(
        (reply) => mastersFromShards(reply as unknown[]),
        () => undefined,
      );
      const masters = fromShards ?? mastersFromSlots((await client.call('CLUSTER', 'SLOTS')) as unknown[]);
      if (masters.length > 0) return masters;
      failures.push(`${seed.host}:${seed.port}: no masters`);
    } catch (error) {
      failures.push(`${seed.host}:${seed.port}: ${(error as Error).message}`);
    } finally {
      client?.disconnect();
    }
  }
  throw new ClusterTopologyError(`no seed of the cluster told its masters (${failures.join('; ')})`);
}

const fieldsOf = (flat: unknown[]): Map<string, unknown> => {
  const out = new Map<string, unknown>();
  for (let i = 0; i + 1 < flat.length; i += 2) out.set(String(flat[i]), flat[i + 1]);
  return out;
};

/** CLUSTER SHARDS (7.0+): per shard, `slots` (flat start/end pairs) and `nodes` (maps with id, ip/endpoint, port, role, health). */
export function mastersFromShards(shards: unknown[]): ClusterMaster[] {
  const out: ClusterMaster[] = [];
  for (const shard of shards) {
    const s = fieldsOf(shard as unknown[]);
    const flat = ((s.get('slots') as unknown[]) ?? []).map(Number);
    const slots: [number, number][] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) slots.push([flat[i]!, flat[i + 1]!]);
    for (const node of (s.get('nodes') as unknown[][]) ?? []) {
      const n = fieldsOf(node);
      if (String(n.get('role')) !== 'master' || String(n.get('health')) === 'fail') continue;
      const endpoint = String(n.get('endpoint') ?? '');
      const host = endpoint && endpoint !== '?' ? endpoint : String(n.get('ip'));
      out.push({ id: String(n.get('id')), host, port: Number(n.get('port') ?? n.get('tls-port')), slots });
    }
  }
  return out;
}

/** CLUSTER SLOTS: [start, end, [ip, port, id], replicas…] per range; masters grouped by id. */
export function mastersFromSlots(ranges: unknown[]): ClusterMaster[] {
  const byId = new Map<string, ClusterMaster>();
  for (const range of ranges as unknown[][]) {
    const [start, end, master] = range as [number, number, unknown[]];
    const [ip, port, id = `${String(master[0])}:${String(master[1])}`] = master.map(String);
    const m = byId.get(id) ?? { id, host: ip!, port: Number(port), slots: [] };
    m.slots.push([Number(start), Number(end)]);
    byId.set(id, m);
  }
  return [...byId.values()];
}

/** What differs between the cluster clients: the source's and the target's (cluster-target.ts). */
export interface ClusterConnectOptions {
  /** Named in the error when the cluster cannot be reached ('redis-cluster source'). */
  where: string;
  connectionName: string;
  /** More options for every node's connection. */
  redisOptions?: RedisOptions;
  /** Redirection and retry settings. */
  cluster?: ClusterOptions;
}

export const SOURCE: ClusterConnectOptions = {
  where: 'redis-cluster source',
  connectionName: 'spin-elasticache-cluster',
  cluster: { maxRedirections: 32, retryDelayOnMoved: 50, retryDelayOnTryAgain: 50 },
};

/** An ioredis Cluster client for a `redis(s)-cluster://` endpoint, not connected yet (connectCluster connects it). */
export function clusterClient(endpoint: RedisEndpoint, options: ClusterConnectOptions): Cluster {
  const parsed = parseClusterUrl(endpoint.url);
  const node = redisOptions(nodeEndpoint(endpoint, parsed.seeds[0]!));
  return new Cluster(parsed.seeds, {
    scaleReads: 'master',
    // Node addresses as the cluster gives them: with TLS, ElastiCache's certificates name its
    // hostnames, which a lookup to IPs would lose (ioredis README, "Special note: AWS ElastiCache Clusters with TLS").
    dnsLookup: (address, callback) => callback(null, address),
    ...options.cluster,
    redisOptions: {
      ...(node.password ? { password: node.password } : {}),
      ...(node.username ? { username: node.username } : {}),
      ...(node.tls ? { tls: node.tls } : {}),
      connectionName: options.connectionName,
      connectTimeout: 5000,
      commandTimeout: node.commandTimeout,
      ...options.redisOptions,
    },
    lazyConnect: true,
  });
}

/** An ioredis Cluster client (follows MOVED and ASK, refreshes its slot map), ready; an unreachable cluster becomes a named error. */
export async function connectCluster(endpoint: RedisEndpoint, options: ClusterConnectOptions): Promise<Cluster> {
  const cluster = clusterClient(endpoint, options);
  cluster.on('error', () => undefined); // reported by the commands that fail
  try {
    await cluster.connect();
  } catch (error) {
    cluster.disconnect();
    throw mapRedisError(error, options.where);
  }
  return cluster;
}

/** Copies every master of the cluster at `source` into `target`, then settles (see the module comment). */
export async function copyFromCluster(source: RedisEndpoint, target: RedisEndpoint, options: ClusterCopyOptions = {}): Promise<ClusterCopyResult> {
  const masters = await discoverMasters(source);
  await options.onPhase?.('discovered', masters);
  const cluster = await connectCluster(source, SOURCE);
  try {
    const copies = await Promise.all(masters.map((m) => copyMaster(source, m, target, cluster, options)));
    await options.onPhase?.('copied', masters);
    let recopied = 0;
    let deleted = 0;
    let passes = 0;
    let converged = false;
    for (;;) {
      passes++;
      const pass = await compareWithCluster(source, target, cluster, { repair: true });
      recopied += pass.recopied;
      deleted += pass.deleted;
      converged = pass.recopied + pass.deleted === 0;
      // Still changing after SETTLE_PASSES: writes go on; the verification reports what differs.
      if (converged || passes >= SETTLE_PASSES) break;
    }
    const stats = copies.reduce((sum, c) => addStats(sum, c.stats), emptyStats());
    return { masters: copies, stats, settle: { passes, recopied, deleted, converged } };
  } finally {
    cluster.disconnect();
  }
}

async function copyMaster(source: RedisEndpoint, master: ClusterMaster, target: RedisEndpoint, cluster: Cluster, options: ClusterCopyOptions): Promise<MasterCopy> {
  const endpoint = nodeEndpoint(source, master);
  const name = `${master.host}:${master.port}`;
  const attempt = await tryReplication(options.method ?? 'auto', async () => {
    assertForkAllowed(decideFork(await readSourceFacts(endpoint), options.container ?? { none: true }));
    return copyViaReplication(endpoint, target, { ...(options.connections ? { connections: options.connections } : {}), ...(options.followMs ? { followMs: options.followMs } : {}) });
  });
  if ('copied' in attempt) return { master: name, method: 'replication', stats: attempt.copied.stats, ...(options.followMs ? { live: { commandsApplied: attempt.copied.commandsApplied } } : {}) };
  // Listening before the scan: a key written after the scan read it is copied again.
  const capture = options.followMs ? await startMasterCapture(endpoint, cluster, target) : undefined;
  try {
    const stats = await scanMaster(endpoint, cluster, target);
    const live = capture ? await capture.run(Date.now() + options.followMs!) : undefined;
    return { master: name, method: 'scan', ...(attempt.fallbackReason ? { fallbackReason: attempt.fallbackReason } : {}), stats, ...(live ? { live } : {}) };
  } finally {
    await capture?.close();
  }
}

/** `DUMP`, `PTTL` and the server's `TIME`, atomically, for one key: the payload and its absolute expiry. */
const READ_KEY = "local t = redis.call('TIME') return {redis.call('DUMP', KEYS[1]), redis.call('PTTL', KEYS[1]), t[1], t[2]}";

/** One key read through the cluster (following redirections) and restored on the target; false when it is gone. */
async function copyKey(cluster: Cluster, target: Redis, targetVersion: Awaited<ReturnType<typeof readTargetVersion>>, key: Buffer): Promise<boolean> {
  const [payload, pttl, seconds, micros] = (await cluster.callBuffer('EVAL', READ_KEY, '1', key)) as [Buffer | null, number, Buffer, Buffer];
  if (!payload || pttl === -2) return false;
  const expiresAt = pttl >= 0 ? Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) + pttl : 0;
  return (await restoreWithExpiry(target, targetVersion, key, expiresAt, payload)) === 'restored';
}

/** The scan copy of one master: its keys by SCAN on the node, each read through the cluster. */
async function scanMaster(endpoint: RedisEndpoint, cluster: Cluster, targetEndpoint: RedisEndpoint): Promise<CopyStats> {
  const started = Date.now();
  const stats = emptyStats();
  const skip = ownKeys();
  const [node, target] = await Promise.all([connectRedis(endpoint, { connectionName: 'spin-elasticache-cluster-scan' }), connectRedis(targetEndpoint, { connectionName: 'spin-elasticache-copy' })]);
  try {
    const targetVersion = await readTargetVersion(target);
    let cursor = '0';
    do {
      const [next, keys] = (await node.scanBuffer(cursor, 'COUNT', BATCH)) as unknown as [Buffer, Buffer[]];
      cursor = next.toString();
      const copied = await Promise.all(keys.filter((k) => !skip(k)).map((key) => copyKey(cluster, target, targetVersion, key)));
      for (const ok of copied) {
        if (ok) stats.keys++;
        else stats.vanished++;
      }
    } while (cursor !== '0');
  } finally {
    node.disconnect();
    target.disconnect();
  }
  stats.ms = Date.now() - started;
  return stats;
}

function differs(s: KeyDigest, t: KeyDigest | undefined, toleranceMs: number): Mismatch['kind'] | undefined {
  if (!t) return 'missing';
  if (s.type !== t.type) return 'type';
  if (!sameContent(s, t)) return 'value';
  if ((s.expiresAt < 0 || t.expiresAt < 0) && s.expiresAt !== t.expiresAt) return 'ttl';
  if (s.expiresAt >= 0 && Math.abs(s.expiresAt - t.expiresAt) > toleranceMs) return 'ttl';
  return undefined;
}

/**
 * Every key of every current master against the target, and every target key against the
 * cluster. `repair`: copy again what differs, delete what the cluster does not have.
 */
async function compareWithCluster(
  source: RedisEndpoint,
  targetEndpoint: RedisEndpoint,
  cluster: Cluster,
  options: { repair: boolean; toleranceMs?: number; maxExamples?: number },
): Promise<VerifyReport & { recopied: number; deleted: number }> {
  const started = Date.now();
  const tolerance = options.toleranceMs ?? 500;
  const report: VerifyReport & { recopied: number; deleted: number } = { ...emptyReport('strict'), recopied: 0, deleted: 0 };
  const note = (m: Mismatch) => report.examples.length < (options.maxExamples ?? 20) && report.examples.push(m);
  const skip = ownKeys();
  const target = await connectRedis(targetEndpoint, { connectionName: 'spin-elasticache-verify' });
  const targetVersion = await readTargetVersion(target);
  const asRedis = cluster as unknown as Redis;
  try {
    for (const master of await discoverMasters(source)) {
      const node = await connectRedis(nodeEndpoint(source, master), { connectionName: 'spin-elasticache-verify' });
      try {
        let cursor = '0';
        do {
          const [next, keys] = (await node.scanBuffer(cursor, 'COUNT', BATCH)) as unknown as [Buffer, Buffer[]];
          cursor = next.toString();
          await Promise.all(
            keys
              .filter((k) => !skip(k))
              .map(async (key) => {
                const [s, t] = await Promise.all([digestKey(asRedis, key), digestKey(target, key)]);
                if (!s) return; // deleted, or moved to a master scanned later
                const expiring = s.expiresAt >= 0 && s.expiresAt - Date.now() < tolerance * 2;
                // Expiring this moment: skipped, unless the target's copy would outlive it (verify.ts).
                if (expiring && !(t && outlives(s, t, tolerance))) {
                  report.expiringSkipped++;
                  return;
                }
                report.compared++;
                const kind = expiring ? 'ttl' : differs(s, t, tolerance);
                if (!kind) return;
                if (options.repair) {
                  if (await copyKey(cluster, target, targetVersion, key)) report.recopied++;
                  return;
                }
                if (kind === 'missing') report.missing++;
                else if (kind === 'type') report.typeMismatches++;
                else if (kind === 'value') report.valueMismatches++;
                else report.ttlMismatches++;
                note({ db: 0, key: printableKey(key), kind, detail: `${s.type} on the cluster, ${t ? t.type : 'nothing'} on the target` });
              }),
          );
        } while (cursor !== '0');
      } finally {
        node.disconnect();
      }
    }
    let cursor = '0';
    do {
      const [next, keys] = (await target.scanBuffer(cursor, 'COUNT', BATCH)) as unknown as [Buffer, Buffer[]];
      cursor = next.toString();
      await Promise.all(
        keys
          .filter((k) => !skip(k))
          .map(async (key) => {
            if ((await cluster.exists(key)) === 1) return;
            const t = await digestKey(target, key);
            if (!t) return;
            if (options.repair) {
              report.deleted += await target.del(key);
              return;
            }
            if (t.expiresAt >= 0 && t.expiresAt - Date.now() < tolerance * 2) {
              report.expiringSkipped++;
              return;
            }
            report.extra++;
            note({ db: 0, key: printableKey(key), kind: 'extra', detail: `${t.type} only on the target` });
          }),
      );
    } while (cursor !== '0');
  } finally {
    target.disconnect();
  }
  report.ok = report.missing + report.extra + report.typeMismatches + report.valueMismatches + report.ttlMismatches === 0;
  report.ms = Date.now() - started;
  return report;
}

/** The strict verification across shards: every key of every master equal on the target (digest, expiry), nothing extra. */
export async function verifyClusterCopy(source: RedisEndpoint, target: RedisEndpoint, options: { toleranceMs?: number } = {}): Promise<VerifyReport> {
  const cluster = await connectCluster(source, SOURCE);
  try {
    const { recopied: _r, deleted: _d, ...report } = await compareWithCluster(source, target, cluster, { repair: false, ...options });
    return report;
  } finally {
    cluster.disconnect();
  }
}
