/**
 * QuiesceSpinnaker (`$.quiesce`; `$.rollbackQuiesce` in the rollback): every Redis-using
 * Spinnaker Deployment to 0 through the scale subresource, its replicas recorded first
 * (lib/spinnaker/quiesce.ts).
 */
import type { MigrationConfig } from '../lib/config/schema.js';
import type { ClusterApi } from '../lib/kubernetes/api.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import { quiesce } from '../lib/workflow/pause.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { api: (config: MigrationConfig) => ClusterApi }) {
  return defineStepHandler('QuiesceSpinnaker', (state: MigrationState) => quiesce(deps.api(state.config), state));
}

export const handler = createHandler({ api: clusterApiFor });
