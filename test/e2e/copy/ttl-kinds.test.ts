/**
 * Issue 9, kinds (d) and (e), on inputs of our own. (d) Keys expiring in the read's millisecond:
 * the strict verification must not skip a copy that would outlive a source key expiring this
 * moment (a target key with no TTL, or one expiring minutes later, is item 5's fault); the
 * type-based copy of a key that goes away meanwhile deletes the target's older copy; the mirror
 * (ReconcileFinal, and the copy-back, the same walk reversed) run while thousands of keys
 * expire leaves none without its TTL. (e) TTLs renewed, removed or followed by a delete or a
 * rename while a slow snapshot is taken, through the workflow's CopyBulk and catch-up and
 * through `spin-elasticache copy --verify`. Two real redis-server 7.0.15.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { runCopyCommand } from '../../../cli/copy-command.js';
import { copyBulkSlice } from '../../../lib/copy/bulk-slice.js';
import { catchUpSlice, finalCatchUp } from '../../../lib/copy/catch-up-slice.js';
import { type MirrorState, mirrorSlice } from '../../../lib/copy/reconcile.js';
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

describe('the mirror while keys expire', () => {
  it('ReconcileFinal (and the copy-back, the same walk): 15,000 target copies without TTL of source keys expiring over 1.5 s', async () => {
    const count = 15_000;
    const keyOf = (j: number) => `kato:task:${j.toString(36)}`;
    for (let i = 0; i < count; i += 1500) {
      const s = src.pipeline();
      const d = dst.pipeline();
      for (let j = i; j < i + 1500; j++) {
        s.rpush(keyOf(j), 'RUNNING', `step-${j}`);
        d.rpush(keyOf(j), 'RUNNING', `step-${j}`); // the fault the mirror must repair: no TTL
      }
      await Promise.all([s.exec(), d.exec()]);
    }
    // The expiries last, in one go, so that the window starts when the mirror does.
    const start = Date.now() + 300;
    const expiries = src.pipeline();
    for (let j = 0; j < count; j++) expiries.pexpireat(keyOf(j), start + Math.floor((j * 1500) / count));
    await expiries.exec();
    const last = start + 1500;
    let passes = 0;
    // Mirror passes in small slices, over and over through the window: many keys are read in their last millisecond.
    while (Date.now() < last) {
      let state: MirrorState | undefined;
      do state = await mirrorSlice({ url: source.url }, { url: target.url }, state, { deadline: Date.now() + 20 });
      while (!state.done);
      passes++;
      // After each pass: no copy without its TTL.
      const left = await dst.keys('kato:task:*');
      const ttls = await Promise.all(left.slice(0, 300).map((k) => dst.pttl(k)));
      expect(ttls.filter((t) => t === -1)).toEqual([]);
    }
    expect(passes).toBeGreaterThan(0);
    await sleep(Math.max(0, last + 200 - Date.now()));
    expect(await dst.keys('kato:task:*')).toEqual([]);
  }, 60_000);
});

/** `keys` filler keys and a per-key save delay so that the snapshot takes about `seconds`. */
async function slowSnapshot(keys: number, seconds: number): Promise<() => Promise<void>> {
  for (let i = 0; i < keys; i += 2000) {
    const batch = src.pipeline();
    for (let j = i; j < i + 2000; j++) batch.hset(`clouddriver:cache:filler:${j}`, 'a', 'b');
    await batch.exec();
  }
  await src.config('SET', 'rdb-key-save-delay', String(Math.round((seconds * 1e6) / keys)));
  return async () => void (await src.config('SET', 'rdb-key-save-delay', '0'));
}

async function snapshotForked(): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (/rdb_bgsave_in_progress:1/.test(await src.info('persistence'))) return;
    await sleep(10);
  }
  throw new Error('the snapshot never started');
}

/** Gate and igor keys that the snapshot holds with a TTL that runs out before it is restored. */
async function seedShortLived(): Promise<void> {
  for (let i = 0; i < 12; i++) await src.hset(`spring:session:sessions:tok-${i}`, 'creationTime', String(i), 'maxInactiveInterval', '1800');
  for (let i = 0; i < 12; i++) await src.pexpire(`spring:session:sessions:tok-${i}`, 1200);
  await src.set('igor:builds:lastPoll:jenkins', '1733580000', 'PX', 1200);
  await src.set('echo:dedupe:msg-4411', '1', 'PX', 1200);
  await src.set('fiat:tmp:perm-77', '{"apps":[]}', 'PX', 1200);
  await src.set('rosco:lock:bake-3', 'pod-a', 'PX', 1200);
}

/** During the snapshot: renewals of every kind, a PERSIST, a renewal then a DEL, a renewal then a RENAME. */
async function renewDuringSnapshot(): Promise<number> {
  const at = Date.now() + 1_200_000;
  for (let i = 0; i < 6; i++) await src.pexpireat(`spring:session:sessions:tok-${i}`, at);
  for (let i = 6; i < 12; i++) await src.expire(`spring:session:sessions:tok-${i}`, 1200);
  await src.hset('spring:session:sessions:tok-0', 'lastAccessedTime', '99');
  await src.getex('igor:builds:lastPoll:jenkins', 'PX', 900_000);
  await src.persist('echo:dedupe:msg-4411');
  await src.pexpire('fiat:tmp:perm-77', 900_000);
  await src.rename('fiat:tmp:perm-77', 'spinnaker:fiat:permissions-v2:carol:applications');
  await src.pexpire('rosco:lock:bake-3', 900_000);
  await src.del('rosco:lock:bake-3');
  return at;
}

async function expectRenewed(at: number): Promise<void> {
  for (let i = 0; i < 12; i++) {
    const key = `spring:session:sessions:tok-${i}`;
    expect({ key, creationTime: await dst.hget(key, 'creationTime') }).toEqual({ key, creationTime: String(i) });
    expect(await dst.pttl(key)).toBeGreaterThan(1_000_000);
  }
  expect(Math.abs((await dst.pexpiretime('spring:session:sessions:tok-0')) - at)).toBeLessThan(1000);
  expect(await dst.hget('spring:session:sessions:tok-0', 'lastAccessedTime')).toBe('99');
  expect(await dst.pttl('igor:builds:lastPoll:jenkins')).toBeGreaterThan(800_000);
  expect(await dst.get('echo:dedupe:msg-4411')).toBe('1');
  expect(await dst.pttl('echo:dedupe:msg-4411')).toBe(-1);
  expect(await dst.get('spinnaker:fiat:permissions-v2:carol:applications')).toBe('{"apps":[]}');
  expect(await dst.pttl('spinnaker:fiat:permissions-v2:carol:applications')).toBeGreaterThan(800_000);
  expect(await dst.exists('fiat:tmp:perm-77', 'rosco:lock:bake-3')).toBe(0);
}

describe('TTLs renewed while the snapshot is taken (item 6)', () => {
  it("the workflow's CopyBulk (replication) and CatchUpLiveWrites: every renewal kind on the target before the pause", async () => {
    const restore = await slowSnapshot(12_000, 2.5);
    try {
      await seedShortLived();
      const copying = copyBulkSlice({ url: source.url }, { url: target.url }, undefined, { method: 'replication', deadline: Date.now() + 60_000, progressId: `ttl-${Date.now()}` });
      await snapshotForked();
      const at = await renewDuringSnapshot();
      const copied = await copying;
      expect(copied).toMatchObject({ method: 'replication', done: true });
      await restore();
      // Present with the renewed TTL already at the end of CopyBulk, not only after ReconcileFinal.
      await expectRenewed(at);
      const caught = await catchUpSlice({ url: source.url }, { url: target.url }, undefined, { copiedAt: copied.replication!, sliceMs: 500, giveUpAfterMs: 60_000 });
      await finalCatchUp({ url: source.url }, { url: target.url }, caught, { withinMs: 10_000, copiedAt: copied.replication! });
      await expectRenewed(at);
      const report = await verifyCopy({ url: source.url }, { url: target.url }, { mode: 'strict' });
      expect({ ok: report.ok, examples: report.examples }).toEqual({ ok: true, examples: [] });
    } finally {
      await restore();
    }
  }, 60_000);

  it('spin-elasticache copy --verify, as a new user runs it', async () => {
    const restore = await slowSnapshot(12_000, 2.5);
    try {
      await seedShortLived();
      const copying = runCopyCommand(['--source', source.url, '--target', target.url, '--verify']);
      await snapshotForked();
      const at = await renewDuringSnapshot();
      expect(await copying).toBe(0); // the strict verification passed
      await expectRenewed(at);
    } finally {
      await restore();
    }
  }, 60_000);
});
