/**
 * lib/copy/rdb-snapshot.ts against real redis-server processes: spin-redis's snapshot taken as a
 * replica, diskless (`$EOF:` framing) and disk-based (`$<length>`), is a whole RDB that another
 * redis-server loads at start (as ElastiCache's seeded primary does) with every key, TTLs included;
 * a sink that fails stops the transfer with a named error.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { streamRdbSnapshot } from '../../../lib/copy/rdb-snapshot.js';
import { type RedisProcess, startRedis } from '../../../sandbox/redis/redis-process.js';

const dir = mkdtempSync(join(tmpdir(), 'rdb-snapshot-'));
const started: RedisProcess[] = [];
afterAll(async () => {
  for (const p of started) await p.stop();
});

async function source(diskless: boolean): Promise<{ url: string; redis: Redis }> {
  const p = await startRedis({ dir: join(dir, `src-${diskless}`), extraArgs: ['--repl-diskless-sync', diskless ? 'yes' : 'no', '--repl-diskless-sync-delay', '0'] });
  started.push(p);
  const redis = new Redis(p.port, '127.0.0.1');
  const pipeline = redis.pipeline();
  for (let i = 0; i < 2000; i++) pipeline.hset(`pipeline:${i}`, 'status', 'SUCCEEDED', 'stage', 'x'.repeat(i % 300));
  for (let i = 0; i < 200; i++) pipeline.set(`session:${i}`, `s${i}`, 'PX', 600_000);
  pipeline.zadd('orca.task.queue.queue', 1, 'a', 2, 'b');
  await pipeline.exec();
  return { url: p.url, redis };
}

describe.each([true, false])('the snapshot as a replica (diskless %s)', (diskless) => {
  it('is a whole RDB another redis-server loads at start, every key and TTL there', async () => {
    const { url, redis } = await source(diskless);
    try {
      const chunks: Buffer[] = [];
      const snap = await streamRdbSnapshot({ url }, async (c) => void chunks.push(c), { timeoutMs: 30_000 });
      const file = Buffer.concat(chunks);
      expect(snap).toMatchObject({ bytes: file.length, rdbVersion: 10, keys: 2201, sha256: createHash('sha256').update(file).digest('hex') });
      expect(file.toString('latin1', 0, 9)).toBe('REDIS0010');
      const loadDir = join(dir, `load-${diskless}`);
      mkdirSync(loadDir, { recursive: true });
      writeFileSync(join(loadDir, 'dump.rdb'), file);
      const loaded = await startRedis({ dir: loadDir });
      started.push(loaded);
      const copy = new Redis(loaded.port, '127.0.0.1');
      try {
        expect(await copy.dbsize()).toBe(await redis.dbsize());
        expect(await copy.hgetall('pipeline:299')).toEqual(await redis.hgetall('pipeline:299'));
        expect(await copy.pttl('session:7')).toBeGreaterThan(500_000);
        expect(await copy.zrange('orca.task.queue.queue', '0', '-1')).toEqual(['a', 'b']);
      } finally {
        copy.disconnect();
      }
    } finally {
      redis.disconnect();
    }
  }, 60_000);
});

describe('a sink that fails', () => {
  it('stops the transfer with CopyFailedError', async () => {
    const { url, redis } = await source(true);
    try {
      await expect(
        streamRdbSnapshot(
          { url },
          async () => {
            throw new Error('S3 said no');
          },
          { timeoutMs: 30_000 },
        ),
      ).rejects.toMatchObject({ name: 'CopyFailedError', message: expect.stringContaining('S3 said no') });
    } finally {
      redis.disconnect();
    }
  }, 60_000);
});
