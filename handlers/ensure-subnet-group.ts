/** EnsureSubnetGroup (`$.subnetGroup`): in the EKS cluster's subnets unless target.subnetIds says otherwise. */
import type { EKSClient } from '@aws-sdk/client-eks';
import type { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { eks, elastiCache } from '../lib/aws/clients.js';
import { describeEksCluster } from '../lib/eks/cluster.js';
import { ensureSubnetGroup } from '../lib/elasticache/subnet-group.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { elastiCache: () => Pick<ElastiCacheClient, 'send'>; eks: () => Pick<EKSClient, 'send'> }) {
  return defineStepHandler('EnsureSubnetGroup', (state: MigrationState) =>
    ensureSubnetGroup(deps.elastiCache(), state.config, state.execution.arn, async () => (await describeEksCluster(deps.eks(), state.config.cluster.name)).subnetIds),
  );
}

export const handler = createHandler({ elastiCache, eks });
