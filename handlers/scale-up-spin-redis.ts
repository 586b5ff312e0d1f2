/** ScaleUpSpinRedis (`$.scaleUp`, rollback): back to the recorded count; a no-op if it was never scaled. */
import type { MigrationConfig } from '../lib/config/schema.js';
import type { ClusterApi } from '../lib/kubernetes/api.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { scaleUpSpinRedis } from '../lib/kubernetes/scale.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { api: (config: MigrationConfig) => ClusterApi }) {
  return defineStepHandler('ScaleUpSpinRedis', (state: MigrationState) => scaleUpSpinRedis(deps.api(state.config), state.config));
}

export const handler = createHandler({ api: clusterApiFor });
