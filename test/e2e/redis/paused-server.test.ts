/**
 * A spin-redis held by CLIENT PAUSE (a FAILOVER, an operator, the fault matrix's "spin-redis
 * blocks past the slice deadline") is slow, not gone: connecting waits for it up to the command
 * timeout, not only `connectTimeout`, which bounds the TCP connect (lib/redis/connect.ts, resp.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis } from '../../../lib/redis/connect.js';
import { RespConnection } from '../../../lib/redis/resp.js';
import { startRedis, type RedisProcess } from '../../../sandbox/redis/redis-process.js';

describe('a redis-server held by CLIENT PAUSE for longer than connectTimeout', () => {
  let dir: string;
  let redis: RedisProcess;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'paused-server-'));
    redis = await startRedis({ dir });
  });
  afterAll(async () => {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const pause = async (ms: number) => {
    const admin = await connectRedis({ url: redis.url });
    try {
      await admin.call('CLIENT', 'PAUSE', String(ms), 'ALL');
    } finally {
      admin.disconnect();
    }
  };

  it('connectRedis waits for it, then works', async () => {
    await pause(1200);
    const started = performance.now();
    const client = await connectRedis({ url: redis.url }, { connectTimeout: 300 });
    try {
      expect(await client.ping()).toBe('PONG');
      expect(performance.now() - started).toBeGreaterThanOrEqual(800);
    } finally {
      client.disconnect();
    }
  });

  it('the raw connection (the replication copy) waits for it past connectTimeout (5 s), then works', async () => {
    await pause(5600);
    const started = performance.now();
    const connection = await RespConnection.open({ url: redis.url }, 'paused-test');
    try {
      expect(performance.now() - started).toBeGreaterThanOrEqual(5000);
    } finally {
      connection.close();
    }
  }, 20_000);
});
