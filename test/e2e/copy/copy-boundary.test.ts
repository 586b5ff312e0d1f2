/**
 * What happens at the edges of the replication copy, between two real redis-server 7.0.15:
 * a TTL the application renews while the snapshot is being taken (issue 9, item 6), and the
 * stream's database handed from the copy to the first catch-up slice.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { copyBulkSlice } from '../../../lib/copy/bulk-slice.js';
import { catchUpSlice } from '../../../lib/copy/catch-up-slice.js';
import { copyViaReplication } from '../../../lib/copy/replication/replica-copy.js';
import { connectRedis } from '../../../lib/redis/connect.js';
import type { RedisProcess } from '../../../sandbox/redis/redis-process.js';
import { useRedisPair } from '../../support/redis-pair.js';

const pair = useRedisPair('copy-boundary-');
let source: RedisProcess;
let target: RedisProcess;
let src: Redis;
let dst: Redis;
beforeAll(() => void ({ source, target, src, dst } = pair));

/** 20,000 filler keys and a per-key save delay: the snapshot then takes about `seconds`. */
async function slowSnapshot(seconds: number): Promise<() => Promise<void>> {
  const keys = 20_000;
  for (let i = 0; i < keys; i += 1000) {
    const batch = src.pipeline();
    for (let j = i; j < i + 1000; j++) batch.set(`filler:${j}`, 'x');
    await batch.exec();
  }
  await src.config('SET', 'rdb-key-save-delay', String(Math.round((seconds * 1e6) / keys)));
  return async () => void (await src.config('SET', 'rdb-key-save-delay', '0'));
}

/** Resolves once spin-redis has forked the snapshot child (what the snapshot holds is fixed from then on). */
async function snapshotForked(): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (/rdb_bgsave_in_progress:1/.test(await src.info('persistence'))) return;
    await sleep(10);
  }
  throw new Error('the snapshot never started');
}

describe('a TTL renewed while the snapshot is being taken', () => {
  it('keeps the renewed keys (with their new TTL and later writes) and still drops the ones that expired', async () => {
    const restore = await slowSnapshot(3);
    try {
      const renewed = Array.from({ length: 20 }, (_, i) => `spring:session:sessions:${i}`);
      const lapsed = Array.from({ length: 20 }, (_, i) => `lapsed:${i}`);
      for (const key of renewed) await src.hset(key, 'creationTime', '1', 'lastAccessedTime', '1');
      // 1.5 s: short of the 3 s snapshot (so its entries have expired by the time they are restored),
      // long enough for the fork to start first even on a loaded machine.
      for (const key of renewed) await src.pexpire(key, 1500);
      for (const key of lapsed) await src.set(key, 'old', 'PX', 1500);
      const copying = copyViaReplication({ url: source.url }, { url: target.url });
      await snapshotForked();
      for (const key of renewed) expect(await src.pexpire(key, 600_000)).toBe(1); // Gate renews the session: 10 minutes
      // A write after the renewal that only makes sense on the whole hash.
      await src.hset(renewed[0]!, 'lastAccessedTime', '2');
      const copied = await copying;

      // The snapshot entries had expired before they were restored (each copy of them is as of the fork).
      expect(copied.expiredKeptBySource).toBeGreaterThan(0);
      for (const key of renewed) {
        expect({ key, ttl: await dst.pttl(key) }).toEqual({ key, ttl: expect.any(Number) });
        expect(await dst.pttl(key)).toBeGreaterThan(590_000);
        expect(await dst.hget(key, 'creationTime')).toBe('1');
      }
      expect(await dst.hgetall(renewed[0]!)).toEqual({ creationTime: '1', lastAccessedTime: '2' });
      // Not renewed: gone on both sides, not kept alive by the grace expiry.
      expect(await dst.exists(...lapsed)).toBe(0);
      // No key without a TTL that has one on the source.
      for (const key of renewed) expect(Math.abs((await dst.pttl(key)) - (await src.pttl(key)))).toBeLessThan(1000);
    } finally {
      await restore();
    }
  }, 60_000);
});

describe('the stream database from the copy to the first catch-up slice', () => {
  it('writes in db 3 on both sides of the boundary, with the SELECT emitted during the copy, land in db 3', async () => {
    const restore = await slowSnapshot(1.5);
    const writer = await connectRedis({ url: `${source.url}/3` }, { connectionName: 'orca-db3' });
    try {
      const copying = copyBulkSlice({ url: source.url }, { url: target.url }, undefined, { method: 'replication', deadline: Date.now() + 60_000, progressId: 'db3' });
      await snapshotForked();
      // After the fork: in the copy's stream, after a SELECT 3.
      await writer.set('during-copy', 'a');
      const copy = await copying;
      expect(copy).toMatchObject({ method: 'replication', replication: { db: 3 } });
      // The master does not repeat SELECT 3 for a partial resync: these come with no SELECT.
      await writer.set('after-copy', 'b');
      await writer.rpush('orca.stages', 'stage-1', 'stage-2');
      const slice = await catchUpSlice({ url: source.url }, { url: target.url }, undefined, {
        ...(copy.replication ? { copiedAt: copy.replication } : {}),
        sliceMs: 1500,
        giveUpAfterMs: 600_000,
      });
      expect(slice.streamLost).toBeUndefined();
      const db3 = await connectRedis({ url: `${target.url}/3` });
      try {
        expect(await db3.mget('during-copy', 'after-copy')).toEqual(['a', 'b']);
        expect(await db3.lrange('orca.stages', 0, -1)).toEqual(['stage-1', 'stage-2']);
      } finally {
        db3.disconnect();
      }
      expect(await dst.exists('after-copy', 'orca.stages')).toBe(0);
    } finally {
      writer.disconnect();
      await restore();
    }
  }, 60_000);
});
