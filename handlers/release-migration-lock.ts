/** ReleaseMigrationLock (`$.lockRelease`): only if this execution holds it. */
import type { MigrationConfig } from '../lib/config/schema.js';
import type { ClusterApi } from '../lib/kubernetes/api.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { releaseLock } from '../lib/kubernetes/lock.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { api: (config: MigrationConfig) => ClusterApi }) {
  return defineStepHandler('ReleaseMigrationLock', (state: MigrationState) => releaseLock(deps.api(state.config), state.config, state.execution.arn));
}

export const handler = createHandler({ api: clusterApiFor });
