/**
 * CopyBulk (`$.copy`, VPC): the bulk copy. With `copyMethod` auto (the default) the first
 * invocation reads spin-redis as a replica (PSYNC): one pass that leaves the target equal to
 * spin-redis as of its end. If spin-redis refuses PSYNC, the target refuses its payload
 * version, or the snapshot does not fit in one slice, it falls back to the scan copy: one
 * bounded slice per invocation; the checkpoint in the state resumes it. During the slice, safe checkpoints are also kept on the target (a key under
 * our `spin-elasticache:` prefix, never copied or compared), so that a retry after a Lambda
 * timeout resumes from where the dead invocation got to, not from the start of its slice.
 */
import { copySlice } from '../lib/copy/bulk.js';
import { copyViaReplication } from '../lib/copy/replication/replica-copy.js';
import { ReplicationUnavailableError, TargetRefusedPayloadError } from '../lib/errors.js';
import { defaultResolvers, sliceDeadline, type EndpointResolvers } from '../lib/workflow/endpoints.js';
import type { Checkpoint, CopyStats } from '../lib/copy/types.js';
import { executionName } from '../lib/elasticache/tags.js';
import { connectRedis } from '../lib/redis/connect.js';
import { defineHandler, logger } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

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
  replication?: { replid: string; offset: number };
}

interface SavedProgress {
  /** Slices completed when it was saved: only a retry of that same slice may use it. */
  afterSlices: number;
  checkpoint: Checkpoint;
}

export function createHandler(resolvers: EndpointResolvers) {
  return defineHandler('CopyBulk', async (state: MigrationState & { copy?: CopyState }): Promise<CopyState> => {
    const [source, target] = await Promise.all([resolvers.source(state), resolvers.target(state)]);
    const progressKey = `spin-elasticache:copy-progress:${executionName(state.execution.arn)}`;
    const slices = state.copy?.slices ?? 0;
    const store = await connectRedis(target, { connectionName: 'spin-elasticache-progress' });
    try {
      const saved = JSON.parse((await store.get(progressKey)) ?? 'null') as SavedProgress | null;
      // One deadline for the whole invocation: a replication attempt that gives up has used its share.
      const deadline = sliceDeadline(state);
      const method = state.config.options.copyMethod;
      let fallbackReason = state.copy?.fallbackReason;
      if (method !== 'scan' && slices === 0 && !saved) {
        try {
          const result = await copyViaReplication(source, target, {
            deadline,
            skipPrefix: 'spin-elasticache:',
            onProgress: (p) => logger.info('copy progress', { phase: p.phase, keysCopied: p.keys, keysPerSecond: p.keysPerSec, totalKeys: p.totalKeys, etaSeconds: p.etaSeconds }),
          });
          logger.info('replication copy done', { keys: result.stats.keys, writesApplied: result.commandsApplied, offset: result.offset, phasesMs: result.phasesMs });
          return { checkpoint: { dbs: [], dbIndex: 0, cursor: '0', stats: result.stats }, done: true, slices: 1, lastSlice: result.stats, method: 'replication', replication: { replid: result.replid, offset: result.offset } };
        } catch (error) {
          if (method === 'replication' || !(error instanceof ReplicationUnavailableError || error instanceof TargetRefusedPayloadError)) throw error;
          fallbackReason = error.message;
          logger.warn('replication copy not possible; copying by scan', { reason: fallbackReason });
        }
      }
      const resumeFrom = saved?.afterSlices === slices ? saved.checkpoint : state.copy?.checkpoint;
      const result = await copySlice(source, target, {
        ...(resumeFrom ? { checkpoint: resumeFrom } : {}),
        deadline,
        skipPrefix: 'spin-elasticache:',
        checkpointEveryMs: 5000,
        onCheckpoint: async (checkpoint) => void (await store.set(progressKey, JSON.stringify({ afterSlices: slices, checkpoint } satisfies SavedProgress), 'EX', 86_400)),
        onProgress: (p) => logger.info('copy progress', { keysCopied: p.keys, keysPerSecond: p.keysPerSec, db: p.db }),
      });
      if (result.done) await store.del(progressKey);
      else await store.set(progressKey, JSON.stringify({ afterSlices: slices + 1, checkpoint: result.checkpoint } satisfies SavedProgress), 'EX', 86_400);
      return { checkpoint: result.checkpoint, done: result.done, slices: slices + 1, lastSlice: result.stats, method: 'scan', ...(fallbackReason ? { fallbackReason } : {}), ...(saved?.afterSlices === slices ? { resumedFromSavedProgress: true } : {}) };
    } finally {
      store.disconnect();
    }
  });
}

export const handler = createHandler(defaultResolvers);
