/**
 * Issue 9, kind (f), on inputs of our own: streams shaped unlike stream-state.test.ts's (three
 * groups: one lagging, one created at `$` that never read, one that acked everything; a stream
 * trimmed to nothing that keeps its group; consumers with and without pending entries) copied
 * on the paths that test does not take (the scan copy by RESTORE and by type, the stream and
 * notification catch-ups with consumer-group commands made while they run, the final mirror
 * and the copy-back), each ending strictly equal; and a strict verification that fails on a
 * difference in any single part of a stream's state. Two real redis-server 7.0.15.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { copySlice } from '../../../lib/copy/bulk.js';
import { catchUp } from '../../../lib/copy/live.js';
import { copyBack, reconcile } from '../../../lib/copy/reconcile.js';
import { followChanges } from '../../../lib/copy/replication/follow.js';
import { copyViaReplication } from '../../../lib/copy/replication/replica-copy.js';
import { verifyCopy } from '../../../lib/copy/verify.js';
import type { RedisProcess } from '../../../sandbox/redis/redis-process.js';
import { useRedisPair } from '../../support/redis-pair.js';

const pair = useRedisPair('stream-kinds-');
let source: RedisProcess;
let target: RedisProcess;
let src: Redis;
let dst: Redis;
beforeAll(() => void ({ source, target, src, dst } = pair));

const LOG = 'kayenta.keiko.events';
const EMPTIED = 'echo.pubsub.inbox';

async function seedStreams(r: Redis): Promise<void> {
  for (let i = 0; i < 200; i += 50) {
    const batch = r.pipeline();
    for (let j = i; j < i + 50; j++) batch.xadd(LOG, `${5000 + j}-${j % 3}`, 'canary', `c${j}`, 'score', String(j % 17));
    await batch.exec();
  }
  await r.xgroup('CREATE', LOG, 'judges', '0');
  await r.xgroup('CREATE', LOG, 'late', '$');
  await r.xgroup('CREATE', LOG, 'archivers', '0');
  await r.xreadgroup('GROUP', 'judges', 'judge-a', 'COUNT', 40, 'STREAMS', LOG, '>');
  await r.xreadgroup('GROUP', 'judges', 'judge-b', 'COUNT', 25, 'STREAMS', LOG, '>');
  await r.call('XGROUP', 'CREATECONSUMER', LOG, 'judges', 'judge-c');
  const archived = (await r.xreadgroup('GROUP', 'archivers', 'arch-1', 'COUNT', 200, 'STREAMS', LOG, '>')) as [string, [string, string[]][]][];
  await r.xack(LOG, 'archivers', ...archived[0]![1].map(([id]) => id));
  await r.xclaim(LOG, 'judges', 'judge-b', 0, '5001-1', '5002-2'); // judge-a's, delivered twice now
  await r.xdel(LOG, '5100-1', '5150-0');
  await r.xadd(EMPTIED, '1-1', 'a', '1');
  await r.xadd(EMPTIED, '2-1', 'a', '2');
  await r.xgroup('CREATE', EMPTIED, 'readers', '0');
  await r.xreadgroup('GROUP', 'readers', 'r1', 'STREAMS', EMPTIED, '>');
  await r.xack(EMPTIED, 'readers', '1-1', '2-1');
  await r.xtrim(EMPTIED, 'MAXLEN', 0);
}

/** What consumers do while a catch-up runs: read, ack, claim, auto-claim, drop a consumer, move a group, destroy one. */
async function consumeMeanwhile(r: Redis): Promise<void> {
  await r.xadd(LOG, '6000-0', 'canary', 'new');
  await r.xreadgroup('GROUP', 'late', 'late-1', 'COUNT', 1, 'STREAMS', LOG, '>');
  await r.xack(LOG, 'judges', '5003-0', '5004-1');
  await r.xclaim(LOG, 'judges', 'judge-c', 0, '5010-1');
  await r.call('XAUTOCLAIM', LOG, 'judges', 'judge-c', 0, '5020-0', 'COUNT', 3);
  await r.call('XGROUP', 'DELCONSUMER', LOG, 'judges', 'judge-b');
  await r.call('XGROUP', 'SETID', LOG, 'archivers', '5190-0', 'ENTRIESREAD', '190');
  await r.xgroup('DESTROY', EMPTIED, 'readers');
  await r.xgroup('CREATE', EMPTIED, 'replay', '0');
}

async function strictlyEqual(): Promise<void> {
  const report = await verifyCopy({ url: source.url }, { url: target.url }, { mode: 'strict' });
  expect({ ok: report.ok, examples: report.examples }).toEqual({ ok: true, examples: [] });
  expect(report.compared).toBe(2);
}

describe('streams with consumer groups on the remaining paths', () => {
  it('the scan copy by RESTORE', async () => {
    await seedStreams(src);
    await copySlice({ url: source.url }, { url: target.url });
    await strictlyEqual();
  });

  it('the scan copy by type (a stream over the big-key limit)', async () => {
    await seedStreams(src);
    const { stats } = await copySlice({ url: source.url }, { url: target.url }, { maxPayloadBytes: 8 });
    expect(stats.bigKeys).toBe(2);
    await strictlyEqual();
  });

  it('the stream catch-up, with consumer-group commands made while it runs', async () => {
    await seedStreams(src);
    const copied = await copyViaReplication({ url: source.url }, { url: target.url });
    const running = followChanges({ url: source.url }, { url: target.url }, { position: copied, until: Date.now() + 1000 });
    await sleep(100);
    await consumeMeanwhile(src);
    await running;
    await strictlyEqual();
  });

  it('the notification catch-up, with consumer-group commands made while it runs', async () => {
    await src.config('SET', 'notify-keyspace-events', 'KA');
    try {
      await seedStreams(src);
      await seedStreams(dst);
      const running = catchUp({ url: source.url }, { url: target.url }, { until: Date.now() + 1000 });
      await sleep(150);
      await consumeMeanwhile(src);
      await running;
      await strictlyEqual();
    } finally {
      await src.config('SET', 'notify-keyspace-events', '');
    }
  });

  it('the final mirror and the copy-back', async () => {
    await seedStreams(src);
    await seedStreams(dst);
    await consumeMeanwhile(src);
    expect(await reconcile({ url: source.url }, { url: target.url })).toMatchObject({ copied: 2 });
    await strictlyEqual();
    // Spinnaker on ElastiCache acks, and a group is created, before a rollback.
    await dst.xack(LOG, 'judges', '5030-0');
    await dst.xgroup('CREATE', EMPTIED, 'again', '$');
    expect(await copyBack({ url: target.url }, { url: source.url })).toMatchObject({ copied: 2 });
    await strictlyEqual();
  });
});

describe('a pending entry whose stream entry was deleted (XTRIM past a slow consumer)', () => {
  it('the type-based copy keeps it pending', async () => {
    await seedStreams(src);
    await src.xdel(LOG, '5030-0', '5031-1'); // pending for judge-a
    await src.xtrim(LOG, 'MINID', '5012'); // 5000…5011: pending for judge-a and judge-b too
    const { stats } = await copySlice({ url: source.url }, { url: target.url }, { maxPayloadBytes: 8 });
    expect(stats.bigKeys).toBe(2);
    await strictlyEqual();
  });
});

describe('strict verification fails on a difference in any single part of a stream', () => {
  const changes: [string, string, (r: Redis) => Promise<unknown>][] = [
    ['an entry', 'entries', (r) => r.xdel(LOG, '5060-0')],
    ['entries-added', 'entries-added', (r) => r.call('XSETID', LOG, '5199-1', 'ENTRIESADDED', '999', 'MAXDELETEDID', '5150-0')],
    ['max-deleted-entry-id', 'max-deleted-entry-id', (r) => r.call('XSETID', LOG, '5199-1', 'ENTRIESADDED', '200', 'MAXDELETEDID', '5160-0')],
    ["a group's entries-read", 'judges: entries read', (r) => r.call('XGROUP', 'SETID', LOG, 'judges', '5064-1', 'ENTRIESREAD', '3')],
    ["a group's last-delivered id", 'late: last delivered id', (r) => r.call('XGROUP', 'SETID', LOG, 'late', '5198-0')],
    ['a consumer with nothing pending', 'judges: consumers', (r) => r.call('XGROUP', 'DELCONSUMER', LOG, 'judges', 'judge-c')],
    ["a pending entry's owner", 'pending entries', (r) => r.xclaim(LOG, 'judges', 'judge-a', 0, '5002-2', 'RETRYCOUNT', 2)],
    ["a pending entry's delivery count", 'pending entries', (r) => r.xclaim(LOG, 'judges', 'judge-b', 0, '5002-2', 'RETRYCOUNT', 7)],
    ['a group of an empty stream', 'group readers', (r) => r.xgroup('DESTROY', EMPTIED, 'readers')],
  ];
  it.each(changes)('%s', async (_what, named, change) => {
    await seedStreams(src);
    await seedStreams(dst);
    await change(dst);
    const report = await verifyCopy({ url: source.url }, { url: target.url }, { mode: 'strict' });
    expect(report.ok).toBe(false);
    expect(report.examples.map((e) => e.detail).join(' | ')).toContain(named);
  });
});
