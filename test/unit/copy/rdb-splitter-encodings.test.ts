/**
 * The RDB splitter on encodings a Redis 7 server no longer writes but an old spin-redis
 * (Redis 3 to 6) does: ziplists, zipmaps, quicklist v1, string-scored sorted sets, expiry in
 * seconds, LRU/LFU opcodes, module aux data. Built byte by byte; every chunking must agree.
 */
import { describe, expect, it } from '@jest/globals';
import { RdbSplitter, type RdbEntry } from '../../../lib/copy/replication/rdb-splitter.js';

const str = (s: string | Buffer) => {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  if (b.length >= 64) throw new Error('test strings stay short');
  return Buffer.concat([Buffer.of(b.length), b]);
};
const len = (n: number) => Buffer.of(n); // n < 64
const key = (type: number, name: string, ...body: Buffer[]) => Buffer.concat([Buffer.of(type), str(name), ...body]);

const rdb = Buffer.concat([
  Buffer.from('REDIS0008'),
  Buffer.of(0xfa),
  str('redis-ver'),
  str('4.0.14'),
  Buffer.of(0xfe),
  len(0),
  Buffer.of(0xfb),
  len(9),
  len(1),
  key(0, 'plain', str('value')),
  key(0, 'int8', Buffer.of(0xc0, 0x7b)), // integer-encoded string
  key(0, 'lzf', Buffer.of(0xc3), len(4), len(10), Buffer.from([0x01, 0x61, 0x61, 0xe0])), // LZF header + 4 bytes
  key(1, 'linked-list', len(2), str('a'), str('b')),
  key(3, 'zset-v1', len(3), str('m1'), Buffer.of(3), Buffer.from('1.5'), str('m2'), Buffer.of(254), str('m3'), Buffer.of(253)),
  Buffer.of(0xfd),
  Buffer.from([0x10, 0x20, 0x30, 0x40]), // expiry in seconds for the next key
  key(9, 'zipmap', str(Buffer.alloc(20, 1))),
  Buffer.of(0xf8),
  len(17), // LRU idle
  key(10, 'list-ziplist', str(Buffer.alloc(30, 2))),
  Buffer.of(0xf9),
  Buffer.of(5), // LFU frequency
  key(11, 'intset', str(Buffer.alloc(12, 3))),
  key(12, 'zset-ziplist', str(Buffer.alloc(25, 4))),
  key(13, 'hash-ziplist', str(Buffer.alloc(33, 5))),
  key(14, 'quicklist-v1', len(2), str(Buffer.alloc(40, 6)), str(Buffer.alloc(41, 7))),
  Buffer.of(0xf7),
  len(1),
  len(2),
  len(0),
  len(2),
  len(9),
  len(5),
  str('aux'),
  len(0), // module aux: id, when-op, when, uint, string, EOF
  Buffer.of(0xfe),
  len(3),
  key(0, 'db3', str('three')),
  Buffer.of(0xff),
  Buffer.alloc(8),
]);

function split(chunk: number): (Pick<RdbEntry, 'db' | 'type' | 'expireAt' | 'length'> & { key: string })[] {
  const out: (Pick<RdbEntry, 'db' | 'type' | 'expireAt' | 'length'> & { key: string })[] = [];
  const splitter = new RdbSplitter({ entry: (e) => out.push({ key: e.key.toString(), db: e.db, type: e.type, expireAt: e.expireAt, length: e.length }) });
  for (let i = 0; i < rdb.length; i += chunk) splitter.push(rdb.subarray(i, i + chunk));
  expect(splitter.finished).toBe(true);
  expect(splitter.version).toBe(8);
  return out;
}

describe('RDB splitter, old encodings', () => {
  it('finds every key, its database, type, expiry and body length', () => {
    expect(split(rdb.length)).toEqual([
      { key: 'plain', db: 0, type: 0, expireAt: 0, length: 6 },
      { key: 'int8', db: 0, type: 0, expireAt: 0, length: 2 },
      { key: 'lzf', db: 0, type: 0, expireAt: 0, length: 7 },
      { key: 'linked-list', db: 0, type: 1, expireAt: 0, length: 5 },
      { key: 'zset-v1', db: 0, type: 3, expireAt: 0, length: 16 },
      { key: 'zipmap', db: 0, type: 9, expireAt: 0x40302010 * 1000, length: 21 },
      { key: 'list-ziplist', db: 0, type: 10, expireAt: 0, length: 31 },
      { key: 'intset', db: 0, type: 11, expireAt: 0, length: 13 },
      { key: 'zset-ziplist', db: 0, type: 12, expireAt: 0, length: 26 },
      { key: 'hash-ziplist', db: 0, type: 13, expireAt: 0, length: 34 },
      { key: 'quicklist-v1', db: 0, type: 14, expireAt: 0, length: 84 },
      { key: 'db3', db: 3, type: 0, expireAt: 0, length: 6 },
    ]);
  });

  it.each([1, 2, 3, 5, 8, 13])('agrees whatever the chunk size (%i)', (chunk) => {
    expect(split(chunk)).toEqual(split(rdb.length));
  });
});
