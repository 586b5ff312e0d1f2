/**
 * READONLY from the target for a few seconds, as during an ElastiCache Multi-AZ failover
 * (issue 9, item 7), on every step that writes to it: each fails with the transient
 * RedisFailoverError (which the state machine retries), never with a fatal or unnamed error,
 * and the same call succeeds once the target is a primary again. The target is made a replica
 * of a port nobody listens on (`REPLICAOF`), so it keeps its data and refuses writes, then
 * `REPLICAOF NO ONE`. Two real redis-server 7.0.15.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { copySlice } from '../../../lib/copy/bulk.js';
import { copyBulkSlice } from '../../../lib/copy/bulk-slice.js';
import { catchUpSlice } from '../../../lib/copy/catch-up-slice.js';
import { catchUp } from '../../../lib/copy/live.js';
import { copyViaReplication } from '../../../lib/copy/replication/replica-copy.js';
import { followChanges } from '../../../lib/copy/replication/follow.js';
import type { RedisProcess } from '../../../sandbox/redis/redis-process.js';
import { useRedisPair } from '../../support/redis-pair.js';

const pair = useRedisPair('target-failover-');
let source: RedisProcess;
let target: RedisProcess;
let src: Redis;
let dst: Redis;
beforeAll(() => void ({ source, target, src, dst } = pair));

/** The target refuses writes (READONLY) until `primaryAgain` (also called after each test). */
async function readOnly(): Promise<void> {
  await dst.call('REPLICAOF', '127.0.0.1', '1');
  await dst.call('CONFIG', 'SET', 'replica-read-only', 'yes');
}
async function primaryAgain(): Promise<void> {
  await dst.call('REPLICAOF', 'NO', 'ONE');
}

const S = () => ({ url: source.url });
const T = () => ({ url: target.url });
async function expectFailover(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e as Error & { retryable?: boolean },
  );
  expect({ name: error?.name, retryable: error?.retryable, message: error?.message }).toEqual({ name: 'RedisFailoverError', retryable: true, message: expect.stringContaining('READONLY') });
}
/** Each test puts the target back, whatever happened (the pair flushes it after each test). */
const failover = (body: () => Promise<void>) => async () => {
  try {
    await body();
  } finally {
    await primaryAgain();
  }
};

describe('READONLY on the target during a write step', () => {
  it(
    'the scan copy fails with RedisFailoverError, and copies everything once retried',
    failover(async () => {
      for (let i = 0; i < 500; i++) await src.set(`k:${i}`, String(i));
      await readOnly();
      await expectFailover(copySlice(S(), T()));
      await primaryAgain();
      await copySlice(S(), T());
      expect(await dst.dbsize()).toBe(500);
    }),
    30_000,
  );

  it(
    'the workflow slice (CopyBulk, scan and replication) fails with RedisFailoverError, and succeeds once retried',
    failover(async () => {
      for (let i = 0; i < 500; i++) await src.set(`k:${i}`, String(i));
      await readOnly();
      for (const method of ['scan', 'replication', 'auto'] as const) {
        await expectFailover(copyBulkSlice(S(), T(), undefined, { method, deadline: Date.now() + 20_000, progressId: `failover-${method}` }));
      }
      await primaryAgain();
      await expect(copyBulkSlice(S(), T(), undefined, { method: 'auto', deadline: Date.now() + 20_000, progressId: 'failover' })).resolves.toMatchObject({ done: true });
      expect(await dst.dbsize()).toBe(500);
    }),
    60_000,
  );

  it(
    'the replication copy fails with RedisFailoverError',
    failover(async () => {
      await src.set('k', 'v');
      await readOnly();
      await expectFailover(copyViaReplication(S(), T()));
    }),
    30_000,
  );

  it(
    'the stream catch-up fails with RedisFailoverError and, retried from the same position, applies every write once',
    failover(async () => {
      await src.set('counter', '0');
      const copied = await copyViaReplication(S(), T());
      await readOnly();
      for (let i = 0; i < 10; i++) await src.incr('counter');
      await expectFailover(followChanges(S(), T(), { position: copied, until: Date.now() + 500 }));
      await primaryAgain();
      await followChanges(S(), T(), { position: copied, until: Date.now() + 500 });
      expect(await dst.get('counter')).toBe('10');
    }),
    30_000,
  );

  it(
    'the catch-up slice (CatchUpLiveWrites) fails with RedisFailoverError',
    failover(async () => {
      const copied = await copyViaReplication(S(), T());
      await readOnly();
      await src.set('during', 'failover');
      await expectFailover(catchUpSlice(S(), T(), undefined, { copiedAt: copied, sliceMs: 500, giveUpAfterMs: 60_000 }));
    }),
    30_000,
  );

  it(
    'the notification catch-up fails with RedisFailoverError',
    failover(async () => {
      await src.config('SET', 'notify-keyspace-events', 'KA');
      try {
        const running = catchUp(S(), T(), { until: Date.now() + 2000 });
        await sleep(100);
        await readOnly();
        await src.set('during', 'failover');
        await expectFailover(running);
      } finally {
        await src.config('SET', 'notify-keyspace-events', '');
      }
    }),
    30_000,
  );
});
