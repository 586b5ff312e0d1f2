/**
 * The batched reads of lib/copy/compare.ts: equal keys get equal digests on both sides whatever
 * their order, encoding or expiry command, with the type, size and expiry digestKey gives; a
 * difference anywhere (small keys, and the last chunk of big ones) changes the digest; gone keys
 * are "no such key"; strict verification and reconciliation built on them still find every kind
 * of difference.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { digestPairs, existing } from '../../../lib/copy/compare.js';
import { digestKey } from '../../../lib/copy/digest.js';
import { hashTablePayloadElements } from '../../../lib/copy/replication/rdb-splitter.js';
import { reconcile } from '../../../lib/copy/reconcile.js';
import { verifyCopy } from '../../../lib/copy/verify.js';
import { useRedisPair } from '../../support/redis-pair.js';

const pair = useRedisPair('compare-');
let src: Redis;
let dst: Redis;
beforeAll(() => void ({ src, dst } = pair));

/** The same data on either side, written in another order (and so, with other encodings, another layout) when `reversed`. */
async function seed(redis: Redis, reversed = false): Promise<Buffer[]> {
  const many = (n: number, f: (i: number) => string) => {
    const items = Array.from({ length: n }, (_, i) => f(i));
    return reversed ? items.reverse() : items;
  };
  await redis.set('s:small', 'value');
  await redis.set('s:empty', '');
  await redis.set('s:big', 'x'.repeat(300_000));
  await redis.set(Buffer.from([0xff, 0x00, 0x01]), Buffer.from([0x00, 0xfe]));
  await redis.set('s:ttl', 'v', 'PX', 600_000);
  await redis.rpush('l:small', 'a', 'b', 'a');
  await redis.rpush('l:big', ...Array.from({ length: 1500 }, (_, i) => `item-${i}`));
  await redis.sadd('set:small', ...many(3, (i) => `x${i}`));
  await redis.sadd('set:big', ...many(700, (i) => `m-${i}`));
  for (const f of many(2, (i) => `f${i}`)) await redis.hset('h:small', f, f === 'f1' ? Buffer.from([0x00, 0x80]) : 'v');
  for (const f of many(400, (i) => `f-${i}`)) await redis.hset('h:big', f, `v-${f}`);
  await redis.pexpire('h:big', 900_000);
  for (const [score, member] of reversed
    ? [
        ['0.1', 'e'],
        [1e-7, 'd'],
        [0, 'c'],
        ['-inf', 'b'],
        [1.5, 'a'],
      ]
    : [
        [1.5, 'a'],
        ['-inf', 'b'],
        [0, 'c'],
        [1e-7, 'd'],
        ['0.1', 'e'],
      ])
    await redis.zadd('z:small', score!, member!);
  await redis.zadd('z:big', ...many(600, (i) => String(i)).flatMap((i) => [String(Number(i) / 3), `z-${i}`]));
  await redis.xadd('x:stream', '1-1', 'f', 'v');
  return (await redis.keysBuffer('*')).sort(Buffer.compare).concat([Buffer.from('gone')]);
}

describe('digestPairs', () => {
  it('gives equal keys equal digests whatever their order and encoding, with or without PEXPIRETIME, and the type, size and expiry digestKey gives', async () => {
    // The target stores small hashes, sets and sorted sets as hash tables and skiplists.
    for (const setting of ['hash-max-listpack-entries', 'set-max-intset-entries', 'zset-max-listpack-entries']) await dst.config('SET', setting, '0');
    const keys = await seed(src);
    expect(await seed(dst, true)).toEqual(keys);
    const pairs = await digestPairs(src, dst, keys, { from: { pexpiretime: true }, to: { pexpiretime: false } });
    const [a, b] = [pairs.map((p) => p.from), pairs.map((p) => p.to)];
    const one = await Promise.all(keys.map((k) => digestKey(src, k)));
    for (const [i, key] of keys.entries()) {
      const name = key.toString('hex');
      const [s, t, expected] = [a[i], b[i], one[i]];
      if (!expected) {
        expect({ name, s, t }).toEqual({ name, s: undefined, t: undefined });
        continue;
      }
      expect({ name, digest: t!.digest, type: t!.type, size: t!.size }).toEqual({ name, digest: s!.digest, type: expected.type, size: expected.size });
      expect({ name, type: s!.type, size: s!.size }).toEqual({ name, type: expected.type, size: expected.size });
      // TIME + PTTL and PEXPIRETIME agree to PTTL's millisecond rounding (and the seeding's gap).
      if (expected.expiresAt < 0) expect([s!.expiresAt, t!.expiresAt]).toEqual([expected.expiresAt, expected.expiresAt]);
      else expect(Math.abs(s!.expiresAt - expected.expiresAt) + Math.abs(t!.expiresAt - s!.expiresAt)).toBeLessThanOrEqual(1000);
    }
    // Small keys digested by the server (those in another order on the target by the multiset
    // digest; hash tables on both sides compared by their DUMP payloads), big ones by the server
    // in chunks (set:big by SSCAN pages), the stream by digestKey.
    const kinds = Object.fromEntries(pairs.map((p) => [p.key.toString('hex'), p.from?.digest.replace(/:.*/, '')]));
    expect(Object.values(kinds).filter((k) => k === 'sha1' || k === 'multiset' || k === 'table').length).toBe(10);
    expect(Object.values(kinds).filter((k) => k === 'chunks').length).toBe(3);
    // 400 fields compact on the source only, in another order (a 2-field hash may come back in
    // the same order by chance); a set of strings, a hash table on both sides (Redis 7.0).
    const kind = (name: string) => kinds[Buffer.from(name).toString('hex')];
    expect([kind('h:big'), kind('set:small'), kind('s:small')]).toEqual(['multiset', 'table', 'sha1']);
    for (const setting of ['hash-max-listpack-entries', 'set-max-intset-entries', 'zset-max-listpack-entries']) await dst.config('SET', setting, '128');
  });

  it('gives a different digest when one element, field value or score differs', async () => {
    await src.rpush('l', 'a', 'b');
    await dst.rpush('l', 'b', 'a');
    await src.sadd('set', 'a', 'b');
    await dst.sadd('set', 'a', 'c');
    await src.hset('h', 'f', 'v', 'g', 'w');
    await dst.hset('h', 'f', 'w', 'g', 'v');
    await src.zadd('z', 1, 'a', 2, 'b');
    await dst.zadd('z', 1, 'a', 2.0000001, 'b');
    await src.set('s', 'ab');
    await dst.set('s', 'ba');
    // Big ones, digested by the server in chunks: a change in the last chunk.
    const items = Array.from({ length: 2500 }, (_, i) => `i-${i}`);
    await src.rpush('l:big', ...items);
    await dst.rpush('l:big', ...items.slice(0, -1), 'changed');
    await src.zadd('z:big', ...items.flatMap((m, i) => [String(i), m]));
    await dst.zadd('z:big', ...items.flatMap((m, i) => [String(i === 2499 ? 2499.5 : i), m]));
    await src.set('s:big', Buffer.alloc(3 << 20, 1));
    await dst.set('s:big', Buffer.concat([Buffer.alloc((3 << 20) - 1, 1), Buffer.from([2])]));
    // Big sets and hashes, digested by the server an SSCAN/HSCAN page at a time: one member, one value.
    await src.sadd('set:big', ...items);
    await dst.sadd('set:big', ...items.slice(0, -1), 'changed');
    await src.hset('h:big', ...items.flatMap((f) => [f, 'v']));
    await dst.hset('h:big', ...items.flatMap((f, i) => [f, i === 1234 ? 'w' : 'v']));
    const keys = ['l', 'set', 'h', 'z', 's', 'l:big', 'z:big', 's:big', 'set:big', 'h:big'].map((k) => Buffer.from(k));
    const pairs = await digestPairs(src, dst, keys);
    expect(pairs.filter((p) => p.from!.digest === p.to!.digest).map((p) => String(p.key))).toEqual([]);
    expect(pairs.slice(-5).map((p) => p.from!.digest.replace(/:.*/, ''))).toEqual(['chunks', 'chunks', 'chunks', 'multiset', 'multiset']);
  });

  it('digests big sets and hashes on the server, page by page, equal across hash-table order and compact encodings', async () => {
    // The target keeps them compact (an intset, a listpack/ziplist of 3000 entries: one HSCAN page), the source as hash tables.
    await dst.config('SET', 'set-max-intset-entries', '5000');
    await dst.config('SET', 'hash-max-ziplist-entries', '5000');
    const members = Array.from({ length: 3000 }, (_, i) => String(i * 7));
    await src.sadd('set:ints', ...members);
    await dst.sadd('set:ints', ...[...members].reverse());
    await src.hset('h:huge', ...members.flatMap((m) => [`f${m}`, `value ${m}`]));
    await dst.hset('h:huge', ...[...members].reverse().flatMap((m) => [`f${m}`, `value ${m}`]));
    expect([await src.object('ENCODING', 'set:ints'), await dst.object('ENCODING', 'set:ints')]).toEqual(['hashtable', 'intset']);
    const keys = ['set:ints', 'h:huge'].map((k) => Buffer.from(k));
    const pairs = await digestPairs(src, dst, keys);
    for (const { key, from, to } of pairs) {
      expect({ key: String(key), digest: from!.digest, size: from!.size }).toEqual({ key: String(key), digest: to!.digest, size: 3000 });
      expect(from!.digest).toMatch(/^multiset:3000:[0-9a-f]+$/);
    }
    const whole = await digestKey(src, keys[0]!);
    expect(whole).toMatchObject({ type: 'set', size: 3000 });
    await dst.config('SET', 'set-max-intset-entries', '512');
    await dst.config('SET', 'hash-max-ziplist-entries', '128');
  });

  describe('sets and hashes kept as hash tables, compared by their DUMP payloads', () => {
    /** Hash tables on both sides, whatever their size: what orca's executions are. */
    const asHashTables = async (redis: Redis, value: string) => {
      await redis.config('SET', 'hash-max-listpack-entries', value);
      await redis.config('SET', 'set-max-intset-entries', value);
    };
    const kindOf = (p: { from?: { digest: string } | undefined }) => p.from?.digest.replace(/:.*/, '');
    const fields = Array.from({ length: 40 }, (_, i) => `stage.${i}.context`);
    const json = (i: number) => JSON.stringify({ stage: i, outputs: { text: 'the same words, again and again '.repeat(4) } });

    it('equal whatever the order the tables are walked in; a changed value, a missing field, another member differ', async () => {
      for (const r of [src, dst]) await asHashTables(r, '0');
      for (const [r, order] of [
        [src, fields],
        [dst, [...fields].reverse()],
      ] as const) {
        for (const f of order) await r.hset('h:equal', f, json(fields.indexOf(f)));
        for (const f of order) await r.hset('h:value', f, json(fields.indexOf(f)));
        for (const f of order) await r.hset('h:field', f, json(fields.indexOf(f)));
        await r.sadd('set:ints', ...order.map((f) => String(fields.indexOf(f) * 1000)));
        await r.sadd('set:member', ...order);
      }
      await dst.hset('h:value', 'stage.7.context', json(8));
      await dst.hdel('h:field', 'stage.39.context');
      await dst.hset('h:field', 'stage.40.context', json(39));
      await dst.srem('set:member', 'stage.3.context');
      await dst.sadd('set:member', 'stage.3.Context');
      expect(await dst.object('ENCODING', 'set:ints')).toBe('hashtable');
      const keys = ['h:equal', 'set:ints', 'h:value', 'h:field', 'set:member'].map((k) => Buffer.from(k));
      // The tables are walked in another order on each side: the payloads differ byte for byte.
      expect((await src.dumpBuffer('h:equal'))!.equals((await dst.dumpBuffer('h:equal'))!)).toBe(false);
      const pairs = await digestPairs(src, dst, keys);
      expect(pairs.map((p) => [String(p.key), kindOf(p), p.from!.digest === p.to!.digest])).toEqual([
        ['h:equal', 'table', true],
        ['set:ints', 'table', true],
        ['h:value', 'table', false],
        ['h:field', 'table', false],
        ['set:member', 'table', false],
      ]);
      for (const r of [src, dst]) await asHashTables(r, '512');
    });

    it('equal when one server compresses its payloads with LZF and the other does not (compared decoded)', async () => {
      for (const r of [src, dst]) await asHashTables(r, '0');
      await src.config('SET', 'rdbcompression', 'no');
      for (const f of fields) await src.hset('h', f, json(fields.indexOf(f)));
      for (const f of [...fields].reverse()) await dst.hset('h', f, json(fields.indexOf(f)));
      const elements = async (r: Redis) => hashTablePayloadElements((await r.dumpBuffer('h'))!)!.elements.sort(Buffer.compare);
      // Not even the elements' encodings are alike: the comparison has to decode them.
      const [a, b] = [await elements(src), await elements(dst)];
      expect(a.filter((e, i) => !e.equals(b[i]!)).length).toBeGreaterThan(0);
      const [pair] = await digestPairs(src, dst, [Buffer.from('h')]);
      expect([kindOf(pair!), pair!.from!.digest === pair!.to!.digest]).toEqual(['table', true]);
      await dst.hset('h', 'stage.0.context', json(1));
      const [changed] = await digestPairs(src, dst, [Buffer.from('h')]);
      expect(changed!.from!.digest === changed!.to!.digest).toBe(false);
      await src.config('SET', 'rdbcompression', 'yes');
      for (const r of [src, dst]) await asHashTables(r, '512');
    });

    it('past 4 MB of payloads in one batch the rest go by the multiset digest, still equal', async () => {
      // Ten hashes of about 700 KB each (incompressible), alike on both sides but for their order.
      const values = Array.from({ length: 100 }, () => randomBytes(7000));
      const keys = Array.from({ length: 10 }, (_, i) => Buffer.from(`big-${i}`));
      for (const key of keys) {
        await src.hset(key, ...values.flatMap((v, i) => [`f${i}`, v]));
        await dst.hset(
          key,
          ...values
            .map((v, i) => [`f${i}`, v] as const)
            .reverse()
            .flat(),
        );
      }
      expect(await src.object('ENCODING', 'big-0')).toBe('hashtable');
      const pairs = await digestPairs(src, dst, keys);
      expect(pairs.filter((p) => p.from!.digest !== p.to!.digest).map((p) => String(p.key))).toEqual([]);
      const kinds = pairs.map(kindOf);
      expect([kinds.includes('table'), kinds.includes('multiset')]).toEqual([true, true]);
    });

    it('reads no payload it does not know: compact encodings, a cut payload', async () => {
      await src.hset('compact', 'f', 'v');
      await src.hset('table', ...fields.flatMap((f) => [f, json(1)]));
      await src.config('SET', 'hash-max-listpack-entries', '0');
      await src.hset('table', 'one-more', 'v');
      await src.config('SET', 'hash-max-listpack-entries', '512');
      const table = (await src.dumpBuffer('table'))!;
      expect(hashTablePayloadElements(table)).toMatchObject({ type: 'hash', elements: { length: 41 } });
      expect(hashTablePayloadElements((await src.dumpBuffer('compact'))!)).toBeUndefined();
      expect(hashTablePayloadElements(table.subarray(0, 200))).toBeUndefined();
    });
  });

  it('existing: one flag per key, in order', async () => {
    await src.set('a', '1');
    await expect(existing(src, [Buffer.from('a'), Buffer.from('b')])).resolves.toEqual([true, false]);
  });
});

describe('verification and reconciliation on the batched reads', () => {
  it('strict verification finds missing, extra, type, value and TTL differences, in small and big keys', async () => {
    await seed(src);
    await seed(dst);
    await dst.del('s:small');
    await dst.set('only-target', '1');
    await dst.del('l:small');
    await dst.sadd('l:small', 'a');
    await dst.hset('h:big', 'f-1', 'changed');
    await dst.zadd('z:small', 2, 'a');
    await dst.pexpire('s:big', 300_000);
    const report = await verifyCopy({ url: pair.source.url }, { url: pair.target.url }, { mode: 'strict' });
    expect(report).toMatchObject({ ok: false, missing: 1, extra: 1, typeMismatches: 1, valueMismatches: 2, ttlMismatches: 1 });
    expect(report.examples.map((e) => `${e.kind} ${e.key}: ${e.detail}`).sort()).toEqual([
      'extra only-target: string only on the target',
      'missing s:small: string missing on the target',
      expect.stringMatching(/^ttl s:big: expires never on the source, \d{4}-.* on the target$/),
      'type l:small: list on the source, set on the target',
      'value h:big: hash: 400 element(s) on the source, 400 on the target',
      'value z:small: zset: 5 element(s) on the source, 5 on the target',
    ]);
  });

  it('the mirror reconciliation copies what is missing, replaces what differs, deletes what the source lacks and leaves equal keys alone', async () => {
    await seed(src);
    await seed(dst);
    await dst.del('s:small', 'l:big');
    await dst.hdel('h:big', 'f-3');
    await dst.hset('h:big', 'only-on-target', 'x');
    await dst.set('s:ttl', 'newer');
    await dst.set('extra', 'gone on the source');
    const stats = await reconcile({ url: pair.source.url }, { url: pair.target.url });
    expect(stats).toMatchObject({ scanned: 14, copied: 4, deleted: 1, equal: 10 });
    expect(await dst.get('s:small')).toBe('value');
    expect(await dst.llen('l:big')).toBe(1500);
    expect(await dst.hget('h:big', 'f-3')).toBe('v-f-3');
    expect(await dst.hexists('h:big', 'only-on-target')).toBe(0);
    expect(await dst.get('s:ttl')).toBe(await src.get('s:ttl'));
    expect(await dst.exists('extra')).toBe(0);
  });
});
