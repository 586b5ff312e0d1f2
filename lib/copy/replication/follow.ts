/**
 * The live catch-up from the replication stream: continue where the bulk copy (or the last
 * catch-up slice) stopped, with `PSYNC <replid> <offset+1>`. The source answers `+CONTINUE`
 * and sends every write since, from its backlog, so nothing is lost between Lambda
 * invocations, unlike keyspace notifications. Each written key is then copied in its
 * current state (`syncKey`, which also merges collections Spinnaker already writes on the
 * target): re-reading a stretch of the stream after a retry copies the same state again,
 * so a retried slice never applies a write twice.
 *
 * A source whose backlog no longer holds the offset answers `+FULLRESYNC`: that, a FLUSH or
 * a SWAPDB end the stream with ReplicationUnavailableError, and the caller goes back to
 * keyspace notifications (the final reconciliation covers the gap).
 */
import type { Redis } from 'ioredis';
import { MigrationError, ReplicationUnavailableError } from '../../errors.js';
import { connectRedis, redactUrl, type RedisEndpoint } from '../../redis/connect.js';
import { mapRedisError } from '../../redis/errors.js';
import { RespError } from '../../redis/resp.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { DbClients } from '../../redis/keyspace.js';
import { ownKeys } from '../filter.js';
import { syncKey } from '../live.js';
import { ReplicaSession } from './replica-session.js';
import { isGetAck, NON_DATA_COMMANDS, readStreamCommand } from './stream-command.js';

export interface StreamPosition {
  replid: string;
  /** The last byte of the stream already reflected on the target. */
  offset: number;
}

export interface FollowOptions {
  position: StreamPosition;
  /** Epoch ms at which to return. */
  until: number;
  shouldStop?: () => Promise<boolean>;
  checkEveryMs?: number;
  skipPrefix?: string;
}

export interface FollowStats {
  position: StreamPosition;
  commands: number;
  copied: number;
  deleted: number;
  stoppedEarly: boolean;
  ms: number;
}

/** Data commands that name no key (SELECT is followed for the database it sets). */
const KEYLESS = new Set(['multi', 'exec', 'select', 'function', 'script']);
/** Writes that change more than the keys they name: only a full comparison can follow them. */
const WHOLESALE = new Set(['flushall', 'flushdb', 'swapdb']);

interface KeySpec {
  first: number;
  last: number;
  step: number;
  movable: boolean;
}

async function keySpecs(control: Redis): Promise<Map<string, KeySpec>> {
  const commands = (await control.call('COMMAND')) as [string, number, string[], number, number, number][];
  return new Map(commands.map(([name, , flags, first, last, step]) => [name.toLowerCase(), { first, last, step, movable: flags.includes('movablekeys') }]));
}

export async function followChanges(sourceEndpoint: RedisEndpoint, targetEndpoint: RedisEndpoint, options: FollowOptions): Promise<FollowStats> {
  const started = Date.now();
  const where = redactUrl(sourceEndpoint.url);
  const isOwn = ownKeys(options.skipPrefix);
  const stats: FollowStats = { position: { ...options.position }, commands: 0, copied: 0, deleted: 0, stoppedEarly: false, ms: 0 };
  const control = await connectRedis(sourceEndpoint, { connectionName: 'spin-elasticache-follow-control' });
  const sources = new DbClients(sourceEndpoint, 'spin-elasticache-follow-source');
  const targets = new DbClients(targetEndpoint, 'spin-elasticache-follow-target');
  let replica: ReplicaSession | undefined;
  try {
    const specs = await keySpecs(control);
    const session = (replica = await ReplicaSession.open(sourceEndpoint, { diskless: true }));
    let pending: Buffer = Buffer.alloc(0);
    const reply = await session.psync(options.position.replid, String(options.position.offset + 1), {
      timeoutMs: 30_000,
      accepted: (r) => Buffer.isBuffer(r) && r.toString('latin1').startsWith('CONTINUE'),
      onBytes: (chunk) => void (pending = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk),
    });
    const answer = Buffer.isBuffer(reply) ? reply.toString('latin1') : reply instanceof RespError ? reply.message : 'nothing';
    if (!answer.startsWith('CONTINUE')) throw new ReplicationUnavailableError(`${where} cannot continue the replication stream at offset ${options.position.offset} (it answered ${answer.split(' ')[0]}); its backlog may have moved on`);
    const newId = answer.split(' ')[1];
    if (newId) stats.position.replid = newId;
    const ack = () => session.ack(stats.position.offset);
    session.startAcks(() => stats.position.offset);
    let db = 0;
    let parsedOffset = stats.position.offset;
    const changed = new Map<string, { db: number; key: Buffer }>();

    /** Parses what has arrived and copies the keys it wrote; the position moves only after. */
    const drain = async () => {
      let pos = 0;
      const buf = pending;
      for (;;) {
        const command = readStreamCommand(buf, pos);
        if (!command) break;
        parsedOffset += command.end - pos;
        pos = command.end;
        const { name, args } = command;
        if (name === 'select') db = Number(args[0]?.toString() ?? 0);
        if (isGetAck(command)) ack();
        if (NON_DATA_COMMANDS.has(name) || KEYLESS.has(name)) continue;
        if (WHOLESALE.has(name)) throw new ReplicationUnavailableError(`${where} ran ${name.toUpperCase()} during the catch-up; only the final comparison can follow that`);
        stats.commands++;
        const spec = specs.get(name);
        let keys: Buffer[] = [];
        if (spec?.movable || !spec) {
          keys = ((await control.callBuffer('COMMAND', 'GETKEYS', name, ...args).catch(() => [])) as Buffer[]) ?? [];
        } else if (spec.first > 0) {
          // Key positions count the command name as 0.
          const argc = args.length + 1;
          const last = spec.last < 0 ? argc + spec.last : spec.last;
          for (let i = spec.first; i <= last && i < argc; i += Math.max(1, spec.step)) keys.push(args[i - 1]!);
        }
        for (const key of keys) {
          if (isOwn(key)) continue;
          changed.set(`${db}:${key.toString('base64')}`, { db, key: Buffer.from(key) });
        }
      }
      pending = pending.subarray(pos);
      for (const { db: keyDb, key } of changed.values()) {
        if ((await syncKey(await sources.get(keyDb), await targets.get(keyDb), key)) === 'copied') stats.copied++;
        else stats.deleted++;
      }
      changed.clear();
      stats.position.offset = parsedOffset;
    };

    try {
      let lastCheck = 0;
      while (Date.now() < options.until) {
        await sleep(50);
        if (session.lost) throw new ReplicationUnavailableError(`${where} dropped the replication link during the catch-up`);
        await drain();
        if (options.shouldStop && Date.now() - lastCheck >= (options.checkEveryMs ?? 1000)) {
          lastCheck = Date.now();
          if (pending.length === 0 && (await options.shouldStop())) {
            stats.stoppedEarly = true;
            break;
          }
        }
      }
      // Everything the source has written so far, before handing over (what is left after 30 s, the next slice takes).
      await session.catchUpToSource(control, () => stats.position.offset, { step: drain, pauseMs: 20, withinMs: 30_000, mustArrive: false });
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
    control.disconnect();
    sources.close();
    targets.close();
  }
}
