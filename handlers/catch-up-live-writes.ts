/**
 * CatchUpLiveWrites (`$.catchUp`, VPC): copy what Spinnaker changes on spin-redis, one slice
 * per invocation, until no client but us is left on spin-redis or the drain bound passes.
 */
import { connectRedis } from '../lib/redis/connect.js';
import { defaultResolvers, type EndpointResolvers } from '../lib/copy/endpoints.js';
import { catchUp, foreignClients } from '../lib/copy/live.js';
import { defineHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export interface CatchUpState {
  drained: boolean;
  timedOut: boolean;
  slices: number;
  since: string;
  events: number;
  copied: number;
  deleted: number;
  foreignClients: number;
}

/** A slice is short: the catch-up must hand over quickly once the rollout is done. */
const SLICE_MS = 60_000;

export function createHandler(resolvers: EndpointResolvers, options: { sliceMs?: number } = {}) {
  return defineHandler('CatchUpLiveWrites', async (state: MigrationState & { catchUp?: CatchUpState }): Promise<CatchUpState> => {
    const since = state.catchUp?.since ?? new Date().toISOString();
    const [source, target] = await Promise.all([resolvers.source(state), resolvers.target(state)]);
    const probe = await connectRedis(source, { connectionName: 'spin-elasticache-drain' });
    let remaining = 0;
    try {
      const stats = await catchUp(source, target, {
        until: Date.now() + Math.min(options.sliceMs ?? SLICE_MS, state.config.options.copySliceSeconds * 1000),
        shouldStop: async () => (remaining = (await foreignClients(probe)).length) === 0,
      });
      remaining = (await foreignClients(probe)).length;
      const timedOut = remaining > 0 && Date.now() - Date.parse(since) > state.config.options.drainTimeoutMinutes * 60_000;
      const previous = state.catchUp;
      return {
        drained: remaining === 0 || timedOut,
        timedOut,
        slices: (previous?.slices ?? 0) + 1,
        since,
        events: (previous?.events ?? 0) + stats.events,
        copied: (previous?.copied ?? 0) + stats.copied,
        deleted: (previous?.deleted ?? 0) + stats.deleted,
        foreignClients: remaining,
      };
    } finally {
      probe.disconnect();
    }
  });
}

export const handler = createHandler(defaultResolvers);
