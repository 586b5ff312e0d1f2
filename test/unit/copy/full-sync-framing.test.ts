/** The framing of a full sync, whatever the chunk boundaries: preamble, RDB, EOF mark, write stream. */
import { describe, expect, it } from '@jest/globals';
import { FullSyncFraming } from '../../../lib/copy/replication/full-sync-framing.js';

/** A stand-in RDB of `size` bytes: the sink knows it has ended after that many. */
function run(wire: Buffer, rdbSize: number, chunk: number) {
  let rdb = Buffer.alloc(0);
  let stream = Buffer.alloc(0);
  let ended = 0;
  const framing = new FullSyncFraming(
    {
      rdb: (bytes) => {
        const used = Math.min(bytes.length, rdbSize - rdb.length);
        rdb = Buffer.concat([rdb, bytes.subarray(0, used)]);
        return used;
      },
      get rdbFinished() {
        return rdb.length === rdbSize;
      },
      snapshotEnded: () => void ended++,
      stream: (bytes) => void (stream = Buffer.concat([stream, bytes])),
    },
    'redis://source',
  );
  for (let i = 0; i < wire.length; i += chunk) framing.push(wire.subarray(i, i + chunk));
  return { rdb: rdb.toString(), stream: stream.toString(), ended, diskless: framing.diskless, rdbBytes: framing.rdbBytes };
}

const MARK = 'a'.repeat(40);

describe('full sync framing', () => {
  it.each([1, 3, 7, 1000])('separates a diskless snapshot from the writes after it (chunks of %i)', (chunk) => {
    const wire = Buffer.from(`\n\n$EOF:${MARK}\r\nREDIS-BYTES${MARK}*1\r\n$4\r\nPING\r\n`);
    expect(run(wire, 'REDIS-BYTES'.length, chunk)).toEqual({ rdb: 'REDIS-BYTES', stream: '*1\r\n$4\r\nPING\r\n', ended: 1, diskless: true, rdbBytes: 11 });
  });

  it.each([1, 5, 1000])('separates a disk-based snapshot (chunks of %i)', (chunk) => {
    const wire = Buffer.from('\n$11\r\nREDIS-BYTES*1\r\n$4\r\nPING\r\n');
    expect(run(wire, 11, chunk)).toEqual({ rdb: 'REDIS-BYTES', stream: '*1\r\n$4\r\nPING\r\n', ended: 1, diskless: false, rdbBytes: 11 });
  });

  it('names a snapshot shorter than announced, and anything that is not a snapshot', () => {
    expect(() => run(Buffer.from('$20\r\nREDIS-BYTES'), 11, 100)).toThrow(expect.objectContaining({ name: 'ReplicationUnavailableError', message: expect.stringMatching(/ended 9 bytes early/) }));
    expect(() => run(Buffer.from('$5\r\nREDIS-BYTES'), 11, 100)).toThrow(/declared length ended before its EOF/);
    expect(() => run(Buffer.from('-ERR no\r\n'), 11, 100)).toThrow(/instead of a snapshot/);
  });
});
