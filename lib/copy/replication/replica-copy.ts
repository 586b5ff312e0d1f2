/**
 * The replication copy: connect to the source as a replica (PSYNC), receive its RDB
 * snapshot, turn every key into a pipelined `RESTORE … REPLACE [ABSTTL]` on the target,
 * then apply the write commands the source made since the snapshot, up to the source's
 * current replication offset. The result is the source as of the end of the copy; keys
 * deleted, expired or renewed meanwhile are deleted, expired or renewed on the target too.
 *
 * Why: the source does almost nothing (a forked child streams the snapshot), so the copy
 * is bound by the target's RESTORE rate, which is what MIGRATE is bound by too, minus
 * MIGRATE's per-batch round trip. RedisShake's "sync" mode works the same way.
 * ElastiCache refuses PSYNC, so this only works from a self-hosted source like spin-redis;
 * callers fall back to the scan copy on ReplicationUnavailableError.
 */
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { CopyFailedError, MigrationError, ReplicationUnavailableError, TargetRefusedPayloadError } from '../../errors.js';
import { connectRedis, redactUrl, type RedisEndpoint } from '../../redis/connect.js';
import { mapRedisError } from '../../redis/errors.js';
import { encodeCommand, RespConnection, RespError, type RespValue } from '../../redis/resp.js';
import { databasesWithKeys, keyCount } from '../../redis/keyspace.js';
import { hasExpired, OWN_KEY_PREFIX, ownKeys } from '../filter.js';
import { emptyStats, type CopyStats, type Progress } from '../types.js';
import { crc64Bytes, crc64Into, crc64Start, crc64Update, type Crc64 } from './crc64.js';
import { FullSyncFraming } from './full-sync-framing.js';
import { OutBuffer } from './out-buffer.js';
import { isGetAck, readStreamCommand } from './stream-command.js';
import { RdbSplitter, type RdbEntry } from './rdb-splitter.js';

export interface ReplicationCopyOptions {
  /** Connections to the target carrying RESTOREs. */
  connections?: number;
  /** Keep applying the source's writes this long after the snapshot is in (live mode). */
  followMs?: number;
  /** Stop following early when this returns true (checked every 100 ms). */
  stopFollowing?: () => boolean;
  /** Keys with this prefix are ours and are not copied. */
  skipPrefix?: string;
  /** Values bigger than this go through a temporary file instead of memory. */
  spillAboveBytes?: number;
  onProgress?: (p: Progress & { phase: 'snapshot' | 'stream'; totalKeys: number; etaSeconds?: number }) => void;
  /** Give up (ReplicationUnavailableError) if the snapshot has not started by then. */
  startTimeoutMs?: number;
  /** Epoch ms by which the snapshot must be in (a Lambda slice); else ReplicationUnavailableError. */
  deadline?: number;
  /** Payload version to claim instead of the source's RDB version (tests use it to make a target refuse). */
  payloadVersion?: number;
}

export interface ReplicationCopyResult {
  stats: CopyStats;
  rdbVersion: number;
  rdbBytes: number;
  /** Write commands applied from the replication stream after the snapshot. */
  commandsApplied: number;
  /** The source's replication offset the target is consistent with. */
  offset: number;
  /** The source's replication id: with `offset`, where a later follow (PSYNC) continues. */
  replid: string;
  /** Whether the source streamed its snapshot straight to us (no RDB file on its disk). */
  diskless: boolean;
  /** Where the time went: until the snapshot started, reading it, last RESTORE replies, the write stream. */
  phasesMs: { handshake: number; snapshot: number; restoreTail: number; stream: number };
}

/** Commands in the replication stream that are not data: answered or dropped, never forwarded. */
const NOT_FORWARDED = new Set(['', 'ping', 'replconf', 'publish', 'spublish']);
/** Unacknowledged RESTORE bytes per connection before the source socket is paused. */
const HIGH_WATER = 8 * 1024 * 1024;
const REFUSED_PAYLOAD = /payload version or checksum are wrong|Bad data format/i;

interface SourceSettings {
  totalKeys: number;
  diskless: boolean;
  /** Settings changed for the snapshot, put back as soon as it has forked. */
  changed: [name: string, value: string][];
}

/**
 * Reads what the copy needs from the source, and makes a diskless sync start at once
 * instead of waiting `repl-diskless-sync-delay` seconds for more replicas. The setting is
 * put back as soon as the snapshot has started. (Turning LZF off as well was measured:
 * the source's child gets faster, but the bigger snapshot costs as much on our side.)
 */
async function prepareSource(control: Redis): Promise<SourceSettings> {
  const totalKeys = keyCount(await control.info('keyspace'));
  const changed: [string, string][] = [];
  try {
    const [, diskless] = (await control.config('GET', 'repl-diskless-sync')) as string[];
    const [, delay] = (await control.config('GET', 'repl-diskless-sync-delay')) as string[];
    if (diskless === 'yes' && delay !== undefined && delay !== '0') {
      await control.config('SET', 'repl-diskless-sync-delay', '0');
      changed.push(['repl-diskless-sync-delay', delay]);
    }
    return { totalKeys, diskless: diskless === 'yes', changed };
  } catch {
    // CONFIG is renamed or forbidden: a disk-based sync with the source's settings still works.
    return { totalKeys, diskless: false, changed };
  }
}

/**
 * `RESTORE key <expiry> <payload> REPLACE [ABSTTL]` as RESP, around the key and the payload
 * (both written by the caller, the payload possibly streamed from disk).
 */
const restoreBeforeKey = (keyLength: number, expireAt: number) => `*${expireAt > 0 ? 6 : 5}\r\n$7\r\nRESTORE\r\n$${keyLength}\r\n`;
const restoreBeforePayload = (expireAt: number, payloadLength: number) => {
  const ttl = String(expireAt);
  return `\r\n$${ttl.length}\r\n${ttl}\r\n$${payloadLength}\r\n`;
};
const restoreAfterPayload = (expireAt: number) => (expireAt > 0 ? '\r\n$7\r\nREPLACE\r\n$6\r\nABSTTL\r\n' : '\r\n$7\r\nREPLACE\r\n');

/** Per-connection RESTORE pipeline to the target. */
class RestoreLane {
  private out = new OutBuffer();
  private db = 0;
  private readonly sentKeys: (Buffer | undefined)[] = [];
  private head = 0;
  acknowledged = 0;
  acknowledgedBytes = 0;
  private readonly sizes: number[] = [];
  failure: Error | undefined;
  refused: Buffer | undefined;
  private readonly onReply = (reply: RespValue) => {
    const key = this.sentKeys[this.head];
    const bytes = this.sizes[this.head] ?? 0;
    this.sentKeys[this.head] = undefined;
    this.head++;
    if (this.head > 65536) {
      this.sentKeys.splice(0, this.head);
      this.sizes.splice(0, this.head);
      this.head = 0;
    }
    if (reply instanceof RespError) {
      if (key === undefined) return; // a SELECT
      if (REFUSED_PAYLOAD.test(reply.message)) this.refused ??= key;
      else this.failure ??= mapRedisError(new Error(reply.message), `target (RESTORE of ${printable(key)})`);
      return;
    }
    if (key !== undefined) {
      this.acknowledged++;
      this.acknowledgedBytes += bytes;
    }
  };

  constructor(readonly connection: RespConnection) {}

  /** Appends one RESTORE; `payload` writes the DUMP body into the reserved bytes. */
  restore(db: number, key: Buffer, expireAt: number, payloadLength: number, fill: (buf: Buffer, offset: number) => void): void {
    if (db !== this.db) {
      this.out.bytes(encodeCommand(['SELECT', String(db)]));
      this.sentKeys.push(undefined);
      this.sizes.push(0);
      this.db = db;
    }
    this.out.ascii(restoreBeforeKey(key.length, expireAt));
    this.out.bytes(key);
    this.out.ascii(restoreBeforePayload(expireAt, payloadLength));
    const { buf, offset } = this.out.reserve(payloadLength);
    fill(buf, offset);
    this.out.ascii(restoreAfterPayload(expireAt));
    this.sentKeys.push(key);
    this.sizes.push(payloadLength);
  }

  flush(): void {
    if (this.out.length === 0) return;
    const replies = this.sentKeys.length - this.head - this.connection.pendingReplies;
    this.connection.send(this.out.take(), replies, this.onReply);
  }

  get backlog(): number {
    return this.connection.socket.writableLength;
  }
}

/** Big values: spilled to a file as they arrive, then streamed into one RESTORE. */
class SpillLane {
  private dir: string | undefined;
  private fd: number | undefined;
  private path = '';
  private crc: Crc64 = crc64Start();
  private queue: Promise<void> = Promise.resolve();
  private connection: Promise<RespConnection> | undefined;
  private files = 0;
  failure: Error | undefined;
  refused: Buffer | undefined;
  restored = 0;
  bytes = 0;

  constructor(private readonly target: RedisEndpoint) {}

  write(chunk: Buffer, type: number): void {
    if (this.fd === undefined) {
      this.dir ??= mkdtempSync(join(tmpdir(), 'spin-elasticache-spill-'));
      this.path = join(this.dir, `value-${this.files++}`);
      this.fd = openSync(this.path, 'w');
      this.crc = crc64Update(crc64Start(), Buffer.of(type));
    }
    crc64Update(this.crc, chunk);
    writeSync(this.fd, chunk);
  }

  /** Queues the RESTORE of the value just spilled. */
  finish(entry: RdbEntry, version: Buffer): void {
    closeSync(this.fd!);
    this.fd = undefined;
    const path = this.path;
    const checksum = crc64Bytes(crc64Update(this.crc, version));
    this.connection ??= RespConnection.open(this.target, 'spin-elasticache-copy-big');
    this.queue = this.queue.then(async () => {
      if (this.failure) return;
      const connection = await this.connection!;
      const payloadLength = 1 + entry.length + 10;
      const reply = new Promise<RespValue>((resolve) => {
        connection.send(encodeCommand(['SELECT', String(entry.db)]), 1, () => undefined);
        const head = Buffer.concat([Buffer.from(restoreBeforeKey(entry.key.length, entry.expireAt)), entry.key, Buffer.from(restoreBeforePayload(entry.expireAt, payloadLength)), Buffer.of(entry.type)]);
        connection.send(head, 1, resolve);
      });
      for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
        if (!connection.socket.write(chunk as Buffer)) await connection.drained();
      }
      connection.socket.write(Buffer.concat([version, checksum, Buffer.from(restoreAfterPayload(entry.expireAt))]));
      const outcome = await reply;
      rmSync(path, { force: true });
      if (outcome instanceof RespError) {
        if (REFUSED_PAYLOAD.test(outcome.message)) this.refused ??= entry.key;
        else this.failure ??= mapRedisError(new Error(outcome.message), `target (RESTORE of ${printable(entry.key)})`);
        return;
      }
      this.restored++;
      this.bytes += payloadLength;
    });
    this.queue = this.queue.catch((error: unknown) => {
      this.failure ??= error as Error;
    });
  }

  async done(): Promise<void> {
    await this.queue;
  }

  async close(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    if (this.connection) (await this.connection.catch(() => undefined))?.close();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

function printable(key: Buffer): string {
  const text = key.toString('utf8');
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

/**
 * Splits the raw replication stream into commands and forwards data commands, byte for
 * byte, to one ordered connection on the target.
 */
export class CommandForwarder {
  private pending: Buffer | undefined;
  private out = new OutBuffer(256 * 1024);
  private outCommands = 0;
  offset: number;
  applied = 0;
  failure: Error | undefined;
  private readonly onReply = (reply: RespValue) => {
    if (reply instanceof RespError) this.failure ??= mapRedisError(new Error(reply.message), 'target (replicated write)');
  };

  constructor(
    private readonly apply: RespConnection,
    startOffset: number,
    private readonly ack: (offset: number) => void,
  ) {
    this.offset = startOffset;
  }

  push(chunk: Buffer): void {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      const command = readStreamCommand(buf, pos);
      if (!command) break;
      const raw = buf.subarray(pos, command.end);
      this.offset += raw.length;
      pos = command.end;
      if (NOT_FORWARDED.has(command.name)) {
        if (isGetAck(command)) this.ack(this.offset);
        continue;
      }
      this.out.bytes(raw);
      this.outCommands++;
      this.applied++;
    }
    this.pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : undefined;
    if (this.outCommands > 0) {
      this.apply.send(this.out.take(), this.outCommands, this.onReply);
      this.outCommands = 0;
    }
  }
}

/** Copies everything from `sourceEndpoint` to `targetEndpoint` through the replication protocol. */
export async function copyViaReplication(sourceEndpoint: RedisEndpoint, targetEndpoint: RedisEndpoint, options: ReplicationCopyOptions = {}): Promise<ReplicationCopyResult> {
  const started = Date.now();
  const where = redactUrl(sourceEndpoint.url);
  let finishSnapshot!: () => void;
  let failSnapshot!: (error: Error) => void;
  const snapshotDone = new Promise<void>((resolve, reject) => {
    finishSnapshot = resolve;
    failSnapshot = reject;
  });
  snapshotDone.catch(() => undefined); // awaited below; a late rejection must not crash the process
  // The deadline covers everything up to the end of the snapshot, a blocked source included:
  // it closes our connections, and whatever was waiting on them fails.
  const timeoutError = () => new ReplicationUnavailableError(`${where}: the snapshot did not finish within the time allowed; the scan copy works in resumable slices`);
  let timedOut = false;
  const lanes: RestoreLane[] = [];
  const spill = new SpillLane(targetEndpoint);
  const deadlineTimer = options.deadline
    ? setTimeout(() => {
        timedOut = true;
        failSnapshot(timeoutError());
        control?.disconnect();
        replica?.close();
        for (const lane of lanes) lane.connection.close();
      }, Math.max(0, options.deadline - Date.now()))
    : undefined;
  deadlineTimer?.unref();
  let control: Redis | undefined;
  let replica: RespConnection | undefined;
  try {
    control = await connectRedis(sourceEndpoint, { connectionName: 'spin-elasticache-copy-control' });
  } catch (error) {
    clearTimeout(deadlineTimer);
    throw timedOut ? timeoutError() : error;
  }
  let apply: RespConnection | undefined;
  let settings: SourceSettings | undefined;
  const restoreSettings = async () => {
    const changed = settings?.changed.splice(0) ?? [];
    if (changed.length === 0) return;
    // The control connection may be the one a deadline just closed.
    const client = control!.status === 'ready' ? control! : await connectRedis(sourceEndpoint, { connectionName: 'spin-elasticache-copy-control' }).catch(() => undefined);
    for (const [name, value] of changed) await client?.config('SET', name, value).catch(() => undefined);
    if (client !== control) client?.disconnect();
  };
  try {
    settings = await prepareSource(control);
    const connectionCount = options.connections ?? 2;
    for (let i = 0; i < connectionCount; i++) lanes.push(new RestoreLane(await RespConnection.open(targetEndpoint, `spin-elasticache-copy-${i}`, 0)));
    apply = await RespConnection.open(targetEndpoint, 'spin-elasticache-copy-stream', 0);

    await probeTargetAcceptsPayloads(control, lanes[0]!.connection, options.payloadVersion, options.skipPrefix ?? OWN_KEY_PREFIX);
    replica = await RespConnection.open(sourceEndpoint, 'spin-elasticache-replica');
    if (timedOut) throw timeoutError();
    const capa = settings.diskless ? ['REPLCONF', 'capa', 'eof', 'capa', 'psync2'] : ['REPLCONF', 'capa', 'psync2'];
    const capaReply = await replica.call(capa);
    if (capaReply instanceof RespError) throw new ReplicationUnavailableError(`${where} refused REPLCONF: ${capaReply.message}`);

    const stats = emptyStats();
    let version = Buffer.alloc(2);
    let startOffset = 0;
    let forwarder: CommandForwarder | undefined;
    let held: Buffer[] = [];
    const isOwn = options.skipPrefix ? ownKeys(options.skipPrefix) : undefined;
    const now = () => Date.now();
    let lane = 0;
    let lastProgress = 0;
    const ack = (offset: number) => replica!.socket.write(encodeCommand(['REPLCONF', 'ACK', String(offset)]));

    const splitter = new RdbSplitter(
      {
        entry: (entry) => {
          if (hasExpired(entry.expireAt, now())) {
            stats.expiredSkipped++;
            return;
          }
          if (isOwn?.(entry.key)) return;
          if (entry.spilled) return spill.finish(entry, version);
          const target = lanes[lane++ % lanes.length]!;
          target.restore(entry.db, entry.key, entry.expireAt, 1 + entry.length + 10, (buf, offset) => {
            // DUMP payload: type, body, RDB version (2 bytes LE), CRC-64 of all that (8 bytes LE).
            buf[offset] = entry.type;
            let at = offset + 1;
            for (const part of entry.parts) {
              buf.set(part, at);
              at += part.length;
            }
            buf[at] = version[0]!;
            buf[at + 1] = version[1]!;
            crc64Into(buf, offset, at + 2, buf, at + 2);
          });
        },
        spill: (chunk, entry) => spill.write(chunk, entry.type),
        start: (rdbVersion) => {
          version = Buffer.alloc(2);
          version.writeUInt16LE(options.payloadVersion ?? rdbVersion);
        },
      },
      { ...(options.spillAboveBytes ? { spillAboveBytes: options.spillAboveBytes } : {}) },
    );

    const framing = new FullSyncFraming(
      {
        rdb: (chunk) => {
          const used = splitter.push(chunk);
          for (const l of lanes) l.flush();
          if (lanes.some((l) => l.backlog > HIGH_WATER)) {
            replica!.socket.pause();
            void Promise.all(lanes.map((l) => l.connection.drained())).then(() => replica!.socket.resume());
          }
          reportProgress();
          return used;
        },
        get rdbFinished() {
          return splitter.finished;
        },
        snapshotEnded: () => finishSnapshot(),
        stream: (chunk) => (forwarder ? forwarder.push(chunk) : held.push(chunk)),
      },
      where,
    );
    const reportProgress = () => {
      if (!options.onProgress || now() - lastProgress < 500) return;
      lastProgress = now();
      const keys = lanes.reduce((n, l) => n + l.acknowledged, 0) + spill.restored;
      const perSec = Math.round((keys * 1000) / Math.max(1, now() - started));
      options.onProgress({ phase: 'snapshot', keys, bytes: framing.rdbBytes, keysPerSec: perSec, db: 0, totalKeys: settings!.totalKeys, ...(perSec > 0 ? { etaSeconds: Math.max(0, Math.round((settings!.totalKeys - keys) / perSec)) } : {}) });
    };
    const onRdbBytes = (chunk: Buffer): void => {
      try {
        framing.push(chunk);
      } catch (error) {
        replica!.socket.pause();
        failSnapshot(error as Error);
      }
    };

    replica.onError = (error) => failSnapshot(new ReplicationUnavailableError(`${where} dropped the replication link (${error.message}); check client-output-buffer-limit replica on the source`));
    const psync = await new Promise<RespValue>((resolve) => {
      replica!.send(Buffer.from('*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n'), 1, (reply) => {
        if (!(reply instanceof RespError)) replica!.takeRaw(onRdbBytes);
        resolve(reply);
      });
      setTimeout(() => resolve(new RespError('no answer to PSYNC')), options.startTimeoutMs ?? 30_000).unref();
    });
    if (psync instanceof RespError || !Buffer.isBuffer(psync)) {
      throw new ReplicationUnavailableError(`${where} refused to replicate to us (${psync instanceof RespError ? psync.message : 'unexpected reply'}); it may be ElastiCache or forbid SYNC`);
    }
    const [mode, replid = '', offsetText] = psync.toString('latin1').split(' ');
    if (mode !== 'FULLRESYNC') throw new ReplicationUnavailableError(`${where} answered PSYNC with ${mode}`);
    startOffset = Number(offsetText);
    await restoreSettings();
    const snapshotStarted = Date.now();

    try {
      await snapshotDone;
    } finally {
      clearTimeout(deadlineTimer);
    }
    const snapshotEnded = Date.now();
    for (const l of lanes) l.flush();
    // The snapshot is parsed. The source's writes since wait in its replication buffer, not
    // in our memory, until every RESTORE is in; then we acknowledge and take them.
    replica.socket.pause();
    await Promise.all([...lanes.map((l) => waitForReplies(l.connection)), spill.done()]);
    const refused = lanes.find((l) => l.refused)?.refused ?? spill.refused;
    if (refused) throw new TargetRefusedPayloadError(`the target refused the source's RDB v${splitter.version} payload (key ${printable(refused)})`);
    const laneFailure = lanes.find((l) => l.failure)?.failure ?? spill.failure;
    if (laneFailure) throw laneFailure;

    const restoresDone = Date.now();
    forwarder = new CommandForwarder(apply, startOffset, ack);
    for (const chunk of held) forwarder.push(chunk);
    held = [];
    ack(startOffset);
    replica.socket.resume();
    const ackTimer = setInterval(() => ack(forwarder!.offset), 1000);
    try {
      const followUntil = Date.now() + (options.followMs ?? 0);
      while (Date.now() < followUntil && !options.stopFollowing?.()) {
        await sleep(100);
        if (replica.lost) throw new ReplicationUnavailableError(`${where} dropped the replication link while following writes`);
        if (forwarder.failure) throw forwarder.failure;
        if (options.onProgress && now() - lastProgress >= 500) {
          lastProgress = now();
          const keys = stats.keys + lanes.reduce((n, l) => n + l.acknowledged, 0) + spill.restored;
          options.onProgress({ phase: 'stream', keys, bytes: framing.rdbBytes, keysPerSec: 0, db: 0, totalKeys: settings.totalKeys });
        }
      }
      // Catch up to where the source is now.
      const target = Number(/master_repl_offset:(\d+)/.exec(await control.info('replication'))?.[1] ?? 0);
      const deadline = Date.now() + 60_000;
      while (forwarder.offset < target) {
        if (replica.lost) throw new ReplicationUnavailableError(`${where} dropped the replication link while catching up`);
        if (Date.now() > deadline) throw new CopyFailedError(`${where}: the replication stream stalled at offset ${forwarder.offset}, behind ${target}`);
        ack(forwarder.offset);
        await sleep(5);
      }
      await waitForReplies(apply);
      if (forwarder.failure) throw forwarder.failure;
    } finally {
      clearInterval(ackTimer);
    }

    stats.keys = lanes.reduce((n, l) => n + l.acknowledged, 0) + spill.restored;
    stats.bytes = lanes.reduce((n, l) => n + l.acknowledgedBytes, 0) + spill.bytes;
    stats.bigKeys = spill.restored;
    stats.ms = Date.now() - started;
    const phasesMs = { handshake: snapshotStarted - started, snapshot: snapshotEnded - snapshotStarted, restoreTail: restoresDone - snapshotEnded, stream: Date.now() - restoresDone };
    return { stats, rdbVersion: splitter.version, rdbBytes: framing.rdbBytes, commandsApplied: forwarder.applied, offset: forwarder.offset, replid, diskless: framing.diskless, phasesMs };
  } catch (error) {
    if (timedOut) throw timeoutError();
    if (error instanceof MigrationError) throw error;
    throw mapRedisError(error, 'replication copy');
  } finally {
    clearTimeout(deadlineTimer);
    await restoreSettings();
    if (replica) replica.onError = undefined;
    replica?.close();
    apply?.close();
    for (const l of lanes) l.connection.close();
    await spill.close();
    control.disconnect();
  }
}


/**
 * Before anything is copied: does the target accept a payload of the source's RDB version?
 * A newer source (say 7.2 into 7.0) fails here, so `auto` switches to the scan copy with
 * nothing half-done. The version comes from a DUMP of any source key.
 */
async function probeTargetAcceptsPayloads(control: Redis, target: RespConnection, override: number | undefined, prefix: string): Promise<void> {
  const dbs = await databasesWithKeys(control);
  let version = override;
  for (const db of dbs) {
    if (version !== undefined) break;
    await control.select(db);
    const key = await control.randomkeyBuffer();
    const dump = key ? await control.dumpBuffer(key) : null;
    if (dump && dump.length >= 10) version = dump.readUInt16LE(dump.length - 10);
  }
  await control.select(0);
  if (version === undefined) return; // an empty source: nothing to refuse
  // A one-byte string: type 0, length 1, 'x', version, CRC-64.
  const body = Buffer.from([0x00, 0x01, 0x78, version & 0xff, version >> 8]);
  const payload = Buffer.concat([body, crc64Bytes(crc64Update(crc64Start(), body))]);
  const key = `${prefix}payload-probe:${process.pid}:${Date.now()}`;
  const reply = await target.call(['RESTORE', key, '1000', payload, 'REPLACE']);
  await target.call(['DEL', key]);
  if (reply instanceof RespError) {
    if (REFUSED_PAYLOAD.test(reply.message)) throw new TargetRefusedPayloadError(`the target refuses RDB v${version} payloads (the source is newer): ${reply.message}`);
    throw mapRedisError(new Error(reply.message), 'target');
  }
}

async function waitForReplies(connection: RespConnection): Promise<void> {
  while (connection.pendingReplies > 0) {
    if (connection.lost) throw mapRedisError(connection.lost, 'target');
    await sleep(2);
  }
}

