/**
 * The RDB file source (`spin-elasticache copy --source file:dump.rdb`, the sandbox's
 * `--rdb FILE`): a dump as `redis-cli --rdb` saves it, RDB versions 7 to 12, read by the
 * replication copy's splitter (replication/rdb-splitter.ts) and written by its RESTORE
 * lanes (replication/restore-writer.ts): each key becomes `RESTORE key <expiry> <payload>
 * REPLACE ABSTTL` with the dump's absolute expiry (restore-expiry.ts; a pre-5.0 target gets
 * `PEXPIREAT` after it). A key whose expiry has passed when it is read is not written and
 * is counted in `stats.expiredSkipped`: nothing can renew it any more.
 *
 * A dump newer than the target (Valkey 8's RDB 11 into Redis 7.0) is made readable where the
 * type allows (replication/rdb-downgrade.ts); other newer types are refused by the target
 * (TargetRefusedPayloadError). The file is read as a stream: memory stays bounded by the
 * lanes' high-water mark, and a value bigger than `spillAboveBytes` goes through a
 * temporary file, as in the replication copy.
 *
 * `rewriteRdbFile` writes the same entries as a new RDB file an older redis-server can load:
 * the reference the CLI verifies the copy against.
 */
import { closeSync, createReadStream, openSync, statSync, writeSync } from 'node:fs';
import { SnapshotFormatError, TargetRefusedPayloadError } from '../errors.js';
import type { RedisEndpoint } from '../redis/connect.js';
import { RespConnection } from '../redis/resp.js';
import { hasExpired, ownKeys } from './filter.js';
import { crc64Bytes, crc64Into, crc64Start, crc64Update } from './replication/crc64.js';
import { downgradeValue, payloadVersionFor, rdbLength } from './replication/rdb-downgrade.js';
import { RdbSplitter, type RdbEntry } from './replication/rdb-splitter.js';
import { printable, RestoreLane, SpillLane, waitForReplies } from './replication/restore-writer.js';
import { parseTargetVersion } from './restore-expiry.js';
import { infoFields, serverFacts } from './source-facts.js';
import { emptyStats, type CopyStats, type Progress } from './types.js';

export interface RdbFileCopyOptions {
  /** Connections to the target carrying RESTOREs (default 2). */
  connections?: number;
  /** Keys with this prefix are ours and are not copied. */
  skipPrefix?: string;
  /** Values bigger than this go through a temporary file instead of memory. */
  spillAboveBytes?: number;
  /** The clock expiries are judged by (epoch ms); `Date.now` by default. */
  now?: () => number;
  onProgress?: (p: Progress & { totalBytes: number }) => void;
}

export interface RdbFileCopyResult {
  /** `keys`: restored; `expiredSkipped`: expired in the dump when read, not written; `bytes`: payload bytes. */
  stats: CopyStats;
  /** The dump's RDB version (its header). */
  rdbVersion: number;
  /** The version the payloads claimed: the lower of the dump's and the target's. */
  payloadVersion: number;
  /** Values rewritten for an older target (types 20 and 21, rdb-downgrade.ts). */
  converted: number;
  /** Size of the file, bytes. */
  fileBytes: number;
  /** Databases the dump has keys in (expired ones included). */
  dbs: number[];
}

/** Unacknowledged RESTORE bytes per connection before reading the file pauses. */
const HIGH_WATER = 8 * 1024 * 1024;

/** Copies every live key of the RDB file at `path` into `targetEndpoint`. Throws SnapshotFormatError on a file that is not a whole RDB. */
export async function copyFromRdbFile(path: string, targetEndpoint: RedisEndpoint, options: RdbFileCopyOptions = {}): Promise<RdbFileCopyResult> {
  const started = Date.now();
  const now = options.now ?? Date.now;
  const fileBytes = statSync(path).size;
  const stats = emptyStats();
  const lanes: RestoreLane[] = [];
  const spill = new SpillLane(targetEndpoint);
  const isOwn = options.skipPrefix === undefined ? ownKeys() : ownKeys(options.skipPrefix);
  try {
    const first = await RespConnection.open(targetEndpoint, 'spin-elasticache-rdb-0', 0);
    const info = await first.call(['INFO', 'server']);
    const infoText = Buffer.isBuffer(info) ? info.toString() : '';
    const targetVersion = parseTargetVersion(infoText);
    const targetRdb = serverFacts(infoFields(infoText)).rdbVersion;
    spill.targetVersion = targetVersion;
    lanes.push(new RestoreLane(first, targetVersion));
    for (let i = 1; i < (options.connections ?? 2); i++) lanes.push(new RestoreLane(await RespConnection.open(targetEndpoint, `spin-elasticache-rdb-${i}`, 0), targetVersion));

    let rdbVersion = 0;
    let payloadVersion = 0;
    const footer = Buffer.alloc(2);
    let converted = 0;
    let nextLane = 0;
    const dbs = new Set<number>();
    const splitter = new RdbSplitter(
      {
        start: (version) => {
          rdbVersion = version;
          payloadVersion = payloadVersionFor(version, targetRdb);
          footer.writeUInt16LE(payloadVersion);
        },
        spill: (chunk, entry) => spill.write(chunk, entry.type),
        entry: (entry) => {
          dbs.add(entry.db);
          if (isOwn(entry.key) || hasExpired(entry.expireAt, now())) {
            if (!isOwn(entry.key)) stats.expiredSkipped++;
            if (entry.spilled) spill.discard();
            return;
          }
          if (entry.spilled) {
            spill.finish(entry, footer);
            return;
          }
          const value = downgradeValue(entry.type, entry.parts.length === 1 ? entry.parts[0]! : Buffer.concat(entry.parts), payloadVersion);
          if (value.converted) converted++;
          lanes[nextLane++ % lanes.length]!.restore(entry.db, entry.key, entry.expireAt, 1 + value.body.length + 10, (buf, offset) => {
            // DUMP payload: type, body, RDB version (2 bytes LE), CRC-64 of all that (8 bytes LE).
            buf[offset] = value.type;
            buf.set(value.body, offset + 1);
            const at = offset + 1 + value.body.length;
            buf[at] = footer[0]!;
            buf[at + 1] = footer[1]!;
            crc64Into(buf, offset, at + 2, buf, at + 2);
          });
        },
      },
      options.spillAboveBytes ? { spillAboveBytes: options.spillAboveBytes } : {},
    );

    let read = 0;
    let lastProgress = started;
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      read += (chunk as Buffer).length;
      splitter.push(chunk as Buffer);
      for (const lane of lanes) lane.flush();
      if (lanes.some((lane) => lane.backlog > HIGH_WATER)) await Promise.all(lanes.map((lane) => lane.connection.drained()));
      const failed = lanes.find((lane) => lane.failure || lane.refused);
      if (failed) break;
      if (options.onProgress && Date.now() - lastProgress > 500) {
        lastProgress = Date.now();
        const keys = lanes.reduce((n, l) => n + l.acknowledged, 0) + spill.restored;
        options.onProgress({ keys, bytes: read, keysPerSec: Math.round((keys * 1000) / Math.max(1, Date.now() - started)), db: 0, totalBytes: fileBytes });
      }
      if (splitter.finished) break;
    }
    for (const lane of lanes) lane.flush();
    await Promise.all([...lanes.map((lane) => waitForReplies(lane.connection)), spill.done()]);
    const refused = lanes.find((lane) => lane.refused)?.refused ?? spill.refused;
    if (refused) throw new TargetRefusedPayloadError(`the target refused an RDB v${payloadVersion} payload from the dump (key ${printable(refused)}); the dump is RDB v${rdbVersion}`);
    const failure = lanes.find((lane) => lane.failure)?.failure ?? spill.failure;
    if (failure) throw failure;
    if (!splitter.finished) throw new SnapshotFormatError(`${path} ends before the RDB's end marker (${read} bytes read): a truncated or partial dump`);

    stats.keys = lanes.reduce((n, l) => n + l.acknowledged, 0) + spill.restored;
    stats.bytes = lanes.reduce((n, l) => n + l.acknowledgedBytes, 0) + spill.bytes;
    stats.bigKeys = spill.restored;
    stats.ms = Date.now() - started;
    return { stats, rdbVersion, payloadVersion, converted, fileBytes, dbs: [...dbs].sort((a, b) => a - b) };
  } finally {
    for (const lane of lanes) lane.connection.close();
    await spill.close();
  }
}

export interface RdbRewriteResult {
  rdbVersion: number;
  writtenVersion: number;
  entries: number;
}

/**
 * Writes the entries of the RDB file `from` into a new RDB file `to` that a server of RDB
 * `readerVersion` can load: the same keys, values and absolute expiries (ms), values made
 * readable by rdb-downgrade.ts, no AUX fields, a CRC-64 trailer (rdb.c rdbSaveRio). Keys
 * already expired are kept: the server loading it drops them itself.
 */
export async function rewriteRdbFile(from: string, to: string, readerVersion: number): Promise<RdbRewriteResult> {
  const fd = openSync(to, 'w');
  const crc = crc64Start();
  const write = (bytes: Buffer) => {
    crc64Update(crc, bytes);
    writeSync(fd, bytes);
  };
  try {
    let rdbVersion = 0;
    let version = 0;
    let db = -1;
    let entries = 0;
    const splitter = new RdbSplitter(
      {
        start: (v) => {
          rdbVersion = v;
          version = payloadVersionFor(v, readerVersion);
          write(Buffer.from(`REDIS${String(version).padStart(4, '0')}`, 'latin1'));
        },
        entry: (entry: RdbEntry) => {
          if (entry.db !== db) {
            write(Buffer.concat([Buffer.of(0xfe), rdbLength(entry.db)]));
            db = entry.db;
          }
          if (entry.expireAt > 0) {
            const expiry = Buffer.alloc(9);
            expiry[0] = 0xfc;
            expiry.writeBigUInt64LE(BigInt(entry.expireAt), 1);
            write(expiry);
          }
          const value = downgradeValue(entry.type, Buffer.concat(entry.parts), version);
          write(Buffer.concat([Buffer.of(value.type), rdbLength(entry.key.length), entry.key, value.body]));
          entries++;
        },
      },
      // The whole value in memory: the reference is for dumps this machine can hold anyway.
      { maxBufferedValueBytes: Number.MAX_SAFE_INTEGER },
    );
    for await (const chunk of createReadStream(from, { highWaterMark: 1 << 20 })) {
      splitter.push(chunk as Buffer);
      if (splitter.finished) break;
    }
    if (!splitter.finished) throw new SnapshotFormatError(`${from} ends before the RDB's end marker: a truncated or partial dump`);
    writeSync(fd, Buffer.of(0xff));
    crc64Update(crc, Buffer.of(0xff));
    writeSync(fd, crc64Bytes(crc));
    return { rdbVersion, writtenVersion: version, entries };
  } finally {
    closeSync(fd);
  }
}
