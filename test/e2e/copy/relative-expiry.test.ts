/**
 * Relative expiries replayed late are not stretched: the bulk copy's forwarder (the stream
 * written while the snapshot was taken) gives keys the source's absolute expiry, between two
 * real redis-server 7.0.15. (A 7.0 source already replicates absolute PEXPIREAT; the stream
 * here is written by hand as 6.2 and older send it. The catch-up's side, against a recorded
 * 6.2 master, is in recorded-follow.test.ts.)
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { CommandForwarder } from '../../../lib/copy/replication/command-forwarder.js';
import { encodeCommand, RespConnection } from '../../../lib/redis/resp.js';
import type { RedisProcess } from '../../../sandbox/redis/redis-process.js';
import { useRedisPair } from '../../support/redis-pair.js';

const pair = useRedisPair('relative-expiry-');
let source: RedisProcess;
let target: RedisProcess;
let src: Redis;
let dst: Redis;
beforeAll(() => void ({ source, target, src, dst } = pair));

describe('the bulk copy forwarder', () => {
  it('gives keys written with relative TTLs the source expiry, however late it applies them', async () => {
    await src.set('session', 'v', 'PX', 10_000);
    await src.set('persisted', 'v'); // EX in the stream, PERSIST since
    await src.set('session:new-id', 'v', 'PX', 10_000); // SETEX then RENAME (Spring Session's new id)
    await src.select(2);
    await src.psetex('db2', 20_000, 'v');
    await src.select(0);
    await sleep(1500); // the snapshot takes its time
    const stream = Buffer.concat([
      encodeCommand(['SELECT', '0']),
      encodeCommand(['SET', 'session', 'v', 'PX', '10000']),
      encodeCommand(['SETEX', 'persisted', '100', 'v']),
      encodeCommand(['SETEX', 'gone', '100', 'v']),
      encodeCommand(['PSETEX', 'session:old-id', '10000', 'v']),
      encodeCommand(['RENAME', 'session:old-id', 'session:new-id']), // expired or deleted on the source since: its DEL follows
      encodeCommand(['SELECT', '2']),
      encodeCommand(['PSETEX', 'db2', '20000', 'v']),
      encodeCommand(['SET', 'db2-plain', 'v']),
    ]);
    const apply = await RespConnection.open({ url: target.url }, 'relative-expiry-test');
    const forwarder = new CommandForwarder(apply, 0, () => undefined, { url: source.url });
    try {
      // Split at an awkward place: commands arrive in pieces.
      forwarder.push(stream.subarray(0, 50));
      forwarder.push(stream.subarray(50));
      for (let i = 0; i < 100 && forwarder.offset < stream.length; i++) await sleep(20);
      expect(forwarder.offset).toBe(stream.length);
      await apply.call(['PING']);
      expect(forwarder.failure).toBeUndefined();
      const [targetTtl, sourceTtl] = [await dst.pttl('session'), await src.pttl('session')];
      expect(Math.abs(targetTtl - sourceTtl)).toBeLessThan(200); // not 1.5 s longer
      expect(await dst.pttl('persisted')).toBe(-1);
      expect(Math.abs((await dst.pttl('session:new-id')) - (await src.pttl('session:new-id')))).toBeLessThan(200);
      expect(await dst.ttl('gone')).toBeGreaterThan(90);
      await Promise.all([dst.select(2), src.select(2)]);
      expect(Math.abs((await dst.pttl('db2')) - (await src.pttl('db2')))).toBeLessThan(200);
      // The stream's database is restored after the fixes.
      expect(await dst.get('db2-plain')).toBe('v');
    } finally {
      await Promise.all([dst.select(0), src.select(0)]);
      forwarder.close();
      apply.close();
    }
  });
});
