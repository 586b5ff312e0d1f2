/**
 * Writing into targets older than Redis 5.0 (no RESTORE … ABSTTL, no multi-field HSET), and
 * TTL edges: a key read with PTTL 0 is never copied without its TTL. Runs on the 7.0.15 of
 * CI by speaking the old dialect to it; with SPIN_OLD_REDIS_SERVER=<path to a 3.2 or 4.0
 * redis-server> it also copies into that real server (the case is added at collection time).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { copySlice } from '../../../lib/copy/bulk.js';
import { copyBack } from '../../../lib/copy/reconcile.js';
import type { Checkpoint } from '../../../lib/copy/types.js';
import { copyKeyByType, EXPIRED } from '../../../lib/copy/key-copy.js';
import { verifyCopy } from '../../../lib/copy/verify.js';
import { parseTargetVersion, readTargetVersion, restoreWithExpiry } from '../../../lib/copy/restore-expiry.js';
import { connectRedis } from '../../../lib/redis/connect.js';
import { useRedisPair } from '../../support/redis-pair.js';

const pair = useRedisPair('old-targets-');
let src: Redis;
let dst: Redis;
beforeAll(() => void ({ src, dst } = pair));

/** What a 4.0 target reports: the old dialect, spoken to the 7.0.15 here. */
const OLD = parseTargetVersion('# Server\r\nredis_version:4.0.14\r\n');

describe('restore with an absolute expiry, old dialect (relative TTL from the target clock)', () => {
  it('reads the version once: 7.0 takes ABSTTL, 4.0 and 3.2 do not', async () => {
    expect(await readTargetVersion(dst)).toMatchObject({ absTtl: true, multiFieldHset: true, streamMetadata: true });
    expect(OLD).toMatchObject({ version: '4.0.14', absTtl: false, multiFieldHset: true, streamMetadata: false });
    expect(parseTargetVersion('redis_version:3.2.13')).toMatchObject({ absTtl: false, multiFieldHset: false });
  });

  it('restores with the remaining TTL, without one, and never an entry whose expiry has passed', async () => {
    await src.set('k', 'v');
    const payload = (await src.dumpBuffer('k'))!;
    const now = Date.now();
    expect(await restoreWithExpiry(dst, OLD, Buffer.from('ttl'), now + 60_000, payload)).toBe('restored');
    expect(await restoreWithExpiry(dst, OLD, Buffer.from('none'), 0, payload)).toBe('restored');
    expect(await restoreWithExpiry(dst, OLD, Buffer.from('gone'), now - 1, payload)).toBe('expired');
    const pttl = await dst.pttl('ttl');
    expect(pttl).toBeGreaterThan(58_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    expect(await dst.pttl('none')).toBe(-1);
    expect(await dst.exists('gone')).toBe(0);
    expect(await dst.get('ttl')).toBe('v');
  });

  it('a big hash copied by type into a 3.2 target uses HMSET', async () => {
    await src.hset('h', 'a', '1', 'b', '2');
    const bytes = await copyKeyByType(src, dst, Buffer.from('h'), 'hash', parseTargetVersion('redis_version:3.2.13'));
    expect(bytes).toBeGreaterThan(0);
    expect(await dst.hgetall('h')).toEqual({ a: '1', b: '2' });
  });

  it('a key copied by type whose PTTL reads 0 counts as expired and is not left on the target', async () => {
    // PTTL 0 is "expires this millisecond": reproduce it with a key that expires right after its values are read.
    await src.set('s', 'x');
    await src.pexpire('s', 30);
    const reader = new Proxy(src, {
      get(target, prop, receiver) {
        if (prop === 'pttl') return async () => 0;
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    expect(await copyKeyByType(reader, dst, Buffer.from('s'), 'string')).toBe(EXPIRED);
    expect(await dst.dbsize()).toBe(0);
  });
});

describe('a stream copied by type (a source newer than its target, or a big stream)', () => {
  it('keeps its consumer groups: last-delivered id, entries-read, consumers, pending entries with owner and delivery count', async () => {
    for (let i = 1; i <= 5; i++) await src.xadd('s', `${i}-0`, 'n', String(i));
    await src.xdel('s', '5-0');
    await src.xgroup('CREATE', 's', 'g', '0');
    await src.xreadgroup('GROUP', 'g', 'alice', 'COUNT', '2', 'STREAMS', 's', '>');
    await src.xreadgroup('GROUP', 'g', 'bob', 'COUNT', '1', 'STREAMS', 's', '>');
    await src.xack('s', 'g', '3-0');
    await src.xclaim('s', 'g', 'alice', 0, '2-0'); // a second delivery
    await src.call('XGROUP', 'CREATECONSUMER', 's', 'g', 'carol');
    const version = await readTargetVersion(dst);
    expect(await copyKeyByType(src, dst, Buffer.from('s'), 'stream', version)).toBeGreaterThan(0);
    const view = async (r: Redis) => {
      const stream = (await r.call('XINFO', 'STREAM', 's')) as unknown[];
      const pick = (list: unknown[], name: string) => list[list.indexOf(name) + 1];
      const [group] = (await r.call('XINFO', 'GROUPS', 's')) as unknown[][];
      const consumers = ((await r.call('XINFO', 'CONSUMERS', 's', 'g')) as unknown[][]).map((c) => [pick(c, 'name'), pick(c, 'pending')]);
      const pending = ((await r.call('XPENDING', 's', 'g', '-', '+', '10')) as unknown[][]).map(([id, owner, , deliveries]) => [id, owner, deliveries]);
      return {
        entries: await r.xrange('s', '-', '+'),
        stream: ['last-generated-id', 'entries-added', 'max-deleted-entry-id'].map((f) => pick(stream, f)),
        group: ['name', 'pending', 'last-delivered-id', 'entries-read', 'lag'].map((f) => pick(group!, f)),
        consumers,
        pending,
      };
    };
    const copied = await view(dst);
    expect(copied).toEqual(await view(src));
    expect(copied.pending).toEqual([
      ['1-0', 'alice', 1],
      ['2-0', 'alice', 2],
    ]);
    expect(copied.consumers.map(([name]) => name)).toEqual(['alice', 'bob', 'carol']);
  });
});

describe('verifying a stream', () => {
  // entries-read is compared only where both servers report it (Redis 5.0/6.2 never do, and a 7.0
  // group created at an id has none): test/unit/copy/stream-versions.test.ts.
  it("names what differs: a group's consumers, last id, pending count and pending entries", async () => {
    for (const r of [src, dst]) {
      await r.xadd('s', '1-0', 'n', '1');
      await r.xadd('s', '2-0', 'n', '2');
    }
    await src.xgroup('CREATE', 's', 'g', '0');
    await src.xreadgroup('GROUP', 'g', 'alice', 'COUNT', '2', 'STREAMS', 's', '>');
    await dst.xgroup('CREATE', 's', 'g', '1-0');
    const report = await verifyCopy({ url: pair.source.url }, { url: pair.target.url }, { mode: 'strict' });
    expect(report.ok).toBe(false);
    expect(report.examples.map((e) => e.detail)).toEqual([
      expect.stringMatching(
        /^stream: group g: consumers: alice\(2\) on the source, no consumer on the target; group g: last delivered id: 2-0 on the source, 1-0 on the target; group g: pending: 2 on the source, 0 on the target; group g: pending entries \(owner, deliveries\): sha256 \w+ on the source, sha256 \w+ on the target$/,
      ),
    ]);
  });
});

describe('the scan copy slice', () => {
  it('stops at its deadline during the deferred (big) keys too, saves them, and the next slices finish them', async () => {
    const values = Array.from({ length: 2000 }, (_, i) => `v${i}`);
    for (let i = 0; i < 150; i++) await src.rpush(`big:${i}`, ...values);
    // Every payload is "big": all 150 keys are deferred until the (quick) scan is over.
    const options = { maxPayloadBytes: 1, checkpointEveryMs: 0 };
    const saved: Checkpoint[] = [];
    const first = await copySlice({ url: pair.source.url }, { url: pair.target.url }, { ...options, deadline: Date.now() + 150, onCheckpoint: (c) => void saved.push(c) });
    expect(first.done).toBe(false);
    expect(first.checkpoint.scanDone).toBe(true);
    const left = first.checkpoint.pendingKeys?.length ?? 0;
    expect(left).toBeGreaterThan(0);
    expect(first.stats.keys + left).toBe(150);
    // A checkpoint saved after the scan lists the big keys still to copy, and does not scan again.
    expect(saved.filter((c) => c.scanDone).every((c) => c.cursor === '0' && (c.pendingKeys?.length ?? 0) > 0)).toBe(true);
    let checkpoint = first.checkpoint;
    let done = false;
    for (let slices = 0; slices < 100 && !done; slices++) {
      const next = await copySlice({ url: pair.source.url }, { url: pair.target.url }, { ...options, checkpoint, deadline: Date.now() + 1000 });
      checkpoint = next.checkpoint;
      done = next.done;
    }
    expect(done).toBe(true);
    expect(checkpoint.stats.keys).toBe(150);
    expect(await dst.dbsize()).toBe(150);
    expect(await dst.lrange('big:149', '0', '-1')).toEqual(values);
  }, 60_000);
});

describe('keys expiring while the scan copy runs', () => {
  it('40,000 keys with PXAT spread over the next 2-12 s: once they have all expired, the target holds none', async () => {
    const start = Date.now();
    for (let i = 0; i < 40_000; i += 1000) {
      const pipeline = src.pipeline();
      for (let j = i; j < i + 1000; j++) pipeline.set(`exp:${j}`, 'v', 'PXAT', start + 2000 + Math.floor((j * 10_000) / 40_000));
      await pipeline.exec();
    }
    // Copy again and again while they expire: each pass reads some keys in their very last millisecond (PTTL 0).
    let expiredSkipped = 0;
    while (Date.now() < start + 12_500) {
      const result = await copySlice({ url: pair.source.url }, { url: pair.target.url }, { scanCount: 1000 });
      expiredSkipped += result.stats.expiredSkipped;
    }
    await sleep(Math.max(0, start + 13_000 - Date.now()));
    expect(await dst.dbsize()).toBe(0);
    expect(await dst.keys('exp:*')).toEqual([]);
    expect(expiredSkipped).toBeGreaterThanOrEqual(0);
  }, 60_000);
});

/** A real pre-5.0 server, only where one is given. */
const oldBinary = process.env.SPIN_OLD_REDIS_SERVER;
if (oldBinary) {
  describe(`into a real ${oldBinary}`, () => {
    let child: ChildProcess;
    let old: Redis;
    let url: string;
    beforeAll(async () => {
      const port = await new Promise<number>((resolve) => {
        const server = createServer().listen(0, '127.0.0.1', () => {
          const { port: p } = server.address() as { port: number };
          server.close(() => resolve(p));
        });
      });
      child = spawn(oldBinary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', mkdtempSync(`${tmpdir()}/old-redis-`)], { stdio: 'ignore' });
      url = `redis://127.0.0.1:${port}`;
      for (let i = 0; i < 100; i++) {
        try {
          old = await connectRedis({ url });
          break;
        } catch {
          await sleep(50);
        }
      }
    });
    afterAll(() => {
      old?.disconnect();
      child?.kill('SIGTERM');
    });

    it('the scan copy writes every key with its TTL (by type where the payload is refused)', async () => {
      await src.set('str', 'v', 'PX', 60_000);
      await src.hset('hash', 'a', '1', 'b', '2');
      await src.rpush('list', 'a', 'b');
      await src.sadd('set', 'a', 'b');
      await src.zadd('zset', 1, 'a', 2, 'b');
      await src.pexpire('hash', 120_000);
      const result = await copySlice({ url: pair.source.url }, { url });
      expect(result.done).toBe(true);
      expect(await old.get('str')).toBe('v');
      expect(await old.hgetall('hash')).toEqual({ a: '1', b: '2' });
      expect(await old.lrange('list', 0, -1)).toEqual(['a', 'b']);
      expect((await old.smembers('set')).sort()).toEqual(['a', 'b']);
      expect(await old.zrange('zset', '0', '-1')).toEqual(['a', 'b']);
      expect(await old.pttl('str')).toBeGreaterThan(50_000);
      expect(await old.pttl('hash')).toBeGreaterThan(110_000);
      expect(await old.pttl('list')).toBe(-1);
      await old.flushall();
    });

    it("the rollback's copy-back (a mirror) makes the old server exactly the new one: TTLs kept, removals and deletions included", async () => {
      await src.set('session', 's', 'PX', 90_000);
      await src.hset('pipeline:new', 'status', 'RUNNING', 'application', 'app');
      await src.sadd('allJobs:pipeline', 'new');
      await old.sadd('allJobs:pipeline', 'old', 'new');
      await old.set('pipeline:deleted', 'gone on the new server');
      const stats = await copyBack({ url: pair.source.url }, { url });
      expect(stats.copied).toBeGreaterThanOrEqual(3);
      expect(stats.deleted).toBeGreaterThanOrEqual(1);
      expect(await old.get('session')).toBe('s');
      expect(await old.pttl('session')).toBeGreaterThan(80_000);
      expect(await old.hgetall('pipeline:new')).toEqual({ status: 'RUNNING', application: 'app' });
      expect(await old.pttl('pipeline:new')).toBe(-1);
      expect(await old.smembers('allJobs:pipeline')).toEqual(['new']);
      expect(await old.exists('pipeline:deleted')).toBe(0);
      await old.flushall();
    });
  });
}
