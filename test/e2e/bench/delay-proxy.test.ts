/**
 * The benchmark's delaying proxy against a real redis-server: a PING round trip through it costs
 * about twice the one-way delay, and a large value crosses it byte for byte in both directions.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { startDelayProxy, type DelayProxy } from '../../../bench/delay-proxy.js';
import { connectRedis } from '../../../lib/redis/connect.js';
import { startRedis, type RedisProcess } from '../../../sandbox/redis/redis-process.js';

const ONE_WAY_MS = 5;

describe('delay proxy', () => {
  let server: RedisProcess;
  let proxy: DelayProxy;
  let direct: Redis;
  let delayed: Redis;
  beforeAll(async () => {
    server = await startRedis({ dir: mkdtempSync(join(tmpdir(), 'delay-proxy-')) });
    proxy = await startDelayProxy({ targetPort: server.port, oneWayDelayMs: ONE_WAY_MS, highWaterBytes: 256 * 1024 });
    direct = await connectRedis({ url: server.url });
    delayed = await connectRedis({ url: `redis://127.0.0.1:${proxy.port}` });
  });
  afterAll(async () => {
    direct.disconnect();
    delayed.disconnect();
    await proxy.close();
    await server.stop();
  });

  it('makes a PING round trip last about twice the one-way delay', async () => {
    const samples: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      expect(await delayed.ping()).toBe('PONG');
      samples.push(performance.now() - started);
    }
    // Every round trip waits both delays; the fastest shows little else is added (the median
    // is not used: on a loaded shared machine one slow timer would fail the test for nothing).
    // A proxy that forgot a direction would be ~5 ms.
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(2 * ONE_WAY_MS);
    expect(Math.min(...samples)).toBeLessThan(2 * ONE_WAY_MS + 5);
  });

  it('forwards a large value byte for byte, with backpressure, in both directions', async () => {
    const value = randomBytes(24 * 1024 * 1024);
    await delayed.set('big', value);
    expect((await direct.getBuffer('big'))!.equals(value)).toBe(true);
    expect((await delayed.getBuffer('big'))!.equals(value)).toBe(true);
    expect(proxy.bytes.up).toBeGreaterThan(value.length);
    expect(proxy.bytes.down).toBeGreaterThan(value.length);
  });

  it('keeps pipelined replies in order', async () => {
    const pipeline = delayed.pipeline();
    for (let i = 0; i < 2000; i++) pipeline.set(`k${i}`, String(i)).get(`k${i}`);
    const replies = (await pipeline.exec())!;
    for (let i = 0; i < 2000; i++) expect(replies[2 * i + 1]![1]).toBe(String(i));
  });
});
