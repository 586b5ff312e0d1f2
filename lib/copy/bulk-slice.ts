/**
 * One invocation of the workflow's bulk copy (CopyBulk, `$.copy`). The first slice tries
 * the replication copy (one pass that leaves the target equal to the source as of its
 * end); when that is not possible, or the snapshot does not fit in one slice, the scan copy
 * runs one bounded slice per invocation, resuming from the checkpoint in the state.
 *
 * During a scan slice, safe checkpoints are also kept on the target (a key under our own
 * prefix, never copied or compared), so that a retry after a Lambda timeout resumes from
 * where the dead invocation got to, not from the start of its slice.
 */
import { mapRedisError } from '../redis/errors.js';
import type { RedisEndpoint } from '../redis/connect.js';
import { connectRedis } from '../redis/connect.js';
import { copySlice } from './bulk.js';
import { tryReplication, type CopyMethod } from './fallback.js';
import { assertForkAllowed, decideFork, type ContainerKnowledge, type ForkDecision } from './fork-safety.js';
import { readSourceFacts } from './source-facts.js';
import { OWN_KEY_PREFIX, ownKeys } from './filter.js';
import { databasesWithKeys, scanAll, withConnection } from '../redis/keyspace.js';
import { copyViaReplication } from './replication/replica-copy.js';
import type { Checkpoint, CopyLog, CopyStats } from './types.js';

/** The bulk copy's result, carried in the state from slice to slice and into the catch-up. */
export interface CopyState {
  checkpoint: Checkpoint;
  done: boolean;
  slices: number;
  lastSlice: CopyStats;
  resumedFromSavedProgress?: boolean;
  method?: 'replication' | 'scan';
  /** Why the replication copy was not used. */
  fallbackReason?: string;
  /** After a replication copy: where the live catch-up continues the source's stream. */
  replication?: { replid: string; offset: number; db?: number };
  /** Whether spin-redis could fork for the replication copy, with the figures (docs/COPY.md, "Fork safety"). */
  fork?: ForkDecision;
  /** Keys an earlier run left on the target, deleted before the first slice (a re-run after a rollback). */
  clearedFromTarget?: number;
}

/**
 * Empty the target, our own keys aside, before a copy starts from nothing. A re-run after a
 * rollback finds the previous run's copy there, with keys Spinnaker has deleted on spin-redis
 * since: neither the replication copy (RESTORE … REPLACE of what the snapshot holds) nor the
 * stream catch-up ever deletes them, and the strict verification inside the pause would find
 * them extra. Returns the number of keys deleted.
 */
async function clearTarget(target: RedisEndpoint, store: Awaited<ReturnType<typeof connectRedis>>): Promise<number> {
  const skip = ownKeys(OWN_KEY_PREFIX);
  let deleted = 0;
  for (const db of await databasesWithKeys(store)) {
    deleted += await withConnection(target, { db, connectionName: 'spin-elasticache-clear' }, async (redis) => {
      const keys: Buffer[] = [];
      await scanAll(redis, skip, async (key) => void keys.push(key));
      let n = 0;
      for (let i = 0; i < keys.length; i += 500) n += await redis.del(...keys.slice(i, i + 500));
      return n;
    });
  }
  return deleted;
}

export interface CopyBulkSliceOptions {
  method: CopyMethod;
  /** Epoch ms: one deadline for the whole invocation (a replication attempt that gives up has used its share). */
  deadline: number;
  /** Names the progress saved on the target: one per execution. */
  progressId: string;
  /** spin-redis's container (memory limit, volumes): the replication copy forks it only when the worst case fits. */
  container?: ContainerKnowledge;
  /** Free bytes where a disk-based snapshot lands (`dir`), read in spin-redis's container; undefined when unknown. */
  freeDisk?: (dir: string) => Promise<number | undefined>;
  log?: CopyLog;
  /** The server this slice reads (`host:port`): progress saved while reading another one (before a failover) is not resumed. */
  sourceId?: string;
  /** The slices so far read another server (a Sentinel failover between slices): the scan starts over at cursor 0. */
  restartScan?: boolean;
}

interface SavedProgress {
  /** Slices completed when it was saved: only a retry of that same slice may use it. */
  afterSlices: number;
  checkpoint: Checkpoint;
  sourceId?: string;
}

/** Saved progress lives a day: long enough for any retry, short enough to clean itself up. */
const PROGRESS_TTL_SECONDS = 86_400;

export async function copyBulkSlice(source: RedisEndpoint, target: RedisEndpoint, previous: CopyState | undefined, options: CopyBulkSliceOptions): Promise<CopyState> {
  const { deadline, log } = options;
  const progressKey = `${OWN_KEY_PREFIX}copy-progress:${options.progressId}`;
  const slices = previous?.slices ?? 0;
  const store = await connectRedis(target, { connectionName: 'spin-elasticache-progress' });
  try {
    const stored = JSON.parse((await store.get(progressKey)) ?? 'null') as SavedProgress | null;
    // A SCAN cursor means nothing on another server: after a failover the scan starts over (RESTORE … REPLACE makes that safe).
    const saved = stored && (options.restartScan || (stored.sourceId && options.sourceId && stored.sourceId !== options.sourceId)) ? null : stored;
    if (stored && !saved) log?.warn('spin-redis is another server than when this copy was saved (a failover?); the scan starts over', { was: stored.sourceId, now: options.sourceId });
    let fallbackReason = previous?.fallbackReason;
    let clearedFromTarget = previous?.clearedFromTarget;
    let fork = previous?.fork;
    if (slices === 0 && !saved) {
      // Progress saved while reading another server is of no use now; a replication copy never
      // writes its own, so it would stay on the target for its TTL.
      if (stored) await store.del(progressKey);
      clearedFromTarget = await clearTarget(target, store);
      if (clearedFromTarget > 0) log?.warn('the target held keys of an earlier run; deleted before the copy', { keys: clearedFromTarget });
      const attempt = await tryReplication(options.method, async () => {
        const facts = await readSourceFacts(source);
        const freeBytes = facts.persistence.disklessSync !== true && facts.persistence.dir ? await options.freeDisk?.(facts.persistence.dir) : undefined;
        fork = decideFork(facts, options.container ?? { none: true }, freeBytes === undefined ? {} : { freeBytes });
        log?.info('fork safety', { fork: fork.fork, reason: fork.reason, ...fork.figures });
        assertForkAllowed(fork);
        return copyViaReplication(source, target, {
          deadline,
          skipPrefix: OWN_KEY_PREFIX,
          onProgress: (p) => log?.info('copy progress', { phase: p.phase, keysCopied: p.keys, keysPerSecond: p.keysPerSec, totalKeys: p.totalKeys, etaSeconds: p.etaSeconds }),
        });
      });
      if ('copied' in attempt) {
        const result = attempt.copied;
        log?.info('replication copy done', { keys: result.stats.keys, writesApplied: result.commandsApplied, offset: result.offset, phasesMs: result.phasesMs });
        return {
          checkpoint: { dbs: [], dbIndex: 0, cursor: '0', stats: result.stats },
          done: true,
          slices: 1,
          lastSlice: result.stats,
          method: 'replication',
          replication: { replid: result.replid, offset: result.offset, db: result.db },
          ...(clearedFromTarget ? { clearedFromTarget } : {}),
          ...(fork ? { fork } : {}),
        };
      }
      if (attempt.fallbackReason) {
        fallbackReason = attempt.fallbackReason;
        log?.warn('replication copy not possible; copying by scan', { reason: fallbackReason });
      }
    }
    const resumeFrom = saved?.afterSlices === slices ? saved.checkpoint : options.restartScan ? undefined : previous?.checkpoint;
    const save = async (afterSlices: number, checkpoint: Checkpoint) =>
      void (await store.set(progressKey, JSON.stringify({ afterSlices, checkpoint, ...(options.sourceId ? { sourceId: options.sourceId } : {}) } satisfies SavedProgress), 'EX', PROGRESS_TTL_SECONDS));
    const result = await copySlice(source, target, {
      ...(resumeFrom ? { checkpoint: resumeFrom } : {}),
      deadline,
      skipPrefix: OWN_KEY_PREFIX,
      checkpointEveryMs: 5000,
      onCheckpoint: (checkpoint) => save(slices, checkpoint),
      onProgress: (p) => log?.info('copy progress', { keysCopied: p.keys, keysPerSecond: p.keysPerSec, db: p.db }),
    });
    if (result.done) await store.del(progressKey);
    else await save(slices + 1, result.checkpoint);
    return {
      checkpoint: result.checkpoint,
      done: result.done,
      slices: slices + 1,
      lastSlice: result.stats,
      method: 'scan',
      ...(fallbackReason ? { fallbackReason } : {}),
      ...(clearedFromTarget ? { clearedFromTarget } : {}),
      ...(fork ? { fork } : {}),
      ...(saved?.afterSlices === slices ? { resumedFromSavedProgress: true } : {}),
    };
  } catch (error) {
    // The progress key and the clearing of the target write outside copySlice's own mapping
    // (READONLY in a failover must stay the transient RedisFailoverError); a bug stays a bug.
    if (error instanceof TypeError || error instanceof RangeError || error instanceof ReferenceError) throw error;
    throw mapRedisError(error, 'target');
  } finally {
    store.disconnect();
  }
}
