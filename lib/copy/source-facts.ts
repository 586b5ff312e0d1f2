/**
 * What spin-redis is and how it runs, read once before anything makes it fork (the
 * replication copy's `PSYNC`) and shown by the plan: server and RDB version, memory, the
 * write rate, persistence, and the settings a snapshot depends on. Reads only: `INFO` (every
 * section exists from 2.8; fields missing from older versions stay undefined) and
 * `CONFIG GET` (refused or renamed on some installs: those fields stay undefined).
 */
import type { Redis } from 'ioredis';
import { connectRedis, type RedisEndpoint } from '../redis/connect.js';
import { keyCount } from '../redis/keyspace.js';
import { versionAtLeast } from './restore-expiry.js';

export interface ServerFacts {
  engine: 'redis' | 'valkey';
  /** The engine's own version (`valkey_version` for Valkey, which reports `redis_version:7.2.4`). */
  version: string;
  /** `redis_version`: what compatibility checks go by. */
  redisVersion: string;
  /** The RDB (and DUMP payload) version this server writes, from RDB_VERSIONS; undefined for an unknown version. */
  rdbVersion?: number;
}

/**
 * RDB version written by each server version (src/rdb.h `RDB_VERSION` of each release;
 * the recordings in test/fixtures/redis-fullsync/ confirm 3.2: 7, 4.0: 8, 5.0 and 6.2: 9,
 * 7.0: 10, Valkey 8.0: 11). Ordered newest first; the first entry the version reaches wins.
 */
export const RDB_VERSIONS: readonly { engine: 'redis' | 'valkey'; from: [number, number]; rdb: number }[] = [
  { engine: 'valkey', from: [9, 0], rdb: 80 },
  { engine: 'valkey', from: [7, 2], rdb: 11 },
  { engine: 'redis', from: [7, 4], rdb: 12 },
  { engine: 'redis', from: [7, 2], rdb: 11 },
  { engine: 'redis', from: [7, 0], rdb: 10 },
  { engine: 'redis', from: [5, 0], rdb: 9 },
  { engine: 'redis', from: [4, 0], rdb: 8 },
  { engine: 'redis', from: [3, 2], rdb: 7 },
  { engine: 'redis', from: [2, 6], rdb: 6 },
];

export function rdbVersionOf(engine: 'redis' | 'valkey', version: string): number | undefined {
  return RDB_VERSIONS.find((r) => r.engine === engine && versionAtLeast(version, r.from[0], r.from[1]))?.rdb;
}

/**
 * ElastiCache's engine versions as the input names them, and the RDB version each
 * reads. ElastiCache's Redis "7.1" is its own build of 7.0 (RDB 10).
 */
export function targetRdbVersion(engine: 'redis' | 'valkey', engineVersion: string): number | undefined {
  if (engine === 'redis' && engineVersion === '7.1') return 10;
  return rdbVersionOf(engine, engineVersion);
}

export interface MemoryFacts {
  /** Bytes. */
  usedMemory: number;
  usedMemoryRss: number;
  usedMemoryPeak: number;
  /** `used_memory_dataset` (4.0+): the data without Redis's own overhead. */
  usedMemoryDataset?: number;
  fragmentationRatio: number;
  /** `maxmemory`, 0 for none. */
  maxmemory: number;
  /** `total_system_memory` (3.2+): the node's memory as the container sees it. */
  totalSystemMemory?: number;
}

export interface WriteRate {
  /** `instantaneous_ops_per_sec` (reads included). */
  instantaneousOpsPerSec: number;
  /** `total_commands_processed` over the sample, less our own INFO (reads included: an upper bound on writes). */
  commandsPerSec: number;
  /** `total_net_input_bytes` over the sample: what a replica's output buffer may have to hold per second. */
  inputBytesPerSec: number;
  sampleMs: number;
}

export interface PersistenceFacts {
  aofEnabled: boolean;
  rdbBgsaveInProgress: boolean;
  aofRewriteInProgress: boolean;
  /** Seconds the last BGSAVE took (-1 before the first). */
  lastBgsaveSeconds?: number;
  /** `rdb_last_cow_size` (4.0+): bytes copied on write by the last fork. */
  lastCowBytes?: number;
  /** The server's own save points (`save`), "" for none; undefined when CONFIG is refused. */
  save?: string;
  /** `repl-diskless-sync`; undefined when CONFIG is refused (the copy then asks for a disk-based snapshot). */
  disklessSync?: boolean;
  /** Where a disk-based snapshot is written: `dir` + `dbfilename`. */
  dir?: string;
  dbfilename?: string;
  /** `disable-thp` (6.2+): Redis turns transparent huge pages off for itself. */
  disableThp?: boolean;
  /** `client-output-buffer-limit` for replicas: the hard limit in bytes (0: none). */
  replicaOutputBufferHardBytes?: number;
}

export interface SourceFacts {
  server: ServerFacts;
  memory: MemoryFacts;
  writes: WriteRate;
  persistence: PersistenceFacts;
  /** `sync_full` (INFO stats): full syncs served, each one a fork. */
  syncFull: number;
  /** `total_forks` (7.0+). */
  totalForks?: number;
  keys: number;
}

/** `field:value` lines of one or more INFO replies. */
export function infoFields(...replies: string[]): Map<string, string> {
  const fields = new Map<string, string>();
  for (const reply of replies)
    for (const line of reply.split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
    }
  return fields;
}

const num = (fields: Map<string, string>, name: string): number | undefined => {
  const value = fields.get(name);
  return value === undefined || value === '' || Number.isNaN(Number(value)) ? undefined : Number(value);
};

export function serverFacts(fields: Map<string, string>): ServerFacts {
  const redisVersion = fields.get('redis_version') ?? '0.0.0';
  const valkey = fields.get('valkey_version');
  const engine = valkey || fields.get('server_name') === 'valkey' ? 'valkey' : 'redis';
  const version = valkey ?? redisVersion;
  const rdbVersion = rdbVersionOf(engine, version);
  return { engine, version, redisVersion, ...(rdbVersion === undefined ? {} : { rdbVersion }) };
}

/** A byte count from `client-output-buffer-limit`'s replica class (`slave 268435456 67108864 60`). */
function replicaHardLimit(value: string | undefined): number | undefined {
  const match = /(?:slave|replica)\s+(\d+)/.exec(value ?? '');
  return match ? Number(match[1]) : undefined;
}

async function configGet(redis: Redis, name: string): Promise<string | undefined> {
  try {
    const reply = (await redis.config('GET', name)) as string[];
    return reply[1];
  } catch {
    return undefined; // CONFIG refused or renamed
  }
}

/**
 * Reads the facts, sampling the write rate over `sampleMs` (default 250 ms: the copy waits
 * for it; `instantaneous_ops_per_sec`, Redis's own average over the last 1.6 s, covers a longer
 * window). Our first INFO counts as a command in the second one's figures: it is taken off.
 */
export async function readSourceFacts(source: RedisEndpoint, options: { sampleMs?: number } = {}): Promise<SourceFacts> {
  const sampleMs = options.sampleMs ?? 250;
  const redis = await connectRedis(source, { connectionName: 'spin-elasticache-facts' });
  try {
    const first = infoFields(await redis.info('stats'));
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, sampleMs));
    const [stats, server, memory, persistence, keyspace] = await Promise.all(['stats', 'server', 'memory', 'persistence', 'keyspace'].map((s) => redis.info(s)));
    const elapsed = Math.max(1, Date.now() - started);
    const now = infoFields(stats!);
    const all = infoFields(server!, memory!, persistence!, stats!);
    const [save, diskless, dir, dbfilename, thp, cobl] = await Promise.all(
      ['save', 'repl-diskless-sync', 'dir', 'dbfilename', 'disable-thp', 'client-output-buffer-limit'].map((n) => configGet(redis, n)),
    );
    const delta = (name: string) => Math.max(0, (num(now, name) ?? 0) - (num(first, name) ?? 0));
    const perSec = (n: number) => Math.round((n * 1000) / elapsed);
    const optional = <K extends string, V>(key: K, value: V | undefined) => (value === undefined ? {} : ({ [key]: value } as Record<K, V>));
    const hardBytes = replicaHardLimit(cobl);
    return {
      server: serverFacts(all),
      memory: {
        usedMemory: num(all, 'used_memory') ?? 0,
        usedMemoryRss: num(all, 'used_memory_rss') ?? 0,
        usedMemoryPeak: num(all, 'used_memory_peak') ?? 0,
        ...optional('usedMemoryDataset', num(all, 'used_memory_dataset')),
        fragmentationRatio: num(all, 'mem_fragmentation_ratio') ?? 1,
        maxmemory: num(all, 'maxmemory') ?? 0,
        ...optional('totalSystemMemory', num(all, 'total_system_memory')),
      },
      writes: {
        instantaneousOpsPerSec: num(now, 'instantaneous_ops_per_sec') ?? 0,
        // Redis counts a command once it has run: the delta holds our first INFO only.
        commandsPerSec: perSec(Math.max(0, delta('total_commands_processed') - 1)),
        inputBytesPerSec: perSec(delta('total_net_input_bytes')),
        sampleMs: elapsed,
      },
      persistence: {
        aofEnabled: all.get('aof_enabled') === '1',
        rdbBgsaveInProgress: all.get('rdb_bgsave_in_progress') === '1',
        aofRewriteInProgress: all.get('aof_rewrite_in_progress') === '1',
        ...optional('lastBgsaveSeconds', num(all, 'rdb_last_bgsave_time_sec')),
        ...optional('lastCowBytes', num(all, 'rdb_last_cow_size')),
        ...optional('save', save),
        ...optional('disklessSync', diskless === undefined ? undefined : diskless === 'yes'),
        ...optional('dir', dir),
        ...optional('dbfilename', dbfilename),
        ...optional('disableThp', thp === undefined ? undefined : thp === 'yes'),
        ...optional('replicaOutputBufferHardBytes', hardBytes),
      },
      syncFull: num(all, 'sync_full') ?? 0,
      ...optional('totalForks', num(all, 'total_forks')),
      keys: keyCount(keyspace!),
    };
  } finally {
    redis.disconnect();
  }
}

/** Whether a server of `sourceRdb` can RESTORE into a target reading `targetRdb` (a target refuses newer payloads). */
export function payloadsMoveDirectly(sourceRdb: number | undefined, targetRdb: number | undefined): boolean | undefined {
  if (sourceRdb === undefined || targetRdb === undefined) return undefined;
  return sourceRdb <= targetRdb;
}

/** The server supports `disable-thp` from 6.2; Valkey always. */
export function redisDisablesThp(server: ServerFacts, setting: boolean | undefined): boolean {
  if (setting !== undefined) return setting;
  return server.engine === 'valkey' || versionAtLeast(server.redisVersion, 6, 2);
}
