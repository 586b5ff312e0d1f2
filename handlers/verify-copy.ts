/**
 * VerifyCopy (`$.verify`, VPC): structural comparison of every key in both directions, and
 * orca's history per application on both sides. Not ok stops the migration before
 * spin-redis is scaled down (the rollback path takes over).
 */
import { defaultResolvers, type EndpointResolvers } from '../lib/workflow/endpoints.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';
import { verifyMigration } from '../lib/workflow/verify-migration.js';

export function createHandler(resolvers: EndpointResolvers) {
  return defineStepHandler('VerifyCopy', async (state: MigrationState) => {
    const [source, target] = await Promise.all([resolvers.source(state), resolvers.target(state)]);
    return verifyMigration(source, target);
  });
}

export const handler = createHandler(defaultResolvers);
