/**
 * The mirror reconciliation: make `to` hold exactly what `from` holds, once neither is
 * written by anyone but us (docs/COPY.md, "The conflict rule"). `from` wins entirely:
 *   - a key whose type, value or expiry differs, or that is missing on `to`, is replaced
 *     whole (RESTORE … REPLACE with its absolute expiry, through restore-expiry.ts, so
 *     servers before 5.0 work too; a collection is never merged);
 *   - a key gone on `from` (deleted, expired, renamed away) is deleted on `to`;
 *   - our own `spin-elasticache:` keys are left alone on both sides.
 * Nothing is merged: with both sides frozen there is no newer write to keep, and merging is
 * what resurrects an acked keiko message or a deleted execution.
 *
 * `reconcile` is the final sync inside the pause (spin-redis → ElastiCache) when the
 * replication stream cannot take the target to the end of the source; `copyBack` is the
 * rollback's (ElastiCache → spin-redis) after Spinnaker ran on ElastiCache.
 */
import type { Redis } from 'ioredis';
import type { RedisEndpoint } from '../redis/connect.js';
import { databasesOnEither, forEachDbPair } from '../redis/keyspace.js';
import { existing, type KeyPair, scanBatches, scanPairs } from './compare.js';
import { type KeyDigest, sameContent } from './digest.js';
import { ownKeys } from './filter.js';
import { syncKey } from './live.js';

export interface ReconcileStats {
  /** Keys looked at on `from`. */
  scanned: number;
  /** Replaced on `to` (missing or different there). */
  copied: number;
  /** Deleted on `to` (gone on `from`). */
  deleted: number;
  equal: number;
  ms: number;
}

/** Absolute expiries this close count as equal (the notification path computes them from PTTL). */
const EXPIRY_TOLERANCE_MS = 500;

function same(a: KeyDigest, b: KeyDigest): boolean {
  if (!sameContent(a, b)) return false;
  if (a.expiresAt < 0 || b.expiresAt < 0) return a.expiresAt === b.expiresAt;
  return Math.abs(a.expiresAt - b.expiresAt) <= EXPIRY_TOLERANCE_MS;
}

export async function mirror(fromEndpoint: RedisEndpoint, toEndpoint: RedisEndpoint, options: { skipPrefix?: string } = {}): Promise<ReconcileStats> {
  const started = Date.now();
  const stats: ReconcileStats = { scanned: 0, copied: 0, deleted: 0, equal: 0, ms: 0 };
  const skip = ownKeys(options.skipPrefix);
  const dbs = await databasesOnEither(fromEndpoint, toEndpoint, 'spin-elasticache-reconcile');
  await forEachDbPair(dbs, fromEndpoint, toEndpoint, 'spin-elasticache-reconcile', async (from, to) => {
    // Both sides read a batch of keys per round trip (lib/copy/compare.ts); the writes stay per key,
    // a handful at a time (a batch of keys only on `from` may hold big keys).
    await scanPairs(from, to, skip, async (pairs) => {
      stats.scanned += pairs.length;
      for (let i = 0; i < pairs.length; i += 16) await Promise.all(pairs.slice(i, i + 16).map((pair) => mirrorKey(from, to, pair, stats)));
    });
    // What `to` holds and `from` does not: deleted or expired on `from` since it was copied.
    await scanBatches(to, skip, async (keys) => {
      const onFrom = await existing(from, keys);
      const gone = keys.filter((_, i) => !onFrom[i]);
      if (gone.length > 0) stats.deleted += await to.del(...gone);
    });
  });
  stats.ms = Date.now() - started;
  return stats;
}

async function mirrorKey(from: Redis, to: Redis, { key, from: a, to: b }: KeyPair, stats: ReconcileStats): Promise<void> {
  if (a && b && same(a, b)) {
    stats.equal++;
    return;
  }
  if (!a && !b) return;
  // Replaced whole from `from`'s current state, or deleted when it has gone meanwhile.
  if ((await syncKey(from, to, key)) === 'copied') stats.copied++;
  else stats.deleted++;
}

/** The final sync inside the pause: ElastiCache becomes exactly spin-redis. */
export const reconcile = (sourceEndpoint: RedisEndpoint, targetEndpoint: RedisEndpoint) => mirror(sourceEndpoint, targetEndpoint);

/** Rollback after the switch: spin-redis becomes exactly what Spinnaker left on ElastiCache, deletions and TTLs included. */
export const copyBack = (targetEndpoint: RedisEndpoint, sourceEndpoint: RedisEndpoint) => mirror(targetEndpoint, sourceEndpoint);
