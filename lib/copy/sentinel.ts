/**
 * A Sentinel-managed Redis as the source (`--source redis-sentinel://host:26379[,host:port…]/mymaster`,
 * as Spotahome's and OpsTree's operators run it): the master is whatever the sentinels say it
 * is now, and may change in the middle of the copy.
 *
 * - Resolve: `SENTINEL GET-MASTER-ADDR-BY-NAME <name>` on each sentinel in turn (with the
 *   sentinel's own password), and the address confirmed by `ROLE` = master on the server
 *   itself (with the master's password): a sentinel may still name a demoted master.
 * - Copy: the ordinary copy (engine.ts: as a replica, else by scan) from that master.
 * - A failover during it (the replication link dropped, the master gone or turned replica):
 *   wait until the sentinels name a new master that answers as one, and copy again from it.
 *   Every key is written with RESTORE … REPLACE, so nothing is duplicated; then a mirror pass
 *   (reconcile.ts) deletes on the target what the interrupted attempt left and the new master
 *   no longer has, and replaces what differs, so nothing stale stays either. What the old
 *   master acknowledged but never replicated is lost by Redis itself, not by the copy.
 * - An error while the master is still the master is not a failover: it is thrown at once.
 *
 * Sentinel's commands: redis.io "Redis Sentinel" (sentinel.c sentinelCommand).
 */
import type { Redis } from 'ioredis';
import { InputValidationError, RedisFailoverError } from '../errors.js';
import { connectRedis, type RedisEndpoint } from '../redis/connect.js';
import { copyAll, type CopyAllOptions, type CopyAllResult } from './engine.js';
import { mirror, type ReconcileStats } from './reconcile.js';
import { verifyCopy, type VerifyReport } from './verify.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SentinelEndpoint extends RedisEndpoint {
  /** `redis-sentinel://[:sentinel-password@]h:p[,h:p…]/<master name>` (`rediss-sentinel://` for TLS to the master). */
  url: string;
  /** `password` is the master's (and its replicas'); this is the sentinels' own (their `requirepass`), else the URL's user-info. */
  sentinelPassword?: string;
}

export interface SentinelCopyOptions extends CopyAllOptions {
  /** Failovers survived before giving up (default 3). */
  maxFailovers?: number;
  /** How long to wait for the sentinels to name a new master (default 60 s). */
  failoverTimeoutMs?: number;
  /** Told before each attempt which master it copies (tests fail it over then). */
  onAttempt?: (attempt: number, master: { host: string; port: number }) => Promise<void> | void;
}

export interface SentinelCopyResult extends CopyAllResult {
  /** The master the copy ended on (`host:port`). */
  master: string;
  /** Attempts a failover interrupted: the master each one copied, and what stopped it. */
  interrupted: { master: string; error: string }[];
  /** The mirror pass after an interrupted attempt. */
  mirror?: ReconcileStats;
}

export function parseSentinelUrl(url: string): { tls: boolean; sentinels: { host: string; port: number }[]; masterName: string; password?: string } {
  const match = /^(rediss?)-sentinel:\/\/(?:([^@/]*)@)?([^/?#]+)\/([^/?#]+)$/.exec(url);
  if (!match) throw new InputValidationError('a Sentinel source is redis-sentinel://[:password@]host:port[,host:port…]/<master name>');
  const [, scheme, userinfo, hosts, name] = match;
  const sentinels = hosts!.split(',').map((hp) => {
    const at = hp.lastIndexOf(':');
    return at < 0 ? { host: hp, port: 26379 } : { host: hp.slice(0, at), port: Number(hp.slice(at + 1)) };
  });
  const pass = userinfo?.includes(':') ? decodeURIComponent(userinfo.slice(userinfo.indexOf(':') + 1)) : undefined;
  return { tls: scheme === 'rediss', sentinels, masterName: decodeURIComponent(name!), ...(pass ? { password: pass } : {}) };
}

/** The endpoint of a data node (the master) behind the sentinels. */
export function masterEndpoint(source: SentinelEndpoint, master: { host: string; port: number }): RedisEndpoint {
  const tls = parseSentinelUrl(source.url).tls;
  return { url: `${tls ? 'rediss' : 'redis'}://${master.host}:${master.port}`, ...(source.password ? { password: source.password } : {}), ...(source.caFile ? { caFile: source.caFile } : {}) };
}

async function roleOf(endpoint: RedisEndpoint): Promise<string | undefined> {
  let client: Redis | undefined;
  try {
    client = await connectRedis(endpoint, { connectionName: 'spin-elasticache-sentinel-check', connectTimeout: 2000, maxRetriesPerRequest: 0 });
    const role = (await client.call('ROLE')) as unknown[];
    return String(role[0]);
  } catch {
    return undefined;
  } finally {
    client?.disconnect();
  }
}

/** The master the sentinels name now, confirmed by its own ROLE; undefined when none does (a failover in progress). */
export async function resolveMaster(source: SentinelEndpoint): Promise<{ host: string; port: number } | undefined> {
  const parsed = parseSentinelUrl(source.url);
  const password = source.sentinelPassword ?? parsed.password;
  for (const sentinel of parsed.sentinels) {
    let client: Redis | undefined;
    try {
      client = await connectRedis({ url: `redis://${sentinel.host}:${sentinel.port}`, ...(password ? { password } : {}) }, { connectionName: 'spin-elasticache-sentinel', connectTimeout: 2000 });
      const reply = (await client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', parsed.masterName)) as [string, string] | null;
      if (!reply) continue;
      const master = { host: reply[0], port: Number(reply[1]) };
      if ((await roleOf(masterEndpoint(source, master))) === 'master') return master;
    } catch {
      // the next sentinel
    } finally {
      client?.disconnect();
    }
  }
  return undefined;
}

/** Until the sentinels name a master that answers as one (RedisFailoverError after `timeoutMs`). */
async function waitForMaster(source: SentinelEndpoint, timeoutMs: number): Promise<{ host: string; port: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const master = await resolveMaster(source);
    if (master) return master;
    if (Date.now() > deadline) throw new RedisFailoverError(`no master named by the sentinels of ${parseSentinelUrl(source.url).masterName} within ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

const name = (m: { host: string; port: number }) => `${m.host}:${m.port}`;

/** Copies the Sentinel-managed master into `target`, surviving failovers (see the module comment). */
export async function copyFromSentinel(source: SentinelEndpoint, target: RedisEndpoint, options: SentinelCopyOptions = {}): Promise<SentinelCopyResult> {
  const timeout = options.failoverTimeoutMs ?? 60_000;
  const interrupted: SentinelCopyResult['interrupted'] = [];
  let master = await waitForMaster(source, timeout);
  for (;;) {
    await options.onAttempt?.(interrupted.length + 1, master);
    const endpoint = masterEndpoint(source, master);
    try {
      const result = await copyAll(endpoint, target, options);
      // The master may have changed as the copy ended: settle from whichever is master now.
      const now = await waitForMaster(source, timeout);
      const settled = interrupted.length > 0 || name(now) !== name(master) ? await mirror(masterEndpoint(source, now), target) : undefined;
      return { ...result, master: name(now), interrupted, ...(settled ? { mirror: settled } : {}) };
    } catch (error) {
      if ((await roleOf(endpoint)) === 'master') throw error; // not a failover
      interrupted.push({ master: name(master), error: (error as Error).message });
      if (interrupted.length > (options.maxFailovers ?? 3)) throw new RedisFailoverError(`gave up after ${interrupted.length} failovers during the copy (last: ${(error as Error).message})`);
      master = await waitForMaster(source, timeout);
    }
  }
}

/** The strict verification against whichever server is master now. */
export async function verifySentinelCopy(source: SentinelEndpoint, target: RedisEndpoint): Promise<VerifyReport & { master: string }> {
  const master = await waitForMaster(source, 60_000);
  return { ...(await verifyCopy(masterEndpoint(source, master), target, { mode: 'strict' })), master: name(master) };
}
