/** CleanupCreatedResources (`$.cleanup`): with options.cleanupOnFailure, delete only what this execution created. */
import type { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { elastiCache } from '../lib/aws/clients.js';
import { deleteCreatedResources } from '../lib/elasticache/cleanup.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { elastiCache: () => Pick<ElastiCacheClient, 'send'> }) {
  return defineStepHandler('CleanupCreatedResources', (state: MigrationState) => deleteCreatedResources(deps.elastiCache(), state.config, state.execution.arn));
}

export const handler = createHandler({ elastiCache });
