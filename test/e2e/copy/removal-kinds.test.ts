/**
 * Issue 9, kinds (a) and (b), on inputs of our own: every way Redis removes something (members of
 * each collection type, a hash emptied so its key disappears, DEL/UNLINK/GETDEL, RENAME over an
 * existing key, RENAMENX, MOVE to another database, COPY, EXPIRE in the past, PERSIST) made on
 * the side that is being followed, on every path that carries writes to the other side: the
 * stream catch-up and its final catch-up, the notification catch-up, the final mirror, the
 * rollback's copy-back, the workflow's scan slices with writes between every slice, and
 * `copy --method scan --live`. Each ends with a strict verification of both sides and the
 * removals checked by name. Two real redis-server 7.0.15.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { runCopyCommand } from '../../../cli/copy-command.js';
import { copyBulkSlice, type CopyState } from '../../../lib/copy/bulk-slice.js';
import { copyAll } from '../../../lib/copy/engine.js';
import { catchUpSlice, type FinalCatchUp, finalCatchUp } from '../../../lib/copy/catch-up-slice.js';
import { catchUp } from '../../../lib/copy/live.js';
import { copyBackSlice, type MirrorState } from '../../../lib/copy/reconcile.js';
import { copyViaReplication } from '../../../lib/copy/replication/replica-copy.js';
import { verifyCopy } from '../../../lib/copy/verify.js';
import { connectRedis } from '../../../lib/redis/connect.js';
import type { RedisProcess } from '../../../sandbox/redis/redis-process.js';
import { useRedisPair } from '../../support/redis-pair.js';

const pair = useRedisPair('removal-kinds-');
let source: RedisProcess;
let target: RedisProcess;
let src: Redis;
let dst: Redis;
beforeAll(() => void ({ source, target, src, dst } = pair));

/** Keys shaped like rosco's, clouddriver's, fiat's, igor's and orca's, one per removal kind. */
async function seed(r: Redis): Promise<void> {
  await r.zadd('orca.pipeline.queue.cfg-77', '10', 'p1', '20', 'p2', '30', 'p3', '40', 'p4', '50', 'p5', '60', 'p6');
  await r.zadd('rosco:allBakes', ...Array.from({ length: 9 }, (_, i) => [String(100 + i), `bake-${i}`]).flat());
  await r.zadd('rosco:names', '0', 'alpha', '0', 'bravo', '0', 'charlie', '0', 'delta');
  await r.hset('kato:taskmap', 't1', 'a', 't2', 'b', 't3', 'c', 't4', 'd', 't5', 'e');
  await r.hset('orca.task.queue.attempts', 'msg-only', '3');
  await r.sadd('aws:instances:members', ...Array.from({ length: 8 }, (_, i) => `i-0${i}abc`));
  await r.rpush('pipeline:01J0ABCD:stageIndex', ...Array.from({ length: 10 }, (_, i) => `stg-${i}`));
  await r.rpush('buffered:pipeline', 'b0');
  for (let i = 0; i < 12; i++) await r.xadd('echo:pubsub:log', `${1000 + i}-0`, 'msg', `m${i}`);
  await r.set('task:01JGONE1', '{"status":"SUCCEEDED"}');
  await r.set('task:01JGONE2', '{"status":"TERMINAL"}');
  await r.set('correlation:trigger-5150', 'pipeline:01J0ABCD');
  await r.set('spinnaker:fiat:tmp-9f2c', '{"applications":["new"]}');
  await r.set('spinnaker:fiat:permissions-v2:bob:accounts', '{"applications":["old"]}');
  await r.set('lock:bake-1', 'owner-a', 'PX', 600_000);
  await r.set('igor:builds:last:job9', '412');
  await r.set('taskResult:t9', 'result-9');
  await r.set('spring:session:sessions:expires:s-77', '', 'EX', 600);
  await r.hset('spring:session:sessions:s-78', 'creationTime', '1', 'lastAccessedTime', '2');
  await r.expire('spring:session:sessions:s-78', 600);
  await r.set('taskOutput:t3', 'out', 'EX', 600);
}

/** One of each removal kind (and a few writes that come with them). */
async function removeEveryKind(r: Redis): Promise<void> {
  await r.zpopmin('orca.pipeline.queue.cfg-77', 2);
  await r.zremrangebyscore('orca.pipeline.queue.cfg-77', 50, 60);
  await r.zrem('orca.pipeline.queue.cfg-77', 'p3');
  await r.zremrangebyrank('rosco:allBakes', 0, 2);
  await r.zremrangebylex('rosco:names', '[alpha', '[bravo');
  await r.hdel('kato:taskmap', 't2', 't4');
  await r.hdel('orca.task.queue.attempts', 'msg-only'); // the hash empties: the key disappears
  await r.srem('aws:instances:members', 'i-00abc');
  await r.spop('aws:instances:members', 2);
  await r.lrem('pipeline:01J0ABCD:stageIndex', 0, 'stg-4');
  await r.lpop('pipeline:01J0ABCD:stageIndex');
  await r.rpop('pipeline:01J0ABCD:stageIndex');
  await r.ltrim('pipeline:01J0ABCD:stageIndex', 1, -2);
  await r.lmove('pipeline:01J0ABCD:stageIndex', 'buffered:pipeline', 'LEFT', 'RIGHT');
  await r.xdel('echo:pubsub:log', '1003-0', '1005-0');
  await r.xtrim('echo:pubsub:log', 'MAXLEN', 6);
  await r.del('task:01JGONE1');
  await r.unlink('task:01JGONE2');
  await r.getdel('correlation:trigger-5150');
  await r.rename('spinnaker:fiat:tmp-9f2c', 'spinnaker:fiat:permissions-v2:bob:accounts');
  await r.renamenx('lock:bake-1', 'lock:bake-2');
  await r.move('igor:builds:last:job9', 5);
  await r.copy('taskResult:t9', 'taskResult:t9:copy');
  await r.expire('spring:session:sessions:expires:s-77', -1); // a time in the past deletes the key
  await r.pexpireat('spring:session:sessions:s-78', Date.now() - 1000);
  await r.persist('taskOutput:t3');
}

/** What `removeEveryKind` must leave, checked by name on `r` (beyond the strict verification). */
async function expectRemoved(r: Redis): Promise<void> {
  expect(await r.zrange('orca.pipeline.queue.cfg-77', '0', '-1')).toEqual(['p4']);
  expect(await r.zrange('rosco:allBakes', '0', '-1')).toEqual(['bake-3', 'bake-4', 'bake-5', 'bake-6', 'bake-7', 'bake-8']);
  expect(await r.zrange('rosco:names', '0', '-1')).toEqual(['charlie', 'delta']);
  expect(await r.hgetall('kato:taskmap')).toEqual({ t1: 'a', t3: 'c', t5: 'e' });
  expect(await r.scard('aws:instances:members')).toBe(5);
  expect(await r.sismember('aws:instances:members', 'i-00abc')).toBe(0);
  expect(await r.lrange('pipeline:01J0ABCD:stageIndex', 0, -1)).toEqual(['stg-3', 'stg-5', 'stg-6', 'stg-7']);
  expect(await r.lrange('buffered:pipeline', 0, -1)).toEqual(['b0', 'stg-2']);
  expect((await r.xrange('echo:pubsub:log', '-', '+')).map(([id]) => id)).toEqual(['1006-0', '1007-0', '1008-0', '1009-0', '1010-0', '1011-0']);
  expect(await r.get('spinnaker:fiat:permissions-v2:bob:accounts')).toBe('{"applications":["new"]}');
  expect(await r.get('lock:bake-2')).toBe('owner-a');
  expect(await r.pttl('lock:bake-2')).toBeGreaterThan(500_000);
  expect(await r.get('taskResult:t9:copy')).toBe('result-9');
  expect(await r.pttl('taskOutput:t3')).toBe(-1);
  expect(
    await r.exists(
      'orca.task.queue.attempts',
      'task:01JGONE1',
      'task:01JGONE2',
      'correlation:trigger-5150',
      'spinnaker:fiat:tmp-9f2c',
      'lock:bake-1',
      'igor:builds:last:job9',
      'spring:session:sessions:expires:s-77',
      'spring:session:sessions:s-78',
    ),
  ).toBe(0);
  const five = await connectRedis({ url: r === src ? source.url : target.url }, { db: 5 });
  expect(await five.get('igor:builds:last:job9')).toBe('412');
  five.disconnect();
}

async function strictlyEqual(): Promise<void> {
  const report = await verifyCopy({ url: source.url }, { url: target.url }, { mode: 'strict', ttlToleranceMs: 200 });
  expect({ ok: report.ok, examples: report.examples }).toEqual({ ok: true, examples: [] });
}

const sourceEnd = { url: '' };
const targetEnd = { url: '' };
beforeAll(() => {
  sourceEnd.url = source.url;
  targetEnd.url = target.url;
});

describe('every removal kind, on every path that carries writes', () => {
  it('the stream catch-up (CatchUpLiveWrites) and the final catch-up to the last byte (ReconcileFinal)', async () => {
    await seed(src);
    const copied = await copyViaReplication(sourceEnd, targetEnd);
    // smallLagBytes -1: never "close enough", the slice runs its whole length.
    const slice = catchUpSlice(sourceEnd, targetEnd, undefined, { copiedAt: copied, sliceMs: 1500, giveUpAfterMs: 60_000, smallLagBytes: -1 });
    await sleep(100);
    await removeEveryKind(src);
    const state = await slice;
    expect(state.stream).toBeDefined();
    await expectRemoved(dst); // by the live slice already
    // A removal after the last live slice, taken by the final catch-up inside the pause.
    await src.del('taskResult:t9');
    const final = await finalCatchUp(sourceEnd, targetEnd, state, { withinMs: 10_000, copiedAt: copied });
    expect(final.method).toBe('stream');
    expect(await dst.exists('taskResult:t9')).toBe(0);
    await strictlyEqual();
  }, 30_000);

  it('the notification catch-up (CatchUpLiveWrites without a stream)', async () => {
    await src.config('SET', 'notify-keyspace-events', 'KA');
    try {
      await seed(src);
      await seed(dst);
      const running = catchUp(sourceEnd, targetEnd, { until: Date.now() + 1500 });
      await sleep(150);
      await removeEveryKind(src);
      await running;
      await expectRemoved(dst);
      await strictlyEqual();
    } finally {
      await src.config('SET', 'notify-keyspace-events', '');
    }
  }, 30_000);

  it('the final mirror (ReconcileFinal without a stream), in one-page slices', async () => {
    await seed(src);
    await seed(dst);
    await removeEveryKind(src);
    let last: FinalCatchUp | undefined;
    for (let i = 0; i < 200 && !last?.done; i++) last = await finalCatchUp(sourceEnd, targetEnd, undefined, { withinMs: 5000, deadline: Date.now(), ...(last ? { previous: last } : {}) });
    expect(last).toMatchObject({ method: 'mirror', done: true });
    await expectRemoved(dst);
    await strictlyEqual();
  }, 30_000);

  it("the rollback's copy-back (RollbackCopyBackWrites): removals Spinnaker made on ElastiCache reach spin-redis", async () => {
    await seed(src);
    await seed(dst);
    await removeEveryKind(dst);
    let state: MirrorState | undefined;
    for (let i = 0; i < 200 && !state?.done; i++) state = await copyBackSlice(targetEnd, sourceEnd, state, { deadline: Date.now() });
    expect(state?.done).toBe(true);
    await expectRemoved(src);
    await strictlyEqual();
  }, 30_000);
});

describe('copy --live by replication', () => {
  it('every removal kind made while it follows the source reaches the target', async () => {
    await seed(src);
    const json = join(pair.dir, 'live.json');
    const copying = runCopyCommand(['--source', source.url, '--target', target.url, '--live', '3', '--json', json]);
    // Once the snapshot is on the target, while the command still follows the source's stream.
    for (let i = 0; i < 4000 && (await dst.exists('taskOutput:t3')) === 0; i++) await sleep(5);
    await removeEveryKind(src);
    expect(await copying).toBe(0);
    // The rate is the copy's, not diluted by the 3 s of following (it read "1 keys/s" for a quick copy).
    const figures = JSON.parse(readFileSync(json, 'utf8')) as { seconds: number; copySeconds: number; keys: number; keysPerSec: number };
    expect(figures.seconds - figures.copySeconds).toBeCloseTo(3, 5);
    expect(figures.keysPerSec).toBe(Math.round(figures.keys / figures.copySeconds));
    await expectRemoved(dst);
    await strictlyEqual();
  }, 30_000);
});

describe('writes during every scan slice', () => {
  it('CopyBulk by scan in many slices, a removal of each kind and new writes between every two slices, then the catch-up and the mirror', async () => {
    await src.config('SET', 'notify-keyspace-events', 'KA');
    try {
      await seed(src);
      // 9,000 other keys keep the scan going for many slices.
      for (let i = 0; i < 9000; i += 1500) {
        const batch = src.pipeline();
        for (let j = i; j < i + 1500; j++) batch.hset(`clouddriver:kubernetes:pods:attributes:${j}`, 'name', `pod-${j}`, 'phase', 'Running');
        await batch.exec();
      }
      const steps: ((r: Redis, slice: number) => Promise<unknown>)[] = [
        (r) => removeEveryKind(r),
        (r, n) => r.hset('kato:tasks:late', `late-${n}`, String(n)),
        (r, n) => r.hset(`clouddriver:kubernetes:pods:attributes:${n * 97}`, 'phase', 'Succeeded'),
        (r, n) => r.del(`clouddriver:kubernetes:pods:attributes:${n * 89 + 1}`),
        (r, n) => r.set(`igor:builds:next:job${n}`, String(400 + n), 'EX', 900),
        (r, n) => r.rename(`clouddriver:kubernetes:pods:attributes:${n * 83 + 2}`, `clouddriver:kubernetes:pods:attributes:renamed-${n}`).catch(() => undefined),
      ];
      let state: CopyState | undefined;
      const progressId = `kinds-${Date.now()}`;
      for (let n = 0; n < 300 && !state?.done; n++) {
        state = await copyBulkSlice(sourceEnd, targetEnd, state, { method: 'scan', deadline: Date.now() + 15, progressId });
        for (const step of n === 1 ? steps : steps.slice(1)) await step(src, n);
      }
      expect(state).toMatchObject({ done: true, method: 'scan' });
      expect(state!.slices).toBeGreaterThan(4);
      // CatchUpLiveWrites (notifications: nobody listened during the slices) then ReconcileFinal's mirror.
      await catchUpSlice(sourceEnd, targetEnd, undefined, { sliceMs: 300, giveUpAfterMs: 60_000 });
      let last: FinalCatchUp | undefined;
      for (let i = 0; i < 100 && !last?.done; i++) last = await finalCatchUp(sourceEnd, targetEnd, undefined, { withinMs: 5000, ...(last ? { previous: last } : {}) });
      expect(last).toMatchObject({ method: 'mirror', done: true });
      await expectRemoved(dst);
      await strictlyEqual();
    } finally {
      await src.config('SET', 'notify-keyspace-events', '');
    }
  }, 60_000);

  it('copy --method scan --live: a burst of writes just before the live phase ends is all on the target when the command returns', async () => {
    await src.set('rosco:bake:seed', '1');
    const copying = copyAll(sourceEnd, targetEnd, { method: 'scan', followMs: 1200 });
    for (let i = 0; i < 2000 && (await dst.exists('rosco:bake:seed')) === 0; i++) await sleep(5);
    // 12,000 keys in a burst, then 2,000 of them deleted: far more than the rest of the window can copy one by one.
    for (let i = 0; i < 12_000; i += 3000) {
      const batch = src.pipeline();
      for (let j = i; j < i + 3000; j++) batch.hset(`clouddriver:aws:loadBalancers:attributes:${j}`, 'name', `lb-${j}`, 'vpc', 'vpc-1');
      await batch.exec();
    }
    const gone = src.pipeline();
    for (let j = 0; j < 12_000; j += 6) gone.del(`clouddriver:aws:loadBalancers:attributes:${j}`);
    await gone.exec();
    const result = await copying;
    expect(result.method).toBe('scan');
    expect(await dst.dbsize()).toBe(await src.dbsize());
    await strictlyEqual();
  }, 60_000);

  it('copy --method scan --live: every removal kind made while the scan runs reaches the target', async () => {
    await seed(src);
    const other = await connectRedis({ url: `${source.url}/2` });
    for (let i = 0; i < 30_000; i += 3000) {
      const batch = other.pipeline();
      for (let j = i; j < i + 3000; j++) batch.set(`fiat:filler:${j}`, 'y'.repeat(300));
      await batch.exec();
    }
    other.disconnect();
    let finished = false;
    const copying = runCopyCommand(['--source', source.url, '--target', target.url, '--method', 'scan', '--live', '2', '--connections', '1']).finally(() => void (finished = true));
    // Once the scan has copied db 0 (the keys of the kinds), while db 2 is still being scanned.
    for (let i = 0; i < 4000 && (await dst.exists('taskOutput:t3')) === 0; i++) await sleep(5);
    const two = await connectRedis({ url: `${target.url}/2` });
    const stillScanning = (await two.dbsize()) < 30_000 && !finished;
    two.disconnect();
    await removeEveryKind(src);
    expect(await copying).toBe(0);
    expect(stillScanning).toBe(true);
    await expectRemoved(dst);
    await strictlyEqual();
  }, 60_000);
});
