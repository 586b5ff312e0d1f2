/** PlanMigration (`$.plan`, dry run): report what would change; change nothing. */
import type { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { elastiCache } from '../lib/aws/clients.js';
import type { MigrationConfig } from '../lib/config/schema.js';
import type { ClusterApi } from '../lib/kubernetes/api.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { flavorOf } from '../lib/spinnaker/flavor.js';
import { planMigration } from '../lib/workflow/plan.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { api: (config: MigrationConfig) => ClusterApi; elastiCache: () => Pick<ElastiCacheClient, 'send'> }) {
  return defineStepHandler('PlanMigration', (state: MigrationState) => planMigration(deps.api(state.config), deps.elastiCache(), state.config, flavorOf(state)));
}

export const handler = createHandler({ api: clusterApiFor, elastiCache });
