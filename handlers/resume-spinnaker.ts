/**
 * ResumeSpinnaker (`$.resume`; `$.rollbackResume` in the rollback): every quiesced
 * Deployment still at 0 back to the replicas recorded by the first pause.
 */
import type { MigrationConfig } from '../lib/config/schema.js';
import type { ClusterApi } from '../lib/kubernetes/api.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import { resumeAfterSwitch } from '../lib/workflow/spinnaker-config.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { api: (config: MigrationConfig) => ClusterApi }) {
  return defineStepHandler('ResumeSpinnaker', (state: MigrationState) => resumeAfterSwitch(deps.api(state.config), state));
}

export const handler = createHandler({ api: clusterApiFor });
