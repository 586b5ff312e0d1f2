/**
 * CopyBulk (`$.copy`, VPC): one slice of the bulk copy, replication first and by scan when
 * that is not possible (lib/workflow/bulk-copy.ts). Until `done`, the state machine calls it
 * again with the checkpoint it returned.
 */
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { type BulkCopyState, copyBulk } from '../lib/workflow/bulk-copy.js';
import { defaultResolvers, type EndpointResolvers } from '../lib/workflow/endpoints.js';
import { defineStepHandler, logger } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(resolvers: EndpointResolvers) {
  return defineStepHandler('CopyBulk', (state: MigrationState): Promise<BulkCopyState> => copyBulk(state, resolvers, { api: (s) => clusterApiFor(s.config), log: logger }));
}

export const handler = createHandler(defaultResolvers);
