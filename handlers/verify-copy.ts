/**
 * VerifyCopy (`$.verify`, VPC): one bounded slice of the structural comparison of every key in
 * both directions, then orca's history per application on both sides. Until `done`, the state
 * machine calls it again with the checkpoint it returned. A difference stops the migration
 * before spin-redis is scaled down (Spinnaker resumes on spin-redis).
 */
import { defaultResolvers, type EndpointResolvers, sameSource, sliceDeadline, sourceAt } from '../lib/workflow/endpoints.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';
import { verifyMigration } from '../lib/workflow/verify-migration.js';

export function createHandler(resolvers: EndpointResolvers) {
  return defineStepHandler('VerifyCopy', async (state: MigrationState) => {
    const [source, target] = await Promise.all([resolvers.source(state), resolvers.target(state)]);
    return { ...(await verifyMigration(source, target, sameSource(state.verify, source), { deadline: sliceDeadline(state) })), sourceAt: sourceAt(source) };
  });
}

export const handler = createHandler(defaultResolvers);
