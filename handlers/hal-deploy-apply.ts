/** HalDeployApply (`$.deploy`, and `$.rollbackDeploy` in the rollback): `hal deploy apply` over exec. */
import type { MigrationConfig } from '../lib/config/schema.js';
import { halDeployApply } from '../lib/halyard/deploy.js';
import type { ClusterApi } from '../lib/kubernetes/api.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { api: (config: MigrationConfig) => ClusterApi }) {
  return defineStepHandler('HalDeployApply', (state: MigrationState) => halDeployApply(deps.api(state.config), state.config));
}

export const handler = createHandler({ api: clusterApiFor });
