/**
 * Rehearsing on the user's own data (`npm start -- --rdb dump.rdb`): spin-redis is seeded from
 * a dump taken from their real spin-redis with `redis-cli --rdb`, by the copy engine's RDB
 * file source (lib/copy/rdb-file.ts: absolute expiries kept, keys already expired skipped),
 * instead of the synthetic seed (seed.ts). The simulated Spinnaker services then write on top,
 * as in every rehearsal.
 *
 * Whether the machine can hold it is decided before anything starts (`dumpFits`):
 *
 *   needed = dump bytes × EXPANSION × COPIES + HEADROOM  ≤  MemAvailable (/proc/meminfo)
 *
 * - EXPANSION = 6: a dataset takes several times its RDB in memory (LZF-compressed strings,
 *   compact encodings, per-key overhead). Measured on the synthetic Spinnaker seed (50,000 keys,
 *   19.4 MB RDB): used_memory 4.6×, RSS 5.3× the file.
 * - COPIES = 3: the sandbox holds the dataset three times, in spin-redis and in the emulated
 *   ElastiCache group's primary and replica (sandbox/aws/elasticache.ts, NumCacheClusters 2).
 * - HEADROOM = 1 GiB: the sandbox's own processes and the copy-on-write of the forks a
 *   replication copy and the group's replica make.
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { freemem } from 'node:os';
import { copyFromRdbFile, type RdbFileCopyResult } from '../lib/copy/rdb-file.js';
import { connectRedis, type RedisEndpoint } from '../lib/redis/connect.js';
import { keyCount } from '../lib/redis/keyspace.js';
import { type AppHistory, type OrcaHistory, orcaHistory } from '../lib/spinnaker/audit.js';
import type { SeedSummary } from './seed.js';

export const EXPANSION = 6;
export const COPIES = 3;
export const HEADROOM_BYTES = 1024 ** 3;

export interface DumpCheck {
  ok: boolean;
  /** Why not, for a person: the rule with this dump's figures. */
  reason?: string;
  dumpBytes: number;
  neededBytes: number;
  availableBytes: number;
}

/** MemAvailable from /proc/meminfo (what the kernel can give without swapping), else os.freemem(). */
export function availableMemory(): number {
  try {
    const kb = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
    if (kb) return Number(kb) * 1024;
  } catch {
    // not Linux
  }
  return freemem();
}

/** Whether `path` is an RDB file this machine can rehearse on (see the rule above); reads only its first bytes. */
export function dumpFits(path: string, availableBytes = availableMemory()): DumpCheck {
  let dumpBytes: number;
  try {
    dumpBytes = statSync(path).size;
  } catch {
    return { ok: false, reason: `${path}: no such file`, dumpBytes: 0, neededBytes: 0, availableBytes };
  }
  const head = Buffer.alloc(9);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 9, 0);
  } finally {
    closeSync(fd);
  }
  const neededBytes = dumpBytes * EXPANSION * COPIES + HEADROOM_BYTES;
  const figures = { dumpBytes, neededBytes, availableBytes };
  if (!/^REDIS\d{4}$/.test(head.toString('latin1'))) return { ok: false, reason: `${path} is not an RDB file (no REDIS header); take one with redis-cli --rdb`, ...figures };
  if (neededBytes > availableBytes) {
    const gb = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GiB`;
    return {
      ok: false,
      reason:
        `${path} is too large to rehearse on this machine: ${gb(dumpBytes)} × ${EXPANSION} (in memory) × ${COPIES} (spin-redis, the ElastiCache primary and replica) + ${gb(HEADROOM_BYTES)} = ${gb(neededBytes)} needed, ` +
        `${gb(availableBytes)} available (MemAvailable). Rehearse on a bigger machine, or on a smaller dump (npm start -- --keys N for a synthetic one).`,
      ...figures,
    };
  }
  return { ok: true, ...figures };
}

/** Seeds the server at `url` from the dump; the summary counts what it now holds. */
export async function seedFromRdb(endpoint: RedisEndpoint, path: string): Promise<{ summary: SeedSummary; copy: RdbFileCopyResult; history: OrcaHistory }> {
  const copy = await copyFromRdbFile(path, endpoint);
  const redis = await connectRedis(endpoint, { connectionName: 'spin-elasticache-sandbox-seed' });
  try {
    const history = await orcaHistory(redis);
    const apps = Object.values(history);
    const summary: SeedSummary = {
      keys: keyCount(await redis.info('keyspace')),
      pipelines: apps.reduce((n, a) => n + a.pipelines, 0),
      orchestrations: apps.reduce((n, a) => n + a.orchestrations, 0),
      sessions: 0,
      fiatUsers: 0,
      igorJobs: 0,
      clouddriverItems: 0,
      byService: {},
      bigKeys: [],
    };
    return { summary, copy, history };
  } finally {
    redis.disconnect();
  }
}

/**
 * One application of the dump's pipeline history: as the dump had it, and on ElastiCache after
 * the migration. They may differ: the simulated orca runs new executions and its cleanup
 * deletes finished ones during the rehearsal. What gates the migration is VerifyCopy's audit
 * parity (spin-redis against ElastiCache at the same moment, lib/spinnaker/audit.ts).
 */
export interface AppParity {
  application: string;
  dump: AppHistory;
  elastiCache?: AppHistory;
}

/** The dump's history per application against ElastiCache's, most executions first. */
export function historyParity(dump: OrcaHistory, elastiCache: OrcaHistory): AppParity[] {
  return Object.entries(dump)
    .map(([application, d]) => ({ application, dump: d, ...(elastiCache[application] ? { elastiCache: elastiCache[application] } : {}) }))
    .sort((a, b) => b.dump.pipelines + b.dump.orchestrations - (a.dump.pipelines + a.dump.orchestrations));
}
