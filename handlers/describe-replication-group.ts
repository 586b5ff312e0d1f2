/** DescribeReplicationGroup (`$.replicationGroup`): one poll; the Wait state does the waiting. */
import type { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { elastiCache } from '../lib/aws/clients.js';
import { describeReplicationGroup } from '../lib/elasticache/replication-group.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import { replicationGroupOf } from '../lib/workflow/resolve.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { elastiCache: () => Pick<ElastiCacheClient, 'send'>; now?: () => Date }) {
  return defineStepHandler('DescribeReplicationGroup', async (state: MigrationState) =>
    describeReplicationGroup({ client: deps.elastiCache(), ...(deps.now ? { now: deps.now } : {}) }, state.config, replicationGroupOf(state)),
  );
}

export const handler = createHandler({ elastiCache });
