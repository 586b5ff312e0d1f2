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
 * Copy `key` from source to target by type, in the target's dialect (HMSET before 4.0),
 * replacing what the target holds. Returns bytes moved, or VANISHED / EXPIRED when the source
 * key went away meanwhile: the target's key is then deleted (never written without its TTL).
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
        bytes = await copyStream(source, target, key, temp, targetVersion);
        break;
    }
    const pttl = await source.pttl(key);
    if (pttl === -2 || pttl === 0 || !(await target.exists(temp))) {
      // Gone on the source meanwhile (an empty collection is no key at all), or expiring this
      // very millisecond (PTTL 0; without its TTL it would live for ever): the key is replaced
      // by nothing, so an older copy on the target goes too.
      await target.del(temp, key);
      return pttl === 0 ? EXPIRED : VANISHED;
    }
    const expiresAt = pttl > 0 ? Date.now() + pttl : 0;
    // One transaction: a copier that dies in between never leaves the key without its expiry.
    const swap = target.multi().rename(temp, key);
    if (expiresAt > 0) swap.pexpireat(key, expiresAt);
    for (const [error] of (await swap.exec()) ?? []) if (error) throw error;
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

async function copyStream(source: Redis, target: Redis, key: Buffer, temp: Buffer, targetVersion: TargetVersion): Promise<number> {
  // Pending entries whose stream entry is gone (XDEL, or XTRIM past a slow consumer) cannot be
  // claimed into a copy: a placeholder entry with each such id goes in, in id order, so that
  // XCLAIM finds it, and is deleted once every pending entry is claimed.
  const pendingIds = await allPendingIds(source, key);
  const placeholders: string[] = [];
  let next = 0;
  const placeBefore = async (id: string | undefined) => {
    for (; next < pendingIds.length && (id === undefined || compareIds(pendingIds[next]!, id) <= 0); next++) {
      const pending = pendingIds[next]!;
      if (id !== undefined && compareIds(pending, id) === 0) continue;
      await target.xadd(temp, pending, PLACEHOLDER_FIELD, '1');
      placeholders.push(pending);
    }
  };
  let bytes = 0;
  let start = '-';
  for (;;) {
    const entries = (await source.xrangeBuffer(key, start, '+', 'COUNT', CHUNK)) as unknown as [Buffer, Buffer[]][];
    const fresh = start === '-' ? entries : entries.slice(1);
    for (const [id, fields] of fresh) {
      await placeBefore(id.toString());
      await target.xadd(temp, id, ...fields);
      bytes += fields.reduce((n, b) => n + b.length, 0);
    }
    if (entries.length < CHUNK) break;
    start = entries.at(-1)![0].toString();
  }
  await placeBefore(undefined);
  await copyStreamState(source, target, key, temp, targetVersion, placeholders);
  return bytes;
}

const PLACEHOLDER_FIELD = 'spin-elasticache:pending-placeholder';

/** Stream IDs in order (`ms-seq`, both 64-bit). */
function compareIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const ms = BigInt(am) - BigInt(bm);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(as) - BigInt(bs);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}

/** Every id pending in any group of the stream, sorted, once each. */
async function allPendingIds(source: Redis, key: Buffer): Promise<string[]> {
  const ids = new Set<string>();
  const groups = ((await source.call('XINFO', 'GROUPS', key)) as unknown[]).map(fields);
  for (const group of groups) {
    if (Number(group.pending ?? 0) === 0) continue;
    for (let start = '-'; ; ) {
      const page = (await source.call('XPENDING', key, String(group.name), start, '+', String(PENDING_PAGE))) as [string, string, number, number][];
      for (const [id] of page) ids.add(id);
      if (page.length < PENDING_PAGE) break;
      start = nextId(page.at(-1)![0]);
    }
  }
  return [...ids].sort(compareIds);
}

/** A flat [name, value, …] reply (XINFO) as a record. */
function fields(reply: unknown): Record<string, unknown> {
  const list = reply as unknown[];
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[String(list[i])] = list[i + 1];
  return out;
}

/** The stream ID right after `id` (XPENDING pages with an inclusive start before 6.2). */
function nextId(id: string): string {
  const [ms = '0', seq = '0'] = id.split('-');
  return `${ms}-${BigInt(seq) + 1n}`;
}

const PENDING_PAGE = 1000;

/**
 * What RESTORE would have kept and a copy by entries loses: the stream's last id (and, on 7.0+
 * targets, entries-added and max-deleted-id, which XINFO's lag needs), each consumer group
 * with its last-delivered id (and entries-read on 7.0+), its consumers (XGROUP CREATECONSUMER,
 * 6.2+) and its pending entries with their owner, idle time and delivery count (XCLAIM …
 * FORCE JUSTID, every version with streams). A pending entry no longer in the stream is
 * claimed through a placeholder entry (copyStream), deleted afterwards.
 */
async function copyStreamState(source: Redis, target: Redis, key: Buffer, temp: Buffer, targetVersion: TargetVersion, placeholders: string[]): Promise<void> {
  const stream = fields(await source.call('XINFO', 'STREAM', key));
  const lastId = String(stream['last-generated-id'] ?? '0-0');
  if (!(await target.exists(temp))) await target.xadd(temp, 'MAXLEN', '0', '*', 'x', 'x');
  const setId: string[] = [lastId];
  if (targetVersion.streamMetadata && stream['entries-added'] !== undefined)
    setId.push('ENTRIESADDED', String(stream['entries-added']), 'MAXDELETEDID', String(stream['max-deleted-entry-id'] ?? '0-0'));
  await target.call('XSETID', temp, lastId);
  const groups = ((await source.call('XINFO', 'GROUPS', key)) as unknown[]).map(fields);
  for (const group of groups) {
    const name = String(group.name);
    const create = ['CREATE', temp, name, String(group['last-delivered-id'])] as (string | Buffer)[];
    if (targetVersion.streamMetadata && group['entries-read'] !== undefined && group['entries-read'] !== null) create.push('ENTRIESREAD', String(group['entries-read']));
    await target.call('XGROUP', ...create);
    const consumers = ((await source.call('XINFO', 'CONSUMERS', key, name)) as unknown[]).map(fields);
    if (targetVersion.createConsumer) for (const consumer of consumers) await target.call('XGROUP', 'CREATECONSUMER', temp, name, String(consumer.name));
    for (let start = '-'; ; ) {
      const page = (await source.call('XPENDING', key, name, start, '+', String(PENDING_PAGE))) as [string, string, number, number][];
      const claims = target.pipeline();
      for (const [id, consumer, idle, deliveries] of page) claims.call('XCLAIM', temp, name, consumer, '0', id, 'IDLE', String(idle), 'RETRYCOUNT', String(deliveries), 'FORCE', 'JUSTID');
      if (page.length > 0) for (const [error] of (await claims.exec()) ?? []) if (error) throw error;
      if (page.length < PENDING_PAGE) break;
      start = nextId(page.at(-1)![0]);
    }
  }
  // The placeholders have served (XDEL keeps their pending entries); then the counters, which XDEL moved.
  for (let i = 0; i < placeholders.length; i += PENDING_PAGE) await target.xdel(temp, ...placeholders.slice(i, i + PENDING_PAGE));
  await target.call('XSETID', temp, ...setId);
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
