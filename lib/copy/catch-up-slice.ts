/**
 * One invocation of the live catch-up (CatchUpLiveWrites, `$.catchUp`): mirror what
 * Spinnaker changes on spin-redis until no client but us is left on it or the drain bound
 * passes. After a replication copy it continues spin-redis's replication stream from where
 * the copy (or the last slice, or the target's own record of it) stopped and replays its
 * commands exactly once, so no write is missed or doubled between invocations; when that
 * stream cannot continue it falls back to keyspace notifications (each touched key replaced
 * whole) for the rest of the catch-up. Counts accumulate across slices.
 */
import { ReplicationUnavailableError } from '../errors.js';
import { connectRedis, type RedisEndpoint } from '../redis/connect.js';
import { whyStreamCannotContinue } from './fork-safety.js';
import { catchUp, foreignClients } from './live.js';
import { followChanges, type StreamPosition } from './replication/follow.js';
import type { CopyLog } from './types.js';

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

export interface CatchUpSliceOptions {
  /** Where the replication copy left the source's stream, if it was used. */
  copiedAt?: StreamPosition;
  /** This slice's length; a slice is short, so the catch-up hands over quickly once the rollout is done. */
  sliceMs: number;
  /** Past this since the first slice, a spin-redis still in use ends the catch-up anyway (`timedOut`). */
  drainTimeoutMs: number;
  log?: CopyLog;
}

export async function catchUpSlice(source: RedisEndpoint, target: RedisEndpoint, previous: CatchUpState | undefined, options: CatchUpSliceOptions): Promise<CatchUpState> {
  const since = previous?.since ?? new Date().toISOString();
  const probe = await connectRedis(source, { connectionName: 'spin-elasticache-drain' });
  try {
    let remaining = 0;
    const until = Date.now() + options.sliceMs;
    const shouldStop = async () => (remaining = (await foreignClients(probe)).length) === 0;
    let streamLost = previous?.streamLost;
    const position = streamLost ? undefined : (previous?.stream ?? options.copiedAt);
    let stream: StreamPosition | undefined;
    let stats = { events: 0, copied: 0, deleted: 0 };
    // A PSYNC the backlog cannot serve would make spin-redis fork for a full sync: ask first.
    const cannot = position ? whyStreamCannotContinue(`${await probe.info('server')}\n${await probe.info('replication')}`, position) : undefined;
    if (position && cannot) {
      streamLost = `${cannot}; not asking for the stream, which would make spin-redis fork`;
      options.log?.warn('replication stream lost; catching up from keyspace notifications', { reason: streamLost });
    } else if (position) {
      try {
        const followed = await followChanges(source, target, { position, until, shouldStop });
        stream = followed.position;
        stats = { events: followed.commands, copied: followed.copied, deleted: followed.deleted };
      } catch (error) {
        if (!(error instanceof ReplicationUnavailableError)) throw error;
        streamLost = error.message;
        options.log?.warn('replication stream lost; catching up from keyspace notifications', { reason: streamLost });
      }
    }
    if (!stream) stats = await catchUp(source, target, { until, shouldStop });
    remaining = (await foreignClients(probe)).length;
    const timedOut = remaining > 0 && Date.now() - Date.parse(since) > options.drainTimeoutMs;
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
}
