/**
 * Final reconciliation, once nothing but us talks to spin-redis (it is frozen) and
 * Spinnaker writes only to the target. The rule (docs/COPY.md):
 *   - key only on the source            -> copied (with its remaining TTL);
 *   - equal on both sides               -> nothing;
 *   - hash / set / zset on both, differ -> merged: members and fields missing on the target
 *     are added, the target's value wins where both have one (orca's indexes are add-only);
 *   - string / list / stream, differ    -> the target wins (Spinnaker wrote it after the cutover);
 *   - key only on the target            -> kept (created by Spinnaker after the cutover).
 * `copyBack` is the same pass in the other direction, for the rollback.
 */
import type { Redis } from 'ioredis';
import type { RedisEndpoint } from '../redis/connect.js';
import { databasesWithKeys, forEachDbPair, withConnection } from '../redis/keyspace.js';
import { type KeyPair, scanPairs } from './compare.js';
import { mergeCollection } from './key-copy.js';
import { ownKeys } from './filter.js';
import { syncKey } from './live.js';

export interface ReconcileStats {
  scanned: number;
  copied: number;
  merged: number;
  targetWins: number;
  equal: number;
  ms: number;
}

export async function reconcile(fromEndpoint: RedisEndpoint, toEndpoint: RedisEndpoint, options: { skipPrefix?: string } = {}): Promise<ReconcileStats> {
  const started = Date.now();
  const stats: ReconcileStats = { scanned: 0, copied: 0, merged: 0, targetWins: 0, equal: 0, ms: 0 };
  const skip = ownKeys(options.skipPrefix);
  const dbs = await withConnection(fromEndpoint, { connectionName: 'spin-elasticache-reconcile' }, databasesWithKeys);
  // Both sides read a batch of keys per round trip (lib/copy/compare.ts); the writes stay per key.
  await forEachDbPair(dbs, fromEndpoint, toEndpoint, 'spin-elasticache-reconcile', (from, to) =>
    scanPairs(from, to, skip, async (pairs) => {
      stats.scanned += pairs.length;
      // The writes a handful at a time, as before: a batch of keys only on the source may be big keys.
      for (let i = 0; i < pairs.length; i += 16) await Promise.all(pairs.slice(i, i + 16).map((pair) => reconcileKey(from, to, pair, stats)));
    }),
  );
  stats.ms = Date.now() - started;
  return stats;
}

async function reconcileKey(from: Redis, to: Redis, { key, from: a, to: b }: KeyPair, stats: ReconcileStats): Promise<void> {
  if (!b) {
    if ((await syncKey(from, to, key)) === 'copied') stats.copied++;
    return;
  }
  if (!a) return;
  if (a.type === b.type && a.digest === b.digest) {
    stats.equal++;
    return;
  }
  if (a.type === b.type && (a.type === 'hash' || a.type === 'set' || a.type === 'zset')) {
    await mergeCollection(from, to, key, a.type, false);
    stats.merged++;
    return;
  }
  stats.targetWins++;
}

/** Rollback: what Spinnaker wrote to ElastiCache since the cutover goes back to spin-redis, by the same rule. */
export const copyBack = (targetEndpoint: RedisEndpoint, sourceEndpoint: RedisEndpoint) => reconcile(targetEndpoint, sourceEndpoint);
