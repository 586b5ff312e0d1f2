/**
 * `npm start -- --spin-redis sentinel`: the whole state machine with the real handlers against a
 * Sentinel-managed spin-redis (a real replica and three real sentinels watching it, the input
 * naming the sentinels only). End state: SUCCEEDED; the drain looked at the master and the
 * replica; keyspace notifications are back as they were on both; spin-redis is left running, and
 * the summary says why and what to do.
 */
import { describe, expect, it } from '@jest/globals';
import { connectRedis } from '../../../lib/redis/connect.js';
import type { SandboxWorld } from '../../../sandbox/world.js';
import { rehearse } from '../../support/sandbox.js';

describe('the sandbox with a Sentinel-managed spin-redis', () => {
  it('migrates, resolving spin-redis through the sentinels at every step, and leaves it running', async () => {
    const nodes = async (w: SandboxWorld) => {
      const sentinel = await connectRedis({ url: `redis://${w.input.spinnaker!.spinRedis!.sentinel!.addresses![0]}` });
      const replicas = (await sentinel.call('SENTINEL', 'REPLICAS', 'mymaster')) as string[][];
      sentinel.disconnect();
      const r = replicas[0]!;
      return [w.spinnaker.spinRedisUrl, `redis://${r[r.indexOf('ip') + 1]}:${r[r.indexOf('port') + 1]}`];
    };
    const flags = async (urls: string[]) =>
      Promise.all(
        urls.map(async (url) => {
          const c = await connectRedis({ url });
          const value = ((await c.config('GET', 'notify-keyspace-events')) as string[])[1];
          c.disconnect();
          return value;
        }),
      );
    let before: (string | undefined)[] = [];
    const { world, result } = await rehearse({ spinRedisSentinel: true }, {}, async (w) => void (before = await flags(await nodes(w))));
    try {
      expect({ status: result.status, error: result.error }).toEqual({ status: 'SUCCEEDED', error: undefined });
      expect(world.input.spinnaker?.spinRedis?.sentinel?.addresses).toHaveLength(3);
      const output = result.output as { drain?: { nodes?: number }; scaleDown?: { replicas: number; leftRunning?: string } };
      expect(output.drain?.nodes).toBe(2);
      expect(output.scaleDown).toMatchObject({ replicas: 1, leftRunning: expect.stringContaining('left running') });
      // Both data nodes have their own notify-keyspace-events back (gate set gxE on the master only: CONFIG is not replicated).
      expect(before).toEqual(['gxE', '']);
      expect(await flags(await nodes(world))).toEqual(before);
      const snapshot = await world.snapshot();
      expect(snapshot.spinRedis.replicas).toBe(1);
      expect(snapshot.figures.finalRedis).toBe('ElastiCache');
      expect(world.sns.messages.at(-1)?.message).toMatch(/Sentinel-managed .* left running/);
    } finally {
      await world.close();
    }
  }, 180_000);
});
