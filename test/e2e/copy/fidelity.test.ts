/** The copy engine against real redis-server processes: every type, binary safety, TTLs, big keys, verification. */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { connectRedis } from '../../../lib/redis/connect.js';
import { copySlice } from '../../../lib/copy/bulk.js';
import type { Checkpoint } from '../../../lib/copy/types.js';
import { copyKeyByType, type RedisType } from '../../../lib/copy/key-copy.js';
import { digestKey } from '../../../lib/copy/digest.js';
import { verifyCopy } from '../../../lib/copy/verify.js';
import { reconcile } from '../../../lib/copy/reconcile.js';
import { runCopyCommand } from '../../../cli/copy-command.js';
import { startRedis, type RedisProcess } from '../../../sandbox/redis/redis-process.js';
import { BIN, seedAllTypes } from '../../support/redis-data.js';
import { useRedisPair } from '../../support/redis-pair.js';

const pair = useRedisPair('copy-');
const { dir } = pair;
let source: RedisProcess;
let target: RedisProcess;
let src: Redis;
let dst: Redis;
beforeAll(() => void ({ source, target, src, dst } = pair));

describe('bulk copy', () => {
  it('copies every type, binary keys and values, every database, with TTLs as absolute expiry', async () => {
    await seedAllTypes(src);
    await src.select(5);
    await src.set('db5-key', 'five');
    await src.select(0);
    const result = await copySlice({ url: source.url }, { url: target.url });
    expect(result.done).toBe(true);
    const report = await verifyCopy({ url: source.url }, { url: target.url }, { mode: 'strict', ttlToleranceMs: 100 });
    expect({ ok: report.ok, examples: report.examples }).toEqual({ ok: true, examples: [] });
    expect(report.compared).toBe((await src.dbsize()) + 1);
    // Consumer groups and their pending entries survive (RESTORE keeps them).
    const pending = (await dst.xpending('stream', 'workers')) as [number, ...unknown[]];
    expect(pending[0]).toBe(1);
    const expiry = (await dst.pexpiretime('ttl')) - (await src.pexpiretime('ttl'));
    expect(Math.abs(expiry)).toBeLessThanOrEqual(100);
    expect((await dst.getBuffer(BIN))?.equals(BIN)).toBe(true);
    await dst.select(5);
    expect(await dst.get('db5-key')).toBe('five');
    await dst.select(0);
  });

  it('does not bring back keys that expire during the copy', async () => {
    const pipeline = src.pipeline();
    for (let i = 0; i < 2000; i++) pipeline.set(`short:${i}`, 'x', 'PX', 5);
    await pipeline.exec();
    await new Promise((r) => setTimeout(r, 20));
    await copySlice({ url: source.url }, { url: target.url });
    await new Promise((r) => setTimeout(r, 50));
    expect(await dst.dbsize()).toBe(0);
  });

  it('resumes from a checkpoint across slices and converges', async () => {
    const pipeline = src.pipeline();
    for (let i = 0; i < 20_000; i++) pipeline.set(`k:${i}`, String(i));
    await pipeline.exec();
    let slice = await copySlice({ url: source.url }, { url: target.url }, { deadline: Date.now() + 1, scanCount: 100, inflight: 1 });
    let slices = 1;
    while (!slice.done) {
      slice = await copySlice({ url: source.url }, { url: target.url }, { checkpoint: slice.checkpoint, deadline: Date.now() + 30, scanCount: 500 });
      slices++;
    }
    expect(slices).toBeGreaterThan(1);
    expect(await dst.dbsize()).toBe(20_000);
    expect(JSON.stringify(slice.checkpoint).length).toBeLessThan(1000);
  });

  it('resumes a slice that died mid-way from its last safe checkpoint, losing nothing', async () => {
    const pipeline = src.pipeline();
    for (let i = 0; i < 30_000; i++) pipeline.set(`k:${i}`, String(i));
    await pipeline.exec();
    await src.set('big-random', randomBytes(600_000));
    const saved: Checkpoint[] = [];
    let missingBeforeSafePoint = -1;
    const crash = copySlice(
      { url: source.url },
      { url: target.url },
      {
        scanCount: 200,
        inflight: 6,
        maxPayloadBytes: 100_000,
        checkpointEveryMs: 0,
        onCheckpoint: async (cp) => {
          saved.push(cp);
          if (saved.length < 40) return;
          // Freeze the target's writes, so batches still in flight cannot land during the check.
          await dst.call('CLIENT', 'PAUSE', '3000', 'WRITE');
          // Safe means: every key SCAN returns before this cursor is already on the target
          // (or listed as pending), while later batches may still be in flight.
          const pending = new Set((cp.pendingKeys ?? []).map((k) => Buffer.from(k, 'base64').toString()));
          const before: string[] = [];
          let cursor = '0';
          do {
            const [next, keys] = await src.scan(cursor, 'COUNT', 200);
            before.push(...keys.filter((k) => !pending.has(k)));
            cursor = next;
          } while (cursor !== cp.cursor && cursor !== '0');
          const exists = await Promise.all(before.map((k) => dst.exists(k)));
          missingBeforeSafePoint = exists.filter((e) => e === 0).length;
          await dst.call('CLIENT', 'UNPAUSE');
          throw new Error('the Lambda was killed');
        },
      },
    );
    await expect(crash).rejects.toThrow();
    expect(missingBeforeSafePoint).toBe(0);
    const last = saved.at(-1)!;
    expect(last.cursor).not.toBe('0');
    const resumed = await copySlice({ url: source.url }, { url: target.url }, { checkpoint: last });
    expect(resumed.done).toBe(true);
    const report = await verifyCopy({ url: source.url }, { url: target.url }, { mode: 'strict' });
    expect({ ok: report.ok, missing: report.missing }).toEqual({ ok: true, missing: 0 });
  });

  it('copies big keys in chunks through a temporary key', async () => {
    const fields: string[] = [];
    for (let i = 0; i < 50_000; i++) fields.push(`f${i}`, `v${i}`);
    await src.hset('big-hash', ...fields);
    await src.set('big-string', randomBytes(5 * 1024 * 1024)); // incompressible: DUMP would not shrink it
    await src.pexpire('big-string', 300_000);
    const result = await copySlice({ url: source.url }, { url: target.url }, { maxPayloadBytes: 256 * 1024 });
    expect(result.checkpoint.stats.bigKeys).toBe(2);
    expect(await dst.hlen('big-hash')).toBe(50_000);
    expect(await dst.strlen('big-string')).toBe(5 * 1024 * 1024);
    expect(await dst.pttl('big-string')).toBeGreaterThan(290_000);
    expect((await dst.keys('spin-elasticache:tmp:*')).length).toBe(0);
  });
});

describe('type-based copy (the fallback when RESTORE refuses a payload)', () => {
  it.each(['str', 'list', 'set', 'zset', 'hash', 'stream', 'hll', 'bitmap'])('reproduces %s exactly', async (key) => {
    await seedAllTypes(src);
    // A type-based copy cannot carry a consumer group's pending entries (only RESTORE does).
    if (key === 'stream') await src.xack('stream', 'workers', '1-1');
    const type = (await src.type(key)) as RedisType;
    await copyKeyByType(src, dst, Buffer.from(key), type);
    const [a, b] = await Promise.all([digestKey(src, Buffer.from(key)), digestKey(dst, Buffer.from(key))]);
    expect(b?.digest).toBe(a?.digest);
  });
});

describe('verification', () => {
  it('finds a changed value, a missing key, an extra key and a wrong TTL', async () => {
    await seedAllTypes(src);
    await copySlice({ url: source.url }, { url: target.url });
    await dst.hset('hash', 'f1', 'changed');
    await dst.del('list');
    await dst.set('extra', '1');
    await dst.pexpire('ttl', 5_000);
    const report = await verifyCopy({ url: source.url }, { url: target.url }, { mode: 'strict' });
    expect(report).toMatchObject({ ok: false, valueMismatches: 1, missing: 1, extra: 1, ttlMismatches: 1 });
    expect(report.examples.map((e) => `${e.kind}:${e.key}`).sort()).toEqual(['extra:extra', 'missing:list', 'ttl:ttl', 'value:hash']);
  });
});

describe('final reconciliation (the mirror)', () => {
  it('makes the target exactly the source: differing keys replaced whole, removals and deletions propagated, nothing merged', async () => {
    await src.set('only-source', '1');
    await src.sadd('allJobs:pipeline', 'a', 'b');
    await dst.sadd('allJobs:pipeline', 'a', 'b', 'c');
    // A keiko ack on the source: the message left the queue and its hash; the target still has it.
    await src.zadd('orca.task.queue.queue', 3, 'm3', 4, 'm4');
    await dst.zadd('orca.task.queue.queue', 1, 'm1', 2, 'm2', 3, 'm3', 4, 'm4');
    await src.hset('orca.task.queue.messages', 'm3', 'c', 'm4', 'd');
    await dst.hset('orca.task.queue.messages', 'm1', 'a', 'm2', 'b', 'm3', 'c', 'm4', 'd');
    await src.set('igor:last', '42');
    await dst.set('igor:last', '41');
    await src.set('session', 's', 'PX', 60_000);
    await dst.set('session', 's', 'PX', 5_000);
    await src.set('same', 'x');
    await dst.set('same', 'x');
    await dst.set('deleted-on-source', '1');
    const stats = await reconcile({ url: source.url }, { url: target.url });
    expect(stats).toMatchObject({ copied: 6, deleted: 1, equal: 1 });
    expect(await dst.get('only-source')).toBe('1');
    expect((await dst.smembers('allJobs:pipeline')).sort()).toEqual(['a', 'b']);
    expect(await dst.zrange('orca.task.queue.queue', '0', '-1')).toEqual(['m3', 'm4']);
    expect(Object.keys(await dst.hgetall('orca.task.queue.messages')).sort()).toEqual(['m3', 'm4']);
    expect(await dst.get('igor:last')).toBe('42');
    expect(await dst.pttl('session')).toBeGreaterThan(50_000);
    expect(await dst.exists('deleted-on-source')).toBe(0);
    const strict = await verifyCopy({ url: source.url }, { url: target.url }, { mode: 'strict' });
    expect(strict).toMatchObject({ ok: true, extra: 0, missing: 0 });
  });
});

describe('spin-elasticache copy', () => {
  it('copies with --verify and writes its figures with --json, never printing the password', async () => {
    const secure = await startRedis({ dir: join(dir, 'pw'), password: 'Sup3r-Secret-Passw0rd' });
    try {
      await seedAllTypes(src);
      const json = join(dir, 'copy.json');
      const code = await runCopyCommand(['--source', source.url, '--target', `redis://:Sup3r-Secret-Passw0rd@127.0.0.1:${secure.port}`, '--verify', '--json', json]);
      expect(code).toBe(0);
      const figures = JSON.parse(readFileSync(json, 'utf8')) as { keys: number; verify: { ok: boolean }; target: string };
      const keys = await src.dbsize();
      expect(figures).toMatchObject({ keys, method: 'replication', verify: { ok: true } });
      expect(JSON.stringify(figures)).not.toContain('Sup3r-Secret-Passw0rd');
      // The same with the scan method, into a fresh target (its password from the environment).
      const fresh = await connectRedis({ url: secure.url, password: 'Sup3r-Secret-Passw0rd' });
      await fresh.flushall();
      fresh.disconnect();
      process.env.COPY_TEST_TARGET_PASSWORD = 'Sup3r-Secret-Passw0rd';
      expect(await runCopyCommand(['--source', source.url, '--target', secure.url, '--target-password-env', 'COPY_TEST_TARGET_PASSWORD', '--method', 'scan', '--verify', '--json', json])).toBe(0);
      expect(JSON.parse(readFileSync(json, 'utf8'))).toMatchObject({ keys, method: 'scan', verify: { ok: true } });
      expect(await runCopyCommand(['--source', source.url, '--target', secure.url, '--method', 'fastest'])).toBe(2);
      // Into a target that holds keys already (a wrong --target?): said before anything is copied.
      const printed: string[] = [];
      const write = process.stderr.write.bind(process.stderr);
      process.stderr.write = ((chunk: string | Uint8Array) => (printed.push(String(chunk)), true)) as typeof process.stderr.write;
      try {
        expect(await runCopyCommand(['--source', source.url, '--target', secure.url, '--target-password-env', 'COPY_TEST_TARGET_PASSWORD', '--method', 'scan'])).toBe(0);
      } finally {
        process.stderr.write = write;
      }
      expect(printed.join('')).toContain(`Note: the target already holds ${keys.toLocaleString('en-US')} keys`);
    } finally {
      await secure.stop();
    }
  });

  it('follows live writes with --live', async () => {
    const live = await startRedis({ dir: join(dir, 'live'), notifyKeyspaceEvents: 'KA' });
    const writer = await connectRedis({ url: live.url });
    try {
      await writer.set('before', '1');
      const copying = runCopyCommand(['--source', live.url, '--target', target.url, '--live', '2']);
      await new Promise((r) => setTimeout(r, 1000));
      await writer.hset('during', 'field', 'value');
      await writer.del('before');
      expect(await copying).toBe(0);
      expect(await dst.hgetall('during')).toEqual({ field: 'value' });
      expect(await dst.exists('before')).toBe(0);
    } finally {
      writer.disconnect();
      await live.stop();
    }
  });
});
