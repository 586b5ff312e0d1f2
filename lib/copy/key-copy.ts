/**
 * Copying one key by its type, in chunks: used for big keys (never loaded whole, never
 * DUMPed) and as the fallback when the target refuses a DUMP payload (a newer RDB version
 * on the source). The copy goes into a temporary key that is RENAMEd over the target key
 * at the end, so readers never see half a key.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { CURRENT_TARGET, type TargetVersion } from './restore-expiry.js';

const CHUNK = 1000;
/** Elements per *SCAN call for big collections. */
const SCAN_CHUNK = 5000;
const STRING_CHUNK = 1 << 20; // 1 MiB

export type RedisType = 'string' | 'list' | 'set' | 'zset' | 'hash' | 'stream' | 'none';

/** What copyKeyByType returns for a key that vanished meanwhile, and for one whose TTL ran out (PTTL 0 included). */
export const VANISHED = -1;
export const EXPIRED = -2;

/**
 * Copy `key` from source to target by type, in the target's dialect (HMSET before 4.0).
 * Returns bytes moved, VANISHED, or EXPIRED (never written without its TTL).
 */
export async function copyKeyByType(source: Redis, target: Redis, key: Buffer, type: RedisType, targetVersion: TargetVersion = CURRENT_TARGET): Promise<number> {
  if (type === 'none') return VANISHED;
  const temp = Buffer.from(`spin-elasticache:tmp:${randomBytes(8).toString('hex')}`);
  let bytes = 0;
  try {
    switch (type) {
      case 'string': {
        const length = await source.strlen(key);
        await target.set(temp, '');
        for (let offset = 0; offset < length; offset += STRING_CHUNK) {
          const chunk = await source.getrangeBuffer(key, offset, Math.min(length, offset + STRING_CHUNK) - 1);
          await target.append(temp, chunk);
          bytes += chunk.length;
        }
        break;
      }
      case 'list': {
        for (let start = 0; ; start += CHUNK) {
          const items = await source.lrangeBuffer(key, start, start + CHUNK - 1);
          if (items.length === 0) break;
          await target.rpush(temp, ...items);
          bytes += items.reduce((n, b) => n + b.length, 0);
          if (items.length < CHUNK) break;
        }
        break;
      }
      case 'set':
        bytes = await scanInto(source, key, 'sscanBuffer', async (items) => void (await target.sadd(temp, ...items)));
        break;
      case 'hash':
        bytes = await scanInto(source, key, 'hscanBuffer', async (items) => void (await (targetVersion.multiFieldHset ? target.hset(temp, ...items) : target.hmset(temp, ...items))));
        break;
      case 'zset':
        bytes = await scanInto(source, key, 'zscanBuffer', async (items) => {
          const args: (Buffer | string)[] = [];
          for (let i = 0; i < items.length; i += 2) args.push(items[i + 1]!.toString(), items[i]!);
          await target.zadd(temp, ...args);
        });
        break;
      case 'stream':
        bytes = await copyStream(source, target, key, temp);
        break;
    }
    const pttl = await source.pttl(key);
    if (pttl === -2 || pttl === 0) {
      // PTTL 0: the key expires this very millisecond; without its TTL it would live forever.
      await target.del(temp);
      return pttl === 0 ? EXPIRED : VANISHED;
    }
    const exists = await target.exists(temp);
    if (!exists) {
      // An empty collection is no key at all in Redis: the source key vanished meanwhile.
      await target.del(key);
      return VANISHED;
    }
    const expiresAt = pttl > 0 ? Date.now() + pttl : 0;
    await target.rename(temp, key);
    if (expiresAt > 0) await target.pexpireat(key, expiresAt);
    return bytes;
  } catch (error) {
    await target.del(temp).catch(() => undefined);
    throw error;
  }
}

type ScanMethod = 'sscanBuffer' | 'hscanBuffer' | 'zscanBuffer';

/** Read chunk N+1 while chunk N is being written: one write in flight bounds the memory. */
async function scanInto(source: Redis, key: Buffer, method: ScanMethod, write: (items: Buffer[]) => Promise<void>): Promise<number> {
  let cursor = '0';
  let bytes = 0;
  let writing: Promise<void> = Promise.resolve();
  do {
    const [next, items] = (await source[method](key, cursor, 'COUNT', SCAN_CHUNK)) as unknown as [Buffer, Buffer[]];
    cursor = next.toString();
    await writing;
    if (items.length > 0) {
      writing = write(items);
      bytes += items.reduce((n, b) => n + b.length, 0);
    }
  } while (cursor !== '0');
  await writing;
  return bytes;
}

async function copyStream(source: Redis, target: Redis, key: Buffer, temp: Buffer): Promise<number> {
  let bytes = 0;
  let start = '-';
  for (;;) {
    const entries = (await source.xrangeBuffer(key, start, '+', 'COUNT', CHUNK)) as unknown as [Buffer, Buffer[]][];
    const fresh = start === '-' ? entries : entries.slice(1);
    for (const [id, fields] of fresh) {
      await target.xadd(temp, id, ...fields);
      bytes += fields.reduce((n, b) => n + b.length, 0);
    }
    if (entries.length < CHUNK) break;
    start = entries.at(-1)![0].toString();
  }
  // Consumer groups: name and last-delivered id. Pending entries lists are not carried by a
  // type-based copy (only RESTORE keeps them); the README says so.
  const info = (await source.call('XINFO', 'GROUPS', key)) as unknown[][];
  const [streamInfo] = await Promise.all([source.call('XINFO', 'STREAM', key) as Promise<unknown[]>]);
  const lastId = String(streamInfo[streamInfo.indexOf('last-generated-id') + 1] ?? '0-0');
  if (!(await target.exists(temp))) await target.xadd(temp, 'MAXLEN', '0', '*', 'x', 'x');
  await target.call('XSETID', temp, lastId);
  for (const group of info) {
    const name = String(group[group.indexOf('name') + 1]);
    const delivered = String(group[group.indexOf('last-delivered-id') + 1]);
    await target.call('XGROUP', 'CREATE', temp, name, delivered);
  }
  return bytes;
}

/**
 * Merge a collection key into an existing target key without dropping what only the
 * target has: members are added; where both sides have a field or member, `sourceWins`
 * decides whose value stays. Used by the catch-up (source is newer) and the final
 * reconciliation (the target is the truth after the cutover).
 */
export async function mergeCollection(source: Redis, target: Redis, key: Buffer, type: 'hash' | 'set' | 'zset', sourceWins: boolean): Promise<number> {
  const method = type === 'set' ? 'sscanBuffer' : type === 'hash' ? 'hscanBuffer' : 'zscanBuffer';
  return scanInto(source, key, method, async (items) => {
    if (type === 'set') {
      await target.sadd(key, ...items);
      return;
    }
    const pipeline = target.pipeline();
    for (let i = 0; i < items.length; i += 2) {
      if (type === 'hash') {
        if (sourceWins) pipeline.hset(key, items[i]!, items[i + 1]!);
        else pipeline.hsetnx(key, items[i]!, items[i + 1]!);
      } else if (sourceWins) pipeline.zadd(key, items[i + 1]!.toString(), items[i]!);
      else pipeline.zadd(key, 'NX', items[i + 1]!.toString(), items[i]!);
    }
    await pipeline.exec();
  });
}
