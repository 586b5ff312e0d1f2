/**
 * cleanupOnFailure: delete what THIS execution created (ownership tags), newest first. A
 * group still creating is busy: the state machine retries until it can be deleted.
 */
import type { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { DeleteCacheParameterGroupCommand, DeleteCacheSubnetGroupCommand } from '@aws-sdk/client-elasticache';
import type { MigrationConfig } from '../config/schema.js';
import { AwsResourceBusyError } from '../errors.js';
import { awsCall } from '../aws/errors.js';
import { findParameterGroup } from './parameter-group.js';
import { deleteReplicationGroup, findReplicationGroup } from './replication-group.js';
import { findSubnetGroup } from './subnet-group.js';
import { executionName, readOwnership } from './tags.js';

type Client = Pick<ElastiCacheClient, 'send'>;

export interface CleanupResult {
  deleted: string[];
  kept: string[];
}

export async function deleteCreatedResources(client: Client, config: MigrationConfig, executionArn: string): Promise<CleanupResult> {
  const me = executionName(executionArn);
  const result: CleanupResult = { deleted: [], kept: [] };
  const t = config.target;
  const ours = async (arn: string | undefined) => (await readOwnership(client, arn)).createdBy === me;

  const group = await findReplicationGroup(client, t.replicationGroupId);
  if (group) {
    if (!(await ours(group.ARN))) result.kept.push(`replication group ${t.replicationGroupId} (not created by this execution)`);
    else if (group.Status === 'deleting') throw new AwsResourceBusyError(`Replication group ${t.replicationGroupId} is still deleting`);
    else if (group.Status === 'creating' || group.Status === 'modifying')
      throw new AwsResourceBusyError(`Replication group ${t.replicationGroupId} is ${group.Status}; it can be deleted once that ends`);
    else {
      await deleteReplicationGroup(client, t.replicationGroupId);
      throw new AwsResourceBusyError(`Deleting replication group ${t.replicationGroupId}; the subnet and parameter groups follow once it is gone`);
    }
  }
  const deleteIfOurs = async (what: string, arn: string | undefined, remove: () => Promise<unknown>) => {
    if (await ours(arn)) {
      await awsCall(`delete ${what}`, remove);
      result.deleted.push(what);
    } else result.kept.push(`${what} (not created by this execution)`);
  };
  const subnets = await findSubnetGroup(client, t.subnetGroupName);
  if (subnets) await deleteIfOurs(`subnet group ${t.subnetGroupName}`, subnets.ARN, () => client.send(new DeleteCacheSubnetGroupCommand({ CacheSubnetGroupName: t.subnetGroupName })));
  const params = await findParameterGroup(client, t.parameterGroupName);
  if (params) await deleteIfOurs(`parameter group ${t.parameterGroupName}`, params.ARN, () => client.send(new DeleteCacheParameterGroupCommand({ CacheParameterGroupName: t.parameterGroupName })));
  return result;
}
