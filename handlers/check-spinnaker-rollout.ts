/**
 * CheckSpinnakerRollout (`$.rollout`; `$.rollbackRollout` in the rollback): one readiness
 * check; the Wait state loops it, bounded. When ready it measures the pause (Spinnaker at 0
 * since `$.quiesce.startedAt`) and the cutover window (since the Halyard patch).
 */
import type { MigrationConfig } from '../lib/config/schema.js';
import type { ClusterApi } from '../lib/kubernetes/api.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import { checkSpinnakerRollout } from '../lib/workflow/spinnaker-config.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { api: (config: MigrationConfig) => ClusterApi; now?: () => Date }) {
  return defineStepHandler('CheckSpinnakerRollout', (state: MigrationState) =>
    checkSpinnakerRollout(deps.api(state.config), state, deps.now, {
      ...(state.quiesce ? { pausedSince: state.quiesce.startedAt } : {}),
      ...(state.halyard ? { switchedAt: state.halyard.patchedAt } : {}),
    }),
  );
}

export const handler = createHandler({ api: clusterApiFor });
