/**
 * Strict verification and the mirror skip the walk for keys only the target has when counting
 * proves there are none (lib/copy/target-count.ts, countTarget), and walk whenever the count cannot (looking
 * on the source only for the target's keys the forward pass did not find on both sides): these
 * tests assert the verdict and the counts against real redis-servers, including keys the
 * target holds logically expired but not yet evicted.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { copySlice } from '../../../lib/copy/bulk.js';
import { mirror } from '../../../lib/copy/reconcile.js';
import { verifyCopy } from '../../../lib/copy/verify.js';
import { connectRedis } from '../../../lib/redis/connect.js';
import { startRedis, type RedisProcess } from '../../../sandbox/redis/redis-process.js';
import { seedAllTypes } from '../../support/redis-data.js';

const dir = mkdtempSync(join(tmpdir(), 'verify-counted-'));
let source: RedisProcess;
let target: RedisProcess;
let src: Redis;
let dst: Redis;
beforeAll(async () => {
  // DEBUG SET-ACTIVE-EXPIRE 0 keeps expired keys in memory until something reads them.
  const extraArgs = ['--enable-debug-command', 'yes'];
  [source, target] = await Promise.all([startRedis({ dir: join(dir, 's'), extraArgs }), startRedis({ dir: join(dir, 't'), extraArgs })]);
  [src, dst] = await Promise.all([connectRedis({ url: source.url }), connectRedis({ url: target.url })]);
});
afterAll(async () => {
  src.disconnect();
  dst.disconnect();
  await Promise.all([source.stop(), target.stop()]);
});
afterEach(async () => {
  await Promise.all([src.call('DEBUG', 'SET-ACTIVE-EXPIRE', '1'), dst.call('DEBUG', 'SET-ACTIVE-EXPIRE', '1')]);
  await Promise.all([src.flushall(), dst.flushall()]);
});

const endpoints = () => [{ url: source.url }, { url: target.url }] as const;

async function seedAndCopy(): Promise<void> {
  await seedAllTypes(src);
  const pipeline = src.pipeline();
  for (let i = 0; i < 500; i++) pipeline.set(`k:${i}`, `v${i}`);
  // Expiring within the count's horizon: looked at by the count itself.
  for (let i = 0; i < 20; i++) pipeline.set(`soon:${i}`, 'x', 'PX', 30_000);
  await pipeline.exec();
  expect((await copySlice(...endpoints())).done).toBe(true);
}

/** A copy, then a key expired on both sides but not evicted (DBSIZE still counts it), and one key only on the target: the counts alone would agree. */
async function expiredOnBothOneOnlyOnTarget(): Promise<void> {
  await seedAndCopy();
  await Promise.all([src.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0'), dst.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0')]);
  await src.set('gone', '1', 'PX', 1);
  await dst.set('gone', '1', 'PX', 1);
  await dst.set('only-on-target', '1');
  await new Promise((r) => setTimeout(r, 20));
}

describe('strict verification, keys only on the target', () => {
  it('counts instead of walking when the target holds exactly the keys found on both sides (our own keys aside)', async () => {
    await seedAndCopy();
    await dst.set('spin-elasticache:copy-progress:x', '1');
    const report = await verifyCopy(...endpoints(), { mode: 'strict' });
    expect(report).toMatchObject({ ok: true, extra: 0, targetWalksCounted: 1 });
  });

  it('walks, and names the key, when the target holds one more', async () => {
    await seedAndCopy();
    await dst.set('only-on-target', '1');
    const report = await verifyCopy(...endpoints(), { mode: 'strict' });
    expect(report).toMatchObject({ ok: false, extra: 1, targetWalksCounted: 0 });
    expect(report.examples.map((e) => `${e.kind}:${e.key}`)).toEqual(['extra:only-on-target']);
  });

  it('walks, and passes, when the target holds a key logically expired but not evicted (DBSIZE counts it)', async () => {
    await seedAndCopy();
    await dst.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0');
    await dst.set('expired-on-target', '1', 'PX', 1);
    await new Promise((r) => setTimeout(r, 20));
    const report = await verifyCopy(...endpoints(), { mode: 'strict' });
    expect(report).toMatchObject({ ok: true, extra: 0, targetWalksCounted: 0 });
  });

  it('walks, and names the key, when a key only on the target replaces one that expired on both (the counts alone would agree)', async () => {
    await expiredOnBothOneOnlyOnTarget();
    // The source's DBSIZE still counts `gone`: equal totals, one key only on the target.
    expect(await dst.dbsize()).toBe((await src.dbsize()) + 1);
    const report = await verifyCopy(...endpoints(), { mode: 'strict' });
    expect(report).toMatchObject({ ok: false, extra: 1 });
    expect(report.examples.map((e) => `${e.kind}:${e.key}`)).toEqual(['extra:only-on-target']);
  });

  it('counts, and looks at them one by one, when keys expiring this very moment were not compared and are still on the target', async () => {
    await seedAndCopy();
    // Within twice the TTL tolerance of its expiry on both sides: skipped by the forward pass, still there when the count runs.
    await src.set('expiring-now', '1', 'PX', 900);
    await dst.set('expiring-now', '1', 'PX', 900);
    const report = await verifyCopy(...endpoints(), { mode: 'strict' });
    expect(report).toMatchObject({ ok: true, extra: 0, targetWalksCounted: 1 });
    expect(report.expiringSkipped).toBeGreaterThanOrEqual(1);
  });

  it('walks, and names the key, when the target holds one more beside a key expiring this very moment', async () => {
    await seedAndCopy();
    await src.set('expiring-now', '1', 'PX', 900);
    await dst.set('expiring-now', '1', 'PX', 900);
    await dst.set('only-on-target', '1');
    const report = await verifyCopy(...endpoints(), { mode: 'strict' });
    expect(report).toMatchObject({ ok: false, extra: 1, targetWalksCounted: 0 });
    expect(report.examples.map((e) => `${e.kind}:${e.key}`)).toEqual(['extra:only-on-target']);
  });

  it('names a key the forward pass did not compare when it is only on the target and not expiring', async () => {
    await seedAndCopy();
    // Expiring this moment on the source, for good on the target: compared (the copy would outlive it), a TTL mismatch.
    await src.set('expiring-now', '1', 'PX', 900);
    await dst.set('expiring-now', '1');
    const report = await verifyCopy(...endpoints(), { mode: 'strict' });
    expect(report).toMatchObject({ ok: false, ttlMismatches: 1, extra: 0, targetWalksCounted: 1 });
  });

  it('walks when our own prefix is not skipped, and then counts our keys as extra', async () => {
    await seedAndCopy();
    await dst.set('spin-elasticache:copy-progress:x', '1');
    const report = await verifyCopy(...endpoints(), { mode: 'strict', skipPrefix: '' });
    expect(report).toMatchObject({ ok: false, extra: 1, targetWalksCounted: 0 });
  });
});

describe('the mirror (ReconcileFinal, the copy-back), keys only on the target', () => {
  it('counts instead of walking when the target then holds exactly what the forward pass left there: copied, replaced and equal keys', async () => {
    await seedAndCopy();
    // Differences the forward pass mends: a key missing, one changed, one whose expiry differs.
    await dst.del('k:1');
    await dst.set('k:2', 'changed');
    await dst.pexpire('k:3', 600_000);
    await dst.set('spin-elasticache:copy-progress:x', '1');
    const stats = await mirror(...endpoints());
    expect(stats).toMatchObject({ copied: 3, deleted: 0, targetWalksCounted: 1 });
    expect(await verifyCopy(...endpoints(), { mode: 'strict' })).toMatchObject({ ok: true });
    expect(await dst.get('spin-elasticache:copy-progress:x')).toBe('1');
  });

  it('walks, and deletes it, when the target holds a key the source lacks', async () => {
    await seedAndCopy();
    await dst.set('only-on-target', '1');
    await dst.set('k:2', 'changed');
    const stats = await mirror(...endpoints());
    expect(stats).toMatchObject({ copied: 1, deleted: 1, targetWalksCounted: 0 });
    expect(await dst.exists('only-on-target')).toBe(0);
    expect(await verifyCopy(...endpoints(), { mode: 'strict' })).toMatchObject({ ok: true });
  });

  it('walks, and deletes it, when a key only on the target replaces one that expired on both (the counts alone would agree)', async () => {
    await expiredOnBothOneOnlyOnTarget();
    const stats = await mirror(...endpoints());
    expect(stats).toMatchObject({ deleted: 1, targetWalksCounted: 0 });
    expect(await dst.exists('only-on-target')).toBe(0);
    expect(await verifyCopy(...endpoints(), { mode: 'strict' })).toMatchObject({ ok: true });
  });
});
