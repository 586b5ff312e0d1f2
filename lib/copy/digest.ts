/**
 * A normalised structural digest of a key, comparable across servers and versions (DUMP
 * bytes are not: hash-table order and encodings differ). Unordered types use an
 * order-independent multiset hash, so big keys are read in chunks, never whole.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisType } from './key-copy.js';

const CHUNK = 1000;
const MASK = (1n << 64n) - 1n;

export interface KeyDigest {
  type: RedisType;
  digest: string;
  /** Elements (or bytes for strings). */
  size: number;
  /** Absolute expiry in epoch ms, or -1 for none. */
  expiresAt: number;
  /**
   * Streams: the digest's parts, by what a reader would call them ("entries", "group g: last
   * delivered id", …), so a mismatch can say which one differs.
   */
  parts?: Record<string, string>;
}

/**
 * Counters only Redis 7.0+ keeps (XINFO's entries-added, max-deleted-entry-id, a group's
 * entries-read): a 5.0/6.2 server reports none, and a 7.0 server that received the stream from
 * one derives its own, so they are compared only where both sides report them.
 */
const sinceRedis7 = (part: string) => part === 'entries-added' || part === 'max-deleted-entry-id' || part.endsWith(': entries read');

/** The parts of two stream digests that differ, in words. */
export function streamDifferences(source: KeyDigest, target: KeyDigest): string[] {
  const names = [...new Set([...Object.keys(source.parts ?? {}), ...Object.keys(target.parts ?? {})])].sort();
  return names
    .filter((n) => !(sinceRedis7(n) && (source.parts?.[n] === undefined || target.parts?.[n] === undefined)))
    .filter((n) => source.parts?.[n] !== target.parts?.[n])
    .map((n) => `${n}: ${source.parts?.[n] ?? 'none'} on the source, ${target.parts?.[n] ?? 'none'} on the target`);
}

/** Same content: the digests, or for streams every part both servers can report. */
export function sameContent(source: KeyDigest, target: KeyDigest): boolean {
  if (source.type !== target.type) return false;
  if (source.type === 'stream' && source.parts && target.parts) return streamDifferences(source, target).length === 0;
  return source.digest === target.digest;
}

function h64(...parts: Buffer[]): bigint {
  const hash = createHash('sha256');
  for (const p of parts) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(p.length);
    hash.update(len).update(p);
  }
  return hash.digest().readBigUInt64BE(0);
}

export class Multiset {
  sum = 0n;
  count = 0;
  add(...parts: Buffer[]): void {
    this.sum = (this.sum + h64(...parts)) & MASK;
    this.count++;
  }
  value(): string {
    return `${this.count}:${this.sum.toString(16)}`;
  }
}

let hasPexpiretime = true;

/** Absolute expiry in ms (-1 none, -2 gone), by the server's clock: PEXPIRETIME (Redis 7+), else TIME + PTTL atomically. */
export async function absoluteExpiry(redis: Redis, key: Buffer): Promise<number> {
  if (hasPexpiretime) {
    try {
      return await redis.pexpiretime(key);
    } catch {
      hasPexpiretime = false;
    }
  }
  const [seconds, micros, pttl] = (await redis.eval("local t = redis.call('TIME') return {t[1], t[2], redis.call('PTTL', KEYS[1])}", 1, key)) as [string, string, number];
  return pttl < 0 ? pttl : Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) + pttl;
}

export async function digestKey(redis: Redis, key: Buffer): Promise<KeyDigest | undefined> {
  const type = (await redis.type(key)) as RedisType;
  if (type === 'none') return undefined;
  const expiresAt = await absoluteExpiry(redis, key);
  if (expiresAt === -2) return undefined;
  const ordered = createHash('sha256');
  const set = new Multiset();
  let size = 0;
  switch (type) {
    case 'string': {
      const length = await redis.strlen(key);
      for (let offset = 0; offset < length; offset += 1 << 20) ordered.update(await redis.getrangeBuffer(key, offset, Math.min(length, offset + (1 << 20)) - 1));
      size = length;
      return { type, digest: ordered.digest('hex'), size, expiresAt };
    }
    case 'list': {
      for (let start = 0; ; start += CHUNK) {
        const items = await redis.lrangeBuffer(key, start, start + CHUNK - 1);
        for (const item of items) ordered.update(`${item.length}:`).update(item);
        size += items.length;
        if (items.length < CHUNK) break;
      }
      return { type, digest: ordered.digest('hex'), size, expiresAt };
    }
    case 'stream': {
      let start = '-';
      for (;;) {
        const entries = (await redis.xrangeBuffer(key, start, '+', 'COUNT', CHUNK)) as unknown as [Buffer, Buffer[]][];
        const fresh = start === '-' ? entries : entries.slice(1);
        for (const [id, fields] of fresh) {
          ordered.update(id).update(`/${fields.length}/`);
          for (const f of fields) ordered.update(`${f.length}:`).update(f);
        }
        size += fresh.length;
        if (entries.length < CHUNK) break;
        start = entries.at(-1)![0].toString();
      }
      const parts: Record<string, string> = { entries: `${size} (sha256 ${ordered.copy().digest('hex').slice(0, 12)})` };
      Object.assign(parts, await streamState(redis, key));
      for (const name of Object.keys(parts).sort()) ordered.update(`${name}=${parts[name]}\n`);
      return { type, digest: ordered.digest('hex'), size, expiresAt, parts };
    }
    case 'set':
    case 'hash':
    case 'zset': {
      const method = type === 'set' ? 'sscanBuffer' : type === 'hash' ? 'hscanBuffer' : 'zscanBuffer';
      const step = type === 'set' ? 1 : 2;
      let cursor = '0';
      const seen = new Set<string>();
      do {
        const [next, items] = (await redis[method](key, cursor, 'COUNT', CHUNK)) as unknown as [Buffer, Buffer[]];
        cursor = next.toString();
        for (let i = 0; i < items.length; i += step) {
          // SCAN may return an element twice; count each once.
          const id = items[i]!.toString('base64');
          if (seen.has(id)) continue;
          seen.add(id);
          if (type === 'zset') set.add(items[i]!, Buffer.from(String(Number(items[i + 1]!.toString()))));
          else if (type === 'hash') set.add(items[i]!, items[i + 1]!);
          else set.add(items[i]!);
        }
      } while (cursor !== '0');
      return { type, digest: set.value(), size: set.count, expiresAt };
    }
    default:
      return { type, digest: 'unsupported', size: 0, expiresAt };
  }
}

/** `[k1, v1, k2, v2, …]` (RESP2 maps) as an object. */
function fieldsOf(reply: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (Array.isArray(reply)) for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = reply[i + 1];
  return out;
}

/**
 * A stream's consumer state, by part: the stream's last id and (7.0+) entries-added and
 * max-deleted-entry-id; per group its last-delivered id, entries-read (7.0+) and pending
 * count; per consumer its pending count; per pending entry its owner and delivery count
 * (idle times differ by nature and are not compared). A field the server does not report is
 * left out on both sides of the same server version.
 */
async function streamState(redis: Redis, key: Buffer): Promise<Record<string, string>> {
  const parts: Record<string, string> = {};
  const info = fieldsOf(await redis.call('XINFO', 'STREAM', key));
  for (const field of ['last-generated-id', 'entries-added', 'max-deleted-entry-id']) if (info[field] !== undefined) parts[field] = String(info[field]);
  const groups = ((await redis.call('XINFO', 'GROUPS', key)) as unknown[]).map(fieldsOf);
  for (const g of groups) {
    const group = String(g.name);
    parts[`group ${group}: last delivered id`] = String(g['last-delivered-id']);
    parts[`group ${group}: pending`] = String(g.pending);
    // None (nil) when the server cannot know it (loaded from an RDB before 7.0), as a 6.x server reports none.
    if (g['entries-read'] !== undefined && g['entries-read'] !== null) parts[`group ${group}: entries read`] = String(g['entries-read']);
    const consumers = ((await redis.call('XINFO', 'CONSUMERS', key, group)) as unknown[]).map(fieldsOf);
    parts[`group ${group}: consumers`] =
      consumers
        .map((c) => `${String(c.name)}(${String(c.pending)})`)
        .sort()
        .join(' ') || 'no consumer';
    const pel = createHash('sha256');
    let start = '-';
    for (;;) {
      // [id, consumer, idle ms, delivery count]; pages overlap by one id (exclusive ranges need 6.2).
      const page = (await redis.call('XPENDING', key, group, start, '+', CHUNK)) as [string, string, number, number][];
      for (const [id, consumer, , deliveries] of page) if (start === '-' || id !== start) pel.update(`${id} ${consumer} ${deliveries}\n`);
      if (page.length < CHUNK) break;
      start = page.at(-1)![0];
    }
    parts[`group ${group}: pending entries (owner, deliveries)`] = `sha256 ${pel.digest('hex').slice(0, 12)}`;
  }
  return parts;
}
