/**
 * A snapshot value made readable by an older server. A DUMP payload carries the RDB version
 * it was written with, and RESTORE refuses any newer than its own (cluster.c
 * verifyDumpPayload), even when the value's type is one the older server reads. So:
 *
 * - a type the target knows keeps its bytes and claims the target's version;
 * - RDB 11 (Redis 7.2, Valkey 8) added two types that 7.0 (RDB 10) lacks, rewritten here:
 *   a set as a listpack (20) becomes a plain set (2), members as RDB strings; a stream with
 *   consumer active times (21) becomes a type 19 stream by dropping those 8 bytes per consumer
 *   (rdb.c rdbSaveObject / rdbLoadObject of 7.2, `RDB_TYPE_STREAM_LISTPACKS_3`);
 * - any other type newer than the target stays as it is and the target refuses it
 *   (TargetRefusedPayloadError from the writer).
 *
 * Format references: Redis's rdb.h (types and the version that added them), listpack.c
 * (entry encodings).
 */
import { SnapshotFormatError } from '../../errors.js';
import { readRdbString, streamActiveTimes } from './rdb-splitter.js';

/** The RDB version that introduced each value type (rdb.h, the release notes of each version). */
const TYPE_SINCE: Record<number, number> = { 15: 9, 16: 10, 17: 10, 18: 10, 19: 10, 20: 11, 21: 11 };

/** The version a payload can claim for a reader of `readerVersion`: the lower of the two. */
export function payloadVersionFor(rdbVersion: number, readerVersion: number | undefined): number {
  return readerVersion === undefined ? rdbVersion : Math.min(rdbVersion, readerVersion);
}

/**
 * `{ type, body }` as a reader of RDB `version` understands it: unchanged when it already
 * does (or when no rewrite exists: the reader then refuses it), rewritten for types 20 and 21.
 * `converted` says whether the bytes changed.
 */
export function downgradeValue(type: number, body: Buffer, version: number): { type: number; body: Buffer; converted: boolean } {
  if ((TYPE_SINCE[type] ?? 0) <= version) return { type, body, converted: false };
  if (type === 20) return { type: 2, body: setListpackToSet(body), converted: true };
  if (type === 21 && version >= 10) return { type: 19, body: dropActiveTimes(body), converted: true };
  return { type, body, converted: false };
}

function dropActiveTimes(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  for (const at of streamActiveTimes(body)) {
    parts.push(body.subarray(from, at));
    from = at + 8;
  }
  parts.push(body.subarray(from));
  return Buffer.concat(parts);
}

function setListpackToSet(body: Buffer): Buffer {
  const { value: listpack } = readRdbString(body, 0);
  const members = listpackEntries(listpack);
  return Buffer.concat([rdbLength(members.length), ...members.flatMap((m) => [rdbLength(m.length), m])]);
}

/** An RDB length encoding (rdb.c rdbSaveLen). */
export function rdbLength(n: number): Buffer {
  if (n < 0x40) return Buffer.of(n);
  if (n < 0x4000) return Buffer.of(0x40 | (n >> 8), n & 0xff);
  if (n <= 0xffffffff) {
    const b = Buffer.alloc(5);
    b[0] = 0x80;
    b.writeUInt32BE(n, 1);
    return b;
  }
  const b = Buffer.alloc(9);
  b[0] = 0x81;
  b.writeBigUInt64BE(BigInt(n), 1);
  return b;
}

/** Every element of a listpack, integers as their decimal text (listpack.c lpGet). */
export function listpackEntries(lp: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let p = 6; // total bytes (4), element count (2)
  const int = (value: number | bigint) => Buffer.from(String(value));
  for (;;) {
    const b = lp[p];
    if (b === undefined) throw new SnapshotFormatError('RDB: a listpack ends early');
    if (b === 0xff) break;
    let length: number; // encoding + data, what the back-length then encodes
    if ((b & 0x80) === 0) {
      out.push(int(b & 0x7f));
      length = 1;
    } else if ((b & 0xc0) === 0x80) {
      const n = b & 0x3f;
      out.push(Buffer.from(lp.subarray(p + 1, p + 1 + n)));
      length = 1 + n;
    } else if ((b & 0xe0) === 0xc0) {
      const v = ((b & 0x1f) << 8) | lp[p + 1]!;
      out.push(int(v >= 1 << 12 ? v - (1 << 13) : v));
      length = 2;
    } else if ((b & 0xf0) === 0xe0) {
      const n = ((b & 0x0f) << 8) | lp[p + 1]!;
      out.push(Buffer.from(lp.subarray(p + 2, p + 2 + n)));
      length = 2 + n;
    } else if (b === 0xf0) {
      const n = lp.readUInt32LE(p + 1);
      out.push(Buffer.from(lp.subarray(p + 5, p + 5 + n)));
      length = 5 + n;
    } else if (b === 0xf1) {
      out.push(int(lp.readInt16LE(p + 1)));
      length = 3;
    } else if (b === 0xf2) {
      out.push(int(lp.readIntLE(p + 1, 3)));
      length = 4;
    } else if (b === 0xf3) {
      out.push(int(lp.readInt32LE(p + 1)));
      length = 5;
    } else if (b === 0xf4) {
      out.push(int(lp.readBigInt64LE(p + 1)));
      length = 9;
    } else throw new SnapshotFormatError(`RDB: unknown listpack encoding 0x${b.toString(16)}`);
    p += length + backLengthSize(length);
  }
  return out;
}

/** Bytes of an entry's back-length (listpack.c lpEncodeBacklen). */
function backLengthSize(length: number): number {
  if (length <= 127) return 1;
  if (length < 16383) return 2;
  if (length < 2097151) return 3;
  if (length < 268435455) return 4;
  return 5;
}
