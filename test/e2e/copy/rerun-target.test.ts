/**
 * A copy that starts from nothing on a target an earlier run filled (a re-run after a
 * rollback): what that run left and spin-redis no longer holds is gone after the bulk copy,
 * on both the replication and the scan path; our own keys stay.
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
});
