/** VerifySpinRedisDrained (`$.drain`, VPC): nothing but us may still talk to spin-redis. */
import { verifyDrained } from '../lib/copy/live.js';
import type { RedisEndpoint } from '../lib/redis/connect.js';
import { defaultResolvers } from '../lib/workflow/endpoints.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(resolveSource: (state: MigrationState) => Promise<RedisEndpoint>) {
  return defineStepHandler('VerifySpinRedisDrained', async (state: MigrationState) => verifyDrained(await resolveSource(state)));
}

export const handler = createHandler(defaultResolvers.source);
