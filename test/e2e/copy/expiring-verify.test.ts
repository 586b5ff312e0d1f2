/**
 * Issue 9, kind (d), on the verification: a key that expires on the source within the moment
 * the strict verification skips (1 s) must not hide a copy that would outlive it. A target key
 * with no TTL, or one that expires minutes later, is the very fault of item 5 (a key copied
 * without its expiry lives for ever) and is reported as a TTL mismatch; a copy that expires
 * with the source, or is already gone, is still skipped. Two real redis-server 7.0.15.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { copyKeyByType } from '../../../lib/copy/key-copy.js';
import { verifyCopy } from '../../../lib/copy/verify.js';
import type { RedisProcess } from '../../../sandbox/redis/redis-process.js';
import { useRedisPair } from '../../support/redis-pair.js';

const pair = useRedisPair('expiring-verify-');
let source: RedisProcess;
let target: RedisProcess;
let src: Redis;
let dst: Redis;
beforeAll(() => void ({ source, target, src, dst } = pair));

const strict = () => verifyCopy({ url: source.url }, { url: target.url }, { mode: 'strict' });

describe('strict verification of keys expiring on the source', () => {
  it('reports a copy without TTL, or with a later one, of a key the source expires within the second', async () => {
    const at = Date.now() + 700;
    await src.set('gate:session:a91', 'x', 'PXAT', at);
    await dst.set('gate:session:a91', 'x'); // copied without its TTL
    await src.hset('igor:builds:b12', 'n', '7');
    await src.pexpireat('igor:builds:b12', at);
    await dst.hset('igor:builds:b12', 'n', '7');
    await dst.pexpireat('igor:builds:b12', at + 600_000); // would live ten more minutes
    const report = await strict();
    expect(report).toMatchObject({ ok: false, ttlMismatches: 2 });
    expect(report.examples.map((e) => `${e.kind} ${e.key}`).sort()).toEqual(['ttl gate:session:a91', 'ttl igor:builds:b12']);
  });

  it('still skips a copy that expires with the source, or is already gone', async () => {
    const at = Date.now() + 700;
    await src.set('gate:session:c3', 'x', 'PXAT', at);
    await dst.set('gate:session:c3', 'x', 'PXAT', at + 50);
    await src.set('gate:session:d4', 'x', 'PXAT', at);
    await src.set('gate:session:e5', 'y', 'PXAT', at);
    await dst.set('gate:session:e5', 'x', 'PXAT', at - 100); // differs, but gone before the source's
    expect(await strict()).toMatchObject({ ok: true, expiringSkipped: 3, ttlMismatches: 0, missing: 0 });
  });
});

describe('the type-based copy of a key that goes away while it is copied', () => {
  it("deletes the target's older copy when the source key expires during the chunked copy (it kept it)", async () => {
    const key = 'clouddriver:aws:instances:members';
    await dst.sadd(key, 'stale-1', 'stale-2'); // an earlier copy on the target
    for (let i = 0; i < 120_000; i += 10_000) await src.sadd(key, ...Array.from({ length: 10_000 }, (_, j) => `i-${(i + j).toString(16).padStart(17, '0')}`));
    await src.pexpire(key, 40); // gone before the last SSCAN page is written
    const outcome = await copyKeyByType(src, dst, Buffer.from(key), 'set');
    expect(outcome).toBeLessThan(0);
    expect(await src.exists(key)).toBe(0);
    expect(await dst.exists(key)).toBe(0);
  });
});
