/**
 * AcquireMigrationLock (`$.lock`): the install flavour, the pre-flight check that the Spinnaker
 * pods may read the Redis URL secret, then one migration per Spinnaker (the lock, and the
 * backup of the Halyard ConfigMap). Refusals come before anything is created.
 */
import type { IAMClient } from '@aws-sdk/client-iam';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { iam, secretsManager, sfn } from '../lib/aws/clients.js';
import { executionStatus } from '../lib/aws/executions.js';
import type { MigrationConfig } from '../lib/config/schema.js';
import type { ClusterApi } from '../lib/kubernetes/api.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import { acquireMigration } from '../lib/workflow/spinnaker-config.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: {
  api: (config: MigrationConfig) => ClusterApi;
  sfn: () => Pick<SFNClient, 'send'>;
  iam: () => Pick<IAMClient, 'send'>;
  secrets: () => Pick<SecretsManagerClient, 'send'>;
}) {
  return defineStepHandler('AcquireMigrationLock', (state: MigrationState) =>
    acquireMigration({ api: deps.api(state.config), iam: deps.iam(), secrets: deps.secrets(), executionStatus: (arn) => executionStatus(deps.sfn(), arn) }, state.config, state.execution.arn),
  );
}

export const handler = createHandler({ api: clusterApiFor, sfn, iam, secrets: secretsManager });
