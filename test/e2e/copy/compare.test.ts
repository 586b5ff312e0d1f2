/**
 * The batched reads of lib/copy/compare.ts give, key for key, what digestKey gives (type,
 * digest, size, absolute expiry) for every type, small and big, with and without PEXPIRETIME,
 * and say "no such key" for keys that are gone; strict verification and reconciliation built on
 * them still find every kind of difference.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { digestBatch, existing } from '../../../lib/copy/compare.js';
import { digestKey } from '../../../lib/copy/digest.js';
import { reconcile } from '../../../lib/copy/reconcile.js';
import { verifyCopy } from '../../../lib/copy/verify.js';
import { useRedisPair } from '../../support/redis-pair.js';

const pair = useRedisPair('compare-');
let src: Redis;
let dst: Redis;
beforeAll(() => void ({ src, dst } = pair));

async function seed(redis: Redis): Promise<Buffer[]> {
  const many = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));
  await redis.set('s:small', 'value');
  await redis.set('s:empty', '');
  await redis.set('s:big', 'x'.repeat(100_000));
  await redis.set(Buffer.from([0xff, 0x00, 0x01]), Buffer.from([0x00, 0xfe]));
  await redis.set('s:ttl', 'v', 'PX', 600_000);
  await redis.rpush('l:small', 'a', 'b', 'a');
  await redis.rpush('l:big', ...many(1500, (i) => `item-${i}`));
  await redis.sadd('set:small', 'x', 'y', 'z');
  await redis.sadd('set:big', ...many(700, (i) => `m-${i}`));
  await redis.hset('h:small', { f1: 'v1', f2: Buffer.from([0x00, 0x80]) });
  await redis.hset('h:big', Object.fromEntries(many(400, (i) => `f-${i}`).map((f) => [f, `v-${f}`])));
  await redis.pexpire('h:big', 900_000);
  await redis.zadd('z:small', 1.5, 'a', '-inf', 'b', 0, 'c', 1e-7, 'd');
  await redis.zadd('z:big', ...Array.from({ length: 600 }, (_, i) => [String(i / 3), `z-${i}`]).flat());
  await redis.xadd('x:stream', '1-1', 'f', 'v');
  return (await redis.keysBuffer('*')).concat([Buffer.from('gone')]);
}

describe('digestBatch', () => {
  it.each([
    ['PEXPIRETIME', true],
    ['TIME + PTTL (servers before 7.0)', false],
  ])('equals digestKey for every type, small and big, with %s', async (_, pexpiretime) => {
    const keys = await seed(src);
    const batch = await digestBatch(src, keys, { pexpiretime });
    const one = await Promise.all(keys.map((k) => digestKey(src, k)));
    expect(batch.length).toBe(keys.length);
    for (const [i, d] of batch.entries()) {
      const expected = one[i];
      if (!expected) {
        expect(d).toBeUndefined();
        continue;
      }
      const { expiresAt, ...rest } = d!;
      const { expiresAt: expectedExpiry, ...expectedRest } = expected;
      expect({ key: keys[i]!.toString('hex'), ...rest }).toEqual({ key: keys[i]!.toString('hex'), ...expectedRest });
      // TIME + PTTL and PEXPIRETIME agree to the millisecond-rounding of PTTL.
      if (expectedExpiry < 0) expect(expiresAt).toBe(expectedExpiry);
      else expect(Math.abs(expiresAt - expectedExpiry)).toBeLessThanOrEqual(5);
    }
    expect(batch.at(-1)).toBeUndefined();
    expect(
      batch
        .filter(Boolean)
        .map((d) => d!.type)
        .sort(),
    ).toEqual(['hash', 'hash', 'list', 'list', 'set', 'set', 'stream', 'string', 'string', 'string', 'string', 'string', 'zset', 'zset']);
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
      'value z:small: zset: 4 element(s) on the source, 4 on the target',
    ]);
  });

  it('reconciliation copies what is missing, merges collections and leaves equal keys alone', async () => {
    await seed(src);
    await seed(dst);
    await dst.del('s:small', 'l:big');
    await dst.hdel('h:big', 'f-3');
    await dst.set('s:ttl', 'newer');
    const stats = await reconcile({ url: pair.source.url }, { url: pair.target.url });
    expect(stats).toMatchObject({ scanned: 14, copied: 2, merged: 1, targetWins: 1, equal: 10 });
    expect(await dst.get('s:small')).toBe('value');
    expect(await dst.llen('l:big')).toBe(1500);
    expect(await dst.hget('h:big', 'f-3')).toBe('v-f-3');
    expect(await dst.get('s:ttl')).toBe('newer');
  });
});
