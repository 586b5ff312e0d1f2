/** EnsureParameterGroup (`$.parameterGroup`): custom group with notify-keyspace-events gxE. */
import type { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { elastiCache } from '../lib/aws/clients.js';
import { ensureParameterGroup } from '../lib/elasticache/parameter-group.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { elastiCache: () => Pick<ElastiCacheClient, 'send'> }) {
  return defineStepHandler('EnsureParameterGroup', (state: MigrationState) => ensureParameterGroup(deps.elastiCache(), state.config, state.execution.arn));
}

export const handler = createHandler({ elastiCache });
