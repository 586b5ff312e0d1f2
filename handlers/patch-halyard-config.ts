/**
 * PatchHalyardConfig (`$.halyard`): with AUTH, the Redis URL secret first (created or updated,
 * tagged); then the install flavour's patch of the Spinnaker config (for Halyard: the files in
 * the ConfigMap with a resourceVersion precondition, then the Halyard pod's own files).
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { secretsManager } from '../lib/aws/clients.js';
import type { MigrationConfig } from '../lib/config/schema.js';
import type { ClusterApi } from '../lib/kubernetes/api.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import { patchSpinnakerConfig } from '../lib/workflow/spinnaker-config.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { api: (config: MigrationConfig) => ClusterApi; secrets: () => Pick<SecretsManagerClient, 'send'> }) {
  return defineStepHandler('PatchHalyardConfig', (state: MigrationState) => patchSpinnakerConfig(deps.api(state.config), deps.secrets(), state));
}

export const handler = createHandler({ api: clusterApiFor, secrets: secretsManager });
