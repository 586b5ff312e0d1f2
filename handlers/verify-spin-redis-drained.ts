/** VerifySpinRedisDrained (`$.drain`, VPC): nothing but us may still talk to spin-redis (any of its nodes). */
import { defaultResolvers, type EndpointResolvers } from '../lib/workflow/endpoints.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import { verifySpinRedisDrained } from '../lib/workflow/pause.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(resolvers: Pick<EndpointResolvers, 'sourceNodes'>) {
  return defineStepHandler('VerifySpinRedisDrained', async (state: MigrationState) => verifySpinRedisDrained(state, resolvers));
}

export const handler = createHandler(defaultResolvers);
