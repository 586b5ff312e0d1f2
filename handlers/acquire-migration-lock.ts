/** AcquireMigrationLock (`$.lock`): one migration per Spinnaker; backs up the Halyard ConfigMap. */
import type { SFNClient } from '@aws-sdk/client-sfn';
import { sfn } from '../lib/aws/clients.js';
import { executionStatus } from '../lib/aws/executions.js';
import type { MigrationConfig } from '../lib/config/schema.js';
import type { ClusterApi } from '../lib/kubernetes/api.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { acquireLock } from '../lib/kubernetes/lock.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { api: (config: MigrationConfig) => ClusterApi; sfn: () => Pick<SFNClient, 'send'> }) {
  return defineStepHandler('AcquireMigrationLock', (state: MigrationState) => acquireLock(deps.api(state.config), state.config, state.execution.arn, (arn) => executionStatus(deps.sfn(), arn)));
}

export const handler = createHandler({ api: clusterApiFor, sfn });
