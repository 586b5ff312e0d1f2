/**
 * The replication copy against real redis-server processes: the source is attached to as a
 * replica, its snapshot becomes RESTOREs and its writes since are applied. Also the pieces
 * it stands on (CRC-64 as Redis computes it, the RDB splitter at any chunk boundary) and
 * the fallbacks to the scan copy.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { ReplicationUnavailableError } from '../../../lib/errors.js';
import { connectRedis } from '../../../lib/redis/connect.js';
import { copyAll } from '../../../lib/copy/engine.js';
import { copyViaReplication } from '../../../lib/copy/replication/replica-copy.js';
import { crc64 } from '../../../lib/copy/replication/crc64.js';
import { followChanges } from '../../../lib/copy/replication/follow.js';
import { RdbSplitter } from '../../../lib/copy/replication/rdb-splitter.js';
import { verifyCopy } from '../../../lib/copy/verify.js';
import { startRedis, type RedisProcess } from '../../../sandbox/redis/redis-process.js';
import { BIN, seedAllTypes } from '../../support/redis-data.js';
import { useRedisPair } from '../../support/redis-pair.js';
import { createSandboxPki } from '../../../sandbox/pki.js';

const pair = useRedisPair('replication-');
const { dir } = pair;
let source: RedisProcess;
let target: RedisProcess;
let src: Redis;
let dst: Redis;
beforeAll(() => void ({ source, target, src, dst } = pair));

/** The source's RDB, as SAVE writes it (the same format a replica receives). */
async function snapshotOf(redis: Redis): Promise<Buffer> {
  await redis.save();
  const [, folder] = (await redis.config('GET', 'dir')) as [string, string];
  const [, file] = (await redis.config('GET', 'dbfilename')) as [string, string];
  const rdb = readFileSync(join(folder, file));
  // The file checks itself: its last 8 bytes are the CRC-64 of the rest.
  expect(crc64(rdb.subarray(0, rdb.length - 8)).equals(rdb.subarray(rdb.length - 8))).toBe(true);
  return rdb;
}

describe('CRC-64 and the RDB splitter', () => {
  it('computes the checksum Redis puts on DUMP payloads', async () => {
    await seedAllTypes(src);
    const keys = await src.keysBuffer('*');
    expect(keys.length).toBeGreaterThan(20);
    for (const key of keys) {
      const dump = (await src.dumpBuffer(key))!;
      expect(crc64(dump.subarray(0, dump.length - 8)).equals(dump.subarray(dump.length - 8))).toBe(true);
    }
    expect(crc64(Buffer.from('123456789')).readBigUInt64LE().toString(16)).toBe('e9c6d914c4b8d9ca');
  });

  it('finds the same keys and value bodies whatever the chunk boundaries', async () => {
    await seedAllTypes(src);
    await src.select(3);
    await src.set('db3', 'three');
    await src.select(0);
    const rdb = await snapshotOf(src);
    const split = (chunk: number) => {
      const seen: string[] = [];
      const splitter = new RdbSplitter({
        entry: (e) => seen.push(`${e.db}/${e.key.toString('hex')}/${e.type}/${e.expireAt > 0}/${createHash('sha1').update(Buffer.concat(e.parts)).digest('hex')}`),
      });
      let consumed = 0;
      for (let i = 0; i < rdb.length; i += chunk) consumed += splitter.push(rdb.subarray(i, i + chunk));
      expect(splitter.finished).toBe(true);
      expect(consumed).toBe(rdb.length);
      return seen;
    };
    const whole = split(rdb.length);
    expect(whole).toHaveLength((await src.dbsize()) + 1);
    for (const chunk of [1, 7, 4096]) expect(split(chunk)).toEqual(whole);
    // Each body is byte for byte what DUMP returns before its version and checksum.
    const stringEntry = whole.find((e) => e.startsWith(`0/${Buffer.from('compressible').toString('hex')}/`))!;
    const dump = (await src.dumpBuffer('compressible'))!;
    expect(stringEntry.split('/')[4]).toBe(
      createHash('sha1')
        .update(dump.subarray(1, dump.length - 10))
        .digest('hex'),
    );
  });

  it('finishes a stream that is the last key, however the snapshot is cut', async () => {
    // Streams are measured in memory; the last value must not wait for bytes that never come.
    await src.xadd('only-stream', '1-1', 'field', 'x'.repeat(300));
    await src.xgroup('CREATE', 'only-stream', 'g', '0');
    await src.xreadgroup('GROUP', 'g', 'c', 'STREAMS', 'only-stream', '>');
    const rdb = await snapshotOf(src);
    for (const chunk of [1, 7, 100, 4096]) {
      const keys: string[] = [];
      const splitter = new RdbSplitter({ entry: (e) => keys.push(e.key.toString()) });
      for (let i = 0; i < rdb.length; i += chunk) splitter.push(rdb.subarray(i, i + chunk));
      expect({ chunk, finished: splitter.finished, keys }).toEqual({ chunk, finished: true, keys: ['only-stream'] });
    }
  });

  it('refuses what it cannot split with an error that sends the copy to the scan method', () => {
    // A Redis 7.4+ hash with field expiries (type 24) is beyond this splitter.
    const rdb = Buffer.concat([Buffer.from('REDIS0012'), Buffer.from([0xfe, 0x00, 24, 0x01, 0x6b])]);
    const splitter = new RdbSplitter({ entry: () => undefined });
    expect(() => splitter.push(rdb)).toThrow(expect.objectContaining({ name: 'SnapshotFormatError', message: expect.stringMatching(/^RDB: key "k" is a hash with field expirations \(RDB type 24/) }));
    expect(() => new RdbSplitter({ entry: () => undefined }).push(rdb)).toThrow(ReplicationUnavailableError);
  });
});

describe('replication copy', () => {
  it('copies every type, binary keys, every database and absolute TTLs, and puts the source settings back', async () => {
    await seedAllTypes(src);
    await src.select(5);
    await src.set('db5-key', 'five');
    await src.select(0);
    const delayBefore = await src.config('GET', 'repl-diskless-sync-delay');
    const result = await copyAll({ url: source.url }, { url: target.url });
    expect(result.method).toBe('replication');
    expect(result.stats.keys).toBe((await src.dbsize()) + 1);
    const report = await verifyCopy({ url: source.url }, { url: target.url }, { mode: 'strict', ttlToleranceMs: 100 });
    expect({ ok: report.ok, examples: report.examples }).toEqual({ ok: true, examples: [] });
    expect(report.compared).toBe(result.stats.keys);
    const pending = (await dst.xpending('stream', 'workers')) as [number, ...unknown[]];
    expect(pending[0]).toBe(1);
    expect(Math.abs((await dst.pexpiretime('ttl')) - (await src.pexpiretime('ttl')))).toBeLessThanOrEqual(100);
    expect((await dst.getBuffer(BIN))?.equals(BIN)).toBe(true);
    await dst.select(5);
    expect(await dst.get('db5-key')).toBe('five');
    await dst.select(0);
    expect(await src.config('GET', 'repl-diskless-sync-delay')).toEqual(delayBefore);
    // Our replica link is gone afterwards.
    expect(await src.info('replication')).toMatch(/connected_slaves:0/);
  });

  it.each([
    ['a disk-based sync (repl-diskless-sync no)', { extraArgs: ['--repl-diskless-sync', 'no'] }],
    ['a source whose CONFIG command is disabled', { renameCommands: { CONFIG: '' } }],
  ])('works with %s', async (_name, serverOptions) => {
    const other = await startRedis({ dir: join(dir, `variant-${Date.now()}`), ...serverOptions });
    const client = await connectRedis({ url: other.url });
    try {
      await seedAllTypes(client);
      const result = await copyViaReplication({ url: other.url }, { url: target.url });
      expect(result.diskless).toBe(false);
      const report = await verifyCopy({ url: other.url }, { url: target.url }, { mode: 'strict', ttlToleranceMs: 100 });
      expect({ ok: report.ok, examples: report.examples }).toEqual({ ok: true, examples: [] });
    } finally {
      client.disconnect();
      await other.stop();
    }
  });

  it('reads a TLS source with AUTH (rediss://, a CA file, a password from the caller)', async () => {
    const pki = createSandboxPki(join(dir, 'pki'));
    const cert = pki.issue('source');
    const secure = await startRedis({ dir: join(dir, 'tls-source'), tls: { certFile: cert.certFile, keyFile: cert.keyFile, caFile: pki.caFile }, password: 'Source-Passw0rd' });
    const endpoint = { url: `rediss://127.0.0.1:${secure.port}`, password: 'Source-Passw0rd', caFile: pki.caFile };
    const client = await connectRedis(endpoint);
    try {
      await seedAllTypes(client);
      const result = await copyAll(endpoint, { url: target.url });
      expect(result.method).toBe('replication');
      const report = await verifyCopy(endpoint, { url: target.url }, { mode: 'strict', ttlToleranceMs: 100 });
      expect({ ok: report.ok, compared: report.compared }).toEqual({ ok: true, compared: await client.dbsize() });
      // A wrong password is a named error, not a fallback that would hide it.
      await expect(copyAll({ ...endpoint, password: 'wrong' }, { url: target.url })).rejects.toMatchObject({ name: 'RedisAuthError' });
    } finally {
      client.disconnect();
      await secure.stop();
    }
  });

  it('ends equal to the source when keys are written, deleted, renewed and expire during the copy', async () => {
    const pipeline = src.pipeline();
    for (let i = 0; i < 30_000; i++) pipeline.hset(`pipeline:${i}`, 'status', 'RUNNING', 'body', 'x'.repeat(200));
    for (let i = 0; i < 200; i++) pipeline.set(`short:${i}`, 'x', 'PX', 30);
    pipeline.set('renewed', 'v', 'PX', 5_000);
    pipeline.set('counter', '0');
    await pipeline.exec();
    const writer = await connectRedis({ url: source.url });
    let writerDone = false;
    const writes = (async () => {
      for (let round = 0; round < 300; round++) {
        await writer.del(`pipeline:${round}`);
        await writer.hset(`pipeline:${30_000 + round}`, 'status', 'SUCCEEDED');
        await writer.incr('counter');
        await writer.append('log', `${round},`);
        await writer.pexpire('renewed', 600_000);
        await writer.select(2);
        await writer.sadd('other-db', String(round));
        await writer.select(0);
      }
      writerDone = true;
    })();
    try {
      // Follows the source's writes until the writer is done, then catches up to its offset.
      const result = await copyViaReplication({ url: source.url }, { url: target.url }, { followMs: 30_000, stopFollowing: () => writerDone });
      expect(result.commandsApplied).toBeGreaterThan(0);
      const report = await verifyCopy({ url: source.url }, { url: target.url }, { mode: 'strict', ttlToleranceMs: 100 });
      expect({ ok: report.ok, examples: report.examples }).toEqual({ ok: true, examples: [] });
      expect(await dst.get('counter')).toBe('300');
      expect(await dst.exists('pipeline:0')).toBe(0);
      expect(await dst.pttl('renewed')).toBeGreaterThan(500_000);
      expect(await dst.keys('short:*')).toEqual([]);
      await dst.select(2);
      expect(await dst.scard('other-db')).toBe(300);
      await dst.select(0);
    } finally {
      await writes;
      writer.disconnect();
    }
  });

  it('applies every write made while the snapshot is in flight, without a second pass', async () => {
    const pipeline = src.pipeline();
    for (let i = 0; i < 40_000; i++) pipeline.set(`k:${i}`, 'v'.repeat(100));
    await pipeline.exec();
    const writer = await connectRedis({ url: source.url });
    let done = false;
    const churn = (async () => {
      for (let i = 0; i < 2_000; i++) {
        await writer.del(`k:${i}`);
        await writer.set(`new:${i}`, String(i));
      }
      done = true;
    })();
    const result = await copyViaReplication({ url: source.url }, { url: target.url }, { followMs: 60_000, stopFollowing: () => done });
    await churn;
    writer.disconnect();
    expect(result.commandsApplied).toBeGreaterThan(0);
    const report = await verifyCopy({ url: source.url }, { url: target.url }, { mode: 'strict' });
    expect({ ok: report.ok, missing: report.missing, extra: report.extra, examples: report.examples.slice(0, 3) }).toEqual({ ok: true, missing: 0, extra: 0, examples: [] });
    expect(await dst.exists('k:0', 'k:1999')).toBe(0);
    expect(await dst.get('new:1999')).toBe('1999');
  });

  it('streams big values through disk and restores them whole', async () => {
    const fields: string[] = [];
    for (let i = 0; i < 50_000; i++) fields.push(`f${i}`, `v${i}`);
    await src.hset('big-hash', ...fields);
    await src.zadd('big-zset', ...Array.from({ length: 50_000 }, (_, i) => [i * 1.5, `m${i}`]).flat());
    await src.sadd('big-set', ...Array.from({ length: 50_000 }, (_, i) => `s${i}`));
    await src.rpush('big-list', ...Array.from({ length: 50_000 }, (_, i) => `l${i}`));
    await src.set('big-string', randomBytes(5 * 1024 * 1024));
    await src.pexpire('big-string', 300_000);
    await src.set('small', '1');
    const spillDirsBefore = readdirSync(tmpdir()).filter((d) => d.startsWith('spin-elasticache-spill-')).length;
    const result = await copyViaReplication({ url: source.url }, { url: target.url }, { spillAboveBytes: 64 * 1024 });
    expect(result.stats.bigKeys).toBe(5);
    expect(result.stats.keys).toBe(6);
    const report = await verifyCopy({ url: source.url }, { url: target.url }, { mode: 'strict', ttlToleranceMs: 100 });
    expect({ ok: report.ok, examples: report.examples }).toEqual({ ok: true, examples: [] });
    expect(await dst.pttl('big-string')).toBeGreaterThan(290_000);
    expect(readdirSync(tmpdir()).filter((d) => d.startsWith('spin-elasticache-spill-')).length).toBe(spillDirsBefore);
  });
});

describe('following the stream after the copy (the live catch-up)', () => {
  it('continues from where the copy stopped: nothing written in between is missed, twice over', async () => {
    await seedAllTypes(src);
    const copied = await copyViaReplication({ url: source.url }, { url: target.url });
    // Written while nobody follows (between two Lambda invocations).
    await src.set('str', 'changed in the gap');
    await src.del('list');
    await src.hset('hash', 'f3', 'new');
    await src.select(2);
    await src.set('db2-new', 'x');
    await src.select(0);
    await src.call('MSET', 'm1', '1', 'm2', '2');
    await src.zunionstore('zunion', 2, 'zset', 'zset-skiplist'); // keys found with COMMAND GETKEYS
    const first = await followChanges({ url: source.url }, { url: target.url }, { position: { replid: copied.replid, offset: copied.offset }, until: Date.now() + 300 });
    expect(first.position.offset).toBeGreaterThan(copied.offset);
    expect(first.copied).toBeGreaterThanOrEqual(5); // commands forwarded (MSET is one)
    expect(first.deleted).toBe(1);
    let report = await verifyCopy({ url: source.url }, { url: target.url }, { mode: 'strict', ttlToleranceMs: 100 });
    expect({ ok: report.ok, examples: report.examples }).toEqual({ ok: true, examples: [] });

    await src.incr('counter');
    await src.pexpire('str', 100_000);
    const second = await followChanges({ url: source.url }, { url: target.url }, { position: first.position, until: Date.now() + 300 });
    expect(second.position.offset).toBeGreaterThan(first.position.offset);
    report = await verifyCopy({ url: source.url }, { url: target.url }, { mode: 'strict', ttlToleranceMs: 100 });
    expect({ ok: report.ok, examples: report.examples }).toEqual({ ok: true, examples: [] });
    // A retried slice (the same position again) resumes from the target's position: still equal.
    await followChanges({ url: source.url }, { url: target.url }, { position: first.position, until: Date.now() + 200 });
    expect((await verifyCopy({ url: source.url }, { url: target.url }, { mode: 'strict' })).ok).toBe(true);
  });

  it('says so when the source backlog no longer holds the position', async () => {
    await src.set('k', 'v');
    const copied = await copyViaReplication({ url: source.url }, { url: target.url });
    const [, backlog] = (await src.config('GET', 'repl-backlog-size')) as [string, string];
    await src.config('SET', 'repl-backlog-size', '16384');
    try {
      // Push the position out of a 16 KiB backlog.
      for (let i = 0; i < 100; i++) await src.set(`filler:${i}`, 'x'.repeat(1000));
      await expect(followChanges({ url: source.url }, { url: target.url }, { position: { replid: copied.replid, offset: copied.offset }, until: Date.now() + 200 })).rejects.toMatchObject({
        name: 'ReplicationUnavailableError',
        message: expect.stringMatching(/cannot continue the replication stream/),
      });
    } finally {
      await src.config('SET', 'repl-backlog-size', backlog);
    }
  });
});

describe('falling back to the scan copy', () => {
  it('gives up at the deadline when it cannot get going, and puts the source settings back', async () => {
    await src.set('k', 'v');
    // A blocked target stalls the pre-flight payload check, after the source was tuned.
    const admin = await connectRedis({ url: target.url });
    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
    try {
      await expect(copyViaReplication({ url: source.url }, { url: target.url }, { deadline: Date.now() + 500 })).rejects.toMatchObject({
        name: 'ReplicationUnavailableError',
        message: expect.stringMatching(/did not finish within the time allowed/),
      });
    } finally {
      admin.disconnect();
    }
    expect(await src.config('GET', 'repl-diskless-sync-delay')).toEqual(['repl-diskless-sync-delay', '5']);
  });

  it('uses the scan copy when the source refuses PSYNC (as ElastiCache does)', async () => {
    const locked = await startRedis({ dir: join(dir, 'locked'), renameCommands: { PSYNC: '', SYNC: '' } });
    const client = await connectRedis({ url: locked.url });
    try {
      await seedAllTypes(client);
      const result = await copyAll({ url: locked.url }, { url: target.url });
      expect(result.method).toBe('scan');
      expect(result.fallbackReason).toMatch(/refused to replicate/);
      const report = await verifyCopy({ url: locked.url }, { url: target.url }, { mode: 'strict' });
      expect(report.ok).toBe(true);
      await expect(copyAll({ url: locked.url }, { url: target.url }, { method: 'replication' })).rejects.toMatchObject({ name: 'ReplicationUnavailableError' });
    } finally {
      client.disconnect();
      await locked.stop();
    }
  });

  it('checks first that the target accepts the source payload version, and copies by scan if not', async () => {
    await seedAllTypes(src);
    // Claim an RDB version no Redis knows: the real target refuses the probe payload.
    await expect(copyViaReplication({ url: source.url }, { url: target.url }, { payloadVersion: 99 })).rejects.toThrow(/refuses RDB v99 payloads/);
    expect(await dst.dbsize()).toBe(0); // nothing half-copied
    expect(await src.info('replication')).toMatch(/connected_slaves:0/);
  });
});
