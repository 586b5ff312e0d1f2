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
import { existing, type KeyPair, scanBatches, scanPairs } from './compare.js';
import { type KeyDigest, sameContent } from './digest.js';
import { OWN_KEY_PREFIX, ownKeys } from './filter.js';
import { syncKey } from './live.js';
import { BothSides, countTarget } from './target-count.js';
import type { Checkpoint } from './types.js';
import { walkSlice } from './walk.js';

export interface ReconcileStats {
  /** Keys looked at on `from`. */
  scanned: number;
  /** Replaced on `to` (missing or different there). */
  copied: number;
  /** Deleted on `to` (gone on `from`). */
  deleted: number;
  equal: number;
  /** Databases whose walk of `to` for keys `from` lacks was skipped: `to`'s count proved there were none (target-count.ts). */
  targetWalksCounted?: number;
  ms: number;
}

/** Absolute expiries this close count as equal (the notification path computes them from PTTL). */
const EXPIRY_TOLERANCE_MS = 500;

function same(a: KeyDigest, b: KeyDigest): boolean {
  if (!sameContent(a, b)) return false;
  if (a.expiresAt < 0 || b.expiresAt < 0) return a.expiresAt === b.expiresAt;
  return Math.abs(a.expiresAt - b.expiresAt) <= EXPIRY_TOLERANCE_MS;
}

export interface MirrorSliceOptions {
  skipPrefix?: string;
  /** Epoch ms: no new SCAN page from then on (options.copySliceSeconds in the workflow). */
  deadline?: number;
}

/** The mirror's result, slice by slice: the counts so far, `done`, and while not done where the next slice resumes. */
export interface MirrorState extends ReconcileStats {
  done: boolean;
  slices: number;
  /** The longest slice so far, ms. */
  longestSliceMs: number;
  checkpoint?: Checkpoint<ReconcileStats>;
}

/**
 * One bounded slice of the mirror (lib/copy/walk.ts), resuming from `previous`: `from`'s keys
 * compared with `to`'s and replaced where they differ, then keys only `to` has deleted. Every
 * step is idempotent, so a retried slice may re-do its range.
 */
export async function mirrorSlice(fromEndpoint: RedisEndpoint, toEndpoint: RedisEndpoint, previous: MirrorState | undefined, options: MirrorSliceOptions = {}): Promise<MirrorState> {
  const started = Date.now();
  const skip = ownKeys(options.skipPrefix);
  // The keys of the database being walked that `to` holds after its forward pass, when that pass runs whole in this slice.
  let onBoth: BothSides | undefined;
  const walked = await walkSlice<ReconcileStats>(fromEndpoint, toEndpoint, previous?.checkpoint, {
    fresh: () => ({ scanned: 0, copied: 0, deleted: 0, equal: 0, targetWalksCounted: 0, ms: 0 }),
    // Both sides read a batch of keys per round trip (lib/copy/compare.ts); the writes stay per key,
    // a handful at a time (a batch of keys only on `from` may hold big keys).
    forward: async (from, to, db, stats, range) => {
      const tracked = (range.cursor ?? '0') === '0' ? new BothSides(db) : undefined;
      onBoth = tracked;
      const stop = await scanPairs(
        from,
        to,
        skip,
        async (pairs) => {
          stats.scanned += pairs.length;
          for (let i = 0; i < pairs.length; i += 16) await Promise.all(pairs.slice(i, i + 16).map((pair) => mirrorKey(from, to, pair, stats, tracked)));
        },
        range,
      );
      if (tracked) tracked.complete = stop.done;
      return stop;
    },
    // What `to` holds and `from` does not: deleted or expired on `from` since it was copied. Skipped
    // when `to`'s count proves it holds only what the forward pass left there (nobody else writes
    // to it: the mirrors run inside the pause); otherwise every key of `to` is looked for on `from`.
    back: async (from, to, db, stats, range) => {
      const both = (range.cursor ?? '0') === '0' && onBoth?.db === db && onBoth.complete && !onBoth.overflow ? onBoth : undefined;
      const deleteGone = async (keys: Buffer[]) => {
        const onFrom = await existing(from, keys);
        const gone = keys.filter((_, i) => !onFrom[i]);
        if (gone.length > 0) stats.deleted += await to.del(...gone);
      };
      const counted = both ? await countTarget(to, both, options.skipPrefix ?? OWN_KEY_PREFIX) : undefined;
      if (counted?.holdsOnly) {
        stats.targetWalksCounted = (stats.targetWalksCounted ?? 0) + 1;
        if (counted.uncomparedLeft.length > 0) await deleteGone(counted.uncomparedLeft);
        return { cursor: '0', done: true };
      }
      return scanBatches(to, skip, deleteGone, range);
    },
    ...(options.deadline !== undefined ? { deadline: options.deadline } : {}),
    connectionName: 'spin-elasticache-reconcile',
  });
  const ms = Date.now() - started;
  const stats = walked.checkpoint.stats;
  stats.ms += ms;
  return {
    ...stats,
    done: walked.done,
    slices: (previous?.slices ?? 0) + 1,
    longestSliceMs: Math.max(previous?.longestSliceMs ?? 0, ms),
    ...(walked.done ? {} : { checkpoint: walked.checkpoint }),
  };
}

/** The whole mirror in one call (tests, the benchmarks): slices without a deadline. */
export async function mirror(fromEndpoint: RedisEndpoint, toEndpoint: RedisEndpoint, options: { skipPrefix?: string } = {}): Promise<ReconcileStats> {
  const { scanned, copied, deleted, equal, targetWalksCounted, ms } = await mirrorSlice(fromEndpoint, toEndpoint, undefined, options);
  return { scanned, copied, deleted, equal, ...(targetWalksCounted !== undefined ? { targetWalksCounted } : {}), ms };
}

/** One key of the forward pass made `from`'s, remembered in `tracked` while `to` holds it. */
async function mirrorKey(from: Redis, to: Redis, { key, from: a, to: b }: KeyPair, stats: ReconcileStats, tracked: BothSides | undefined): Promise<void> {
  if (a && b && same(a, b)) {
    stats.equal++;
    tracked?.compared(key, b.expiresAt);
    return;
  }
  if (!a && !b) return;
  // Replaced whole from `from`'s current state, or deleted when it has gone meanwhile.
  if ((await syncKey(from, to, key)) === 'copied') {
    stats.copied++;
    // Restored with `from`'s absolute expiry; a key that appeared on `from` since it was read has
    // one we do not know: the count cannot account for it, so the walk runs.
    if (a) tracked?.compared(key, a.expiresAt);
    else if (tracked) tracked.overflow = true;
  } else stats.deleted++;
}

/** The final sync inside the pause: ElastiCache becomes exactly spin-redis. */
export const reconcile = (sourceEndpoint: RedisEndpoint, targetEndpoint: RedisEndpoint) => mirror(sourceEndpoint, targetEndpoint);

/** Rollback after the switch: spin-redis becomes exactly what Spinnaker left on ElastiCache, deletions and TTLs included. */
export const copyBack = (targetEndpoint: RedisEndpoint, sourceEndpoint: RedisEndpoint) => mirror(targetEndpoint, sourceEndpoint);

/** One slice of the copy-back (RollbackCopyBackWrites, `$.copyBack`): ElastiCache → spin-redis. */
export const copyBackSlice = (targetEndpoint: RedisEndpoint, sourceEndpoint: RedisEndpoint, previous: MirrorState | undefined, options: MirrorSliceOptions) =>
  mirrorSlice(targetEndpoint, sourceEndpoint, previous, options);
