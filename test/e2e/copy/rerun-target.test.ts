/**
 * A copy that starts from nothing on a target an earlier run filled (a re-run after a
 * rollback): what that run left and spin-redis no longer holds is gone after the bulk copy,
 * on both the replication and the scan path; our own keys stay, but for this execution's
 * progress saved while reading a server that has since been failed over from.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { copyBulkSlice } from '../../../lib/copy/bulk-slice.js';
import { useRedisPair } from '../../support/redis-pair.js';

const pair = useRedisPair('rerun-target-');
let src: Redis;
let dst: Redis;
beforeAll(() => void ({ src, dst } = pair));

describe('copyBulkSlice on a target an earlier run filled', () => {
  for (const method of ['replication', 'scan'] as const) {
    it(`deletes the earlier run's keys before copying (${method})`, async () => {
      await src.set('pipeline:kept', 'new');
      await src.zadd('orca.task.queue.queue', 1, 'fp-live');
      // The earlier run's copy: an execution since deleted on spin-redis, an acked message, an old value.
      await dst.set('pipeline:deleted-since', 'x');
      await dst.zadd('orca.task.queue.queue', 1, 'fp-acked-since');
      await dst.set('pipeline:kept', 'old');
      await dst.select(3);
      await dst.set('db3:left', 'x');
      await dst.select(0);
      await dst.set('spin-elasticache:copy-progress:other', '{}');
      const state = await copyBulkSlice({ url: pair.source.url }, { url: pair.target.url }, undefined, { method, deadline: Date.now() + 30_000, progressId: `rerun-${method}` });
      expect(state).toMatchObject({ done: true, method, clearedFromTarget: 4 });
      expect((await dst.keys('*')).sort()).toEqual(['orca.task.queue.queue', 'pipeline:kept', 'spin-elasticache:copy-progress:other']);
      expect(await dst.get('pipeline:kept')).toBe('new');
      expect(await dst.zrange('orca.task.queue.queue', '0', '-1')).toEqual(['fp-live']);
      await dst.select(3);
      expect(await dst.dbsize()).toBe(0);
      await dst.select(0);
    });
  }

  for (const method of ['replication', 'scan'] as const) {
    it(`removes this execution's progress saved while reading another server, when the copy starts over (${method})`, async () => {
      await dst.flushall();
      await src.set('pipeline:1', 'x');
      // An earlier invocation's scan on the master before a failover, cut short by it.
      const progressId = `failed-over-${method}`;
      const stale = { afterSlices: 0, checkpoint: { dbs: [0], dbIndex: 0, cursor: '96', stats: { keys: 10 } }, sourceId: '10.0.0.1:6379' };
      await dst.set(`spin-elasticache:copy-progress:${progressId}`, JSON.stringify(stale), 'EX', 3600);
      await dst.set('spin-elasticache:copy-progress:another-execution', '{}');
      const state = await copyBulkSlice({ url: pair.source.url }, { url: pair.target.url }, undefined, { method, deadline: Date.now() + 30_000, progressId, sourceId: '10.0.0.2:6379' });
      expect(state).toMatchObject({ done: true, method });
      expect((await dst.keys('*')).sort()).toEqual(['pipeline:1', 'spin-elasticache:copy-progress:another-execution']);
    });
  }
});
