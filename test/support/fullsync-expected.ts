/**
 * The datasets of the full-sync recordings (test/fixtures/redis-fullsync/<server>/expected.json)
 * as canonical values, read back from a live server the same way, and compared key by key:
 * type, value, TTL present or absent (TTL values depend on when a recording is replayed).
 * Also loads such a dataset into a real server (the replay master's backing, a reference
 * for the project's own verification).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { FIXTURES, type RecordingName } from './replay-master.js';

export type Canonical = { type: string; ttl: 'none' | 'set'; value: unknown };
/** db → base64 key → canonical value. */
export type Dataset = Map<number, Map<string, Canonical>>;

export function loadExpected(name: RecordingName): Dataset {
  const json = JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as { dbs: Record<string, Record<string, Canonical>> };
  const out: Dataset = new Map();
  for (const [db, keys] of Object.entries(json.dbs)) out.set(Number(db), new Map(Object.entries(keys).map(([k, v]) => [k, normalise(v)])));
  return out;
}

const score = (s: string) => {
  const n = s === 'inf' || s === '+inf' ? Infinity : s === '-inf' ? -Infinity : Number(s);
  return String(n);
};
const byFirst = (a: unknown[], b: unknown[]) => (String(a[0]) < String(b[0]) ? -1 : String(a[0]) > String(b[0]) ? 1 : 0);

/** One form for both sides: sets and hashes sorted, scores as numbers, stream groups reduced to what every version reports. */
function normalise(v: Canonical): Canonical {
  switch (v.type) {
    case 'set':
      return { ...v, value: [...(v.value as string[])].sort() };
    case 'hash':
      return { ...v, value: [...(v.value as [string, string][])].sort(byFirst) };
    case 'zset':
      return { ...v, value: (v.value as [string, string][]).map(([m, s]) => [m, score(s)]).sort(byFirst) };
    case 'stream': {
      const { entries, groups } = v.value as { entries: unknown[]; groups: string[][] };
      const reduced = groups
        .map((g) => {
          const field = (name: string) => g[g.indexOf(name) + 1];
          return { name: field('name'), consumers: String(field('consumers')), pending: String(field('pending')), lastDelivered: field('last-delivered-id') };
        })
        .sort((a, b) => String(a.name).localeCompare(String(b.name)));
      return { ...v, value: { entries, groups: reduced } };
    }
    default:
      return v;
  }
}

const b64 = (b: Buffer) => b.toString('base64');

/** Every key of every database with keys, read as expected.json describes them. */
export async function readDataset(redis: Redis): Promise<Dataset> {
  const info = await redis.info('keyspace');
  const dbs = [...info.matchAll(/^db(\d+):keys=/gm)].map((m) => Number(m[1]));
  const out: Dataset = new Map();
  for (const db of dbs) {
    await redis.select(db);
    const keys = new Map<string, Canonical>();
    let cursor = '0';
    do {
      const [next, batch] = (await redis.scanBuffer(cursor, 'COUNT', 1000)) as unknown as [Buffer, Buffer[]];
      cursor = next.toString();
      for (const key of batch) {
        const c = await readKey(redis, key);
        if (c) keys.set(b64(key), c);
      }
    } while (cursor !== '0');
    if (keys.size > 0) out.set(db, keys);
  }
  await redis.select(0);
  return out;
}

async function readKey(redis: Redis, key: Buffer): Promise<Canonical | undefined> {
  const type = await redis.type(key);
  const pttl = await redis.pttl(key);
  if (type === 'none' || pttl === -2) return undefined;
  const ttl = pttl >= 0 ? 'set' : 'none';
  switch (type) {
    case 'string':
      return { type, ttl, value: b64((await redis.getBuffer(key))!) };
    case 'list':
      return { type, ttl, value: (await redis.lrangeBuffer(key, 0, -1)).map(b64) };
    case 'set':
      return normalise({ type, ttl, value: (await redis.smembersBuffer(key)).map(b64) });
    case 'hash': {
      const flat = (await redis.callBuffer('HGETALL', key)) as Buffer[];
      const pairs: [string, string][] = [];
      for (let i = 0; i < flat.length; i += 2) pairs.push([b64(flat[i]!), b64(flat[i + 1]!)]);
      return normalise({ type, ttl, value: pairs });
    }
    case 'zset': {
      const flat = await redis.zrangeBuffer(key, '0', '-1', 'WITHSCORES');
      const pairs: [string, string][] = [];
      for (let i = 0; i < flat.length; i += 2) pairs.push([b64(flat[i]!), flat[i + 1]!.toString()]);
      return normalise({ type, ttl, value: pairs });
    }
    case 'stream': {
      const entries = ((await redis.callBuffer('XRANGE', key, '-', '+')) as [Buffer, Buffer[]][]).map(([id, fields]) => [id.toString(), fields.map(b64)]);
      const groups = ((await redis.call('XINFO', 'GROUPS', key)) as unknown[][]).map((g) => g.map(String));
      return normalise({ type, ttl, value: { entries, groups } });
    }
    default:
      return { type, ttl, value: `unsupported type ${type}` };
  }
}

/** Differences, one line each ("db0 'key': …"); empty when equal. */
export function diffDatasets(expected: Dataset, actual: Dataset, max = 30): string[] {
  const out: string[] = [];
  const name = (db: number, k: string) => `db${db} ${JSON.stringify(Buffer.from(k, 'base64').toString('latin1'))}`;
  for (const db of new Set([...expected.keys(), ...actual.keys()])) {
    const e = expected.get(db) ?? new Map<string, Canonical>();
    const a = actual.get(db) ?? new Map<string, Canonical>();
    for (const [k, ev] of e) {
      const av = a.get(k);
      if (!av) out.push(`${name(db, k)}: missing (expected ${ev.type})`);
      else if (av.type !== ev.type) out.push(`${name(db, k)}: type ${av.type}, expected ${ev.type}`);
      else if (JSON.stringify(av.value) !== JSON.stringify(ev.value))
        out.push(`${name(db, k)}: value differs (${JSON.stringify(av.value).slice(0, 120)} vs expected ${JSON.stringify(ev.value).slice(0, 120)})`);
      else if (av.ttl !== ev.ttl) out.push(`${name(db, k)}: ttl ${av.ttl}, expected ${ev.ttl}`);
    }
    for (const [k, av] of a) if (!e.has(k)) out.push(`${name(db, k)}: extra (${av.type})`);
  }
  return out.slice(0, max);
}

/**
 * Writes a dataset into a server (flushed first). Keys with a TTL get one hour. Streams are
 * rebuilt with their entries and, per group, as many deliveries and acks as give the
 * recorded pending count and last-delivered id (one consumer, `c1` as in the recordings).
 * `entriesReadUnknown`: the recording's RDB predates entries-read (before 7.0), so a 7.x
 * server loading it reports none; the backing then reports none either.
 */
export async function writeDataset(redis: Redis, dataset: Dataset, options: { entriesReadUnknown?: boolean } = {}): Promise<void> {
  await redis.flushall();
  for (const [db, keys] of dataset) {
    await redis.select(db);
    for (const [k, c] of keys) {
      const key = Buffer.from(k, 'base64');
      const bytes = (s: string) => Buffer.from(s, 'base64');
      switch (c.type) {
        case 'string':
          await redis.set(key, bytes(c.value as string));
          break;
        case 'list':
          await redis.rpush(key, ...(c.value as string[]).map(bytes));
          break;
        case 'set':
          await redis.sadd(key, ...(c.value as string[]).map(bytes));
          break;
        case 'hash':
          for (const [f, v] of c.value as [string, string][]) await redis.hset(key, bytes(f), bytes(v));
          break;
        case 'zset':
          for (const [m, s] of c.value as [string, string][]) await redis.zadd(key, s === 'Infinity' ? '+inf' : s === '-Infinity' ? '-inf' : s, bytes(m));
          break;
        case 'stream': {
          const { entries, groups } = c.value as { entries: [string, string[]][]; groups: { name: string; consumers: string; pending: string; lastDelivered: string }[] };
          for (const [id, fields] of entries) await redis.xadd(key, id, ...fields.map(bytes));
          for (const g of groups) {
            await redis.xgroup('CREATE', key, g.name, '0');
            const delivered = entries.filter(([id]) => compareIds(id, g.lastDelivered) <= 0).map(([id]) => id);
            if (delivered.length > 0) await redis.xreadgroup('GROUP', g.name, 'c1', 'COUNT', delivered.length, 'STREAMS', key, '>');
            const acked = delivered.slice(0, delivered.length - Number(g.pending));
            if (acked.length > 0) await redis.xack(key, g.name, ...acked);
            if (options.entriesReadUnknown) await redis.call('XGROUP', 'SETID', key, g.name, g.lastDelivered, 'ENTRIESREAD', '-1');
          }
          break;
        }
        default:
          throw new Error(`writeDataset: type ${c.type}`);
      }
      if (c.ttl === 'set') await redis.pexpire(key, 3_600_000);
    }
  }
  await redis.select(0);
}

function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}
