/**
 * RestoreHalyardConfig (`$.restore`, rollback): the install flavour's config back byte for byte
 * from the backup written with the lock (for Halyard: the ConfigMap's data, and the Halyard
 * pod's files to match; files we added are removed).
 */
import type { MigrationConfig } from '../lib/config/schema.js';
import type { ClusterApi } from '../lib/kubernetes/api.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import { restoreSpinnakerConfig } from '../lib/workflow/spinnaker-config.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { api: (config: MigrationConfig) => ClusterApi }) {
  return defineStepHandler('RestoreHalyardConfig', (state: MigrationState) => restoreSpinnakerConfig(deps.api(state.config), state));
}

export const handler = createHandler({ api: clusterApiFor });
