/** Two redis-servers for a test file: a source and a target, a client on each, flushed after every test. */
import { afterAll, afterEach, beforeAll } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { connectRedis } from '../../lib/redis/connect.js';
import { startRedis, type RedisProcess } from '../../sandbox/redis/redis-process.js';

/** `{ binary }` from an environment variable naming a redis-server (local runs against other versions), or nothing. */
export const binary = (variable: 'SPIN_TARGET_REDIS_SERVER' | 'SPIN_SOURCE_REDIS_SERVER'): { binary?: string } => (process.env[variable] ? { binary: process.env[variable] } : {});

export interface RedisPair {
  dir: string;
  source: RedisProcess;
  target: RedisProcess;
  src: Redis;
  dst: Redis;
}

/**
 * Registers the hooks; the fields are set once `beforeAll` has run. SPIN_TARGET_REDIS_SERVER=<path>
 * plays the target with another binary (e.g. Valkey 8.0.1, locally), SPIN_SOURCE_REDIS_SERVER the source.
 */
export function useRedisPair(prefix: string): RedisPair {
  const pair = { dir: mkdtempSync(join(tmpdir(), prefix)) } as RedisPair;
  beforeAll(async () => {
    [pair.source, pair.target] = await Promise.all([
      startRedis({ dir: join(pair.dir, 's'), ...binary('SPIN_SOURCE_REDIS_SERVER') }),
      startRedis({ dir: join(pair.dir, 't'), ...binary('SPIN_TARGET_REDIS_SERVER') }),
    ]);
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
