/** CopyBulk (`$.copy`, VPC): one bounded slice of the bulk copy; the checkpoint in the state resumes it. */
import { copySlice } from '../lib/copy/bulk.js';
import { defaultResolvers, sliceDeadline, type EndpointResolvers } from '../lib/copy/endpoints.js';
import type { Checkpoint, CopyStats } from '../lib/copy/types.js';
import { defineHandler, logger } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export interface CopyState {
  checkpoint: Checkpoint;
  done: boolean;
  slices: number;
  lastSlice: CopyStats;
}

export function createHandler(resolvers: EndpointResolvers) {
  return defineHandler('CopyBulk', async (state: MigrationState & { copy?: CopyState }): Promise<CopyState> => {
    const [source, target] = await Promise.all([resolvers.source(state), resolvers.target(state)]);
    const result = await copySlice(source, target, {
      ...(state.copy?.checkpoint ? { checkpoint: state.copy.checkpoint } : {}),
      deadline: sliceDeadline(state),
      skipPrefix: 'spin-elasticache:',
      onProgress: (p) => logger.info('copy progress', { keysCopied: p.keys, keysPerSecond: p.keysPerSec, db: p.db }),
    });
    return { checkpoint: result.checkpoint, done: result.done, slices: (state.copy?.slices ?? 0) + 1, lastSlice: result.stats };
  });
}

export const handler = createHandler(defaultResolvers);
