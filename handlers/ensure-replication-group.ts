/** EnsureReplicationGroup (`$.replicationGroup`): create it, or accept an identical one. */
import type { EKSClient } from '@aws-sdk/client-eks';
import type { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { eks, elastiCache, secretsManager } from '../lib/aws/clients.js';
import { describeEksCluster } from '../lib/eks/cluster.js';
import { ensureReplicationGroup } from '../lib/elasticache/replication-group.js';
import { getAuthToken } from '../lib/secrets/auth-token.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export interface Deps {
  elastiCache: () => Pick<ElastiCacheClient, 'send'>;
  eks: () => Pick<EKSClient, 'send'>;
  secretsManager: () => Pick<SecretsManagerClient, 'send'>;
}

export function createHandler(deps: Deps) {
  return defineStepHandler('EnsureReplicationGroup', (state: MigrationState) =>
    ensureReplicationGroup(
      {
        client: deps.elastiCache(),
        authToken: () => getAuthToken(deps.secretsManager(), state.config),
        securityGroupIds: async () => (await describeEksCluster(deps.eks(), state.config.cluster.name)).securityGroupIds,
      },
      state.config,
      state.execution.arn,
      state.seed,
    ),
  );
}

export const handler = createHandler({ elastiCache, eks, secretsManager });
