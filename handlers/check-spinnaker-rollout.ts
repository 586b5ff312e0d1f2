/** CheckSpinnakerRollout (`$.rollout`): one readiness check; the Wait state loops it, bounded. */
import type { MigrationConfig } from '../lib/config/schema.js';
import type { ClusterApi } from '../lib/kubernetes/api.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { checkRollout } from '../lib/kubernetes/rollout.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { api: (config: MigrationConfig) => ClusterApi; now?: () => Date }) {
  return defineStepHandler('CheckSpinnakerRollout', (state: MigrationState) => checkRollout(deps.api(state.config), state.config, state.rollout, deps.now));
}

export const handler = createHandler({ api: clusterApiFor });
