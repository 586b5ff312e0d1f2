/**
 * The stream catch-up as an exact mirror, between two real redis-server 7.0.15: removals of
 * every collection type, RENAME and scripts written while it runs reach the target exactly
 * (issue 9), and a slice that dies mid-way or is re-run from an older position applies no
 * write twice (INCR counters end exact).
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { copyViaReplication } from '../../../lib/copy/replication/replica-copy.js';
import { followChanges, STREAM_POSITION_KEY, targetStreamPosition } from '../../../lib/copy/replication/follow.js';
import { verifyCopy } from '../../../lib/copy/verify.js';
import type { RedisProcess } from '../../../sandbox/redis/redis-process.js';
import { useRedisPair } from '../../support/redis-pair.js';

const pair = useRedisPair('mirror-catch-up-');
let source: RedisProcess;
let target: RedisProcess;
let src: Redis;
let dst: Redis;
beforeAll(() => void ({ source, target, src, dst } = pair));

const follow = (position: { replid: string; offset: number; db?: number }, ms: number) => followChanges({ url: source.url }, { url: target.url }, { position, until: Date.now() + ms });

async function targetEqualsSource(): Promise<void> {
  const report = await verifyCopy({ url: source.url }, { url: target.url }, { mode: 'strict', ttlToleranceMs: 100 });
  expect({ ok: report.ok, examples: report.examples }).toEqual({ ok: true, examples: [] });
}

describe('removals during the catch-up', () => {
  it("issue 9's queue: ZREM and HDEL during the catch-up leave m3 m4 only", async () => {
    await src.zadd('q', '1', 'm1', '2', 'm2', '3', 'm3', '4', 'm4');
    await src.hset('q.messages', 'm1', 'a', 'm2', 'b', 'm3', 'c', 'm4', 'd');
    const copied = await copyViaReplication({ url: source.url }, { url: target.url });
    const running = follow(copied, 800);
    await sleep(150);
    await src.zrem('q', 'm1', 'm2');
    await src.hdel('q.messages', 'm1', 'm2');
    await running;
    expect(await dst.zrange('q', '0', '-1')).toEqual(['m3', 'm4']);
    expect(await dst.hgetall('q.messages')).toEqual({ m3: 'c', m4: 'd' });
  });

  it('every collection type, RENAME, scripts and transactions apply exactly', async () => {
    await src.sadd('s', 'a', 'b', 'c');
    await src.rpush('l', 'a', 'b', 'c', 'd');
    await src.hset('h', 'a', '1', 'b', '2');
    await src.zadd('z', '1', 'a', '2', 'b');
    const first = await src.xadd('x', '*', 'f', '1');
    await src.xadd('x', '*', 'f', '2');
    await src.set('tmp', 'permissions');
    await src.set('gone', 'soon');
    await src.select(3);
    await src.set('db3', 'x');
    await src.select(0);
    const copied = await copyViaReplication({ url: source.url }, { url: target.url });
    const running = follow(copied, 1000);
    await sleep(150);
    await src.srem('s', 'a');
    await src.lrem('l', 1, 'b');
    await src.lpop('l');
    await src.hdel('h', 'a');
    await src.zrem('z', 'a');
    await src.xdel('x', first!);
    await src.rename('tmp', 'spinnaker:fiat:permissions-v2:alice:applications');
    await src.del('gone');
    // A keiko-like ack by script: the keys it writes are never named to us, the script is replayed.
    await src.eval("redis.call('ZREM', KEYS[1], ARGV[1]) redis.call('HDEL', KEYS[2], ARGV[1]) return 1", 2, 'z', 'h', 'b');
    await src.multi().sadd('s', 'd').srem('s', 'b').exec();
    await src.swapdb(3, 4);
    await running;
    expect(await dst.smembers('s').then((m) => m.sort())).toEqual(['c', 'd']);
    expect(await dst.lrange('l', 0, -1)).toEqual(['c', 'd']);
    expect(await dst.exists('h', 'z', 'tmp', 'gone')).toBe(0);
    expect(await dst.xlen('x')).toBe(1);
    expect(await dst.get('spinnaker:fiat:permissions-v2:alice:applications')).toBe('permissions');
    await dst.select(4);
    expect(await dst.get('db3')).toBe('x');
    await dst.select(0);
    await targetEqualsSource();
  });
});

describe('exactly once', () => {
  async function countersEqual(): Promise<void> {
    expect(await dst.get('counter')).toBe(await src.get('counter'));
    expect(await dst.hgetall('attempts')).toEqual(await src.hgetall('attempts'));
    await targetEqualsSource();
  }

  it('a slice killed mid-way, retried from the state position, applies every INCR once', async () => {
    await src.set('counter', '0');
    const copied = await copyViaReplication({ url: source.url }, { url: target.url });
    let writing = true;
    const writer = (async () => {
      while (writing) {
        const batch = src.pipeline();
        for (let j = 0; j < 50; j++) batch.incr('counter').hincrby('attempts', `m${j % 7}`, 1);
        await batch.exec();
        await sleep(5);
      }
    })();
    const dying = follow(copied, 60_000);
    dying.catch(() => undefined);
    // Once some batches are applied (a loaded machine may take a while), while the writer still writes.
    for (let i = 0; i < 300 && !(await targetStreamPosition(dst)); i++) await sleep(50);
    await sleep(100);
    // The Lambda dies: its connection to the target drops in the middle of the stream.
    const clients = (await dst.client('LIST')) as string;
    const id = /id=(\d+) [^\n]*name=spin-elasticache-follow-apply/.exec(clients)?.[1];
    expect(id).toBeDefined();
    await dst.client('KILL', 'ID', id!);
    await expect(dying).rejects.toBeDefined();
    writing = false;
    await writer;
    const applied = await targetStreamPosition(dst);
    expect(applied?.offset).toBeGreaterThan(copied.offset); // some batches were applied before it died
    // The retry starts from the state's (older) position: the target's own position wins.
    const retried = await follow(copied, 300);
    expect(retried.position.offset).toBe(Number(/master_repl_offset:(\d+)/.exec(await src.info('replication'))?.[1]));
    await countersEqual();
  });

  it('a slice re-run from an older state position applies nothing twice', async () => {
    await src.set('counter', '0');
    const copied = await copyViaReplication({ url: source.url }, { url: target.url });
    for (let i = 0; i < 200; i++) await src.incr('counter');
    const first = await follow(copied, 300);
    expect(await dst.get('counter')).toBe('200');
    for (let i = 0; i < 100; i++) await src.multi().incr('counter').hincrby('attempts', 'm1', 1).exec();
    const second = await follow(first.position, 300);
    // Both slices again, from their old positions: nothing moves.
    await follow(copied, 300);
    await follow(first.position, 300);
    expect(await targetStreamPosition(dst)).toEqual(second.position);
    expect(await dst.get('counter')).toBe('300');
    await countersEqual();
    // The position key lives in db 0 only and is not part of the data.
    expect(await dst.exists(STREAM_POSITION_KEY)).toBe(1);
  });
});
