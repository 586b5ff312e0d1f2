/**
 * `spin-elasticache copy --source file:dump.rdb` on every recorded dump.rdb (Redis 3.2 to 7.0:
 * RDB 7 to 10, Valkey 8.0.1: RDB 11; test/fixtures/redis-fullsync/) into a real redis-server.
 * The dumps are time-shifted (replay-master.ts) so that the two keys with the shortest TTLs
 * (30 and 35 minutes) are already expired: they must be skipped and counted. The command's
 * own strict verification must pass; independently, the target must equal the same file
 * loaded by a real redis-server (absolute expiries to the millisecond). Valkey's RDB 11 cannot
 * be loaded by 7.0.15: its set-as-listpack and stream-with-active-times are rewritten for the
 * target, and the result is compared with the Redis 7.0.15 dump of the same dataset instead
 * (minus the keys whose values differ between the two recordings: timestamps).
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { runCopyCommand } from '../../../cli/copy-command.js';
import { copyFromRdbFile } from '../../../lib/copy/rdb-file.js';
import { crc64 } from '../../../lib/copy/replication/crc64.js';
import { RdbSplitter } from '../../../lib/copy/replication/rdb-splitter.js';
import { verifyCopy } from '../../../lib/copy/verify.js';
import { connectRedis } from '../../../lib/redis/connect.js';
import { startRedis, type RedisProcess } from '../../../sandbox/redis/redis-process.js';
import { diffDatasets, readDataset, type Canonical, type Dataset } from '../../support/fullsync-expected.js';
import { FIXTURES, loadDumpRdb, RECORDINGS, type RecordingName } from '../../support/replay-master.js';

const dir = mkdtempSync(join(tmpdir(), 'rdb-file-source-'));
let target: RedisProcess;
let dst: Redis;
beforeAll(async () => {
  target = await startRedis({ dir: join(dir, 'target') });
  dst = await connectRedis({ url: target.url });
});
afterAll(async () => {
  dst.disconnect();
  await target.stop();
});

/** The dump as if taken 40 minutes ago: TTLs of 30 and 35 minutes have passed. */
const TAKEN_AGO_MS = 40 * 60_000;

function writeDump(name: RecordingName, now: number): string {
  const file = join(dir, `${name}.rdb`);
  writeFileSync(file, loadDumpRdb(name, now - TAKEN_AGO_MS));
  return file;
}

/** Entries in the file, and those whose expiry is before `now`. */
function countEntries(file: string, now: number): { entries: number; expired: number } {
  let entries = 0;
  let expired = 0;
  const splitter = new RdbSplitter({
    entry: (e) => {
      entries++;
      if (e.expireAt > 0 && e.expireAt <= now) expired++;
    },
  });
  splitter.push(readFileSync(file));
  return { entries, expired };
}

async function loadedBy(file: string, name: string): Promise<RedisProcess> {
  const refDir = join(dir, `ref-${name}`);
  mkdirSync(refDir, { recursive: true });
  writeFileSync(join(refDir, 'dump.rdb'), readFileSync(file));
  return startRedis({ dir: refDir, extraArgs: ['--dbfilename', 'dump.rdb'] });
}

interface Figures {
  keys: number;
  stats: { expiredSkipped: number };
  rdbVersion: number;
  payloadVersion: number;
  converted: number;
  verify: { ok: boolean; compared: number; examples: unknown[] };
}

async function copyFile(file: string): Promise<Figures> {
  await dst.flushall();
  const json = join(dir, 'copy.json');
  const code = await runCopyCommand(['--source', `file:${file}`, '--target', target.url, '--json', json]);
  const figures = JSON.parse(readFileSync(json, 'utf8')) as Figures;
  expect({ code, verify: figures.verify.ok, examples: figures.verify.examples }).toEqual({ code: 0, verify: true, examples: [] });
  return figures;
}

describe.each(RECORDINGS.filter((r) => r !== 'valkey-8.0.1'))('copy --source file: with %s dump.rdb', (name) => {
  it('restores every live key with its absolute expiry, skips and counts the expired ones, verifies clean', async () => {
    const now = Date.now();
    const file = writeDump(name, now);
    const { entries, expired } = countEntries(file, now);
    expect(expired).toBe(2);
    const figures = await copyFile(file);
    expect({ keys: figures.keys, expiredSkipped: figures.stats.expiredSkipped, converted: figures.converted }).toEqual({ keys: entries - expired, expiredSkipped: 2, converted: 0 });
    expect(figures.verify.compared).toBe(entries - expired);
    const reference = await loadedBy(file, name);
    try {
      const ref = await connectRedis({ url: reference.url });
      try {
        expect(diffDatasets(await readDataset(ref), await readDataset(dst))).toEqual([]);
      } finally {
        ref.disconnect();
      }
      // Absolute expiries: the same millisecond on both sides.
      const report = await verifyCopy({ url: reference.url }, { url: target.url }, { mode: 'strict', ttlToleranceMs: 1 });
      expect({ ok: report.ok, examples: report.examples }).toEqual({ ok: true, examples: [] });
    } finally {
      await reference.stop();
    }
  });
});

describe('copy --source file: with valkey-8.0.1 dump.rdb (RDB 11) into 7.0.15 (RDB 10)', () => {
  it('rewrites the set listpack and the stream for the target and ends equal to the same dataset from Redis 7.0.15', async () => {
    const now = Date.now();
    const file = writeDump('valkey-8.0.1', now);
    const { entries, expired } = countEntries(file, now);
    const figures = await copyFile(file);
    expect({ rdb: figures.rdbVersion, payload: figures.payloadVersion, converted: figures.converted }).toEqual({ rdb: 11, payload: 10, converted: 2 });
    expect({ keys: figures.keys, expiredSkipped: figures.stats.expiredSkipped }).toEqual({ keys: entries - expired, expiredSkipped: 2 });
    // The same dataset as recorded from Redis 7.0.15, which 7.0.15 loads itself.
    const reference = await loadedBy(writeDump('redis-7.0.15', now), 'valkey-vs-7.0');
    try {
      const ref = await connectRedis({ url: reference.url });
      try {
        const differ = recordingsDiffer('redis-7.0.15', 'valkey-8.0.1');
        const without = (d: Dataset) => new Map([...d].map(([db, keys]) => [db, new Map([...keys].filter(([k]) => !differ.has(`${db}/${k}`)))]));
        const actual = without(await readDataset(dst));
        expect(diffDatasets(without(await readDataset(ref)), actual)).toEqual([]);
        // The rewritten types are among what was compared.
        expect(await dst.type('stream:events')).toBe('stream');
        expect(differ.size).toBeLessThan(10);
      } finally {
        ref.disconnect();
      }
    } finally {
      await reference.stop();
    }
  });
});

describe('copy --source file: with an RDB 12 file (Redis 7.4) into 7.0.15', () => {
  // No recording of 7.4 here: the 7.0.15 dump with an RDB 12 header (and its CRC-64), i.e. a 7.4
  // dump without hashes with field expirations, whose value types RDB 10 already has.
  it('writes its payloads as RDB 10 and verifies clean against it; a hash with field expirations is refused by name', async () => {
    const now = Date.now();
    const rdb = loadDumpRdb('redis-7.0.15', now - TAKEN_AGO_MS);
    rdb.write('0012', 5, 'latin1');
    crc64(rdb.subarray(0, rdb.length - 8)).copy(rdb, rdb.length - 8);
    const file = join(dir, 'redis-7.4.rdb');
    writeFileSync(file, rdb);
    const { entries, expired } = countEntries(file, now);
    const figures = await copyFile(file);
    expect({ rdb: figures.rdbVersion, payload: figures.payloadVersion, keys: figures.keys, expiredSkipped: figures.stats.expiredSkipped }).toEqual({
      rdb: 12,
      payload: 10,
      keys: entries - expired,
      expiredSkipped: 2,
    });
    // A type 25 value (RDB_TYPE_HASH_LISTPACK_EX): refused with its key named.
    const withHfe = Buffer.concat([Buffer.from('REDIS0012'), Buffer.of(0xfe, 0x00, 25, 0x03), Buffer.from('hfe'), Buffer.of(0xff), Buffer.alloc(8)]);
    writeFileSync(join(dir, 'hfe.rdb'), withHfe);
    await expect(copyFromRdbFile(join(dir, 'hfe.rdb'), { url: target.url })).rejects.toThrow(/"hfe" is a hash with field expirations \(RDB type 25/);
  });
});

describe('big values through temporary files', () => {
  it('values over spillAboveBytes are streamed from disk, expired ones dropped unread, the result equal to the file', async () => {
    const now = Date.now();
    const file = writeDump('redis-7.0.15', now);
    const { entries, expired } = countEntries(file, now);
    await dst.flushall();
    // 16 bytes: nearly every value goes through a spill file, one of the two expired ones too (a 56-byte session hash: discarded).
    const result = await copyFromRdbFile(file, { url: target.url }, { spillAboveBytes: 16 });
    expect(result.stats.bigKeys).toBeGreaterThan(20);
    expect({ keys: result.stats.keys, expiredSkipped: result.stats.expiredSkipped }).toEqual({ keys: entries - expired, expiredSkipped: 2 });
    const reference = await loadedBy(file, 'spill');
    try {
      const report = await verifyCopy({ url: reference.url }, { url: target.url }, { mode: 'strict', ttlToleranceMs: 1 });
      expect({ ok: report.ok, examples: report.examples, compared: report.compared }).toEqual({ ok: true, examples: [], compared: entries - expired });
    } finally {
      await reference.stop();
    }
  });
});

describe('a file that is not a whole RDB', () => {
  it('fails the copy with a clear message and exit code 1', async () => {
    const file = join(dir, 'truncated.rdb');
    const whole = loadDumpRdb('redis-7.0.15');
    writeFileSync(file, whole.subarray(0, Math.floor(whole.length / 2)));
    const before = await dst.dbsize();
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await runCopyCommand(['--source', `file:${file}`, '--target', target.url])).toBe(1);
      // The keys of the first half are on the target now: said, with what to do.
      const added = (await dst.dbsize()) - before;
      expect(added).toBeGreaterThan(0);
      expect(err.mock.calls.map((c) => String(c[0])).join('')).toContain(`The target holds part of the dump: ${added.toLocaleString('en-US')} key(s) more than before the copy.`);
      expect(await runCopyCommand(['--source', `file:${join(dir, 'absent.rdb')}`, '--target', target.url])).toBe(2);
    } finally {
      err.mockRestore();
    }
  });
});

/** `db/key` (base64) of the keys whose final values differ between two recordings' expected.json. */
function recordingsDiffer(a: RecordingName, b: RecordingName): Set<string> {
  const read = (n: RecordingName) => (JSON.parse(readFileSync(join(FIXTURES, n, 'expected.json'), 'utf8')) as { dbs: Record<string, Record<string, Canonical>> }).dbs;
  const [x, y] = [read(a), read(b)];
  const out = new Set<string>();
  for (const db of new Set([...Object.keys(x), ...Object.keys(y)])) {
    const [kx = {}, ky = {}] = [x[db], y[db]];
    for (const k of new Set([...Object.keys(kx), ...Object.keys(ky)])) if (JSON.stringify(kx[k]) !== JSON.stringify(ky[k])) out.add(`${db}/${k}`);
  }
  return out;
}
