/**
 * The RESTORE writer of the replication copy: each snapshot entry becomes a pipelined
 * `RESTORE key <expiry> <payload> REPLACE [ABSTTL]` on one of a few target connections
 * (RestoreLane), or, for a value too big to hold, a RESTORE streamed from a temporary file
 * (SpillLane). A refused payload (an older target) is noted, not thrown: the caller decides.
 */
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisEndpoint } from '../../redis/connect.js';
import { mapRedisError } from '../../redis/errors.js';
import { encodeCommand, RespConnection, RespError, type RespValue } from '../../redis/resp.js';
import { crc64Bytes, crc64Start, crc64Update, type Crc64 } from './crc64.js';
import { OutBuffer } from './out-buffer.js';
import { CURRENT_TARGET, pipelinedExpiry, restoreCommandName, type TargetVersion } from '../restore-expiry.js';
import type { RdbEntry } from './rdb-splitter.js';

/** What a target answers to a payload of an RDB version it does not know. */
export const REFUSED_PAYLOAD = /payload version or checksum are wrong|Bad data format/i;

/**
 * `RESTORE key <expiry> <payload> REPLACE [ABSTTL]` as RESP, around the key and the payload
 * (both written by the caller, the payload possibly streamed from disk), then, for a target
 * before 5.0, `PEXPIREAT key <expiry>` (lib/copy/restore-expiry.ts says why).
 */
class RestoreFrame {
  readonly beforeKey: string;
  readonly afterPayload: Buffer;
  readonly extraReplies: number;
  private readonly ttl: string;
  constructor(
    key: Buffer,
    private readonly payloadLength: number,
    expiry: ReturnType<typeof pipelinedExpiry>,
    expireAt: number,
  ) {
    this.ttl = expiry.ttl;
    this.beforeKey = `*${4 + expiry.tail.length}\r\n$7\r\nRESTORE\r\n$${key.length}\r\n`;
    const after: Buffer[] = [Buffer.from(`\r\n${expiry.tail.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`)];
    if (expiry.pexpireat) after.push(encodeCommand(['PEXPIREAT', key, String(expireAt)]));
    this.afterPayload = Buffer.concat(after);
    this.extraReplies = expiry.pexpireat ? 1 : 0;
  }
  get beforePayload(): string {
    return `\r\n$${this.ttl.length}\r\n${this.ttl}\r\n$${this.payloadLength}\r\n`;
  }
}

/** Per-connection RESTORE pipeline to the target. */
export class RestoreLane {
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
      if (key === undefined) return; // a SELECT or a PEXPIREAT
      if (REFUSED_PAYLOAD.test(reply.message)) this.refused ??= key;
      else this.failure ??= mapRedisError(new Error(reply.message), `target (RESTORE of ${printable(key)})`, { command: restoreCommandName(this.target), serverVersion: this.target.version });
      return;
    }
    if (key !== undefined) {
      this.acknowledged++;
      this.acknowledgedBytes += bytes;
    }
  };

  constructor(
    readonly connection: RespConnection,
    private readonly target: TargetVersion = CURRENT_TARGET,
  ) {}

  /** Appends one RESTORE; `payload` writes the DUMP body into the reserved bytes. */
  restore(db: number, key: Buffer, expireAt: number, payloadLength: number, fill: (buf: Buffer, offset: number) => void): void {
    if (db !== this.db) {
      this.out.bytes(encodeCommand(['SELECT', String(db)]));
      this.sentKeys.push(undefined);
      this.sizes.push(0);
      this.db = db;
    }
    const frame = new RestoreFrame(key, payloadLength, pipelinedExpiry(this.target, expireAt), expireAt);
    this.out.ascii(frame.beforeKey);
    this.out.bytes(key);
    this.out.ascii(frame.beforePayload);
    const { buf, offset } = this.out.reserve(payloadLength);
    fill(buf, offset);
    this.out.bytes(frame.afterPayload);
    this.sentKeys.push(key);
    this.sizes.push(payloadLength);
    // The PEXPIREAT's reply (an integer) counts nothing; an error from it is not a refused payload.
    for (let i = 0; i < frame.extraReplies; i++) {
      this.sentKeys.push(undefined);
      this.sizes.push(0);
    }
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
export class SpillLane {
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

  constructor(
    private readonly target: RedisEndpoint,
    /** Set once the target's version is read, before the first value. */
    public targetVersion: TargetVersion = CURRENT_TARGET,
  ) {}

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

  /** Drops the value just spilled (an entry found expired once it ended) instead of restoring it. */
  discard(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.path, { force: true });
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
      const frame = new RestoreFrame(entry.key, payloadLength, pipelinedExpiry(this.targetVersion, entry.expireAt), entry.expireAt);
      const reply = new Promise<RespValue>((resolve) => {
        connection.send(encodeCommand(['SELECT', String(entry.db)]), 1, () => undefined);
        const head = Buffer.concat([Buffer.from(frame.beforeKey), entry.key, Buffer.from(frame.beforePayload), Buffer.of(entry.type)]);
        // The RESTORE's reply settles it; a PEXPIREAT's that follows is ignored (a promise settles once).
        connection.send(head, 1 + frame.extraReplies, resolve);
      });
      for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
        if (!connection.socket.write(chunk as Buffer)) await connection.drained();
      }
      connection.socket.write(Buffer.concat([version, checksum, frame.afterPayload]));
      const outcome = await reply;
      rmSync(path, { force: true });
      if (outcome instanceof RespError) {
        if (REFUSED_PAYLOAD.test(outcome.message)) this.refused ??= entry.key;
        else
          this.failure ??= mapRedisError(new Error(outcome.message), `target (RESTORE of ${printable(entry.key)})`, {
            command: restoreCommandName(this.targetVersion),
            serverVersion: this.targetVersion.version,
          });
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

export function printable(key: Buffer): string {
  const text = key.toString('utf8');
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

/** Until every command sent on `connection` has its reply. */
export async function waitForReplies(connection: RespConnection): Promise<void> {
  while (connection.pendingReplies > 0) {
    if (connection.lost) throw mapRedisError(connection.lost, 'target');
    await sleep(2);
  }
}
