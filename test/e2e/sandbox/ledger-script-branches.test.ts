/**
 * The write ledger records what a conditional script did, from its reply, not what it could have
 * done: rosco's storeNewBakeStatus returns the race winner's status without writing its own bake
 * when another instance stored the bake key after this one's 5 s lock ran out
 * (rosco-core/.../persistence/RedisBackedBakeStore.groovy: "If we lost a race to initiate a new
 * bake, just return the race winner's bake status"). Recorded as stored, it read as lost writes
 * (lastWriteWins false) in loaded fault-matrix runs whose verification was clean.
 */
import { afterAll, afterEach, beforeAll, expect, it, jest } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { connectRedis } from '../../../lib/redis/connect.js';
import { type RedisProcess, startRedis } from '../../../sandbox/redis/redis-process.js';
import { computeInvariants, readFinalState, WriteLedger } from '../../../sandbox/spinnaker/ledger.js';
import { RoscoInstance } from '../../../sandbox/spinnaker/services/rosco.js';
import type { InstanceOptions } from '../../../sandbox/spinnaker/services.js';

/** A rosco pod whose loops the test drives by hand. */
class HandDrivenRosco extends RoscoInstance {
  protected override begin(): void {}
  bakeOnce(): Promise<void> {
    return (this as unknown as { bake(): Promise<void> }).bake();
  }
  get client(): Redis {
    return this.redis;
  }
}

let server: RedisProcess;
let admin: Redis;
beforeAll(async () => {
  server = await startRedis({ dir: mkdtempSync(join(tmpdir(), 'ledger-branches-')) });
  admin = await connectRedis({ url: server.url });
});
afterAll(async () => {
  admin.disconnect();
  await server.stop();
});
afterEach(async () => {
  jest.restoreAllMocks();
  await admin.flushall();
});

it('a rosco that lost the race for a bake is recorded with only what its script wrote', async () => {
  // Both bakes in one 30 s bake-key window, for the same application (APPS[0]).
  while (Date.now() % 30_000 > 25_000) await new Promise((r) => setTimeout(r, 200));
  jest.spyOn(Math, 'random').mockReturnValue(0);
  const ledger = new WriteLedger();
  const options = (pod: string): InstanceOptions => ({ pod, target: { url: server.url, gateSecure: false }, ledger });
  const [loser, winner] = [new HandDrivenRosco(options('rosco-a')), new HandDrivenRosco(options('rosco-b'))];
  await Promise.all([loser.start(), winner.start()]);
  try {
    // The loser holds the lock; its store is held up past the lock's TTL, and the winner bakes meanwhile.
    const evalsha = loser.client.evalsha.bind(loser.client) as (...args: unknown[]) => Promise<unknown>;
    const replies: unknown[] = [];
    jest.spyOn(loser.client, 'evalsha').mockImplementation((async (...args: unknown[]) => {
      if (args[1] === 6) {
        await admin.del(String(args[6])); // KEYS[5], the lock: its TTL ran out
        await winner.bakeOnce();
      }
      const reply = await evalsha(...args);
      replies.push(reply);
      return reply;
    }) as never);
    await loser.bakeOnce();
    expect(replies).toEqual([1, [JSON.stringify({ state: 'RUNNING' })]]);
    const [bakeKey] = await admin.keys('bake:aws:*');
    expect(await admin.hget(bakeKey!, 'roscoInstanceId')).toBe('rosco-b');
    expect(await admin.exists('allBakes:incomplete:rosco-a')).toBe(0);
    expect(await admin.smembers('allBakes:incomplete:rosco-b')).toHaveLength(1);

    const { keys, queue } = await readFinalState(admin, ledger);
    const report = computeInvariants(ledger, keys, queue, Date.now());
    expect({ lastWriteWins: report.lastWriteWins, noDeletedKeyResurrected: report.noDeletedKeyResurrected, stale: report.examples.stale }).toEqual({
      lastWriteWins: true,
      noDeletedKeyResurrected: true,
      stale: [],
    });
  } finally {
    loser.stop();
    winner.stop();
  }
});
