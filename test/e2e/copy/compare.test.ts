/**
 * The batched reads of lib/copy/compare.ts: equal keys get equal digests on both sides whatever
 * their order, encoding or expiry command, with the type, size and expiry digestKey gives; a
 * difference anywhere (small keys, and the last chunk of big ones) changes the digest; gone keys
 * are "no such key"; strict verification and reconciliation built on them still find every kind
 * of difference.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { digestPairs, existing } from '../../../lib/copy/compare.js';
import { digestKey } from '../../../lib/copy/digest.js';
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
    // digest), big ones by the server in chunks (set:big by SSCAN pages), the stream by digestKey.
    const kinds = Object.fromEntries(pairs.map((p) => [p.key.toString('hex'), p.from?.digest.replace(/:.*/, '')]));
    expect(Object.values(kinds).filter((k) => k === 'sha1' || k === 'multiset').length).toBe(10);
    expect(Object.values(kinds).filter((k) => k === 'chunks').length).toBe(3);
    // 400 fields in another order (a 2-field hash may come back in the same order by chance).
    expect([kinds[Buffer.from('h:big').toString('hex')], kinds[Buffer.from('s:small').toString('hex')]]).toEqual(['multiset', 'sha1']);
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
