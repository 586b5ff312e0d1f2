/**
 * CopyBulk (`$.copy`, VPC): one bounded slice of the bulk copy; the checkpoint in the state
 * resumes it. During the slice, safe checkpoints are also kept on the target (a key under
 * our `spin-elasticache:` prefix, never copied or compared), so that a retry after a Lambda
 * timeout resumes from where the dead invocation got to, not from the start of its slice.
 */
import { copySlice } from '../lib/copy/bulk.js';
import { defaultResolvers, sliceDeadline, type EndpointResolvers } from '../lib/copy/endpoints.js';
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
      const resumeFrom = saved?.afterSlices === slices ? saved.checkpoint : state.copy?.checkpoint;
      const result = await copySlice(source, target, {
        ...(resumeFrom ? { checkpoint: resumeFrom } : {}),
        deadline: sliceDeadline(state),
        skipPrefix: 'spin-elasticache:',
        checkpointEveryMs: 5000,
        onCheckpoint: async (checkpoint) => void (await store.set(progressKey, JSON.stringify({ afterSlices: slices, checkpoint } satisfies SavedProgress), 'EX', 86_400)),
        onProgress: (p) => logger.info('copy progress', { keysCopied: p.keys, keysPerSecond: p.keysPerSec, db: p.db }),
      });
      if (result.done) await store.del(progressKey);
      else await store.set(progressKey, JSON.stringify({ afterSlices: slices + 1, checkpoint: result.checkpoint } satisfies SavedProgress), 'EX', 86_400);
      return { checkpoint: result.checkpoint, done: result.done, slices: slices + 1, lastSlice: result.stats, ...(saved?.afterSlices === slices ? { resumedFromSavedProgress: true } : {}) };
    } finally {
      store.disconnect();
    }
  });
}

export const handler = createHandler(defaultResolvers);
