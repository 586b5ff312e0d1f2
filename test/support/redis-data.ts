/** Every Redis type and encoding, binary-unsafe names and values, and TTLs: the copy tests' dataset. */
import type { Redis } from 'ioredis';

export const BIN = Buffer.from([0x00, 0xff, 0x0a, 0x20, 0xc3, 0x28]);

export async function seedAllTypes(redis: Redis) {
  await redis.set('str', 'hello');
  await redis.set('int', '12345');
  await redis.set('negative', '-70000');
  await redis.set('empty', '');
  await redis.set('compressible', 'x'.repeat(5000)); // LZF in the RDB
  await redis.set(BIN, BIN);
  await redis.set('key with spaces\nand newline', 'v');
  await redis.rpush('list', 'a', 'b', 'a', '', '123');
  await redis.rpush('list-big-items', 'y'.repeat(70_000), 'z'); // a plain quicklist node
  await redis.sadd('set', 'x', 'y', BIN);
  await redis.sadd('intset', 1, 2, 3, 70_000);
  await redis.sadd('set-table', ...Array.from({ length: 600 }, (_, i) => `m${i}`)); // hashtable encoding
  await redis.zadd('zset', 1.5, 'a', -2, 'b', 1e-300, 'c', 'inf', 'd');
  await redis.zadd('zset-skiplist', ...Array.from({ length: 300 }, (_, i) => [i / 3, `m${i}`]).flat());
  await redis.hset('hash', 'f1', 'v1', 'f2', BIN);
  await redis.hset('hash-table', ...Array.from({ length: 600 }, (_, i) => [`f${i}`, `v${i}`]).flat());
  await redis.pfadd('hll', 'a', 'b', 'c', 'd');
  await redis.setbit('bitmap', 1000, 1);
  await redis.xadd('stream', '1-1', 'a', '1');
  await redis.xadd('stream', '2-1', 'b', '2');
  await redis.xgroup('CREATE', 'stream', 'workers', '0');
  await redis.xreadgroup('GROUP', 'workers', 'alice', 'COUNT', '1', 'STREAMS', 'stream', '>');
  await redis.xadd('empty-stream', 'MAXLEN', '0', '5-5', 'x', 'y');
  await redis.set('ttl', 'v', 'PX', 60_000);
  await redis.hset('hash-ttl', 'a', '1');
  await redis.pexpire('hash-ttl', 120_000);
}
