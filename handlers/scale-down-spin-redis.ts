/** ScaleDownSpinRedis (`$.scaleDown`): once the flavour's change still holds, to 0 via the scale subresource, recording the old count. */
import type { MigrationConfig } from '../lib/config/schema.js';
import type { ClusterApi } from '../lib/kubernetes/api.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import { scaleDownAfterSwitch } from '../lib/workflow/spinnaker-config.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { api: (config: MigrationConfig) => ClusterApi }) {
  return defineStepHandler('ScaleDownSpinRedis', (state: MigrationState) => scaleDownAfterSwitch(deps.api(state.config), state));
}

export const handler = createHandler({ api: clusterApiFor });
