/**
 * DisableChangeCapture: put spin-redis's notify-keyspace-events back as it was. Used on
 * success, before the cutover fails and in the rollback; a no-op when capture never began
 * or spin-redis is already gone (scaled to 0 with its data).
 */
import type { RedisEndpoint } from '../lib/redis/connect.js';
import { connectRedis } from '../lib/redis/connect.js';
import { restoreChangeCapture } from '../lib/redis/change-capture.js';
import { resolveSourceEndpoint } from '../lib/kubernetes/spin-redis.js';
import { defineHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export interface ChangeCaptureDeps {
  resolveSource: (state: MigrationState) => Promise<RedisEndpoint>;
}

export function createHandler(deps: ChangeCaptureDeps) {
  return defineHandler('DisableChangeCapture', async (state: MigrationState) => {
    if (!state.capture) return { restored: null, reason: 'change capture was never enabled' };
    const source = await connectRedis(await deps.resolveSource(state), { connectionName: 'spin-elasticache-capture' });
    try {
      return await restoreChangeCapture(source, state.capture.previousNotifyKeyspaceEvents);
    } finally {
      source.disconnect();
    }
  });
}

export const handler = createHandler({ resolveSource: (state) => resolveSourceEndpoint(state.config) });
