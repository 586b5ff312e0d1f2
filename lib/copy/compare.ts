/**
 * Keys read for comparison a batch at a time: what verification and reconciliation compare,
 * in one round trip per side per batch instead of several per key. One EVAL returns, for each
 * key of the batch, its type, its absolute expiry (PEXPIRETIME on Redis 7+, else the server's
 * TIME + PTTL, read in the same atomic script) and, for a small key, its whole content; the
 * digest is then computed here exactly as digest.ts computes it (a test holds the two equal),
 * so it stays structural and comparable across Redis 3.2..7 and encodings — never DUMP bytes.
 * Big keys (more than SMALL_ELEMENTS elements, strings over SMALL_STRING_BYTES), streams and
 * types we do not read are digested by digestKey, in chunks, as before.
 */
import type { Redis } from 'ioredis';
import { digestKey, type KeyDigest, Multiset } from './digest.js';
import type { RedisType } from './key-copy.js';
import { createHash } from 'node:crypto';

/** Keys per EVAL: enough to amortise the round trip, few enough to keep a reply (and the server's pause) small. */
export const BATCH_KEYS = 100;
/** Batches in flight per SCAN page, each an EVAL on both sides at once. */
const CONCURRENT_BATCHES = 4;
/** Collections up to this many elements are read whole inside the script. */
const SMALL_ELEMENTS = 256;
/** Strings up to this many bytes are read whole inside the script. */
const SMALL_STRING_BYTES = 64 * 1024;

// Replies: per key {type, expiry} (big, unread, or gone) or {type, expiry, content}.
const SCRIPT = `
local out = {}
local now
if ARGV[1] ~= '1' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local maxn = tonumber(ARGV[2])
local maxb = tonumber(ARGV[3])
for i, key in ipairs(KEYS) do
  local ty = redis.call('TYPE', key)['ok']
  local exp
  if ARGV[1] == '1' then
    exp = redis.call('PEXPIRETIME', key)
  else
    exp = redis.call('PTTL', key)
    if exp >= 0 then exp = now + exp end
  end
  local body = nil
  if ty == 'string' then
    if redis.call('STRLEN', key) <= maxb then body = {redis.call('GET', key)} end
  elseif ty == 'list' then
    if redis.call('LLEN', key) <= maxn then body = redis.call('LRANGE', key, 0, -1) end
  elseif ty == 'set' then
    if redis.call('SCARD', key) <= maxn then body = redis.call('SMEMBERS', key) end
  elseif ty == 'hash' then
    if redis.call('HLEN', key) <= maxn then body = redis.call('HGETALL', key) end
  elseif ty == 'zset' then
    if redis.call('ZCARD', key) <= maxn then body = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES') end
  end
  if body then out[i] = {ty, exp, body} else out[i] = {ty, exp} end
end
return out
`;
const SCRIPT_SHA = createHash('sha1').update(SCRIPT).digest('hex');

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

type Entry = [Buffer, number] | [Buffer, number, Buffer[]];

async function runScript(redis: Redis, keys: Buffer[], pexpiretime?: boolean): Promise<Entry[]> {
  const args = [(pexpiretime ?? (await hasPexpiretime(redis))) ? '1' : '0', String(SMALL_ELEMENTS), String(SMALL_STRING_BYTES)];
  try {
    return (await redis.callBuffer('EVALSHA', SCRIPT_SHA, keys.length, ...keys, ...args)) as Entry[];
  } catch (error) {
    if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
    return (await redis.callBuffer('EVAL', SCRIPT, keys.length, ...keys, ...args)) as Entry[];
  }
}

/** The digest of a key read whole, as digestKey computes it from its chunks. */
function digestOf(type: RedisType, expiresAt: number, content: Buffer[]): KeyDigest {
  switch (type) {
    case 'string': {
      const value = content[0] ?? Buffer.alloc(0);
      return { type, digest: createHash('sha256').update(value).digest('hex'), size: value.length, expiresAt };
    }
    case 'list': {
      const ordered = createHash('sha256');
      for (const item of content) ordered.update(`${item.length}:`).update(item);
      return { type, digest: ordered.digest('hex'), size: content.length, expiresAt };
    }
    default: {
      const set = new Multiset();
      if (type === 'set') for (const member of content) set.add(member);
      else if (type === 'hash') for (let i = 0; i < content.length; i += 2) set.add(content[i]!, content[i + 1]!);
      else for (let i = 0; i < content.length; i += 2) set.add(content[i]!, Buffer.from(String(Number(content[i + 1]!.toString()))));
      return { type, digest: set.value(), size: set.count, expiresAt };
    }
  }
}

/**
 * The digest of each key (undefined: no such key), in the order given: one EVAL for the
 * batch, then digestKey for the big ones, streams and other types.
 */
export async function digestBatch(
  redis: Redis,
  keys: Buffer[],
  options: { /** Tests: force the TIME + PTTL path of servers before 7.0. */ pexpiretime?: boolean } = {},
): Promise<(KeyDigest | undefined)[]> {
  if (keys.length === 0) return [];
  const entries = await runScript(redis, keys, options.pexpiretime);
  return Promise.all(
    entries.map(async (entry, i) => {
      const type = entry[0].toString() as RedisType;
      const expiresAt = Number(entry[1]);
      if (type === 'none' || expiresAt === -2) return undefined;
      if (entry.length === 3) return digestOf(type, expiresAt, entry[2]);
      return digestKey(redis, keys[i]!);
    }),
  );
}

/** Which of `keys` exist on `redis`, in order: one pipelined round trip. */
export async function existing(redis: Redis, keys: Buffer[]): Promise<boolean[]> {
  if (keys.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.exists(key);
  const results = (await pipeline.exec()) ?? [];
  return results.map(([error, count]) => {
    if (error) throw error;
    return count === 1;
  });
}

export interface KeyPair {
  key: Buffer;
  /** The key on the side scanned (undefined: gone since the SCAN). */
  from: KeyDigest | undefined;
  /** The key on the other side (undefined: not there). */
  to: KeyDigest | undefined;
}

/**
 * Every key of `from`'s database but those `skip` rejects, with its digest on both sides:
 * per SCAN page, batches of BATCH_KEYS keys, each digested on both sides at once, a few batches
 * in flight. `visit` gets each batch once both sides answered.
 */
export async function scanPairs(from: Redis, to: Redis, skip: (key: Buffer) => boolean, visit: (pairs: KeyPair[]) => Promise<void>): Promise<void> {
  await scanBatches(from, skip, async (keys) => {
    const [a, b] = await Promise.all([digestBatch(from, keys), digestBatch(to, keys)]);
    await visit(keys.map((key, i) => ({ key, from: a[i], to: b[i] })));
  });
}

/** Every key of the connection's database but those `skip` rejects, in batches of at most BATCH_KEYS, a few batches at a time. */
export async function scanBatches(redis: Redis, skip: (key: Buffer) => boolean, visit: (keys: Buffer[]) => Promise<void>): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = (await redis.scanBuffer(cursor, 'COUNT', 1000)) as unknown as [Buffer, Buffer[]];
    cursor = next.toString();
    const wanted = keys.filter((k) => !skip(k));
    const batches: Buffer[][] = [];
    for (let i = 0; i < wanted.length; i += BATCH_KEYS) batches.push(wanted.slice(i, i + BATCH_KEYS));
    for (let i = 0; i < batches.length; i += CONCURRENT_BATCHES) await Promise.all(batches.slice(i, i + CONCURRENT_BATCHES).map(visit));
  } while (cursor !== '0');
}
