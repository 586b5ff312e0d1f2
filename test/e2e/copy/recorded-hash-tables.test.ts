/**
 * The verification's comparison of hash-table sets and hashes by their DUMP payloads
 * (lib/copy/compare.ts sameHashTableContent) on real servers' bytes: every such key of the
 * recorded snapshots of Redis 3.2 to 7.0 and Valkey 8 (test/fixtures/redis-fullsync/) against
 * the same key as this Redis 7.0 holds it (RESTOREd, so walked in another order and written
 * in another RDB version) or, for Valkey 8's RDB 11, which 7.0 cannot RESTORE, written here
 * from the recording's expected content.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { sameHashTableContent } from '../../../lib/copy/compare.js';
import { crc64 } from '../../../lib/copy/replication/crc64.js';
import { hashTablePayloadElements, RdbSplitter } from '../../../lib/copy/replication/rdb-splitter.js';
import { connectRedis } from '../../../lib/redis/connect.js';
import { startRedis, type RedisProcess } from '../../../sandbox/redis/redis-process.js';
import { FIXTURES, loadDumpRdb, RECORDINGS, type RecordingName } from '../../support/replay-master.js';

const dir = mkdtempSync(join(tmpdir(), 'recorded-hash-tables-'));
let server: RedisProcess;
let redis: Redis;
beforeAll(async () => {
  server = await startRedis({ dir });
  redis = await connectRedis({ url: server.url });
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

/** The snapshot's sets and hashes stored as hash tables (RDB types 2 and 4), as DUMP payloads of the recorded server's RDB version, by db and key. */
function hashTables(name: RecordingName): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let version = 0;
  const splitter = new RdbSplitter({
    start: (v) => (version = v),
    entry: (e) => {
      if (e.type !== 2 && e.type !== 4) return;
      const footer = Buffer.alloc(2);
      footer.writeUInt16LE(version);
      const body = Buffer.concat([Buffer.of(e.type), ...e.parts, footer]);
      out.set(`${e.db}/${e.key.toString('base64')}`, Buffer.concat([body, crc64(body)]));
    },
  });
  splitter.push(loadDumpRdb(name));
  return out;
}

describe.each(RECORDINGS.filter((r) => r !== 'valkey-8.0.1'))('%s', (name) => {
  it('every hash-table set and hash equals its copy on this server, and differs once one element changed', async () => {
    const recorded = hashTables(name);
    expect(recorded.size).toBeGreaterThanOrEqual(2);
    for (const [id, payload] of recorded) {
      const key = `t:${id}`;
      expect({ id, elements: hashTablePayloadElements(payload)?.elements.length ?? 'unreadable' }).toMatchObject({ id, elements: expect.any(Number) });
      await redis.restore(key, 0, payload, 'REPLACE');
      const ours = (await redis.dumpBuffer(key))!;
      expect({ id, same: sameHashTableContent(payload, ours) }).toEqual({ id, same: true });
      if ((await redis.type(key)) === 'set') await redis.sadd(key, 'one-more');
      else await redis.hset(key, 'one-more', 'v');
      expect({ id, same: sameHashTableContent(payload, (await redis.dumpBuffer(key))!) }).toEqual({ id, same: false });
      await redis.del(key);
    }
  });
});

describe('valkey-8.0.1 (RDB 11)', () => {
  it('every hash-table set and hash the writes after the snapshot left alone equals the same content written on this server', async () => {
    // Redis 7.0 cannot RESTORE RDB 11: the same content is written here from the recording's
    // expected.json, as a hash table too, for the keys writes.txt does not name.
    const recording = join(FIXTURES, 'valkey-8.0.1');
    const writes = readFileSync(join(recording, 'writes.txt'), 'utf8');
    const expected = JSON.parse(readFileSync(join(recording, 'expected.json'), 'utf8')) as { dbs: Record<string, Record<string, { type: string; value: unknown }>> };
    await redis.config('SET', 'hash-max-listpack-entries', '0');
    await redis.config('SET', 'set-max-intset-entries', '0');
    let compared = 0;
    for (const [id, payload] of hashTables('valkey-8.0.1')) {
      const [db, key64] = id.split('/') as [string, string];
      const name = Buffer.from(key64, 'base64');
      // Readable, each of them (big:set and big:hash, about 700 elements, lose some after the snapshot: not compared).
      expect({ name: String(name), readable: (hashTablePayloadElements(payload)?.elements.length ?? 0) > 0 }).toEqual({ name: String(name), readable: true });
      const content = expected.dbs[db]?.[key64];
      if (!content || writes.includes(JSON.stringify(name.toString()))) continue;
      await redis.del('t');
      if (content.type === 'set') await redis.sadd('t', ...(content.value as string[]).map((m) => Buffer.from(m, 'base64')));
      else await redis.hset('t', ...(content.value as [string, string][]).flatMap(([f, v]) => [Buffer.from(f, 'base64'), Buffer.from(v, 'base64')]));
      expect({ id, same: sameHashTableContent(payload, (await redis.dumpBuffer('t'))!) }).toEqual({ id, same: true });
      compared++;
    }
    // An orca execution (Valkey keeps allJobs:pipeline as a listpack set, RDB type 20).
    expect(compared).toBe(1);
    await redis.config('SET', 'hash-max-listpack-entries', '512');
    await redis.config('SET', 'set-max-intset-entries', '512');
  });
});
