/**
 * spin-redis's RDB snapshot as bytes, taken the way the replication copy takes it (as a replica:
 * `PSYNC ? -1`, the source's full-sync snapshot, disk-based or diskless), without exec-ing into
 * the pod: the equivalent of `redis-cli --rdb`, which does the same (`SYNC`, redis-cli.c
 * `getRDB`). The bytes go to `sink` as they arrive, with backpressure (the socket is paused while
 * the sink is busy), so a dump larger than the Lambda's memory streams through. The RDB is parsed
 * alongside (RdbSplitter) only to know where it ends and which version it is; nothing is
 * restored. The stream of writes after the snapshot is ignored: the s3-seed path takes it with
 * Spinnaker quiesced, so there is none.
 */
import { createHash } from 'node:crypto';
import { CopyFailedError, ReplicationUnavailableError } from '../errors.js';
import { redactUrl, type RedisEndpoint } from '../redis/connect.js';
import { RespError } from '../redis/resp.js';
import { FullSyncFraming } from './replication/full-sync-framing.js';
import { RdbSplitter } from './replication/rdb-splitter.js';
import { ReplicaSession } from './replication/replica-session.js';

export interface RdbSnapshot {
  bytes: number;
  /** The RDB format version in its header (9 for Redis 5–6, 10 for 7.0, …). */
  rdbVersion: number;
  /** SHA-256 of the whole file, hex. */
  sha256: string;
  /** Keys in the snapshot (every database). */
  keys: number;
  ms: number;
}

/**
 * Streams one full snapshot of `source` into `sink` (called in order; the next chunk waits for
 * its promise). `timeoutMs` bounds the whole transfer.
 * @throws ReplicationUnavailableError when the source refuses PSYNC or drops the link
 * @throws CopyFailedError when the snapshot does not end within timeoutMs, or the sink fails (its error as cause)
 */
export async function streamRdbSnapshot(source: RedisEndpoint, sink: (chunk: Buffer) => Promise<void>, options: { timeoutMs: number; startTimeoutMs?: number }): Promise<RdbSnapshot> {
  const where = redactUrl(source.url);
  const started = Date.now();
  const hash = createHash('sha256');
  let keys = 0;
  let bytes = 0;
  const splitter = new RdbSplitter({ entry: () => void keys++, spill: () => undefined }, { spillAboveBytes: 1024 * 1024 });
  const session = await ReplicaSession.open(source, { diskless: true });
  try {
    return await new Promise<RdbSnapshot>((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      };
      // Chunks go to the sink one at a time; the socket is paused while one is in flight.
      let writing: Promise<void> = Promise.resolve();
      let inFlight = 0;
      const socket = session.connection.socket;
      const emit = (chunk: Buffer) => {
        const copy = Buffer.from(chunk);
        hash.update(copy);
        bytes += copy.length;
        inFlight++;
        if (inFlight > 4) socket.pause();
        writing = writing
          .then(() => sink(copy))
          .then(() => {
            inFlight--;
            if (inFlight <= 1) socket.resume();
          })
          .catch((error: unknown) => fail(new CopyFailedError(`writing ${where}'s snapshot out failed: ${(error as Error).message}`, { cause: error })));
      };
      const framing = new FullSyncFraming(
        {
          rdb: (chunk) => {
            const used = splitter.push(chunk);
            if (used > 0) emit(chunk.subarray(0, used));
            return used;
          },
          get rdbFinished() {
            return splitter.finished;
          },
          snapshotEnded: () => {
            void writing.then(() => {
              if (settled) return;
              settled = true;
              clearTimeout(timer);
              resolve({ bytes, rdbVersion: splitter.version, sha256: hash.digest('hex'), keys, ms: Date.now() - started });
            });
          },
          stream: () => undefined,
        },
        where,
      );
      timer = setTimeout(() => fail(new CopyFailedError(`${where}'s snapshot did not end within ${Math.round(options.timeoutMs / 1000)} s (${bytes} bytes so far)`)), options.timeoutMs);
      timer.unref();
      session.connection.onError = (error) => fail(new ReplicationUnavailableError(`${where} dropped the replication link while sending its snapshot (${error.message})`));
      session
        .psync('?', '-1', {
          timeoutMs: options.startTimeoutMs ?? 30_000,
          accepted: (reply) => !(reply instanceof RespError),
          onBytes: (chunk) => {
            try {
              framing.push(chunk);
            } catch (error) {
              fail(error as Error);
            }
          },
        })
        .then((reply) => {
          if (reply instanceof RespError || !Buffer.isBuffer(reply) || !reply.toString('latin1').startsWith('FULLRESYNC'))
            fail(new ReplicationUnavailableError(`${where} refused to send a snapshot (${reply instanceof RespError ? reply.message : 'unexpected reply'}); it may forbid SYNC`));
        }, fail);
    });
  } finally {
    session.close();
  }
}
