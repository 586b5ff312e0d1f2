/**
 * An ElastiCache failover during the cutover (issue 9, item 7): the target's primary answers
 * READONLY for about 1.5 s while CatchUpLiveWrites writes to it. The step fails with the
 * transient RedisFailoverError, the state machine's retrier runs it again, and the migration
 * ends SUCCEEDED instead of rolling back. The real ASL and handlers in the sandbox.
 */
import { describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { connectRedis } from '../../../lib/redis/connect.js';
import type { TaskHandler } from '../../../sandbox/runner.js';
import { SANDBOX_GROUP_ID, type SandboxWorld } from '../../../sandbox/world.js';
import { rehearse } from '../../support/sandbox.js';

describe('READONLY from the target during the catch-up', () => {
  it('is retried by the state machine and the migration succeeds', async () => {
    let current: SandboxWorld | undefined;
    const failures: string[] = [];
    let failedOver = false;
    let promoteSoon: (() => void) | undefined;
    const failoverDuringCatchUp = (name: string, handler: TaskHandler): TaskHandler =>
      name !== 'CatchUpLiveWrites'
        ? handler
        : async (event) => {
            if (!failedOver) {
              failedOver = true;
              // The primary becomes a replica of nothing (keeps its data, refuses writes), then
              // primary again 1.5 s after the step first met READONLY (a fixed 1.5 s from now
              // could end before a loaded machine's catch-up wrote anything), 30 s at most.
              const admin: Redis = await current!.elastiCache.adminClient(SANDBOX_GROUP_ID);
              await admin.call('REPLICAOF', '127.0.0.1', '1');
              const promote = () => void admin.call('REPLICAOF', 'NO', 'ONE').finally(() => admin.disconnect());
              const cap = setTimeout(promote, 30_000);
              promoteSoon = () => {
                clearTimeout(cap);
                setTimeout(promote, 1500);
              };
              // A write for this slice to carry over, whatever the simulated services are doing.
              const source = await connectRedis({ url: current!.spinnaker.spinRedisUrl });
              await source.set('pipeline:written-during-the-failover', 'x');
              source.disconnect();
            }
            try {
              return await handler(event);
            } catch (error) {
              failures.push((error as Error).name);
              promoteSoon?.();
              promoteSoon = undefined;
              throw error;
            }
          };
    const { world, result } = await rehearse({}, { wrapTask: failoverDuringCatchUp, retryMs: 400 }, (w) => void (current = w));
    try {
      expect(failures.length).toBeGreaterThan(0);
      expect(new Set(failures)).toEqual(new Set(['RedisFailoverError']));
      expect(result.steps.filter((s) => s.name === 'CatchUpLiveWrites').reduce((n, s) => n + s.attempts, 0)).toBeGreaterThan(1);
      expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({ status: 'SUCCEEDED', error: undefined, cause: undefined });
    } finally {
      await world.close();
    }
  }, 120_000);
});
