/**
 * The live catch-up from the replication stream, as an exact mirror: continue where the
 * bulk copy (or the last catch-up slice) stopped, with `PSYNC <replid> <offset+1>`, and
 * forward spin-redis's write commands to the target in order, as a replica applies them.
 * Deletions, collection removals, RENAME, SWAPDB, FLUSH, MULTI/EXEC and whole Lua scripts
 * (3.2/4.0 replicate EVAL/EVALSHA/SCRIPT LOAD, not their effects) therefore apply exactly;
 * nothing needs to know which keys a script wrote.
 *
 * Exactly once across retries: each batch of complete commands is applied inside one
 * MULTI … EXEC together with `SET spin-elasticache:stream-position "<replid> <offset> <db>"` in
 * db 0, so the target holds the data and the position it reflects, or neither. A slice
 * starts from the target's position when it is ahead of the state's (a retried slice whose
 * predecessor died after some batches), so no command is ever applied twice.
 *
 * A source whose backlog no longer holds the offset answers `+FULLRESYNC`: that ends the
 * stream with ReplicationUnavailableError, and the caller goes back to keyspace
 * notifications (the final reconciliation covers the gap).
 */
import type { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { MigrationError, ReplicationUnavailableError } from '../../errors.js';
import { connectRedis, redactUrl, type RedisEndpoint } from '../../redis/connect.js';
import { mapRedisError } from '../../redis/errors.js';
import { DbClients, OWN_KEY_PREFIX } from '../../redis/keyspace.js';
import { encodeCommand, RespConnection, RespError, type RespValue } from '../../redis/resp.js';
import { collectExpiring, expiryCommand, sourceExpiries } from './relative-expiry.js';
import { ReplicaSession } from './replica-session.js';
import { isGetAck, NON_DATA_COMMANDS, readStreamCommand, type StreamCommand } from './stream-command.js';

export interface StreamPosition {
  replid: string;
  /** The last byte of the stream already reflected on the target. */
  offset: number;
  /**
   * The stream's database at that byte. A master does not repeat SELECT on `+CONTINUE`, so a
   * replica must remember it (0 when unknown: the first write after a full sync SELECTs).
   */
  db?: number;
}

export interface FollowOptions {
  position: StreamPosition;
  /** Epoch ms at which to return. */
  until: number;
  /** Checked every `checkEveryMs` with the position reached; true ends the slice early. */
  shouldStop?: (position: StreamPosition) => Promise<boolean>;
  checkEveryMs?: number;
  /**
   * The final catch-up (inside the pause, spin-redis frozen): the stream must reach the
   * source's `master_repl_offset` within this many ms, or the follow fails.
   */
  mustReachSourceWithinMs?: number;
}

export interface FollowStats {
  position: StreamPosition;
  /** Data commands forwarded. */
  commands: number;
  /** Of those, the ones that write (all but removals). */
  copied: number;
  /** Of those, removals: DEL, HDEL, SREM, ZREM, pops, trims, FLUSH… */
  deleted: number;
  stoppedEarly: boolean;
  /** Stream bytes the source had written beyond `position` when the follow returned. */
  lagBytes: number;
  ms: number;
}

/** Where the catch-up records, on the target, the last stream byte it reflects (db 0). */
export const STREAM_POSITION_KEY = `${OWN_KEY_PREFIX}stream-position`;
/**
 * The position lives a day, renewed by every batch, like the copy's saved progress: long enough
 * for any retried slice (the only reader; the state carries the position between slices), and
 * no step has to delete it from Spinnaker's new Redis, where it would otherwise stay for good.
 * (VerifyCopy, the first step after the last catch-up, only reads: it must not fail on a
 * failover's READONLY.)
 */
const STREAM_POSITION_TTL_MS = 86_400_000;

const REMOVALS = new Set([
  'del',
  'unlink',
  'hdel',
  'srem',
  'zrem',
  'zremrangebyscore',
  'zremrangebyrank',
  'zremrangebylex',
  'lrem',
  'ltrim',
  'lpop',
  'rpop',
  'spop',
  'zpopmin',
  'zpopmax',
  'xdel',
  'xtrim',
  'getdel',
  'flushdb',
  'flushall',
]);
/** Never more than this many commands in one transaction (the target answers each). */
const MAX_BATCH = 1000;

/** The source's `master_repl_offset`: the last byte of its replication stream. */
export async function sourceOffset(control: Redis): Promise<number> {
  return Number(/master_repl_offset:(\d+)/.exec(await control.info('replication'))?.[1] ?? 0);
}

/** The position the target holds, if any (`<replid> <offset> <db>` in db 0). */
export async function targetStreamPosition(target: Redis): Promise<StreamPosition | undefined> {
  const value = await target.get(STREAM_POSITION_KEY);
  const [replid, offset, db] = value?.split(' ') ?? [];
  if (!replid || !offset || !/^\d+$/.test(offset)) return undefined;
  return { replid, offset: Number(offset), ...(db && /^\d+$/.test(db) ? { db: Number(db) } : {}) };
}

/**
 * Where to continue: the target's position when it is the same stream and further on (an
 * earlier try of this slice applied batches, then died), else the state's. An older target
 * position (left by an earlier migration run) is ignored.
 */
export function resumePosition(state: StreamPosition, onTarget: StreamPosition | undefined): StreamPosition {
  return onTarget && onTarget.replid === state.replid && onTarget.offset > state.offset
    ? onTarget
    : { replid: state.replid, offset: state.offset, ...(state.db === undefined ? {} : { db: state.db }) };
}

interface Batch {
  commands: StreamCommand[];
  /** Stream bytes the batch covers (including the non-data commands between). */
  bytes: number;
  dbAtStart: number;
  dbAtEnd: number;
  getAck: boolean;
}

/** Sends MULTI … EXEC and resolves with EXEC's reply (an array, or an error). */
function transact(target: RespConnection, parts: (Buffer | string)[][]): Promise<RespValue> {
  const bytes = Buffer.concat([encodeCommand(['MULTI']), ...parts.map(encodeCommand), encodeCommand(['EXEC'])]);
  let left = parts.length + 2;
  const errors: string[] = [];
  return new Promise((resolve) => {
    target.send(bytes, left, (reply) => {
      left--;
      if (left > 0) {
        if (reply instanceof RespError) errors.push(reply.message);
        return;
      }
      // A command refused while queued (READONLY during a failover, OOM) makes EXEC answer
      // EXECABORT: the refusal is the error that says what happened.
      resolve(errors.length > 0 ? new RespError(errors[0]!) : reply);
    });
  });
}

export async function followChanges(sourceEndpoint: RedisEndpoint, targetEndpoint: RedisEndpoint, options: FollowOptions): Promise<FollowStats> {
  const started = Date.now();
  const where = redactUrl(sourceEndpoint.url);
  const control = await connectRedis(sourceEndpoint, { connectionName: 'spin-elasticache-follow-control' });
  const sources = new DbClients(sourceEndpoint, 'spin-elasticache-follow-source');
  const targetControl = await connectRedis(targetEndpoint, { connectionName: 'spin-elasticache-follow-target' });
  let apply: RespConnection | undefined;
  let replica: ReplicaSession | undefined;
  try {
    const start = resumePosition(options.position, await targetStreamPosition(targetControl));
    const stats: FollowStats = { position: { replid: start.replid, offset: start.offset, db: start.db ?? 0 }, commands: 0, copied: 0, deleted: 0, stoppedEarly: false, lagBytes: 0, ms: 0 };
    const target = (apply = await RespConnection.open(targetEndpoint, 'spin-elasticache-follow-apply'));
    const session = (replica = await ReplicaSession.open(sourceEndpoint, { diskless: true }));
    let pending: Buffer = Buffer.alloc(0);
    const reply = await session.psync(start.replid, String(start.offset + 1), {
      timeoutMs: 30_000,
      accepted: (r) => Buffer.isBuffer(r) && r.toString('latin1').startsWith('CONTINUE'),
      onBytes: (chunk) => void (pending = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk),
    });
    const answer = Buffer.isBuffer(reply) ? reply.toString('latin1') : reply instanceof RespError ? reply.message : 'nothing';
    if (!answer.startsWith('CONTINUE'))
      throw new ReplicationUnavailableError(`${where} cannot continue the replication stream at offset ${start.offset} (it answered ${answer.split(' ')[0]}); its backlog may have moved on`);
    const newId = answer.split(' ')[1]?.trim();
    if (newId) stats.position.replid = newId;
    session.startAcks(() => stats.position.offset);
    // The stream's database as of the last applied byte.
    let db = start.db ?? 0;

    /** The complete commands at the head of `pending` that end outside a stream transaction. */
    const nextBatch = (): Batch | undefined => {
      const batch: Batch = { commands: [], bytes: 0, dbAtStart: db, dbAtEnd: db, getAck: false };
      let pos = 0;
      let open: StreamCommand[] | undefined;
      let streamDb = db;
      let getAck = false;
      for (;;) {
        const command = readStreamCommand(pending, pos);
        if (!command) break;
        pos = command.end;
        if (NON_DATA_COMMANDS.has(command.name)) {
          getAck ||= isGetAck(command);
        } else if (command.name === 'multi') {
          open = [];
        } else if (command.name === 'exec') {
          batch.commands.push(...(open ?? []));
          open = undefined;
        } else {
          if (command.name === 'select') streamDb = Number(command.args[0]?.toString('latin1') ?? 0);
          (open ?? batch.commands).push(command);
        }
        // A batch ends only outside the stream's own transactions, so those apply whole.
        if (!open) {
          batch.bytes = pos;
          batch.dbAtEnd = streamDb;
          batch.getAck = getAck;
          if (batch.commands.length >= MAX_BATCH) break;
        }
      }
      return batch.bytes > 0 ? batch : undefined;
    };

    /** Applies one batch and its position atomically, with the source's absolute expiries. */
    const applyBatch = async (batch: Batch) => {
      const parts: (Buffer | string)[][] = [['SELECT', String(batch.dbAtStart)]];
      const expiring = new Map<number, Map<string, Buffer>>();
      const swapped = new Set<number>();
      let current = batch.dbAtStart;
      for (const command of batch.commands) {
        parts.push([command.name, ...command.args]);
        if (command.name === 'select') current = Number(command.args[0]?.toString('latin1') ?? 0);
        if (command.name === 'swapdb') for (const a of command.args.slice(0, 2)) swapped.add(Number(a.toString('latin1')));
        collectExpiring(expiring, current, command);
        stats.commands += command.name === 'select' ? 0 : 1;
        if (REMOVALS.has(command.name)) stats.deleted++;
        else if (command.name !== 'select') stats.copied++;
      }
      // Replayed late, a relative TTL would be stretched: give those keys the source's absolute expiry.
      for (const [keyDb, byName] of expiring) {
        const keys = [...byName.values()];
        const expiries = await sourceExpiries(await sources.get(keyDb), keys);
        parts.push(['SELECT', String(keyDb)]);
        keys.forEach((key, i) => {
          const fix = expiryCommand(key, expiries[i]);
          if (fix) parts.push(fix);
        });
      }
      // SWAPDB carries our position key with it: drop the copies it moved out of db 0.
      for (const other of swapped) if (other !== 0) parts.push(['SELECT', String(other)], ['DEL', STREAM_POSITION_KEY]);
      const offset = stats.position.offset + batch.bytes;
      if (batch.commands.length === 0) {
        // Keep-alives only: nothing to apply, the target's position may lag (a retry re-reads pings only).
        pending = pending.subarray(batch.bytes);
        stats.position.offset = offset;
        if (batch.getAck) session.ack(offset);
        return;
      }
      parts.push(['SELECT', '0'], ['SET', STREAM_POSITION_KEY, `${stats.position.replid} ${offset} ${batch.dbAtEnd}`, 'PX', String(STREAM_POSITION_TTL_MS)], ['SELECT', String(batch.dbAtEnd)]);
      const result = await transact(target, parts);
      if (result instanceof RespError) throw mapRedisError(new Error(result.message), 'target (replicated write)');
      const failed = Array.isArray(result) ? result.find((r): r is RespError => r instanceof RespError) : undefined;
      if (failed) throw mapRedisError(new Error(failed.message), 'target (replicated write)');
      pending = pending.subarray(batch.bytes);
      db = stats.position.db = batch.dbAtEnd;
      stats.position.offset = offset;
      if (batch.getAck) session.ack(offset);
    };

    /** Applies everything complete that has arrived; the position moves only with the data. */
    const drain = async () => {
      for (let batch = nextBatch(); batch; batch = nextBatch()) await applyBatch(batch);
    };

    try {
      let lastCheck = 0;
      while (Date.now() < options.until) {
        await sleep(50);
        if (session.lost) throw new ReplicationUnavailableError(`${where} dropped the replication link during the catch-up`);
        if (target.lost) throw mapRedisError(target.lost, 'target (replicated write)');
        await drain();
        if (options.shouldStop && Date.now() - lastCheck >= (options.checkEveryMs ?? 1000)) {
          lastCheck = Date.now();
          if (pending.length === 0 && (await options.shouldStop(stats.position))) {
            stats.stoppedEarly = true;
            break;
          }
        }
      }
      // Everything the source has written so far, before handing over (what is left after 30 s,
      // the next slice takes; the final catch-up must get there).
      const final = options.mustReachSourceWithinMs;
      await session.catchUpToSource(control, () => stats.position.offset, { step: drain, pauseMs: 20, withinMs: final ?? 30_000, mustArrive: final !== undefined });
      stats.lagBytes = Math.max(0, (await sourceOffset(control)) - stats.position.offset);
    } finally {
      session.stopAcks();
    }
    stats.ms = Date.now() - started;
    return stats;
  } catch (error) {
    if (error instanceof MigrationError) throw error;
    throw mapRedisError(error, 'replication catch-up');
  } finally {
    replica?.close();
    apply?.close();
    control.disconnect();
    targetControl.disconnect();
    sources.close();
  }
}
