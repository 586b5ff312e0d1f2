/**
 * Splits an RDB stream (what a master sends a replica on full sync) into keys, without
 * decoding values: each value's raw bytes are exactly the body of a DUMP payload, so a
 * key becomes `RESTORE` after appending the RDB version and a CRC-64. It only has to
 * find where each value ends.
 *
 * Memory stays bounded whatever the key size: values of the common types (strings,
 * lists, sets, hashes, sorted sets, and every compact encoding) are walked by a
 * resumable state machine, so a big one can flow to a spill file as it arrives.
 * Streams and module values have nested layouts; they are measured in memory, up to
 * `maxBufferedValueBytes`.
 *
 * Format reference: Redis's rdb.h/rdb.c (types 0–21, opcodes 0xF4–0xFF).
 */
import { SnapshotFormatError } from '../../errors.js';

/** A key as found in the RDB. `value` is the raw value body (no type byte). */
export interface RdbEntry {
  db: number;
  key: Buffer;
  type: number;
  /** Absolute expiry in ms, 0 when none. */
  expireAt: number;
  /** In-memory body parts (usually one zero-copy slice of a socket chunk). */
  parts: Buffer[];
  /** Total body length. */
  length: number;
  /** Set when the body was spilled: the parts were handed to `spill` as they arrived. */
  spilled: boolean;
}

export interface RdbSplitterHandlers {
  /** The RDB header was read; `version` is what DUMP payloads must carry. */
  start?(version: number): void;
  entry(entry: RdbEntry): void;
  /** Called with each chunk of a big value's body as it passes, once it outgrows `spillAboveBytes`. */
  spill?(chunk: Buffer, entry: { key: Buffer; type: number }): void;
}

export interface RdbSplitterOptions {
  spillAboveBytes?: number;
  maxBufferedValueBytes?: number;
}

const OPCODE = {
  SLOT_INFO: 0xf4,
  FUNCTION2: 0xf5,
  FUNCTION_PRE_GA: 0xf6,
  MODULE_AUX: 0xf7,
  IDLE: 0xf8,
  FREQ: 0xf9,
  AUX: 0xfa,
  RESIZEDB: 0xfb,
  EXPIRETIME_MS: 0xfc,
  EXPIRETIME: 0xfd,
  SELECTDB: 0xfe,
  EOF: 0xff,
} as const;

/** One element of a repeated value layout. */
const enum Item {
  /** A length-encoded integer. */
  Len,
  /** A length-prefixed (or integer / LZF encoded) string. */
  Str,
  /** 8 raw bytes (a binary double). */
  Fixed8,
  /** A 1-byte-length string double; 253–255 are NaN/±inf with no body. */
  DoubleStr,
}

/** Value layouts: `count` = a Len header giving the repetitions of `items` (else once). */
const LAYOUTS: Record<number, { counted: boolean; items: Item[] }> = {
  0: { counted: false, items: [Item.Str] }, // string
  1: { counted: true, items: [Item.Str] }, // list (linked list, pre-3.2)
  2: { counted: true, items: [Item.Str] }, // set
  3: { counted: true, items: [Item.Str, Item.DoubleStr] }, // zset (string scores)
  4: { counted: true, items: [Item.Str, Item.Str] }, // hash
  5: { counted: true, items: [Item.Str, Item.Fixed8] }, // zset (binary scores)
  9: { counted: false, items: [Item.Str] }, // hash zipmap
  10: { counted: false, items: [Item.Str] }, // list ziplist
  11: { counted: false, items: [Item.Str] }, // set intset
  12: { counted: false, items: [Item.Str] }, // zset ziplist
  13: { counted: false, items: [Item.Str] }, // hash ziplist
  14: { counted: true, items: [Item.Str] }, // list quicklist (ziplist nodes)
  16: { counted: false, items: [Item.Str] }, // hash listpack
  17: { counted: false, items: [Item.Str] }, // zset listpack
  18: { counted: true, items: [Item.Len, Item.Str] }, // list quicklist 2 (container, node)
  20: { counted: false, items: [Item.Str] }, // set listpack
};
const STREAM_TYPES = new Set([15, 19, 21]);
const MODULE_TYPES = new Set([6, 7]);

/** Thrown inside the synchronous readers when the buffer ends mid-structure. */
class NeedMore {
  static readonly instance = new NeedMore();
}

/** A cursor over one contiguous buffer; every read throws NeedMore past its end. */
class Cursor {
  /** Set when a read ran past the end: the buffer length that read needed. */
  needEnd = 0;
  constructor(
    public buf: Buffer,
    public pos: number,
  ) {}
  private needMore(end: number): never {
    this.needEnd = end;
    throw NeedMore.instance;
  }
  byte(): number {
    if (this.pos >= this.buf.length) this.needMore(this.pos + 1);
    return this.buf[this.pos++]!;
  }
  skip(n: number): void {
    if (this.pos + n > this.buf.length) this.needMore(this.pos + n);
    this.pos += n;
  }
  take(n: number): Buffer {
    if (this.pos + n > this.buf.length) this.needMore(this.pos + n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  /** A length encoding; `special` is set for the string encodings (int / LZF). */
  len(): { value: number; special: boolean } {
    const first = this.byte();
    switch (first >> 6) {
      case 0:
        return { value: first & 0x3f, special: false };
      case 1:
        return { value: ((first & 0x3f) << 8) | this.byte(), special: false };
      case 2: {
        if (first === 0x80) {
          const b = this.take(4);
          return { value: b.readUInt32BE(0), special: false };
        }
        if (first === 0x81) {
          const b = this.take(8);
          return { value: Number(b.readBigUInt64BE(0)), special: false };
        }
        throw new SnapshotFormatError(`RDB: unknown length encoding 0x${first.toString(16)}`);
      }
      default:
        return { value: first & 0x3f, special: true };
    }
  }
  length(): number {
    const { value, special } = this.len();
    if (special) throw new SnapshotFormatError('RDB: string encoding where a length was expected');
    return value;
  }
  /** Reads a string's header (plain, integer or LZF) and returns how many body bytes follow it. */
  stringBodyLength(): number {
    const { value, special } = this.len();
    if (!special) return value;
    if (value === 0) return 1;
    if (value === 1) return 2;
    if (value === 2) return 4;
    if (value === 3) {
      const compressed = this.length();
      this.length(); // plain length
      return compressed;
    }
    throw new SnapshotFormatError(`RDB: unknown string encoding ${value}`);
  }
  skipString(): void {
    this.skip(this.stringBodyLength());
  }
  /** A key: a zero-copy view when stored plainly (socket chunks are never reused). */
  keyName(): Buffer {
    const first = this.buf[this.pos];
    if (first !== undefined && first >> 6 !== 3) return this.take(this.length());
    return this.string();
  }
  /** Reads a (small) string into memory, decoding integer encodings; LZF is decompressed. */
  string(): Buffer {
    const { value, special } = this.len();
    if (!special) return Buffer.from(this.take(value));
    if (value === 0) return Buffer.from(String(this.take(1).readInt8(0)));
    if (value === 1) return Buffer.from(String(this.take(2).readInt16LE(0)));
    if (value === 2) return Buffer.from(String(this.take(4).readInt32LE(0)));
    if (value === 3) {
      const compressed = this.length();
      const plain = this.length();
      return lzfDecompress(this.take(compressed), plain);
    }
    throw new SnapshotFormatError(`RDB: unknown string encoding ${value}`);
  }
}

/** LZF, as Redis compresses strings in RDB files. Only used for keys and AUX fields. */
export function lzfDecompress(input: Buffer, outLength: number): Buffer {
  const out = Buffer.alloc(outLength);
  let ip = 0;
  let op = 0;
  while (ip < input.length) {
    let ctrl = input[ip++]!;
    if (ctrl < 32) {
      ctrl++;
      input.copy(out, op, ip, ip + ctrl);
      ip += ctrl;
      op += ctrl;
    } else {
      let len = ctrl >> 5;
      let ref = op - ((ctrl & 0x1f) << 8) - 1;
      if (len === 7) len += input[ip++]!;
      ref -= input[ip++]!;
      len += 2;
      for (let i = 0; i < len; i++) out[op++] = out[ref++]!;
    }
  }
  if (op !== outLength) throw new SnapshotFormatError('RDB: LZF data does not match its declared length');
  return out;
}

/**
 * Skips a whole stream value (types 15, 19, 21); needs it all in the buffer. `onActiveTime`
 * is told where each consumer's active time (type 21 only, 8 bytes) starts: what a type 19
 * payload lacks (rdb-downgrade.ts).
 */
function skipStream(c: Cursor, type: number, onActiveTime?: (at: number) => void): void {
  const listpacks = c.length();
  for (let i = 0; i < listpacks; i++) {
    c.skipString(); // master entry id
    c.skipString(); // listpack
  }
  c.length(); // items
  c.length(); // last id ms
  c.length(); // last id seq
  if (type >= 19) {
    for (let i = 0; i < 5; i++) c.length(); // first id, max deleted id, entries added
  }
  const groups = c.length();
  for (let g = 0; g < groups; g++) {
    c.skipString(); // name
    c.length(); // last id ms
    c.length(); // last id seq
    if (type >= 19) c.length(); // entries read
    const pel = c.length();
    for (let p = 0; p < pel; p++) {
      c.skip(16 + 8); // id, delivery time
      c.length(); // delivery count
    }
    const consumers = c.length();
    for (let k = 0; k < consumers; k++) {
      c.skipString(); // name
      c.skip(8); // seen time
      if (type >= 21) {
        onActiveTime?.(c.pos);
        c.skip(8); // active time
      }
      const owned = c.length();
      c.skip(owned * 16);
    }
  }
}

/** Positions (in `body`) of the 8-byte consumer active times of a type 21 stream body. */
export function streamActiveTimes(body: Buffer): number[] {
  const at: number[] = [];
  const c = new Cursor(body, 0);
  try {
    skipStream(c, 21, (pos) => at.push(pos));
  } catch (error) {
    if (error === NeedMore.instance) throw new SnapshotFormatError('RDB: a stream value ends early');
    throw error;
  }
  return at;
}

/** One RDB string (plain, integer-encoded or LZF) at `pos` of `buf`, decoded, and where it ends. */
export function readRdbString(buf: Buffer, pos: number): { value: Buffer; end: number } {
  const c = new Cursor(buf, pos);
  try {
    const value = c.string();
    return { value, end: c.pos };
  } catch (error) {
    if (error === NeedMore.instance) throw new SnapshotFormatError('RDB: a string ends early');
    throw error;
  }
}

/**
 * The elements of a DUMP payload of a set or hash kept as a hash table (RDB_TYPE_SET 2, a length
 * then the members; RDB_TYPE_HASH 4, a length then field and value: redis/src/rdb.c
 * rdbSaveObject), each as the bytes of its RDB string encoding(s), undecoded: a member, or a
 * field and its value together. Any other payload (compact encodings, Redis 7.4's hashes with
 * field TTLs) gives undefined; so does one that is not whole.
 */
export function hashTablePayloadElements(payload: Buffer): { type: 'set' | 'hash'; elements: Buffer[] } | undefined {
  const type = payload[0];
  if (type !== 2 && type !== 4) return undefined;
  // The payload ends with the RDB version (2 bytes) and a CRC-64 (8 bytes): redis/src/cluster.c createDumpPayload.
  const c = new Cursor(payload.subarray(0, payload.length - 10), 1);
  try {
    const n = c.length();
    const elements: Buffer[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const start = c.pos;
      c.skipString();
      if (type === 4) c.skipString();
      elements[i] = payload.subarray(start, c.pos);
    }
    return c.pos === c.buf.length ? { type: type === 2 ? 'set' : 'hash', elements } : undefined;
  } catch (error) {
    if (error === NeedMore.instance || error instanceof SnapshotFormatError) return undefined;
    throw error;
  }
}

/** Module values: a module id, then typed opcodes until EOF (rdbLoadCheckModuleValue). */
function skipModuleOpcodes(c: Cursor): void {
  for (;;) {
    const opcode = c.length();
    if (opcode === 0) return;
    if (opcode === 1 || opcode === 2) c.length();
    else if (opcode === 3) c.skip(4);
    else if (opcode === 4) c.skip(8);
    else if (opcode === 5) c.skipString();
    else throw new SnapshotFormatError(`RDB: unknown module opcode ${opcode}`);
  }
}

function skipModuleValue(c: Cursor, type: number): void {
  c.length(); // module id
  if (type === 6) throw new SnapshotFormatError('RDB: module values of RDB type 6 cannot be copied');
  skipModuleOpcodes(c);
}

/**
 * Resumable walk over a value with a repeated layout. Only headers must be contiguous (a
 * few bytes); string bodies are skipped by count, so they may span any number of chunks.
 */
class LayoutWalker {
  private remainingReps: number;
  private item = 0;
  private bodyLeft = 0;
  private lzfPlainPending = false;
  constructor(private readonly layout: { counted: boolean; items: Item[] }) {
    this.remainingReps = layout.counted ? -1 : 1;
  }
  /** Consumes from buf[pos..]; returns the new position and whether the value ended. */
  advance(buf: Buffer, start: number): { pos: number; done: boolean } {
    const c = new Cursor(buf, start);
    let committed = start;
    try {
      for (;;) {
        if (this.bodyLeft > 0) {
          const n = Math.min(this.bodyLeft, buf.length - c.pos);
          c.pos += n;
          this.bodyLeft -= n;
          committed = c.pos;
          if (this.bodyLeft > 0) return { pos: committed, done: false };
          this.nextItem();
          continue;
        }
        if (this.remainingReps === -1) {
          this.remainingReps = c.length();
          committed = c.pos;
          continue;
        }
        if (this.remainingReps === 0) return { pos: committed, done: true };
        const item = this.layout.items[this.item]!;
        switch (item) {
          case Item.Len:
            c.length();
            committed = c.pos;
            this.nextItem();
            break;
          case Item.Fixed8:
            c.skip(8);
            committed = c.pos;
            this.nextItem();
            break;
          case Item.DoubleStr: {
            const n = c.byte();
            this.bodyLeft = n >= 253 ? 0 : n;
            committed = c.pos;
            if (this.bodyLeft === 0) this.nextItem();
            break;
          }
          case Item.Str: {
            // State changes only once the whole header is read: it may end mid-header.
            this.bodyLeft = c.stringBodyLength();
            committed = c.pos;
            if (this.bodyLeft === 0) this.nextItem();
            break;
          }
        }
      }
    } catch (error) {
      if (error === NeedMore.instance) return { pos: committed, done: false };
      throw error;
    }
  }
  private nextItem(): void {
    this.item++;
    if (this.item === this.layout.items.length) {
      this.item = 0;
      this.remainingReps--;
    }
  }
}

type State = 'magic' | 'opcode' | 'value' | 'eof' | 'done';

export class RdbSplitter {
  /** Bytes received but not yet consumed (they start at a token boundary). */
  private pending: Buffer = Buffer.alloc(0);
  /**
   * While a stream or module value is measured in memory: its bytes so far, in a buffer
   * that grows by doubling (appending a chunk copies only that chunk), and how many it
   * needs before measuring again is worth it (exactly what the last attempt ran out at).
   */
  private measured: { buf: Buffer; length: number } | undefined;
  private needAt = 0;
  private state: State = 'magic';
  private db = 0;
  private expireAt = 0;
  private current?: { key: Buffer; type: number; expireAt: number; walker?: LayoutWalker; parts: Buffer[]; length: number; spilled: boolean };
  version = 0;
  readonly spillAbove: number;
  readonly maxBuffered: number;

  constructor(
    private readonly handlers: RdbSplitterHandlers,
    options: RdbSplitterOptions = {},
  ) {
    this.spillAbove = options.spillAboveBytes ?? 8 * 1024 * 1024;
    this.maxBuffered = options.maxBufferedValueBytes ?? 64 * 1024 * 1024;
  }

  get finished(): boolean {
    return (this.state as State) === 'done';
  }

  /**
   * Feeds bytes; returns how many were consumed. A short count means the RDB ended (the
   * rest belongs to whatever follows it, such as the replication command stream).
   */
  push(chunk: Buffer): number {
    if (this.finished) return 0;
    let buf: Buffer;
    let carried: number;
    if (this.measured) {
      const m = this.measured;
      if (m.length + chunk.length > m.buf.length) {
        const grown = Buffer.allocUnsafe(Math.max(m.buf.length * 2, m.length + chunk.length));
        m.buf.copy(grown, 0, 0, m.length);
        m.buf = grown;
      }
      chunk.copy(m.buf, m.length);
      carried = m.length;
      m.length += chunk.length;
      if (m.length < this.needAt) return chunk.length;
      buf = m.buf.subarray(0, m.length);
    } else {
      carried = this.pending.length;
      buf = carried === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    }
    const consumed = this.run(buf);
    const rest = buf.subarray(consumed);
    if (this.finished) {
      this.pending = Buffer.alloc(0);
      this.measured = undefined;
      return Math.max(0, consumed - carried);
    }
    if (this.needAt > 0) {
      // Measuring in memory: `rest` starts at the value. Keep the buffer if it already does.
      if (!this.measured || consumed > 0) {
        const m = { buf: Buffer.allocUnsafe(Math.max(64 * 1024, rest.length * 2)), length: rest.length };
        rest.copy(m.buf);
        this.measured = m;
      }
      this.pending = Buffer.alloc(0);
    } else {
      this.measured = undefined;
      this.pending = rest;
    }
    return chunk.length;
  }

  private run(buf: Buffer): number {
    let pos = 0;
    for (;;) {
      if (this.state === 'value') {
        const next = this.continueValue(buf, pos);
        if (next < 0) return pos; // need more, nothing consumed
        pos = next;
        if (this.state === 'value') return pos;
        continue;
      }
      if (this.state === 'done') return pos;
      const c = new Cursor(buf, pos);
      try {
        this.step(c);
        pos = c.pos;
      } catch (error) {
        if (error === NeedMore.instance) return pos;
        throw error;
      }
    }
  }

  private step(c: Cursor): void {
    if (this.state === 'magic') {
      const magic = c.take(9).toString('latin1');
      if (!magic.startsWith('REDIS')) throw new SnapshotFormatError('RDB: bad magic; the source did not send an RDB');
      this.version = Number(magic.slice(5));
      this.state = 'opcode';
      this.handlers.start?.(this.version);
      return;
    }
    if (this.state === 'eof') {
      if (this.version >= 5) c.skip(8); // checksum of the whole file
      this.state = 'done';
      return;
    }
    const type = c.byte();
    switch (type) {
      case OPCODE.EOF:
        this.state = 'eof';
        return;
      case OPCODE.SELECTDB:
        this.db = c.length();
        return;
      case OPCODE.RESIZEDB:
        c.length();
        c.length();
        return;
      case OPCODE.EXPIRETIME_MS:
        this.expireAt = Number(c.take(8).readBigUInt64LE(0));
        return;
      case OPCODE.EXPIRETIME:
        this.expireAt = c.take(4).readUInt32LE(0) * 1000;
        return;
      case OPCODE.AUX: {
        c.skipString(); // name
        c.skipString(); // value
        return;
      }
      case OPCODE.IDLE:
        c.length();
        return;
      case OPCODE.FREQ:
        c.skip(1);
        return;
      case OPCODE.FUNCTION2:
        c.skipString();
        return;
      case OPCODE.FUNCTION_PRE_GA:
        throw new SnapshotFormatError('RDB: functions from a Redis 7.0 release candidate are not supported');
      case OPCODE.MODULE_AUX:
        c.length(); // module id
        c.length(); // when opcode
        c.length(); // when
        skipModuleOpcodes(c);
        return;
      case OPCODE.SLOT_INFO:
        c.length();
        c.length();
        c.length();
        return;
      default: {
        const name = c.keyName();
        const layout = LAYOUTS[type];
        if (type >= 22 && type <= 25)
          throw new SnapshotFormatError(
            `RDB: key ${JSON.stringify(name.toString('utf8').slice(0, 80))} is a hash with field expirations (RDB type ${type}, Redis 7.4 HEXPIRE), which cannot be copied yet`,
          );
        if (!layout && !STREAM_TYPES.has(type) && !MODULE_TYPES.has(type)) throw new SnapshotFormatError(`RDB: unknown value type ${type}`);
        this.current = { key: name, type, expireAt: this.expireAt, parts: [], length: 0, spilled: false, ...(layout ? { walker: new LayoutWalker(layout) } : {}) };
        this.expireAt = 0;
        this.state = 'value';
        return;
      }
    }
  }

  /** Returns the position after what it consumed, or -1 when it needs more bytes first. */
  private continueValue(buf: Buffer, pos: number): number {
    const current = this.current!;
    if (current.walker) {
      const { pos: end, done } = current.walker.advance(buf, pos);
      if (end > pos) this.collect(buf.subarray(pos, end));
      if (done) this.finishValue();
      return end;
    }
    // Streams and modules: measured only when the whole value is in the buffer.
    const c = new Cursor(buf, pos);
    try {
      if (STREAM_TYPES.has(current.type)) skipStream(c, current.type);
      else skipModuleValue(c, current.type);
    } catch (error) {
      if (error !== NeedMore.instance) throw error;
      // Skipping is per token, not per byte, so measuring again from the start each time
      // enough has arrived for the next token is cheap; the bytes are only appended once.
      this.needAt = c.needEnd - pos;
      if (this.needAt > this.maxBuffered) {
        throw new SnapshotFormatError(`RDB: the value of a ${STREAM_TYPES.has(current.type) ? 'stream' : 'module'} key is over ${this.maxBuffered} bytes; the scan copy handles it`);
      }
      return -1;
    }
    this.needAt = 0;
    this.collect(buf.subarray(pos, c.pos));
    this.finishValue();
    return c.pos;
  }

  private collect(bytes: Buffer): void {
    const current = this.current!;
    current.length += bytes.length;
    if (current.spilled) {
      this.handlers.spill!(bytes, current);
      return;
    }
    current.parts.push(bytes);
    if (this.handlers.spill && current.length > this.spillAbove) {
      current.spilled = true;
      for (const part of current.parts) this.handlers.spill(part, current);
      current.parts = [];
    }
  }

  private finishValue(): void {
    const current = this.current!;
    this.current = undefined;
    this.state = 'opcode';
    this.handlers.entry({ db: this.db, key: current.key, type: current.type, expireAt: current.expireAt, parts: current.parts, length: current.length, spilled: current.spilled });
  }
}
