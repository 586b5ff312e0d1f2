/**
 * Issue 9, item 4 (kind c), through the real state machine in the sandbox: keys Spinnaker
 * re-writes on ElastiCache after the switch (a Gate session renewed for 30 minutes, an igor
 * build number moved on, a member re-added to an orca pipeline queue) while the old copy on spin-redis
 * expires or is deleted at each step that still runs after the switch (ResumeSpinnaker,
 * VerifySpinRedisDrained, DisableChangeCapture, ScaleDownSpinRedis). Nothing from spin-redis
 * may delete or overwrite the newer key: with the catch-up following the replication stream,
 * and with it following keyspace notifications (spin-redis's backlog too small for the stream).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { connectRedis } from '../../../lib/redis/connect.js';
import type { ExecutionResult, TaskHandler } from '../../../sandbox/runner.js';
import type { SandboxWorld } from '../../../sandbox/world.js';
import { rehearse } from '../../support/sandbox.js';

const AFTER_SWITCH = ['ResumeSpinnaker', 'VerifySpinRedisDrained', 'DisableChangeCapture', 'ScaleDownSpinRedis'] as const;
const keyOf = (step: string) => `spring:session:sessions:after-${step}`;

/** Seeds the old copies on spin-redis early, then at each step after the switch rewrites one on ElastiCache and lets spin-redis's expire. */
function rewriteAfterSwitch(world: () => SandboxWorld, options: { shrinkBacklog: boolean }) {
  let catchUps = 0;
  return (name: string, handler: TaskHandler): TaskHandler =>
    async (event) => {
      if (name === 'CatchUpLiveWrites' && catchUps++ === 0) {
        const source = await connectRedis(world().spinRedisEndpoint);
        for (const step of AFTER_SWITCH) await source.hset(keyOf(step), 'creationTime', '1', 'sessionAttr:user', 'old');
        await source.set('igor:builds:lastBuild:ci:deploy-job', '41');
        await source.zadd('orca.pipeline.queue.cfg-after-switch', '1', 'msg-after-switch');
        if (options.shrinkBacklog) {
          // The stream cannot continue: the catch-up and the final sync go by notifications and the mirror.
          await source.config('SET', 'repl-backlog-size', '16384');
          for (let i = 0; i < 48; i++) await source.set(`spin-elasticache:filler:${i}`, 'y'.repeat(900), 'PX', 60_000);
        }
        source.disconnect();
      }
      const step = AFTER_SWITCH.find((s) => s === name);
      if (step) {
        const [source, target] = await Promise.all([connectRedis(world().spinRedisEndpoint).catch(() => undefined), world().elastiCache.adminClient('spinnaker-redis')]);
        // The re-pointed Gate renews the session on ElastiCache; igor and orca move on there.
        await target.hset(keyOf(step), 'sessionAttr:user', 'new');
        await target.pexpire(keyOf(step), 1_800_000);
        if (step === 'ResumeSpinnaker') {
          await target.set('igor:builds:lastBuild:ci:deploy-job', '42');
          await target.zadd('orca.pipeline.queue.cfg-after-switch', '2', 'msg-after-switch');
        }
        // spin-redis's old copies run out (or are gone) meanwhile.
        if (source) {
          await source.pexpire(keyOf(step), 5).catch(() => undefined);
          if (step === 'ResumeSpinnaker') await source.del('igor:builds:lastBuild:ci:deploy-job', 'orca.pipeline.queue.cfg-after-switch').catch(() => undefined);
          await sleep(20);
          await source.exists(keyOf(step)).catch(() => undefined); // expired now, on access
          source.disconnect();
        }
        target.disconnect();
      }
      return handler(event);
    };
}

async function expectNewerKept(world: SandboxWorld): Promise<void> {
  const target: Redis = await world.elastiCache.adminClient('spinnaker-redis');
  try {
    for (const step of AFTER_SWITCH) {
      expect({ step, user: await target.hget(keyOf(step), 'sessionAttr:user') }).toEqual({ step, user: 'new' });
      expect(await target.pttl(keyOf(step))).toBeGreaterThan(1_700_000);
    }
    expect(await target.get('igor:builds:lastBuild:ci:deploy-job')).toBe('42');
    expect(await target.zscore('orca.pipeline.queue.cfg-after-switch', 'msg-after-switch')).toBe('2');
  } finally {
    target.disconnect();
  }
}

describe.each([
  ['the catch-up follows the replication stream', false],
  ['the catch-up follows keyspace notifications', true],
])('keys re-written on ElastiCache while their old copy expires on spin-redis: %s', (_name, shrinkBacklog) => {
  let world: SandboxWorld;
  let result: ExecutionResult;
  beforeAll(async () => {
    let current: SandboxWorld | undefined;
    ({ world, result } = await rehearse({ keys: 1500 }, { wrapTask: rewriteAfterSwitch(() => current!, { shrinkBacklog }) }, (w) => void (current = w)));
  }, 180_000);
  afterAll(async () => world?.close());

  it('succeeds, the catch-up having taken the expected path', () => {
    expect({ status: result.status, error: result.error }).toEqual({ status: 'SUCCEEDED', error: undefined });
    const output = result.output as { catchUp?: { stream?: unknown }; reconcile?: { method?: string } };
    expect(output.reconcile?.method).toBe(shrinkBacklog ? 'mirror' : 'stream');
  });

  it('keeps every newer key on ElastiCache, with its own TTL', async () => {
    await expectNewerKept(world);
  });
});
