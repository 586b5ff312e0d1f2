/**
 * RestoreHalyardConfig (`$.restore`, rollback): the ConfigMap's data back byte for byte from
 * the backup annotation, and the Halyard pod's files to match (files we added are removed).
 */
import type { MigrationConfig } from '../lib/config/schema.js';
import { restoreHalyardConfig } from '../lib/halyard/change.js';
import type { ClusterApi } from '../lib/kubernetes/api.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { api: (config: MigrationConfig) => ClusterApi }) {
  return defineStepHandler('RestoreHalyardConfig', (state: MigrationState) => restoreHalyardConfig(deps.api(state.config), state.config));
}

export const handler = createHandler({ api: clusterApiFor });
