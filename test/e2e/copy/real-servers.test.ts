/**
 * The copy as a new user runs it, against real servers of every version spin-redis runs in
 * the field: from Redis 3.2, 4.0, 5.0, 6.2 (and the machine's 7.0), with and without a
 * password, into Redis 7.0 and Valkey 8.0 targets, by both methods; then the live catch-up
 * of Spinnaker-shaped writes (orca's Lua, relative expiries, renames, deletions), a strict
 * verification, and the rollback's copy-back into the old server.
 *
 * Local only (CI has Redis 7.0.15 alone; the recordings in test/fixtures/redis-fullsync/ stand
 * in there): SPIN_REDIS_BUILDS=<dir> with one `<version>/redis-server` per version, e.g. as
 * built into /work/redis-builds/ (3.2.13, 4.0.14, 5.0.14, 6.2.16, valkey-8.0.1). Narrow it
 * with SPIN_REDIS_SOURCES=3.2.13,6.2.16 and SPIN_REDIS_TARGETS=system,valkey-8.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { finalCatchUp } from '../../../lib/copy/catch-up-slice.js';
import { copyAll, type CopyMethod } from '../../../lib/copy/engine.js';
import { copyBack } from '../../../lib/copy/reconcile.js';
import { verifyCopy } from '../../../lib/copy/verify.js';
import { versionAtLeast } from '../../../lib/copy/restore-expiry.js';
import { connectRedis, type RedisEndpoint } from '../../../lib/redis/connect.js';
import { startRedis, type RedisProcess } from '../../../sandbox/redis/redis-process.js';

const BUILDS = process.env.SPIN_REDIS_BUILDS;
const wanted = (variable: string, all: string[]) => (process.env[variable] ? process.env[variable]!.split(',') : all);
const binaryOf = (name: string) => (name === 'system' ? undefined : join(BUILDS ?? '', name, 'redis-server'));
const present = (name: string) => name === 'system' || existsSync(binaryOf(name)!);
const SOURCES = BUILDS ? wanted('SPIN_REDIS_SOURCES', ['3.2.13', '4.0.14', '5.0.14', '6.2.16', 'system']).filter(present) : [];
const TARGETS = BUILDS ? wanted('SPIN_REDIS_TARGETS', ['system', 'valkey-8.0.1']).filter(present) : [];
const PASSWORD = 'Sp1n-Redis-Passw0rd';

/** Spinnaker-shaped keys, written with commands every version has (HMSET, no UNLINK). */
async function seed(redis: Redis, version: string): Promise<void> {
  const p = redis.pipeline();
  for (let i = 0; i < 300; i++) {
    p.hmset(`pipeline:${i}`, { application: `app${i % 7}`, status: i % 3 ? 'SUCCEEDED' : 'RUNNING', startTime: String(1_700_000_000_000 + i), 'stage.s1.context': JSON.stringify({ n: i }) });
    p.zadd(`pipeline:app:app${i % 7}`, String(1_700_000_000_000 + i), String(i));
    p.sadd('allJobs:pipeline', String(i));
  }
  for (let i = 0; i < 50; i++) p.set(`spring:session:sessions:${i}`, `s${i}`, 'PX', 600_000 + i);
  const big: Record<string, string> = {};
  for (let i = 0; i < 3000; i++) big[`field${i}`] = `value-${i}-${'x'.repeat(i % 50)}`;
  p.hmset('pipeline:big', big);
  p.rpush('orca.task.queue', 'a', 'b', 'c');
  p.zadd('queue', '1', 'msg1', '2', 'msg2');
  p.set(Buffer.from([0xff, 0x00, 0x7f, 0x80]), Buffer.from([0, 1, 2, 255]));
  p.set('igor:lastBuild', '42');
  p.pexpire('pipeline:1', 900_000);
  p.select(3);
  p.set('db3:key', 'v', 'PX', 700_000);
  p.select(0);
  await p.exec();
  if (versionAtLeast(version, 5, 0)) {
    await redis.xadd('events', '1-0', 'a', '1');
    await redis.xadd('events', '2-0', 'b', '2');
    await redis.xgroup('CREATE', 'events', 'g', '0');
    await redis.xreadgroup('GROUP', 'g', 'c1', 'COUNT', '1', 'STREAMS', 'events', '>');
  }
}

/** orca and gate at work: a Lua poll (3.2/4.0 replicate it whole), relative expiries, renames, deletions. */
async function spinnakerWrites(redis: Redis, round: number): Promise<void> {
  await redis.eval("redis.call('ZREM', KEYS[1], ARGV[1]); redis.call('HSET', KEYS[2], 'status', ARGV[2]); return 1", 2, 'queue', `pipeline:${round}`, 'msg1', 'TERMINAL');
  await redis.set(`spring:session:sessions:${round}`, 'renewed', 'PX', 300_000);
  await redis.pexpire('pipeline:2', 450_000);
  await redis.hmset(`pipeline:new${round}`, { application: 'fresh', status: 'RUNNING' });
  await redis.sadd('allJobs:pipeline', `new${round}`);
  await redis.set(`fiat:temp:${round}`, `roles-${round}`);
  await redis.rename(`fiat:temp:${round}`, `fiat:roles:${round}`);
  await redis.del(`pipeline:${100 + round}`);
  await redis.lpop('orca.task.queue');
}

const COMBINATIONS = SOURCES.flatMap((s) => TARGETS.flatMap((t) => [false, true].map((pw) => [s, t, pw] as const)));
// CI has only the system redis-server: the combinations run where SPIN_REDIS_BUILDS points at builds (skipped, not failed, elsewhere).
(COMBINATIONS.length > 0 ? describe.each(COMBINATIONS) : describe.skip.each([['none', 'none', false] as const]))('from %s into %s, password %s', (sourceName, targetName, withPassword) => {
  const dir = mkdtempSync(join(tmpdir(), 'real-servers-'));
  let source: RedisProcess;
  let target: RedisProcess;
  let src: Redis;
  let dst: Redis;
  let sourceEndpoint: RedisEndpoint;
  let version = '';
  beforeAll(async () => {
    const sourceBinary = binaryOf(sourceName);
    const targetBinary = binaryOf(targetName);
    [source, target] = await Promise.all([
      startRedis({ dir: join(dir, 's'), ...(sourceBinary ? { binary: sourceBinary } : {}), ...(withPassword ? { password: PASSWORD } : {}) }),
      startRedis({ dir: join(dir, 't'), ...(targetBinary ? { binary: targetBinary } : {}) }),
    ]);
    sourceEndpoint = { url: source.url, ...(withPassword ? { password: PASSWORD } : {}) };
    [src, dst] = await Promise.all([connectRedis(sourceEndpoint), connectRedis({ url: target.url })]);
    version = /redis_version:(\S+)/.exec(await src.info('server'))?.[1] ?? '';
  });
  afterAll(async () => {
    src?.disconnect();
    dst?.disconnect();
    await Promise.all([source?.stop(), target?.stop()]);
  });

  it.each(['replication', 'scan'] as CopyMethod[])(
    '%s: copy, strict verification, catch-up of live writes, copy-back',
    async (method) => {
      await Promise.all([src.flushall(), dst.flushall()]);
      await seed(src, version);
      const copied = await copyAll(sourceEndpoint, { url: target.url }, { method });
      expect(copied.method).toBe(method);
      const first = await verifyCopy(sourceEndpoint, { url: target.url }, { mode: 'strict' });
      expect({ ok: first.ok, examples: first.examples }).toEqual({ ok: true, examples: [] });
      expect(first.compared).toBeGreaterThan(350);

      // The final catch-up inside the pause: the replication stream to the source's last byte after
      // a replication copy, the mirror reconciliation after a scan copy.
      const position = copied.replication ? { replid: copied.replication.replid, offset: copied.replication.offset } : undefined;
      for (let round = 0; round < 3; round++) await spinnakerWrites(src, round);
      const final = await finalCatchUp(sourceEndpoint, { url: target.url }, undefined, { ...(position ? { copiedAt: position } : {}), withinMs: 30_000 });
      expect(final.method).toBe(position ? 'stream' : 'mirror');
      const second = await verifyCopy(sourceEndpoint, { url: target.url }, { mode: 'strict' });
      expect({ ok: second.ok, examples: second.examples }).toEqual({ ok: true, examples: [] });

      // The rollback: what Spinnaker wrote to the new Redis goes back into the old server.
      await dst.hset('pipeline:after-cutover', 'status', 'RUNNING');
      await dst.set('spring:session:sessions:late', 'x', 'PX', 120_000);
      await dst.sadd('allJobs:pipeline', 'after-cutover');
      const back = await copyBack({ url: target.url }, sourceEndpoint);
      expect(back.copied).toBeGreaterThanOrEqual(2);
      expect(await src.hget('pipeline:after-cutover', 'status')).toBe('RUNNING');
      expect(await src.pttl('spring:session:sessions:late')).toBeGreaterThan(100_000);
      expect(await src.sismember('allJobs:pipeline', 'after-cutover')).toBe(1);
    },
    120_000,
  );
});

if (SOURCES.length === 0) {
  it('needs SPIN_REDIS_BUILDS (real old servers; local only)', () => {
    expect(BUILDS).toBeUndefined();
  });
}
