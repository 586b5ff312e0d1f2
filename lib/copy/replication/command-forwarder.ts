/**
 * The command forwarder of the replication copy: splits the raw replication stream into
 * commands and forwards the data commands, byte for byte, to one ordered connection on the
 * target, counting the offset as it goes and answering the source's GETACKs.
 *
 * Given the source, it also undoes the stretch of relative expiries (EXPIRE, SETEX, SET … EX
 * from sources up to 6.2, applied here seconds after the source ran them): after a chunk
 * holding such commands, the keys get the source's absolute expiry (PEXPIREAT/PERSIST), and
 * the stream behind waits until that is sent, so no later command is overtaken.
 */
import { CopyFailedError } from '../../errors.js';
import { mapRedisError } from '../../redis/errors.js';
import type { RedisEndpoint } from '../../redis/connect.js';
import { DbClients } from '../../redis/keyspace.js';
import { encodeCommand, type RespConnection, RespError, type RespValue } from '../../redis/resp.js';
import { OutBuffer } from './out-buffer.js';
import { collectExpiring, expiryCommand, sourceExpiries } from './relative-expiry.js';
import { isGetAck, NON_DATA_COMMANDS, readStreamCommand } from './stream-command.js';

/**
 * A RESTORE from the stream, made to replace: a cluster master importing a slot receives
 * `RESTORE-ASKING key ttl payload` from MIGRATE (cluster.c migrateCommand) and replicates it as
 * it is; on a target that already holds the key (copied from the slot's old owner, whose DEL
 * comes through another master's stream) it would fail with BUSYKEY. The key's value is the
 * payload either way. Other RESTOREs pass unchanged.
 */
function replacingRestore(args: Buffer[], raw: Buffer): Buffer {
  if (args.slice(3).some((a) => a.toString('latin1').toUpperCase() === 'REPLACE')) return raw;
  return encodeCommand(['RESTORE', ...args, 'REPLACE']);
}

/**
 * Splits the raw replication stream into commands and forwards data commands, byte for
 * byte, to one ordered connection on the target.
 */
export class CommandForwarder {
  private pending: Buffer | undefined;
  private out = new OutBuffer(256 * 1024);
  private outCommands = 0;
  /** The stream's database as of the last command forwarded. */
  db = 0;
  /** The last stream byte sent to the target (with its expiry fixes). */
  offset: number;
  /**
   * The stream's database at `offset`: where a later PSYNC continuing at `offset + 1` starts
   * (a master does not repeat SELECT on `+CONTINUE`).
   */
  offsetDb = 0;
  applied = 0;
  failure: Error | undefined;
  private holding = false;
  private readonly sources: DbClients | undefined;
  private readonly onReply = (reply: RespValue) => {
    if (reply instanceof RespError) this.failure ??= mapRedisError(new Error(reply.message), 'target (replicated write)');
  };

  constructor(
    private readonly apply: RespConnection,
    startOffset: number,
    private readonly ack: (offset: number) => void,
    /** The source, to read absolute expiries from; without it relative TTLs are forwarded as they are. */
    source?: RedisEndpoint,
  ) {
    this.offset = startOffset;
    this.sources = source ? new DbClients(source, 'spin-elasticache-forwarder-ttl') : undefined;
  }

  push(chunk: Buffer): void {
    const buf = this.pending && this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    if (this.holding) {
      this.pending = Buffer.from(buf);
      return;
    }
    let pos = 0;
    let bytes = 0;
    const expiring = new Map<number, Map<string, Buffer>>();
    for (;;) {
      const command = readStreamCommand(buf, pos);
      if (!command) break;
      const raw = buf.subarray(pos, command.end);
      bytes += raw.length;
      pos = command.end;
      if (NON_DATA_COMMANDS.has(command.name)) {
        if (isGetAck(command)) this.ack(this.offset + bytes);
        continue;
      }
      if (command.name === 'select') this.db = Number(command.args[0]?.toString('latin1') ?? 0);
      if (this.sources) collectExpiring(expiring, this.db, command);
      this.out.bytes(command.name === 'restore' || command.name === 'restore-asking' ? replacingRestore(command.args, raw) : raw);
      this.outCommands++;
      this.applied++;
    }
    this.pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : undefined;
    this.flush();
    const dbAfter = this.db;
    if (expiring.size === 0) {
      this.offset += bytes;
      this.offsetDb = dbAfter;
      return;
    }
    // Hold the rest of the stream until the fixes are sent behind these commands.
    this.holding = true;
    void this.fixExpiries(expiring).then(
      () => {
        this.offset += bytes;
        this.offsetDb = dbAfter;
        this.holding = false;
        this.push(Buffer.alloc(0));
      },
      (error: unknown) => {
        this.failure ??= mapRedisError(error, 'source (absolute expiry)');
      },
    );
  }

  private flush(): void {
    if (this.outCommands > 0) {
      this.apply.send(this.out.take(), this.outCommands, this.onReply);
      this.outCommands = 0;
    }
  }

  /** The source's absolute expiry for each key, sent in its database, then back to the stream's. */
  private async fixExpiries(expiring: Map<number, Map<string, Buffer>>): Promise<void> {
    const parts: (Buffer | string)[][] = [];
    for (const [db, byName] of expiring) {
      const keys = [...byName.values()];
      const expiries = await sourceExpiries(await this.sources!.get(db), keys);
      parts.push(['SELECT', String(db)]);
      keys.forEach((key, i) => {
        const fix = expiryCommand(key, expiries[i]);
        if (fix) parts.push(fix);
      });
    }
    parts.push(['SELECT', String(this.db)]);
    this.apply.send(Buffer.concat(parts.map(encodeCommand)), parts.length, this.onReply);
  }

  /**
   * Gives each key the source's expiry as of now, behind everything forwarded so far; a key
   * gone on the source is deleted. For snapshot entries that had expired by the time they
   * were restored (see `ReplicationCopy`): the source is ahead of the stream and any later
   * change of the key follows in the stream, so the target converges on the source.
   * @returns how many of the keys the source still holds
   */
  async settleExpiries(keys: Map<number, Map<string, Buffer>>): Promise<number> {
    if (!this.sources) throw new CopyFailedError('the forwarder was built without the source, so it cannot read expiries from it');
    let alive = 0;
    for (const [db, byName] of keys) {
      const all = [...byName.values()];
      for (let i = 0; i < all.length; i += 1000) {
        const chunk = all.slice(i, i + 1000);
        const expiries = await sourceExpiries(await this.sources.get(db), chunk);
        const parts: (Buffer | string)[][] = [['SELECT', String(db)]];
        chunk.forEach((key, j) => {
          const expiry = expiries[j];
          if (expiry !== undefined) alive++;
          parts.push(expiryCommand(key, expiry) ?? ['DEL', key]);
        });
        // Read after the await: the stream's database at the tail of the connection now.
        parts.push(['SELECT', String(this.db)]);
        this.apply.send(Buffer.concat(parts.map(encodeCommand)), parts.length, this.onReply);
      }
    }
    return alive;
  }

  /** Closes the connections to the source. */
  close(): void {
    this.sources?.close();
  }
}
