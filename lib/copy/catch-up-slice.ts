/**
 * The live catch-up of the workflow, in two parts (docs/COPY.md):
 *
 *   - `catchUpSlice` (CatchUpLiveWrites, `$.catchUp`), while Spinnaker still runs on
 *     spin-redis, before the pause: after a replication copy it continues spin-redis's
 *     replication stream from where the copy (or the last slice, or the target's own record
 *     of it) stopped and replays its commands exactly once, until the target is close behind
 *     (`caughtUp`); when that stream cannot continue it falls back to keyspace notifications
 *     (each touched key replaced whole). It only shortens the pause: nothing it does decides
 *     the final content of the target.
 *   - `finalCatchUp` (ReconcileFinal, `$.reconcile`), inside the pause, spin-redis frozen:
 *     the stream to the source's last byte, or, without a stream, the mirror reconciliation
 *     (every differing key replaced, every key absent on spin-redis deleted). Either way the
 *     target ends equal to spin-redis, which VerifyCopy (strict) then proves.
 */
import { ReplicationUnavailableError } from '../errors.js';
import { connectRedis, type RedisEndpoint } from '../redis/connect.js';
import { whyStreamCannotContinue } from './fork-safety.js';
import { catchUp } from './live.js';
import { type MirrorState, mirrorSlice } from './reconcile.js';
import { followChanges, sourceOffset, type StreamPosition } from './replication/follow.js';
import type { CopyLog } from './types.js';

export interface CatchUpState {
  /** Close enough behind spin-redis for the pause to begin. */
  caughtUp: boolean;
  slices: number;
  since: string;
  events: number;
  copied: number;
  deleted: number;
  /** Following the stream: bytes spin-redis had written beyond `stream` at the end of the slice. */
  lagBytes?: number;
  /** Following spin-redis's replication stream: where the next slice continues. */
  stream?: StreamPosition;
  /** Why the stream could not be followed (the catch-up then uses keyspace notifications). */
  streamLost?: string;
}

export interface CatchUpSliceOptions {
  /** Where the replication copy left the source's stream, if it was used. */
  copiedAt?: StreamPosition;
  /** This slice's length at most. */
  sliceMs: number;
  /** Behind by at most this many stream bytes counts as caught up (default 64 KiB). */
  smallLagBytes?: number;
  /** Past this since the first slice, the pause begins anyway (the final catch-up takes the rest). */
  giveUpAfterMs: number;
  log?: CopyLog;
}

const SMALL_LAG_BYTES = 64 * 1024;

/** Why the source's backlog cannot serve a PSYNC from `position` (docs/COPY.md, "Fork safety"), if it cannot. */
async function streamCannotContinue(probe: Awaited<ReturnType<typeof connectRedis>>, position: StreamPosition): Promise<string | undefined> {
  return whyStreamCannotContinue(`${await probe.info('server')}\n${await probe.info('replication')}`, position);
}

function positionOf(previous: CatchUpState | undefined, copiedAt: StreamPosition | undefined): StreamPosition | undefined {
  return previous?.streamLost ? undefined : (previous?.stream ?? copiedAt);
}

export async function catchUpSlice(source: RedisEndpoint, target: RedisEndpoint, previous: CatchUpState | undefined, options: CatchUpSliceOptions): Promise<CatchUpState> {
  const since = previous?.since ?? new Date().toISOString();
  const small = options.smallLagBytes ?? SMALL_LAG_BYTES;
  const until = Date.now() + options.sliceMs;
  let streamLost = previous?.streamLost;
  const position = positionOf(previous, options.copiedAt);
  let stream: StreamPosition | undefined;
  let lagBytes: number | undefined;
  let stats = { events: 0, copied: 0, deleted: 0 };
  if (position) {
    const probe = await connectRedis(source, { connectionName: 'spin-elasticache-lag' });
    try {
      // A PSYNC the backlog cannot serve would make spin-redis fork for a full sync: ask first.
      const cannot = await streamCannotContinue(probe, position);
      if (cannot) {
        streamLost = `${cannot}; not asking for the stream, which would make spin-redis fork`;
        options.log?.warn('replication stream lost; catching up from keyspace notifications', { reason: streamLost });
      } else {
        const followed = await followChanges(source, target, { position, until, shouldStop: async (at) => (await sourceOffset(probe)) - at.offset <= small });
        stream = followed.position;
        lagBytes = followed.lagBytes;
        stats = { events: followed.commands, copied: followed.copied, deleted: followed.deleted };
      }
    } catch (error) {
      if (!(error instanceof ReplicationUnavailableError)) throw error;
      streamLost = error.message;
      options.log?.warn('replication stream lost; catching up from keyspace notifications', { reason: streamLost });
    } finally {
      probe.disconnect();
    }
  }
  // Notifications cannot say how far behind they are: one short pass over what arrives, then
  // the final mirror reconciliation inside the pause decides.
  if (!stream) stats = await catchUp(source, target, { until, shouldStop: async () => true });
  const caughtUp = lagBytes === undefined || lagBytes <= small || Date.now() - Date.parse(since) > options.giveUpAfterMs;
  return {
    caughtUp,
    slices: (previous?.slices ?? 0) + 1,
    since,
    events: (previous?.events ?? 0) + stats.events,
    copied: (previous?.copied ?? 0) + stats.copied,
    deleted: (previous?.deleted ?? 0) + stats.deleted,
    ...(lagBytes !== undefined ? { lagBytes } : {}),
    ...(stream ? { stream } : {}),
    ...(streamLost ? { streamLost } : {}),
  };
}

/**
 * `$.reconcile`, written by ReconcileFinal: the stream in one invocation (bounded by `withinMs`),
 * or the mirror slice by slice until `done` (the state machine loops on it).
 */
export type FinalCatchUp =
  | { method: 'stream'; done: true; position: StreamPosition; commands: number; copied: number; deleted: number; ms: number }
  | ({ method: 'mirror'; streamLost?: string } & MirrorState);

/**
 * Inside the pause (no client but ours on spin-redis): take the target to exactly the
 * source. The stream to the source's final offset when it can continue; else the mirror, one
 * slice per invocation until `deadline`, resuming from `options.previous` (the last slice's
 * result) when that was a mirror not yet done.
 */
export async function finalCatchUp(
  source: RedisEndpoint,
  target: RedisEndpoint,
  previous: CatchUpState | undefined,
  options: { copiedAt?: StreamPosition; withinMs: number; deadline?: number; previous?: FinalCatchUp; log?: CopyLog },
): Promise<FinalCatchUp> {
  const started = Date.now();
  const slice = { ...(options.deadline !== undefined ? { deadline: options.deadline } : {}) };
  const last = options.previous;
  if (last?.method === 'mirror' && !last.done) {
    const mirrored = await mirrorSlice(source, target, last, slice);
    return { method: 'mirror', ...(last.streamLost ? { streamLost: last.streamLost } : {}), ...mirrored };
  }
  const position = positionOf(previous, options.copiedAt);
  let streamLost = previous?.streamLost;
  const probe = position ? await connectRedis(source, { connectionName: 'spin-elasticache-lag' }) : undefined;
  const cannot = position && probe ? await streamCannotContinue(probe, position).finally(() => probe.disconnect()) : undefined;
  if (cannot) {
    streamLost = `${cannot}; not asking for the stream, which would make spin-redis fork`;
    options.log?.warn('replication stream lost; the final catch-up mirrors spin-redis instead', { reason: streamLost });
  } else if (position) {
    try {
      const followed = await followChanges(source, target, { position, until: Date.now(), mustReachSourceWithinMs: options.withinMs });
      return { method: 'stream', done: true, position: followed.position, commands: followed.commands, copied: followed.copied, deleted: followed.deleted, ms: Date.now() - started };
    } catch (error) {
      if (!(error instanceof ReplicationUnavailableError)) throw error;
      streamLost = error.message;
      options.log?.warn('replication stream lost; the final catch-up mirrors spin-redis instead', { reason: streamLost });
    }
  }
  const mirrored = await mirrorSlice(source, target, undefined, slice);
  return { method: 'mirror', ...(streamLost ? { streamLost } : {}), ...mirrored };
}
