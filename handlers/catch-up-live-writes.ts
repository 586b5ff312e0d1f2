/**
 * CatchUpLiveWrites (`$.catchUp`, VPC): copy what Spinnaker changes on spin-redis, one slice
 * per invocation, until no client but us is left on spin-redis or the drain bound passes
 * (lib/copy/catch-up-slice.ts: the replication stream after a replication copy, else
 * keyspace notifications).
 */
import { catchUpSlice, type CatchUpState } from '../lib/copy/catch-up-slice.js';
import { defaultResolvers, type EndpointResolvers } from '../lib/workflow/endpoints.js';
import { defineStepHandler, logger } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

/** A slice is short: the catch-up must hand over quickly once the rollout is done. */
const SLICE_MS = 60_000;

export function createHandler(resolvers: EndpointResolvers, options: { sliceMs?: number } = {}) {
  return defineStepHandler('CatchUpLiveWrites', async (state: MigrationState): Promise<CatchUpState> => {
    const [source, target] = await Promise.all([resolvers.source(state), resolvers.target(state)]);
    const { copySliceSeconds, drainTimeoutMinutes } = state.config.options;
    return catchUpSlice(source, target, state.catchUp, {
      ...(state.copy?.replication ? { copiedAt: state.copy.replication } : {}),
      sliceMs: Math.min(options.sliceMs ?? SLICE_MS, copySliceSeconds * 1000),
      drainTimeoutMs: drainTimeoutMinutes * 60_000,
      log: logger,
    });
  });
}

export const handler = createHandler(defaultResolvers);
