/**
 * Streams copied whole on every path (issue 9, item 9): consumer groups, consumers (with and
 * without pending entries), pending entries with owner and delivery count, entries-read,
 * max-deleted-entry-id and entries-added; and a verification that names what differs
 * instead of accepting any stream difference. Two real redis-server 7.0.15.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { copyKeyByType } from '../../../lib/copy/key-copy.js';
import { syncKey } from '../../../lib/copy/live.js';
import { copyViaReplication } from '../../../lib/copy/replication/replica-copy.js';
import { verifyCopy } from '../../../lib/copy/verify.js';
import type { RedisProcess } from '../../../sandbox/redis/redis-process.js';
import { useRedisPair } from '../../support/redis-pair.js';

const pair = useRedisPair('stream-state-');
let source: RedisProcess;
let target: RedisProcess;
let src: Redis;
let dst: Redis;
beforeAll(() => void ({ source, target, src, dst } = pair));

const KEY = 'echo:events';

/** A stream with everything a consumer group keeps. */
async function seedStream(): Promise<void> {
  const ids: string[] = [];
  for (let i = 0; i < 30; i++) ids.push((await src.xadd(KEY, '*', 'event', `e${i}`, 'n', String(i)))!);
  await src.xdel(KEY, ids[3]!); // max-deleted-entry-id
  await src.xgroup('CREATE', KEY, 'workers', '0');
  await src.xgroup('CREATE', KEY, 'audit', '$');
  await src.call('XGROUP', 'CREATECONSUMER', KEY, 'workers', 'idle-worker'); // a consumer with nothing pending
  await src.xreadgroup('GROUP', 'workers', 'alice', 'COUNT', 10, 'STREAMS', KEY, '>');
  await src.xreadgroup('GROUP', 'workers', 'bob', 'COUNT', 5, 'STREAMS', KEY, '>');
  await src.xack(KEY, 'workers', ids[0]!, ids[1]!);
  await src.xclaim(KEY, 'workers', 'bob', 0, ids[4]!); // delivery count 2, now bob's
}

const strict = () => verifyCopy({ url: source.url }, { url: target.url }, { mode: 'strict' });

describe('a stream with consumer groups, on every copy path', () => {
  const paths: [string, () => Promise<unknown>][] = [
    ['the replication copy (RESTORE of the snapshot)', () => copyViaReplication({ url: source.url }, { url: target.url })],
    ['the type-based copy (big keys, refused payloads)', () => copyKeyByType(src, dst, Buffer.from(KEY), 'stream')],
    ['the notification catch-up, reconciliation and copy-back writer (syncKey)', () => syncKey(src, dst, Buffer.from(KEY))],
  ];
  it.each(paths)(
    '%s keeps groups, consumers, pending entries and counters',
    async (_path, copy) => {
      await seedStream();
      await copy();
      const report = await strict();
      expect({ ok: report.ok, examples: report.examples }).toEqual({ ok: true, examples: [] });
      const consumers = (await dst.call('XINFO', 'CONSUMERS', KEY, 'workers')) as unknown[][];
      expect(consumers.map((c) => `${String(c[1])}:${String(c[3])}`).sort()).toEqual(['alice:7', 'bob:6', 'idle-worker:0']);
    },
    30_000,
  );
});

describe('verification names what differs in a stream', () => {
  it('strict: an acked entry and a lost consumer are each named, with the pending entries', async () => {
    await seedStream();
    await copyViaReplication({ url: source.url }, { url: target.url });
    const pending = (await dst.xpending(KEY, 'workers', '-', '+', 1)) as [string][];
    await dst.xack(KEY, 'workers', pending[0]![0]);
    await dst.call('XGROUP', 'DELCONSUMER', KEY, 'workers', 'idle-worker');
    const report = await strict();
    expect(report.ok).toBe(false);
    const detail = report.examples.find((e) => e.key === KEY)?.detail ?? '';
    expect(detail).toMatch(/group workers: pending: 13 on the source, 12 on the target/);
    expect(detail).toMatch(/group workers: consumers: alice\(7\) bob\(6\) idle-worker\(0\) on the source, alice\(6\) bob\(6\) on the target/);
    expect(detail).toMatch(/group workers: pending entries \(owner, deliveries\)/);
  }, 30_000);

  it('live: a target that lost a group or an entry fails; one that only moved on (new entries, acks) passes as newer', async () => {
    await seedStream();
    await copyViaReplication({ url: source.url }, { url: target.url });
    const live = () => verifyCopy({ url: source.url }, { url: target.url }, { mode: 'live' });
    // Spinnaker on the target after the cutover: new entries, a read and an ack.
    await dst.xadd(KEY, '*', 'event', 'after-cutover');
    const read = (await dst.xreadgroup('GROUP', 'workers', 'carol', 'COUNT', 1, 'STREAMS', KEY, '>')) as [string, [string, string[]][]][];
    await dst.xack(KEY, 'workers', read[0]![1][0]![0]);
    expect(await live()).toMatchObject({ ok: true, targetNewer: 1 });

    await dst.xgroup('DESTROY', KEY, 'audit');
    const lost = await live();
    expect(lost.ok).toBe(false);
    expect(lost.examples.find((e) => e.key === KEY)?.detail).toMatch(/group audit: last delivered id: \S+ on the source, none on the target/);
  }, 30_000);
});
