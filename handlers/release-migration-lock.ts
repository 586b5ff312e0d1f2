/** ReleaseMigrationLock (`$.lockRelease`): only if this execution holds it, on the object that holds the config. */
import type { MigrationConfig } from '../lib/config/schema.js';
import type { ClusterApi } from '../lib/kubernetes/api.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import { releaseMigrationLock } from '../lib/workflow/spinnaker-config.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { api: (config: MigrationConfig) => ClusterApi }) {
  return defineStepHandler('ReleaseMigrationLock', (state: MigrationState) => releaseMigrationLock(deps.api(state.config), state));
}

export const handler = createHandler({ api: clusterApiFor });
