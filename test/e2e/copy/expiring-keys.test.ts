/**
 * Keys expiring while they are read, on every copy path that reads a TTL (issue 9, item 5:
 * `PTTL` 0 taken for "no expiry"): thousands of keys with `PXAT` spread over a short window are
 * copied while they expire, so some are read in their very last millisecond; once the window
 * has passed, none may be left on the target (a key copied without its TTL would live for
 * ever). The scan copy's case is in old-targets.test.ts. Two real redis-server 7.0.15.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { copyKeyByType } from '../../../lib/copy/key-copy.js';
import { startCatchUp } from '../../../lib/copy/live.js';
import { copyViaReplication } from '../../../lib/copy/replication/replica-copy.js';
import type { RedisProcess } from '../../../sandbox/redis/redis-process.js';
import { useRedisPair } from '../../support/redis-pair.js';

const pair = useRedisPair('expiring-keys-');
let source: RedisProcess;
let target: RedisProcess;
let src: Redis;
let dst: Redis;
beforeAll(() => void ({ source, target, src, dst } = pair));

type Pipeline = ReturnType<Redis['pipeline']>;

/** `count` keys expiring evenly between `fromMs` and `toMs` from now; returns the last expiry (epoch ms). */
async function expiringKeys(
  count: number,
  fromMs: number,
  toMs: number,
  write: (batch: Pipeline, key: string, at: number) => void = (b, key, at) => void b.set(key, 'v', 'PXAT', at),
): Promise<number> {
  const start = Date.now();
  for (let i = 0; i < count; i += 500) {
    const batch = src.pipeline();
    for (let j = i; j < Math.min(count, i + 500); j++) write(batch, `exp:${j}`, start + fromMs + Math.floor((j * (toMs - fromMs)) / count));
    await batch.exec();
  }
  return start + toMs;
}

/** After the last expiry: nothing left on the target, and nothing there without a TTL meanwhile. */
async function noneSurvive(lastExpiry: number): Promise<void> {
  await sleep(Math.max(0, lastExpiry + 300 - Date.now()));
  expect(await dst.keys('exp:*')).toEqual([]);
}

describe('keys expiring in the millisecond they are read', () => {
  it('the notification catch-up: 4,000 lists touched (LSET keeps the TTL) around their expiry, spread over 2 s', async () => {
    await src.config('SET', 'notify-keyspace-events', 'KEA');
    try {
      const count = 4000;
      // Subscribed before the keys exist: on a loaded machine a late subscription would see no event at all.
      const session = await startCatchUp({ url: source.url }, { url: target.url });
      const last = await expiringKeys(count, 500, 2500, (b, key, at) => void b.rpush(key, 'v').pexpireat(key, at));
      const first = last - 2000;
      const running = session.run({ until: last + 500 });
      const toucher = src.duplicate();
      // Each key is touched 4, 2 and 1 ms before its expiry: some of its reads land in the last millisecond.
      const touches = Array.from({ length: count }, (_, j) => [4, 2, 1].map((before) => ({ key: `exp:${j}`, at: first + Math.floor((j * 2000) / count) - before }))).flat();
      touches.sort((a, b) => a.at - b.at);
      for (const { key, at } of touches) {
        while (Date.now() < at) await sleep(0);
        toucher.lset(key, 0, 'w').catch(() => undefined); // gone already: no event, nothing to copy
      }
      const stats = await running.finally(() => session.close());
      toucher.disconnect();
      await noneSurvive(last);
      expect(stats.events).toBeGreaterThan(count / 10);
    } finally {
      await src.config('SET', 'notify-keyspace-events', '');
    }
  }, 30_000);

  it('the type-based copy (big keys, refused payloads): 3,000 hashes each copied in the milliseconds around its expiry', async () => {
    const count = 3000;
    const last = await expiringKeys(count, 300, 3300, (b, key, at) => void b.hset(key, 'a', '1', 'b', '2').pexpireat(key, at));
    const first = last - 3000;
    let expired = 0;
    for (let j = 0; j < count; j++) {
      const due = first + j - 2;
      if (Date.now() < due) await sleep(due - Date.now());
      if ((await copyKeyByType(src, dst, Buffer.from(`exp:${j}`), 'hash')) < 0) expired++;
    }
    expect(expired).toBeGreaterThan(0);
    await noneSurvive(last);
  }, 30_000);

  it('the replication copy: 20,000 keys expiring over the 2 s its snapshot takes', async () => {
    const last = await expiringKeys(20_000, 300, 2300);
    await src.config('SET', 'rdb-key-save-delay', '100');
    try {
      const copied = await copyViaReplication({ url: source.url }, { url: target.url });
      expect(copied.stats.expiredSkipped).toBeGreaterThan(0);
      // Nothing on the target without a TTL, even before the window has passed.
      const left = await dst.keys('exp:*');
      for (const key of left.slice(0, 200)) expect(await dst.pttl(key)).toBeGreaterThan(-1);
    } finally {
      await src.config('SET', 'rdb-key-save-delay', '0');
    }
    await noneSurvive(last);
  }, 60_000);
});
