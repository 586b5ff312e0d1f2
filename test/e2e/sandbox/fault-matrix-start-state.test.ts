/**
 * The fault matrix's start state, read from a real redis-server while Spinnaker runs: a key the
 * SCAN listed but Spinnaker removed before the migration began (orca popping its queue's last
 * message) is not start state, so its absence at the end is no loss. Two CI runs failed
 * spinRedisDataIntact on exactly that (`orca.task.queue.queue`).
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { connectRedis } from '../../../lib/redis/connect.js';
import { startStateOf } from '../../../sandbox/fault-matrix.js';
import { type RedisProcess, startRedis } from '../../../sandbox/redis/redis-process.js';

let server: RedisProcess;
let redis: Redis;
beforeAll(async () => {
  server = await startRedis({ dir: mkdtempSync(join(tmpdir(), 'start-state-')) });
  redis = await connectRedis({ url: server.url });
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

it('keeps what is there, with members and expiry, and drops what went between the SCAN and the reads', async () => {
  await redis.zadd('orca.task.queue.queue', 1, 'message-1');
  await redis.hset('orca.task.queue.messages', 'message-1', '{}');
  await redis.sadd('allBakes', 'bake-1', 'bake-2');
  await redis.set('pipeline:1:stage:1', 'x', 'PX', 600_000);
  await redis.set('spring:session:sessions:1', 'gate', 'EX', 60);
  // Orca's next poll, as soon as the SCAN has answered: the queue's last message leaves, and Redis deletes the emptied zset.
  const scan = redis.scan.bind(redis);
  const racing = new Proxy(redis, {
    get: (target, property, receiver) =>
      property === 'scan'
        ? async (...args: Parameters<Redis['scan']>) => {
            const reply = await (scan as (...a: unknown[]) => Promise<[string, string[]]>)(...args);
            await redis.zrem('orca.task.queue.queue', 'message-1');
            return reply;
          }
        : Reflect.get(target, property, receiver),
  });
  const before = Date.now();
  const { keys, members, expiresAt } = await startStateOf(racing);
  expect(keys.sort()).toEqual(['allBakes', 'orca.task.queue.messages', 'pipeline:1:stage:1']);
  expect(members.get('allBakes')?.sort()).toEqual(['bake-1', 'bake-2']);
  expect(members.get('orca.task.queue.messages')).toEqual(['message-1']);
  expect(members.has('pipeline:1:stage:1')).toBe(false);
  const at = expiresAt.get('pipeline:1:stage:1') ?? 0;
  expect(at).toBeGreaterThan(before + 590_000);
  expect(at).toBeLessThanOrEqual(Date.now() + 600_000);
  expect(expiresAt.has('allBakes')).toBe(false);
});
