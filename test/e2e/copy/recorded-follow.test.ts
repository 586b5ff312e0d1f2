/**
 * The stream catch-up (followChanges) in front of real masters' recorded bytes (Redis 3.2 to
 * 7.0: test/fixtures/redis-fullsync/), played by the replay master, into a real redis-server
 * target: the copy takes the snapshot alone, the recorded writes (scripts, MULTI/EXEC,
 * removals, RENAME, SWAPDB, relative TTLs) come through the catch-up, and the target must
 * end equal to expected.json (type, value, TTL present or absent).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { copyViaReplication } from '../../../lib/copy/replication/replica-copy.js';
import { followChanges, STREAM_POSITION_KEY, targetStreamPosition } from '../../../lib/copy/replication/follow.js';
import { connectRedis } from '../../../lib/redis/connect.js';
import { startRedis, type RedisProcess } from '../../../sandbox/redis/redis-process.js';
import { binary } from '../../support/redis-pair.js';
import { diffDatasets, loadExpected, readDataset, writeDataset } from '../../support/fullsync-expected.js';
import { loadRecording, ReplayMaster } from '../../support/replay-master.js';

const dir = mkdtempSync(join(tmpdir(), 'recorded-follow-'));
let backing: RedisProcess;
let target: RedisProcess;
let back: Redis;
let dst: Redis;
beforeAll(async () => {
  [backing, target] = await Promise.all([startRedis({ dir: join(dir, 'backing') }), startRedis({ dir: join(dir, 'target'), ...binary('SPIN_TARGET_REDIS_SERVER') })]);
  [back, dst] = await Promise.all([connectRedis({ url: backing.url }), connectRedis({ url: target.url })]);
});
afterAll(async () => {
  back.disconnect();
  dst.disconnect();
  await Promise.all([backing.stop(), target.stop()]);
});

describe.each(['redis-3.2.13', 'redis-4.0.14', 'redis-5.0.14', 'redis-6.2.16', 'redis-7.0.15'] as const)('replaying %s', (name) => {
  it('the stream catch-up continues from where the copy stopped and ends equal to expected.json', async () => {
    const expected = loadExpected(name);
    await writeDataset(back, expected, { entriesReadUnknown: !/-7\./.test(name) });
    await dst.flushall();
    // The copy gets the snapshot alone; the recorded writes happen afterwards, and the catch-up
    // finds them in the master's backlog (PSYNC <replid> <offset+1> → +CONTINUE).
    const replay = await ReplayMaster.start(loadRecording(name), { backing: { host: backing.host, port: backing.port }, holdStream: true });
    try {
      const copied = await copyViaReplication({ url: replay.url }, { url: target.url });
      expect(copied.offset).toBe(replay.recording.startOffset);
      replay.releaseStream();
      const followed = await followChanges({ url: replay.url }, { url: target.url }, { position: { replid: copied.replid, offset: copied.offset }, until: Date.now() + 500 });
      expect(followed.position.offset).toBe(replay.masterReplOffset);
      // The position is on the target, in db 0 only (SWAPDB 5 6 never moves it elsewhere).
      expect(await targetStreamPosition(dst)).toEqual(followed.position);
      await sleep(400); // `SET short:ttl … PX 300` from the stream expires on the target as on the master
      await dst.del(STREAM_POSITION_KEY);
      expect(diffDatasets(expected, await readDataset(dst))).toEqual([]);
    } finally {
      await replay.stop();
    }
  });
});

describe('replaying redis-6.2.16 late', () => {
  it('the relative TTLs in its stream (PEXPIRE, SET … PX) are not stretched by the catch-up being late', async () => {
    const expected = loadExpected('redis-6.2.16');
    await writeDataset(back, expected, { entriesReadUnknown: true }); // the backing's TTLs: an hour from now, as the master's
    await dst.flushall();
    const replay = await ReplayMaster.start(loadRecording('redis-6.2.16'), { backing: { host: backing.host, port: backing.port }, holdStream: true });
    try {
      const copied = await copyViaReplication({ url: replay.url }, { url: target.url });
      await sleep(1500); // between two slices
      replay.releaseStream();
      await followChanges({ url: replay.url }, { url: target.url }, { position: { replid: copied.replid, offset: copied.offset }, until: Date.now() + 300 });
      for (const key of ['spring:session:sessions:abc', 'spring:session:sessions:expires:abc']) {
        const [onTarget, onSource] = [await dst.pttl(key), await back.pttl(key)];
        expect({ key, stretch: Math.abs(onTarget - onSource) < 300 }).toEqual({ key, stretch: true });
      }
    } finally {
      await replay.stop();
    }
  });
});
