/**
 * CatchUpLiveWrites (`$.catchUp`, VPC): copy what Spinnaker changes on spin-redis, one slice
 * per invocation, until no client but us is left on spin-redis or the drain bound passes.
 * After a replication copy it continues spin-redis's replication stream from where the copy
 * (or the last slice) stopped, so no write is missed between invocations; when that stream
 * cannot continue it falls back to keyspace notifications for the rest of the catch-up.
 */
import { connectRedis } from '../lib/redis/connect.js';
import { defaultResolvers, type EndpointResolvers } from '../lib/workflow/endpoints.js';
import { catchUp, foreignClients } from '../lib/copy/live.js';
import { followChanges, type StreamPosition } from '../lib/copy/replication/follow.js';
import { ReplicationUnavailableError } from '../lib/errors.js';
import { defineHandler, logger } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';
import type { CopyState } from './copy-bulk.js';

export interface CatchUpState {
  drained: boolean;
  timedOut: boolean;
  slices: number;
  since: string;
  events: number;
  copied: number;
  deleted: number;
  foreignClients: number;
  /** Following spin-redis's replication stream: where the next slice continues. */
  stream?: StreamPosition;
  /** Why the stream could not be followed (the catch-up then uses keyspace notifications). */
  streamLost?: string;
}

/** A slice is short: the catch-up must hand over quickly once the rollout is done. */
const SLICE_MS = 60_000;

export function createHandler(resolvers: EndpointResolvers, options: { sliceMs?: number } = {}) {
  return defineHandler('CatchUpLiveWrites', async (state: MigrationState & { catchUp?: CatchUpState; copy?: CopyState }): Promise<CatchUpState> => {
    const since = state.catchUp?.since ?? new Date().toISOString();
    const [source, target] = await Promise.all([resolvers.source(state), resolvers.target(state)]);
    const probe = await connectRedis(source, { connectionName: 'spin-elasticache-drain' });
    let remaining = 0;
    const until = Date.now() + Math.min(options.sliceMs ?? SLICE_MS, state.config.options.copySliceSeconds * 1000);
    const shouldStop = async () => (remaining = (await foreignClients(probe)).length) === 0;
    const previous = state.catchUp;
    let streamLost = previous?.streamLost;
    const position = streamLost ? undefined : (previous?.stream ?? state.copy?.replication);
    try {
      let stream: StreamPosition | undefined;
      let stats = { events: 0, copied: 0, deleted: 0 };
      if (position) {
        try {
          const followed = await followChanges(source, target, { position, until, shouldStop });
          stream = followed.position;
          stats = { events: followed.commands, copied: followed.copied, deleted: followed.deleted };
        } catch (error) {
          if (!(error instanceof ReplicationUnavailableError)) throw error;
          streamLost = error.message;
          logger.warn('replication stream lost; catching up from keyspace notifications', { reason: streamLost });
        }
      }
      if (!stream) stats = await catchUp(source, target, { until, shouldStop });
      remaining = (await foreignClients(probe)).length;
      const timedOut = remaining > 0 && Date.now() - Date.parse(since) > state.config.options.drainTimeoutMinutes * 60_000;
      return {
        drained: remaining === 0 || timedOut,
        timedOut,
        slices: (previous?.slices ?? 0) + 1,
        since,
        events: (previous?.events ?? 0) + stats.events,
        copied: (previous?.copied ?? 0) + stats.copied,
        deleted: (previous?.deleted ?? 0) + stats.deleted,
        foreignClients: remaining,
        ...(stream ? { stream } : {}),
        ...(streamLost ? { streamLost } : {}),
      };
    } finally {
      probe.disconnect();
    }
  });
}

export const handler = createHandler(defaultResolvers);
