/** CheckSpinnakerRollout (`$.rollout`): one readiness check; the Wait state loops it, bounded. */
import type { MigrationConfig } from '../lib/config/schema.js';
import type { ClusterApi } from '../lib/kubernetes/api.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { defineHandler } from '../lib/workflow/handler.js';
import { checkSpinnakerRollout } from '../lib/workflow/spinnaker-config.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { api: (config: MigrationConfig) => ClusterApi; now?: () => Date }) {
  return defineHandler('CheckSpinnakerRollout', (state: MigrationState) => checkSpinnakerRollout(deps.api(state.config), state, deps.now));
}

export const handler = createHandler({ api: clusterApiFor });
