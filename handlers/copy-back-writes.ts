/**
 * CopyBackWrites (`$.copyBack`, VPC, rollback after the switch, Spinnaker quiesced): spin-redis
 * becomes exactly what Spinnaker left on ElastiCache, deletions and TTLs included (the mirror
 * in lib/copy/reconcile.ts), one bounded slice per invocation, resuming from the checkpoint in
 * `$.copyBack` until `done`.
 */
import { copyBackSlice } from '../lib/copy/reconcile.js';
import { defaultResolvers, type EndpointResolvers, sameSource, sliceDeadline, sourceAt } from '../lib/workflow/endpoints.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(resolvers: EndpointResolvers) {
  return defineStepHandler('CopyBackWrites', async (state: MigrationState) => {
    // Nothing can have been written to a group that never became available.
    if (!state.replicationGroup?.primaryEndpoint) return { skipped: 'the replication group was never available', done: true as const };
    const [source, target] = await Promise.all([resolvers.source(state), resolvers.target(state)]);
    // The walk starts over in a new master after a failover between slices (sameSource).
    const previous = state.copyBack && 'checkpoint' in state.copyBack ? sameSource(state.copyBack, source) : undefined;
    return { ...(await copyBackSlice(target, source, previous, { deadline: sliceDeadline(state) })), sourceAt: sourceAt(source) };
  });
}

export const handler = createHandler(defaultResolvers);
