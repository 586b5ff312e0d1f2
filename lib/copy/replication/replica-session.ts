/**
 * Being a replica of the source, as the copy and the catch-up both are: the connection,
 * `REPLCONF capa`, PSYNC with its timeout, acknowledging our offset (every second and when
 * asked), and catching up to the source's `master_repl_offset` before handing over.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { CopyFailedError, ReplicationUnavailableError } from '../../errors.js';
import { redactUrl, type RedisEndpoint } from '../../redis/connect.js';
import { encodeCommand, RespConnection, RespError, type RespValue } from '../../redis/resp.js';

/**
 * How long the source may send nothing at all once it streams to us: Redis's own replicas give
 * their master `repl-timeout`, 60 s by default (redis.conf). A legitimately quiet master is never
 * that quiet: while it forks and writes a disk-based RDB it sends a newline every second
 * (replicationCron in src/replication.c, "newline"), a diskless one streams as it serializes,
 * and afterwards it PINGs its replicas every `repl-ping-replica-period` (10 s).
 */
export const REPLICATION_IDLE_TIMEOUT_MS = 60_000;

export class ReplicaSession {
  private ackTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly connection: RespConnection,
    /** The source, as errors name it (no password). */
    readonly where: string,
    private readonly streamIdleTimeoutMs: number,
  ) {}

  /** Connects and announces what we understand: `eof` (a diskless snapshot) and `psync2`. */
  static async open(source: RedisEndpoint, options: { diskless: boolean; streamIdleTimeoutMs?: number }): Promise<ReplicaSession> {
    const where = redactUrl(source.url);
    const connection = await RespConnection.open(source, 'spin-elasticache-replica');
    const session = new ReplicaSession(connection, where, options.streamIdleTimeoutMs ?? REPLICATION_IDLE_TIMEOUT_MS);
    const capa = await connection.call(options.diskless ? ['REPLCONF', 'capa', 'eof', 'capa', 'psync2'] : ['REPLCONF', 'capa', 'psync2']);
    if (capa instanceof RespError) {
      session.close();
      throw new ReplicationUnavailableError(`${where} refused REPLCONF: ${capa.message}`);
    }
    return session;
  }

  /**
   * Sends PSYNC and waits for its answer (a RespError after `timeoutMs` without one). When
   * `accepted` says the answer starts a stream, the bytes after it go to `onBytes`.
   */
  async psync(replid: string, offset: string, options: { timeoutMs: number; accepted: (reply: RespValue) => boolean; onBytes: (chunk: Buffer) => void }): Promise<RespValue> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<RespValue>((resolve) => {
        this.connection.send(encodeCommand(['PSYNC', replid, offset]), 1, (reply) => {
          if (options.accepted(reply)) {
            // From here the source streams; a silence of streamIdleTimeoutMs drops the link (`lost`, onError).
            this.connection.idleTimeoutMs = this.streamIdleTimeoutMs;
            this.connection.takeRaw(options.onBytes);
          }
          resolve(reply);
        });
        timer = setTimeout(() => resolve(new RespError('no answer to PSYNC')), options.timeoutMs);
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Tells the source how far we are (`REPLCONF ACK`). */
  ack(offset: number): void {
    this.connection.socket.write(encodeCommand(['REPLCONF', 'ACK', String(offset)]));
  }

  /** Acknowledges `offset()` every second until `stopAcks` or `close`, as a replica must. */
  startAcks(offset: () => number): void {
    this.stopAcks();
    this.ackTimer = setInterval(() => this.ack(offset()), 1000);
  }

  stopAcks(): void {
    clearInterval(this.ackTimer);
    this.ackTimer = undefined;
  }

  /** Why the link is gone, if it is. */
  get lost(): Error | undefined {
    return this.connection.lost;
  }

  /**
   * Takes the stream up to where the source is now (its `master_repl_offset`): acknowledges,
   * lets `step` process what arrived, and returns once `offset()` is there. Within `withinMs`:
   * with `mustArrive` a lost link or a stall throws; without, it returns as far as it got
   * (the catch-up's next slice continues from there).
   */
  async catchUpToSource(control: Redis, offset: () => number, options: { step?: () => Promise<void>; pauseMs: number; withinMs: number; mustArrive: boolean }): Promise<void> {
    const target = Number(/master_repl_offset:(\d+)/.exec(await control.info('replication'))?.[1] ?? 0);
    const deadline = Date.now() + options.withinMs;
    while (offset() < target) {
      if (!options.mustArrive && Date.now() >= deadline) return;
      if (options.mustArrive && this.lost) throw new ReplicationUnavailableError(`${this.where} dropped the replication link while catching up`);
      if (options.mustArrive && Date.now() > deadline) throw new CopyFailedError(`${this.where}: the replication stream stalled at offset ${offset()}, behind ${target}`);
      this.ack(offset());
      await sleep(options.pauseMs);
      await options.step?.();
    }
  }

  close(): void {
    this.stopAcks();
    this.connection.onError = undefined;
    this.connection.close();
  }
}
