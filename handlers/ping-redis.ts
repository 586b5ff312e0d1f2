/** PingRedis (`$.ping`, VPC-attached): TLS, AUTH, PING and a keyspace-notification round trip. */
import type { RedisEndpoint } from '../lib/redis/connect.js';
import { resolveTargetEndpoint } from '../lib/workflow/resolve.js';
import { pingRedis } from '../lib/redis/ping.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { resolveTarget: (state: MigrationState) => Promise<RedisEndpoint> }) {
  return defineStepHandler('PingRedis', async (state: MigrationState) => pingRedis(await deps.resolveTarget(state)));
}

export const handler = createHandler({ resolveTarget: (state) => resolveTargetEndpoint(state) });
