/** VerifySpinRedisDrained (`$.drain`, VPC): nothing but us may still talk to spin-redis. */
import { SpinRedisStillInUseError } from '../lib/errors.js';
import { connectRedis, type RedisEndpoint } from '../lib/redis/connect.js';
import { defaultResolvers } from '../lib/workflow/endpoints.js';
import { foreignClients } from '../lib/copy/live.js';
import { defineHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(resolveSource: (state: MigrationState) => Promise<RedisEndpoint>) {
  return defineHandler('VerifySpinRedisDrained', async (state: MigrationState) => {
    const redis = await connectRedis(await resolveSource(state), { connectionName: 'spin-elasticache-drain' });
    try {
      const clients = await foreignClients(redis);
      if (clients.length > 0) {
        const who = clients.slice(0, 5).map((c) => `${c.name || '(unnamed)'}@${c.addr} idle ${c.idleSeconds}s`);
        throw new SpinRedisStillInUseError(`${clients.length} client(s) still connected to spin-redis: ${who.join(', ')}. A Spinnaker service still points at it (check its rollout) or something else uses it.`);
      }
      return { foreignClients: 0, checkedAt: new Date().toISOString() };
    } finally {
      redis.disconnect();
    }
  });
}

export const handler = createHandler(defaultResolvers.source);
