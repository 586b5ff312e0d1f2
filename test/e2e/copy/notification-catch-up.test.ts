/**
 * The notification catch-up (the fallback when the replication stream cannot continue), between
 * two real redis-server 7.0.15: each touched key's state replaces the target's, so removals from
 * every collection type reach the target, and a key expiring in the very millisecond it is read
 * (PTTL 0) is deleted on the target, never copied without an expiry.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { catchUp, syncKey } from '../../../lib/copy/live.js';
import { verifyCopy } from '../../../lib/copy/verify.js';
import type { RedisProcess } from '../../../sandbox/redis/redis-process.js';
import { useRedisPair } from '../../support/redis-pair.js';

const pair = useRedisPair('notification-catch-up-');
let source: RedisProcess;
let target: RedisProcess;
let src: Redis;
let dst: Redis;
beforeAll(async () => {
  ({ source, target, src, dst } = pair);
  await src.config('SET', 'notify-keyspace-events', 'KEA');
});

describe('the notification catch-up', () => {
  it('replaces collections whole: removals during the catch-up reach the target', async () => {
    const seed = async (r: Redis) => {
      await r.zadd('q', '1', 'm1', '2', 'm2', '3', 'm3', '4', 'm4');
      await r.hset('q.messages', 'm1', 'a', 'm2', 'b', 'm3', 'c', 'm4', 'd');
      await r.sadd('s', 'a', 'b', 'c');
      await r.rpush('l', 'a', 'b', 'c');
      await r.set('tmp', 'v');
    };
    await seed(src);
    await seed(dst);
    const running = catchUp({ url: source.url }, { url: target.url }, { until: Date.now() + 800 });
    await sleep(200);
    await src.zrem('q', 'm1', 'm2');
    await src.hdel('q.messages', 'm1', 'm2');
    await src.srem('s', 'a');
    await src.lpop('l');
    await src.rename('tmp', 'renamed');
    await running;
    expect(await dst.zrange('q', '0', '-1')).toEqual(['m3', 'm4']);
    expect(await dst.hgetall('q.messages')).toEqual({ m3: 'c', m4: 'd' });
    const report = await verifyCopy({ url: source.url }, { url: target.url }, { mode: 'strict', ttlToleranceMs: 100 });
    expect({ ok: report.ok, examples: report.examples }).toEqual({ ok: true, examples: [] });
  });

  it('ends at its slice end even inside a long queue of touched keys', async () => {
    // 100,000 keys touched, each copied one by one: several seconds of work, against a 3 s slice.
    // The burst comes from another process (redis-cli --pipe), as Spinnaker's writes do: written
    // from this one, its pipelines took the event loop from the session on a loaded machine (the
    // session ended 5.8 s late in CI).
    const sliceMs = 3000;
    const startedAt = Date.now();
    let endedAt = 0;
    const session = catchUp({ url: source.url }, { url: target.url }, { until: startedAt + sliceMs }).finally(() => {
      endedAt = Date.now();
    });
    await sleep(200);
    const writer = spawn('redis-cli', ['-p', String(source.port), '--pipe'], { stdio: ['pipe', 'ignore', 'inherit'] });
    const written = new Promise<number | null>((resolve) => writer.on('close', resolve));
    for (let i = 0; i < 100_000; i += 5_000) {
      const chunk: string[] = [];
      for (let j = i; j < i + 5_000; j++) chunk.push(`*3\r\n$3\r\nSET\r\n$${`burst:${j}`.length}\r\nburst:${j}\r\n$1\r\nx\r\n`);
      if (!writer.stdin.write(chunk.join(''))) await new Promise((r) => writer.stdin.once('drain', r));
    }
    writer.stdin.end();
    const stats = await session;
    expect(await written).toBe(0);
    // The queue was taken key by key against the deadline: the run ended near it with keys left over.
    expect(endedAt - startedAt).toBeLessThan(sliceMs + 1500);
    expect(stats.copied).toBeGreaterThan(0);
    expect(stats.copied).toBeLessThan(100_000);
    expect(await dst.dbsize()).toBeLessThan(100_000);
  });

  it('a key read with PTTL 0 is deleted on the target, not copied without expiry', async () => {
    await dst.set('expiring', 'old');
    // The source answers as a key expiring in the very millisecond of the read does.
    const expiringNow = { callBuffer: async () => [0, Buffer.from('payload'), Buffer.from('string')] } as unknown as Redis;
    expect(await syncKey(expiringNow, dst, Buffer.from('expiring'))).toBe('deleted');
    expect(await dst.exists('expiring')).toBe(0);
  });
});
