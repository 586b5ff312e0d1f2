/** HalDeployApply (`$.deploy`, and `$.rollbackDeploy` in the rollback): `hal deploy apply` over exec; for the operator, what the rollout waits for. */
import type { MigrationConfig } from '../lib/config/schema.js';
import type { ClusterApi } from '../lib/kubernetes/api.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import { deploySpinnakerConfig } from '../lib/workflow/spinnaker-config.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { api: (config: MigrationConfig) => ClusterApi }) {
  return defineStepHandler('HalDeployApply', (state: MigrationState) => deploySpinnakerConfig(deps.api(state.config), state));
}

export const handler = createHandler({ api: clusterApiFor });
