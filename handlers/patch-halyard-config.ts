/**
 * PatchHalyardConfig (`$.halyard`): merge the Redis settings into the Halyard files in the
 * ConfigMap (resourceVersion precondition; a 409 is retried on fresh data), then make the
 * Halyard pod's own files match.
 */
import type { MigrationConfig } from '../lib/config/schema.js';
import { applyHalyardChange } from '../lib/halyard/change.js';
import type { ClusterApi } from '../lib/kubernetes/api.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import { primaryEndpointOf } from '../lib/workflow/resolve.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { api: (config: MigrationConfig) => ClusterApi }) {
  return defineStepHandler('PatchHalyardConfig', async (state: MigrationState) => applyHalyardChange(deps.api(state.config), state.config, state.execution.arn, primaryEndpointOf(state)));
}

export const handler = createHandler({ api: clusterApiFor });
