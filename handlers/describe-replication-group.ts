/** DescribeReplicationGroup (`$.replicationGroup`): one poll; the Wait state does the waiting. */
import type { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { elastiCache } from '../lib/aws/clients.js';
import { InvalidAwsResponseError } from '../lib/errors.js';
import { describeReplicationGroup } from '../lib/elasticache/replication-group.js';
import { defineHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { elastiCache: () => Pick<ElastiCacheClient, 'send'>; now?: () => Date }) {
  return defineHandler('DescribeReplicationGroup', async (state: MigrationState) => {
    if (!state.replicationGroup) throw new InvalidAwsResponseError('DescribeReplicationGroup ran before EnsureReplicationGroup');
    return describeReplicationGroup({ client: deps.elastiCache(), ...(deps.now ? { now: deps.now } : {}) }, state.config, state.replicationGroup);
  });
}

export const handler = createHandler({ elastiCache });
