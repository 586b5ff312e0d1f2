/**
 * CatchUpLiveWrites (`$.catchUp`, VPC): before the pause, copy what Spinnaker keeps writing
 * to spin-redis, one slice per invocation, until the target is close behind
 * (lib/copy/catch-up-slice.ts: the replication stream after a replication copy, else
 * keyspace notifications). It shortens the pause; the final catch-up inside it decides.
 */
import { catchUpSlice, type CatchUpState } from '../lib/copy/catch-up-slice.js';
import { defaultResolvers, type EndpointResolvers } from '../lib/workflow/endpoints.js';
import { defineStepHandler, logger } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

/** A slice is short: the loop checks between slices whether the pause may begin. */
const SLICE_MS = 60_000;

export function createHandler(resolvers: EndpointResolvers, options: { sliceMs?: number } = {}) {
  return defineStepHandler('CatchUpLiveWrites', async (state: MigrationState): Promise<CatchUpState> => {
    const [source, target] = await Promise.all([resolvers.source(state), resolvers.target(state)]);
    const { copySliceSeconds, drainTimeoutMinutes } = state.config.options;
    return catchUpSlice(source, target, state.catchUp, {
      ...(state.copy?.replication ? { copiedAt: state.copy.replication } : {}),
      sliceMs: Math.min(options.sliceMs ?? SLICE_MS, copySliceSeconds * 1000),
      giveUpAfterMs: drainTimeoutMinutes * 60_000,
      log: logger,
    });
  });
}

export const handler = createHandler(defaultResolvers);
