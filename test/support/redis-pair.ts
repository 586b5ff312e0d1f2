/** Two redis-servers for a test file: a source and a target, a client on each, flushed after every test. */
import { afterAll, afterEach, beforeAll } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { connectRedis } from '../../lib/redis/connect.js';
import { startRedis, type RedisProcess } from '../../sandbox/redis/redis-process.js';

export interface RedisPair {
  dir: string;
  source: RedisProcess;
  target: RedisProcess;
  src: Redis;
  dst: Redis;
}

/** Registers the hooks; the fields are set once `beforeAll` has run. */
export function useRedisPair(prefix: string): RedisPair {
  const pair = { dir: mkdtempSync(join(tmpdir(), prefix)) } as RedisPair;
  beforeAll(async () => {
    [pair.source, pair.target] = await Promise.all([startRedis({ dir: join(pair.dir, 's') }), startRedis({ dir: join(pair.dir, 't') })]);
    [pair.src, pair.dst] = await Promise.all([connectRedis({ url: pair.source.url }), connectRedis({ url: pair.target.url })]);
  });
  afterAll(async () => {
    pair.src.disconnect();
    pair.dst.disconnect();
    await Promise.all([pair.source.stop(), pair.target.stop()]);
  });
  afterEach(async () => {
    await Promise.all([pair.src.flushall(), pair.dst.flushall()]);
  });
  return pair;
}
