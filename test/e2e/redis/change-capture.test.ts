import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { connectRedis } from '../../../lib/redis/connect.js';
import { enableChangeCapture, mergeFlags, restoreChangeCapture } from '../../../lib/redis/change-capture.js';
import { startRedis, type RedisProcess } from '../../../sandbox/redis/redis-process.js';

describe('change capture on spin-redis', () => {
  let server: RedisProcess;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedis({ dir: mkdtempSync(join(tmpdir(), 'capture-')), notifyKeyspaceEvents: 'Ex' });
    redis = await connectRedis({ url: server.url });
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  it('adds the flags the catch-up needs, keeps the old ones, and restores them exactly', async () => {
    const result = await enableChangeCapture(redis);
    expect(result.previousNotifyKeyspaceEvents).toBe('xE');
    const [, now] = (await redis.config('GET', 'notify-keyspace-events')) as string[];
    expect(now).toContain('K');
    expect(now).toContain('E');
    // A re-run after a crash must still remember the original value, not ours.
    const again = await enableChangeCapture(redis, result.previousNotifyKeyspaceEvents);
    expect(again.previousNotifyKeyspaceEvents).toBe('xE');
    await restoreChangeCapture(redis, result.previousNotifyKeyspaceEvents);
    expect(((await redis.config('GET', 'notify-keyspace-events')) as string[])[1]).toBe('xE');
  });

  it('merges flag strings in canonical order', () => {
    expect(mergeFlags('Ex', 'KA')).toBe('KEAx');
    expect(mergeFlags('', 'KA')).toBe('KA');
  });
});
