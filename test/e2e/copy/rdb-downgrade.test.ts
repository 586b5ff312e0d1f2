/**
 * The listpack reader behind the RDB 11 → 10 rewrite (lib/copy/replication/rdb-downgrade.ts),
 * on listpacks a real redis-server wrote: a 7.0 hash stored as a listpack (DUMP type 16) whose
 * fields cover every entry encoding (7-bit, 13-bit, 16/24/32/64-bit integers, negative ones,
 * 6-bit, 12-bit and 32-bit string lengths) reads back as HGETALL gives it. The same listpack
 * as the body of a set (type 20, what Redis 7.2 and Valkey write) becomes a plain set that
 * 7.0 RESTOREs with exactly those members.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { crc64 } from '../../../lib/copy/replication/crc64.js';
import { downgradeValue, listpackEntries } from '../../../lib/copy/replication/rdb-downgrade.js';
import { readRdbString } from '../../../lib/copy/replication/rdb-splitter.js';
import { connectRedis } from '../../../lib/redis/connect.js';
import { startRedis, type RedisProcess } from '../../../sandbox/redis/redis-process.js';

const dir = mkdtempSync(join(tmpdir(), 'rdb-downgrade-'));
let server: RedisProcess;
let redis: Redis;
beforeAll(async () => {
  // Long strings stay in the listpack (12-bit and 32-bit lengths).
  server = await startRedis({ dir, extraArgs: ['--hash-max-listpack-value', '10000'] });
  redis = await connectRedis({ url: server.url });
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

const VALUES = [
  '0',
  '127',
  '128',
  '-1',
  '4095',
  '-4096',
  '4096',
  '32767',
  '-32768',
  '8388607',
  '-8388608',
  '2147483647',
  '-2147483648',
  '9223372036854775807',
  '-9223372036854775808',
  '',
  'x',
  'a'.repeat(63),
  'b'.repeat(64),
  'c'.repeat(4095),
  'd'.repeat(4096),
  '01',
  '1.5',
  'ä',
];

function payload(type: number, body: Buffer, version = 10): Buffer {
  const footer = Buffer.alloc(2);
  footer.writeUInt16LE(version);
  const head = Buffer.concat([Buffer.of(type), body, footer]);
  return Buffer.concat([head, crc64(head)]);
}

describe('listpacks written by a real redis-server', () => {
  it('every entry encoding reads back as the server returns it', async () => {
    const fields = VALUES.flatMap((v, i) => [`f${i}`, v]);
    await redis.hset('lp', ...fields);
    expect(await redis.object('ENCODING', 'lp')).toBe('listpack');
    const dump = (await redis.dumpBuffer('lp'))!;
    expect(dump[0]).toBe(16); // RDB_TYPE_HASH_LISTPACK
    const { value: listpack } = readRdbString(dump, 1);
    const flat = ((await redis.callBuffer('HGETALL', 'lp')) as Buffer[]).map(String);
    expect(listpackEntries(listpack).map(String)).toEqual(flat);
  });

  it('a set stored as a listpack (type 20) becomes a plain set (type 2) that 7.0 restores with the same members', async () => {
    const dump = (await redis.dumpBuffer('lp'))!;
    const body = dump.subarray(1, dump.length - 10); // the listpack as an RDB string
    const converted = downgradeValue(20, body, 10);
    expect({ type: converted.type, converted: converted.converted }).toEqual({ type: 2, converted: true });
    await redis.restore('as-set', 0, payload(converted.type, converted.body));
    const members = (await redis.smembersBuffer('as-set')).map(String).sort();
    const expected = [...new Set([...VALUES, ...VALUES.map((_, i) => `f${i}`)])].sort();
    expect(members).toEqual(expected);
    // A reader of RDB 11 keeps it as it is.
    expect(downgradeValue(20, body, 11)).toMatchObject({ type: 20, converted: false });
  });
});
