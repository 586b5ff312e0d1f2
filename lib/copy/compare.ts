/**
 * Keys read for comparison a batch at a time: what verification and reconciliation compare,
 * in one round trip per side per batch instead of several per key. One EVAL returns, for each
 * key of the batch, its type, its absolute expiry (PEXPIRETIME on Redis 7+, else the server's
 * TIME + PTTL, read in the same atomic script) and, for a small key, a structural digest
 * computed by the server (redis.sha1hex, in every Redis since 2.6), so neither the content nor
 * the hashing crosses to the Lambda. Never DUMP bytes.
 *   - string: SHA-1 of the bytes; list: SHA-1 of the items' lengths and the items, in order.
 *   - set, hash, zset kept compact (listpack, intset, ziplist), first (`ordered`): the same SHA-1
 *     over the elements in the order the server returns them. Equal on both sides proves the
 *     keys equal (a RESTOREd copy keeps its listpack's order, so it nearly always is); different
 *     proves nothing, so for those keys
 *   - a second EVAL (`multiset`) on both sides gives the order-independent digest: the sum
 *     (mod 2^48) of each member's SHA-1 (field and value, member and score, scores re-printed
 *     as `%.17g` of their double since 3.2's and 7's printing differ), comparable across
 *     hash-table order, encodings and versions.
 *   - sets and hashes kept as hash tables (Spinnaker's biggest share of the work: orca's
 *     executions), whose order a RESTORE does not keep: the script returns their DUMP payload
 *     instead, which the server writes for a third of what the multiset digest costs it (21
 *     against 59 µs for orca's 24-field hashes). The payload is only a carrier: the Lambda
 *     reads its elements (hashTablePayloadElements) and compares the two sides as multisets,
 *     by their RDB string encodings, and decoded when those differ (one server compressing
 *     with LZF, the other not), so equal content is equal across versions and settings. A
 *     payload it cannot read that way, or a key carried so on one side only, goes to the
 *     `multiset` pass. At most DUMP_BYTES of payloads per batch: past that, the multiset digest.
 * Big keys (more than SMALL_ELEMENTS elements, strings over SMALL_STRING_BYTES) are digested by
 * the server in chunks too, never read into the Lambda: lists, sorted sets and strings, whose
 * order is canonical, by index a chunk per EVAL (a few in flight), ordered; sets and hashes (no
 * canonical order) an SSCAN/HSCAN page per EVAL into the order-independent multiset digest
 * (when SCAN repeated an element, by digestKey). Streams and types we do not read go by
 * digestKey, in chunks. Whether a key is small
 * depends on its length only, so equal keys take the same path on both sides; keys of different
 * lengths differ whatever the path. Digests compare only with the other side's digest of the
 * same key, as scanPairs/digestPairs give them.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { digestKey, type KeyDigest } from './digest.js';
import type { RedisType } from './key-copy.js';
import { hashTablePayloadElements, readRdbString } from './replication/rdb-splitter.js';

/** Keys per EVAL: enough to amortise the round trip, few enough to keep the server's pause short (about 1 ms for Spinnaker's keys). */
export const BATCH_KEYS = 100;
/** Batches in flight, each an EVAL on both sides at once. */
const CONCURRENT_BATCHES = 8;
/** Collections up to this many elements are digested inside the script. */
const SMALL_ELEMENTS = 512;
/** Strings up to this many bytes are digested inside the script. */
const SMALL_STRING_BYTES = 256 * 1024;
/** Bytes of DUMP payloads one batch's reply carries at most (a batch of orca's hashes is about 120 KB). */
const DUMP_BYTES = 4 << 20;

// ARGV: PEXPIRETIME usable ('1'), SMALL_ELEMENTS, SMALL_STRING_BYTES, mode ('ordered' |
// 'multiset'), DUMP_BYTES.
// Reply: two bulk strings. The first has a line per key in KEYS' order: `type expiry` (gone, or
// a type not read), `type expiry size` (big) or `type expiry size digest`, the digest
// `s<SHA-1 hex>`, for an unordered set/hash/zset `m<sum>` (an integer below 2^48, printed
// exactly), or `d<bytes>` for a hash-table set or hash whose DUMP payload follows the previous
// ones in the second string. Two strings, not a nested array per key: both the server's reply
// and the Lambda's parsing of it cost a few elements per batch instead of four per key.
export const SCRIPT = `
local M = 281474976710656
local multiset = ARGV[4] == 'multiset'
local function h48(s) return tonumber(string.sub(redis.sha1hex(s), 1, 12), 16) end
local function ordered(a)
  local lens = {}
  for j = 1, #a do lens[j] = #a[j] end
  return redis.sha1hex(table.concat(lens, ',') .. '|' .. table.concat(a))
end
local now
if ARGV[1] ~= '1' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local maxn = tonumber(ARGV[2])
local maxb = tonumber(ARGV[3])
local maxdump = tonumber(ARGV[5])
local out = {}
local dumps, dumped = {}, 0
local function carried(hashtable)
  return hashtable and not multiset and dumped < maxdump
end
local function dump(key)
  local p = redis.call('DUMP', key)
  dumps[#dumps + 1] = p
  dumped = dumped + #p
  return #p
end
for i, key in ipairs(KEYS) do
  local ty = redis.call('TYPE', key)['ok']
  local exp
  if ARGV[1] == '1' then
    exp = redis.call('PEXPIRETIME', key)
  else
    exp = redis.call('PTTL', key)
    if exp >= 0 then exp = now + exp end
  end
  local size, d, dl
  if ty == 'string' then
    size = redis.call('STRLEN', key)
    if size <= maxb then d = redis.sha1hex(redis.call('GET', key)) end
  elseif ty == 'list' then
    size = redis.call('LLEN', key)
    if size <= maxn then d = ordered(redis.call('LRANGE', key, 0, -1)) end
  elseif ty == 'set' then
    size = redis.call('SCARD', key)
    if size <= maxn then
      local hashtable = redis.call('OBJECT', 'ENCODING', key) == 'hashtable'
      if carried(hashtable) then dl = dump(key)
      else
        local a = redis.call('SMEMBERS', key)
        if multiset or hashtable then
          d = 0
          for j = 1, #a do d = (d + h48(a[j])) % M end
        else d = ordered(a) end
      end
    end
  elseif ty == 'hash' or ty == 'zset' then
    local a
    local unordered = multiset
    if ty == 'hash' then
      size = redis.call('HLEN', key)
      if size <= maxn then
        local hashtable = redis.call('OBJECT', 'ENCODING', key) == 'hashtable'
        if carried(hashtable) then dl = dump(key)
        else
          a = redis.call('HGETALL', key)
          unordered = unordered or hashtable
        end
      end
    else
      size = redis.call('ZCARD', key)
      if size <= maxn then a = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES') end
    end
    if a and unordered then
      d = 0
      for j = 1, #a, 2 do
        local v = a[j + 1]
        if ty == 'zset' then v = string.format('%.17g', tonumber(v)) end
        d = (d + h48(#a[j] .. ':' .. a[j] .. v)) % M
      end
    elseif a then d = ordered(a) end
  end
  -- Expiries (13 digits) and sizes print exactly with Lua's %.14g; the sums need %.0f.
  if dl then out[i] = ty .. ' ' .. exp .. ' ' .. size .. ' d' .. dl
  elseif d and type(d) == 'number' then out[i] = ty .. ' ' .. exp .. ' ' .. size .. ' m' .. string.format('%.0f', d)
  elseif d then out[i] = ty .. ' ' .. exp .. ' ' .. size .. ' s' .. d
  elseif size then out[i] = ty .. ' ' .. exp .. ' ' .. size
  else out[i] = ty .. ' ' .. exp end
end
return {table.concat(out, '\\n'), table.concat(dumps)}
`;
const SCRIPT_SHA = createHash('sha1').update(SCRIPT).digest('hex');

/** Elements (bytes for strings) per chunk of a big list, sorted set or string digested by the server. */
const CHUNK_ELEMENTS = 1000;
const CHUNK_BYTES = 1 << 20;
/** Chunks of one big key in flight at once. */
const CHUNKS_IN_FLIGHT = 8;

// One chunk of a big key whose order is canonical (list, sorted set by score then member,
// string): {elements or bytes read, SHA-1 of them as the small-key digest reads them}. Scores
// re-printed as `%.17g`, as 3.2's and 7's printing differ.
const CHUNK_SCRIPT = `
local function ordered(a)
  local lens = {}
  for j = 1, #a do lens[j] = #a[j] end
  return redis.sha1hex(table.concat(lens, ',') .. '|' .. table.concat(a))
end
local key, ty, from, to = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if ty == 'string' then
  local s = redis.call('GETRANGE', key, from, to)
  return {#s, redis.sha1hex(s)}
elseif ty == 'list' then
  local a = redis.call('LRANGE', key, from, to)
  return {#a, ordered(a)}
else
  local a = redis.call('ZRANGE', key, from, to, 'WITHSCORES')
  for j = 2, #a, 2 do a[j] = string.format('%.17g', tonumber(a[j])) end
  return {#a / 2, ordered(a)}
end
`;
const CHUNK_SCRIPT_SHA = createHash('sha1').update(CHUNK_SCRIPT).digest('hex');
const CHUNKED = new Set<RedisType>(['string', 'list', 'zset']);

/** Elements asked of each SSCAN/HSCAN page of a big set or hash digested by the server. */
const SCAN_CHUNK_COUNT = 1000;

// One SSCAN/HSCAN page of a big set or hash: {next cursor, elements, the sum (mod 2^48) of their
// h48}, each element hashed as the small-key multiset digest hashes it, so the total is the same
// digest whatever the page boundaries, the hash-table order or the encoding.
const SCAN_CHUNK_SCRIPT = `
local M = 281474976710656
local function h48(s) return tonumber(string.sub(redis.sha1hex(s), 1, 12), 16) end
local key, ty = KEYS[1], ARGV[1]
local r
if ty == 'set' then r = redis.call('SSCAN', key, ARGV[2], 'COUNT', ARGV[3]) else r = redis.call('HSCAN', key, ARGV[2], 'COUNT', ARGV[3]) end
local a = r[2]
local d = 0
if ty == 'set' then
  for j = 1, #a do d = (d + h48(a[j])) % M end
  return {r[1], #a, d}
end
for j = 1, #a, 2 do d = (d + h48(#a[j] .. ':' .. a[j] .. a[j + 1])) % M end
return {r[1], #a / 2, d}
`;
const SCAN_CHUNK_SCRIPT_SHA = createHash('sha1').update(SCAN_CHUNK_SCRIPT).digest('hex');
const MULTISET_MOD = 2 ** 48;

/**
 * A big set or hash digested by the server a SSCAN/HSCAN page per EVAL: the multiset digest of
 * the small keys (`multiset:<size>:<sum>`), so nothing but three numbers per page crosses to the
 * Lambda. SCAN may return an element twice (a table resized between pages) and could not then
 * be summed: when the elements counted are not exactly the key's size, the key is read by
 * digestKey instead, which counts each element once.
 */
async function scannedMultiset(redis: Redis, key: Buffer, type: 'set' | 'hash', size: number, expiresAt: number): Promise<KeyDigest | undefined> {
  let cursor = '0';
  let count = 0;
  let sum = 0;
  do {
    const [next, n, d] = await evalCached<[Buffer, number, number]>(redis, SCAN_CHUNK_SCRIPT, SCAN_CHUNK_SCRIPT_SHA, [key], [type, cursor, String(SCAN_CHUNK_COUNT)]);
    cursor = next.toString();
    count += Number(n);
    sum = (sum + Number(d)) % MULTISET_MOD;
  } while (cursor !== '0');
  if (count !== size) return digestKey(redis, key);
  return { type, digest: `multiset:${size}:${sum.toString(16)}`, size, expiresAt };
}

/** Whether the server has PEXPIRETIME (Redis 7.0+; Valkey reports a Redis-compatible version), read once per connection. */
const pexpiretime = new WeakMap<Redis, Promise<boolean>>();
function hasPexpiretime(redis: Redis): Promise<boolean> {
  let known = pexpiretime.get(redis);
  if (!known) {
    known = redis.info('server').then((info) => Number(/^redis_version:(\d+)/m.exec(info)?.[1] ?? 0) >= 7);
    pexpiretime.set(redis, known);
  }
  return known;
}

type Mode = 'ordered' | 'multiset';

export interface DigestOptions {
  /** Tests: force the TIME + PTTL path of servers before 7.0 (true) or PEXPIRETIME (false). */
  pexpiretime?: boolean;
}

async function evalCached<T>(redis: Redis, script: string, sha: string, keys: Buffer[], args: string[]): Promise<T> {
  try {
    return (await redis.callBuffer('EVALSHA', sha, keys.length, ...keys, ...args)) as T;
  } catch (error) {
    if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
    return (await redis.callBuffer('EVAL', script, keys.length, ...keys, ...args)) as T;
  }
}

/** SCRIPT's reply, a line per key split into its fields, [type, expiry, size?, digest?], and the DUMP payloads its `d<bytes>` digests announce, in order. */
async function runScript(redis: Redis, keys: Buffer[], mode: Mode, options: DigestOptions): Promise<{ entries: string[][]; payloads: Buffer }> {
  const args = [(options.pexpiretime ?? (await hasPexpiretime(redis))) ? '1' : '0', String(SMALL_ELEMENTS), String(SMALL_STRING_BYTES), mode, String(DUMP_BYTES)];
  const [text, payloads] = await evalCached<[Buffer, Buffer]>(redis, SCRIPT, SCRIPT_SHA, keys, args);
  const lines = text.toString('latin1').split('\n');
  if (lines.length !== keys.length) throw new TypeError(`the digest script answered ${lines.length} line(s) for ${keys.length} key(s)`);
  return { entries: lines.map((line) => line.split(' ')), payloads };
}

/**
 * A big list, sorted set or string digested by the server chunk by chunk (by index, so both
 * sides cut it alike): the SHA-256 of the chunks' SHA-1s. A key that changes meanwhile gives a
 * digest of neither version, as digestKey's chunks would.
 */
async function chunkedDigest(redis: Redis, key: Buffer, type: RedisType, size: number, expiresAt: number): Promise<KeyDigest> {
  const step = type === 'string' ? CHUNK_BYTES : CHUNK_ELEMENTS;
  const starts: number[] = [];
  for (let start = 0; start < size; start += step) starts.push(start);
  const chunks: Buffer[] = [];
  for (let i = 0; i < starts.length; i += CHUNKS_IN_FLIGHT) {
    const replies = await Promise.all(
      starts.slice(i, i + CHUNKS_IN_FLIGHT).map((start) => evalCached<[number, Buffer]>(redis, CHUNK_SCRIPT, CHUNK_SCRIPT_SHA, [key], [type, String(start), String(start + step - 1)])),
    );
    for (const [count, sha] of replies) chunks.push(Buffer.from(`${count}:`), sha);
  }
  return { type, digest: `chunks:${size}:${createHash('sha256').update(Buffer.concat(chunks)).digest('hex')}`, size, expiresAt };
}

/** A side's reading of a key: its digest, or (a hash-table set or hash) its DUMP payload, which digestPairs compares with the other side's. */
type SideDigest = KeyDigest & { payload?: Buffer };

/** One side's digests, in the order of `keys` (undefined: no such key); big keys, streams and other types by digestKey. */
async function digestSide(redis: Redis, keys: Buffer[], mode: Mode, options: DigestOptions): Promise<(SideDigest | undefined)[]> {
  if (keys.length === 0) return [];
  const { entries, payloads } = await runScript(redis, keys, mode, options);
  let at = 0;
  const out: (SideDigest | undefined)[] = new Array(keys.length);
  // Big keys, streams and other types read further; the rest (nearly all) needs no promise of its own.
  const more: Promise<void>[] = [];
  entries.forEach(([name, expiry, count, digest], i) => {
    const type = name as RedisType;
    const expiresAt = Number(expiry);
    if (type === 'none' || expiresAt === -2) return;
    const size = Number(count);
    if (digest?.[0] === 'd') {
      const payload = payloads.subarray(at, (at += Number(digest.slice(1))));
      out[i] = { type, digest: '', size, expiresAt, payload };
      return;
    }
    if (digest !== undefined) {
      out[i] = { type, digest: digest[0] === 'm' ? `multiset:${size}:${Number(digest.slice(1)).toString(16)}` : `sha1:${digest.slice(1)}`, size, expiresAt };
      return;
    }
    const key = keys[i]!;
    const read =
      count !== undefined && CHUNKED.has(type)
        ? chunkedDigest(redis, key, type, size, expiresAt)
        : count !== undefined && (type === 'set' || type === 'hash')
          ? scannedMultiset(redis, key, type, size, expiresAt)
          : digestKey(redis, key);
    more.push(read.then((d) => void (out[i] = d)));
  });
  await Promise.all(more);
  return out;
}

const UNORDERED = new Set<RedisType>(['set', 'hash', 'zset']);

/** The payload without its RDB version and CRC-64 (the last 10 bytes), which differ between versions for the same value. */
const payloadBody = (payload: Buffer): Buffer => payload.subarray(0, Math.max(0, payload.length - 10));

/** A hash-table element as what it holds: a member, or a field and its value (the field's length first, so no two pairs read alike). */
function decodedElement(type: 'set' | 'hash', element: Buffer): Buffer {
  const first = readRdbString(element, 0);
  if (type === 'set') return first.value;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(first.value.length);
  return Buffer.concat([length, first.value, readRdbString(element, first.end).value]);
}

const sameElements = (a: Buffer[], b: Buffer[]): boolean => a.length === b.length && a.every((x, i) => x.equals(b[i]!));

/**
 * Whether two DUMP payloads of hash-table sets or hashes hold the same elements, whatever their
 * order: byte for byte (the same table, walked alike), else as multisets of their RDB string
 * encodings, else decoded (the encodings differ when one server compresses with LZF and the
 * other does not). Undefined when either is not such a payload (hashTablePayloadElements).
 */
export function sameHashTableContent(a: Buffer, b: Buffer): boolean | undefined {
  if (payloadBody(a).equals(payloadBody(b))) return true;
  const [x, y] = [hashTablePayloadElements(a), hashTablePayloadElements(b)];
  if (!x || !y) return undefined;
  if (x.type !== y.type || x.elements.length !== y.elements.length) return false;
  if (sameElements(x.elements.sort(Buffer.compare), y.elements.sort(Buffer.compare))) return true;
  const decoded = (e: { type: 'set' | 'hash'; elements: Buffer[] }) => e.elements.map((el) => decodedElement(e.type, el)).sort(Buffer.compare);
  return sameElements(decoded(x), decoded(y));
}

/** A digest of a payload's own bytes: for a side with nothing to compare it to, or that differs from the other. */
const payloadDigest = (d: SideDigest): string => `table:${d.size}:${createHash('sha1').update(payloadBody(d.payload!)).digest('hex')}`;

/**
 * Settles the pair of a key carried as DUMP payloads on both sides: equal content gets one
 * digest on both, a difference each side its own (`table:<size>:<SHA-1 of the payload>`).
 * False when the payloads could not be compared so and the key needs the multiset pass.
 */
function settlePayloads(s: SideDigest, t: SideDigest): boolean {
  const same = sameHashTableContent(s.payload!, t.payload!);
  if (same === undefined) return false;
  s.digest = payloadDigest(s);
  t.digest = same ? s.digest : payloadDigest(t);
  return true;
}

/**
 * The digests of `keys` on both sides, comparable pair by pair: one EVAL per side, and a second
 * one per side (`multiset`) for the sets, hashes and sorted sets whose elements came back in
 * another order, and for those carried as a DUMP payload on one side only or not readable so.
 */
export async function digestPairs(from: Redis, to: Redis, keys: Buffer[], options: { from?: DigestOptions; to?: DigestOptions } = {}): Promise<KeyPair[]> {
  const [a, b] = await Promise.all([digestSide(from, keys, 'ordered', options.from ?? {}), digestSide(to, keys, 'ordered', options.to ?? {})]);
  const again: number[] = [];
  keys.forEach((_, i) => {
    const [s, t] = [a[i], b[i]];
    if (s?.payload && t?.payload && s.type === t.type) {
      if (!settlePayloads(s, t)) again.push(i);
    } else if (s?.payload || t?.payload) {
      // The other side is compact, or missing, or of another type: the multiset pass digests the
      // key on both sides alike (it never carries payloads), and says the rest as it is.
      if (s && t && s.type === t.type) again.push(i);
      else for (const d of [s, t]) if (d?.payload) d.digest = payloadDigest(d);
    } else if (s && t && s.type === t.type && UNORDERED.has(s.type) && s.digest !== t.digest && (s.digest.startsWith('sha1:') || t.digest.startsWith('sha1:'))) {
      // Listed in another order (unless both are multiset digests already: a hash table's
      // elements past DUMP_BYTES are digested so at once).
      again.push(i);
    }
  });
  const bare = (d: SideDigest | undefined): KeyDigest | undefined => {
    if (!d?.payload) return d;
    const { payload: _payload, ...digest } = d;
    return digest;
  };
  if (again.length > 0) {
    const subset = again.map((i) => keys[i]!);
    const [a2, b2] = await Promise.all([digestSide(from, subset, 'multiset', options.from ?? {}), digestSide(to, subset, 'multiset', options.to ?? {})]);
    again.forEach((i, j) => {
      a[i] = a2[j];
      b[i] = b2[j];
    });
  }
  return keys.map((key, i) => ({ key, from: bare(a[i]), to: bare(b[i]) }));
}

export const EXISTS_SCRIPT = "local o = {} for i, k in ipairs(KEYS) do o[i] = redis.call('EXISTS', k) end return o";
const EXISTS_SCRIPT_SHA = createHash('sha1').update(EXISTS_SCRIPT).digest('hex');

/** Which of `keys` exist on `redis`, in order: one EVAL (one command for the client to write and the server to parse, not one per key). */
export async function existing(redis: Redis, keys: Buffer[]): Promise<boolean[]> {
  if (keys.length === 0) return [];
  const flags = await evalCached<number[]>(redis, EXISTS_SCRIPT, EXISTS_SCRIPT_SHA, keys, []);
  return flags.map((flag) => Number(flag) === 1);
}

export interface KeyPair {
  key: Buffer;
  /** The key on the side scanned (undefined: gone since the SCAN). */
  from: KeyDigest | undefined;
  /** The key on the other side (undefined: not there). */
  to: KeyDigest | undefined;
}

/** Where a scan of one database starts and when it stops starting SCAN pages (a slice's deadline). */
export interface ScanRange {
  /** SCAN cursor to start from ('0': the beginning). */
  cursor?: string;
  /** Epoch ms: no SCAN page is read from then on (but the first); the pages read are finished first. */
  deadline?: number;
}

/** Where a scan stopped: `done`, or the cursor the next slice resumes from (every key before it was visited). */
export interface ScanStop {
  cursor: string;
  done: boolean;
}

/**
 * Every key of `from`'s database but those `skip` rejects, with its digest on both sides:
 * per SCAN page, batches of BATCH_KEYS keys, each digested on both sides at once, a few batches
 * in flight. `visit` gets each batch once both sides answered.
 */
export async function scanPairs(from: Redis, to: Redis, skip: (key: Buffer) => boolean, visit: (pairs: KeyPair[]) => Promise<void>, range: ScanRange = {}): Promise<ScanStop> {
  return scanBatches(from, skip, async (keys) => visit(await digestPairs(from, to, keys)), range);
}

/**
 * Every key of the connection's database but those `skip` rejects, in batches of at most
 * BATCH_KEYS, up to CONCURRENT_BATCHES in flight: a new batch starts as soon as one ends (a big
 * key, digested in chunks, holds up its own batch only), and SCAN reads on meanwhile. The first
 * failure stops new batches and is thrown once those in flight have ended. With a deadline, no
 * SCAN page is read past it, and every batch of the pages read ends before the cursor returned.
 */
export async function scanBatches(redis: Redis, skip: (key: Buffer) => boolean, visit: (keys: Buffer[]) => Promise<void>, range: ScanRange = {}): Promise<ScanStop> {
  const inflight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  const launch = (keys: Buffer[]) => {
    const run: Promise<void> = visit(keys)
      .catch((error: unknown) => {
        failure ??= { error };
      })
      .finally(() => inflight.delete(run));
    inflight.add(run);
  };
  let cursor = range.cursor ?? '0';
  let started = false;
  do {
    // At least one page per call, so a slice always moves on however short it is.
    if (started && range.deadline !== undefined && Date.now() >= range.deadline) break;
    const [next, keys] = (await redis.scanBuffer(cursor, 'COUNT', 1000)) as unknown as [Buffer, Buffer[]];
    cursor = next.toString();
    started = true;
    const wanted = keys.filter((k) => !skip(k));
    for (let i = 0; i < wanted.length && !failure; i += BATCH_KEYS) {
      while (inflight.size >= CONCURRENT_BATCHES) await Promise.race(inflight);
      if (!failure) launch(wanted.slice(i, i + BATCH_KEYS));
    }
  } while (cursor !== '0' && !failure);
  await Promise.all(inflight);
  if (failure) throw failure.error;
  // '0' is both "not started" and "over": only a scan that came back to '0' is over.
  return { cursor, done: started && cursor === '0' };
}
