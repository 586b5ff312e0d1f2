/** EnableChangeCapture: keyspace notifications on spin-redis for the live catch-up (`$.capture`). */
import type { RedisEndpoint } from '../lib/redis/connect.js';
import { connectRedis } from '../lib/redis/connect.js';
import { enableChangeCapture } from '../lib/redis/change-capture.js';
import { resolveSourceEndpoint } from '../lib/kubernetes/spin-redis.js';
import { defineHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export interface ChangeCaptureDeps {
  resolveSource: (state: MigrationState) => Promise<RedisEndpoint>;
}

export function createHandler(deps: ChangeCaptureDeps) {
  return defineHandler('EnableChangeCapture', async (state: MigrationState) => {
    const source = await connectRedis(await deps.resolveSource(state), { connectionName: 'spin-elasticache-capture' });
    try {
      return await enableChangeCapture(source, state.capture?.previousNotifyKeyspaceEvents);
    } finally {
      source.disconnect();
    }
  });
}

export const handler = createHandler({ resolveSource: (state) => resolveSourceEndpoint(state.config) });
