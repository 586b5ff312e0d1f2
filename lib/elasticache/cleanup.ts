/**
 * cleanupOnFailure: delete what THIS execution created (ownership tags), newest first. A
 * group still creating or deleting is busy: the state machine retries (every 30 s, up to
 * 20 min) until it is gone, then the subnet and parameter groups are deleted.
 */
import type { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { DeleteCacheParameterGroupCommand, DeleteCacheSubnetGroupCommand } from '@aws-sdk/client-elasticache';
import type { MigrationConfig } from '../config/schema.js';
import { AwsResourceBusyError, AwsResourceNotFoundError } from '../errors.js';
import { mapAwsError } from '../aws/errors.js';
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
  // Between its lookup and the read of its tags a resource may go (the group this step deleted
  // finishing its deletion): ListTagsForResource then answers its kind's NotFound fault. Gone is
  // what the next attempt will find.
  const goneMeanwhile =
    (what: string) =>
    (error: unknown): never => {
      if (error instanceof AwsResourceNotFoundError) throw new AwsResourceBusyError(`${what} went while its tags were read; looking again`, { cause: error });
      throw error;
    };

  const group = await findReplicationGroup(client, t.replicationGroupId);
  // A deleting group is waited out before its tags are read: whoever deleted it, the subnet and
  // parameter groups can go only once it is gone, and ListTagsForResource may refuse a group in
  // that state (InvalidReplicationGroupState is among its errors in the API reference).
  if (group?.Status === 'deleting') throw new AwsResourceBusyError(`Replication group ${t.replicationGroupId} is still deleting`);
  if (group) {
    const mine = await ours(group.ARN).catch(goneMeanwhile(`Replication group ${t.replicationGroupId}`));
    if (!mine) result.kept.push(`replication group ${t.replicationGroupId} (not created by this execution)`);
    else if (group.Status === 'creating' || group.Status === 'modifying')
      throw new AwsResourceBusyError(`Replication group ${t.replicationGroupId} is ${group.Status}; it can be deleted once that ends`);
    else {
      await deleteReplicationGroup(client, t.replicationGroupId);
      throw new AwsResourceBusyError(`Deleting replication group ${t.replicationGroupId}; the subnet and parameter groups follow once it is gone`);
    }
  }
  const deleteIfOurs = async (what: string, arn: string | undefined, remove: () => Promise<unknown>) => {
    const mine = await ours(arn).catch(goneMeanwhile(what));
    if (mine) {
      await deleteReleased(`delete ${what}`, remove);
      result.deleted.push(what);
    } else result.kept.push(`${what} (not created by this execution)`);
  };
  const subnets = await findSubnetGroup(client, t.subnetGroupName);
  if (subnets) await deleteIfOurs(`subnet group ${t.subnetGroupName}`, subnets.ARN, () => client.send(new DeleteCacheSubnetGroupCommand({ CacheSubnetGroupName: t.subnetGroupName })));
  const params = await findParameterGroup(client, t.parameterGroupName);
  if (params) await deleteIfOurs(`parameter group ${t.parameterGroupName}`, params.ARN, () => client.send(new DeleteCacheParameterGroupCommand({ CacheParameterGroupName: t.parameterGroupName })));
  return result;
}

/**
 * ElastiCache's "in use" answers to deleting a subnet or parameter group. Here they mean the
 * replication group we deleted has only just gone: ElastiCache counts it as a member for a
 * while after (terraform-provider-aws retries DeleteCacheParameterGroup on this for 3 min).
 */
const IN_USE = new Set(['CacheSubnetGroupInUse', 'InvalidCacheParameterGroupStateFault']);

/** One delete call, with the "in use" answers busy (retried), not fatal: only here, where waiting frees the group. */
async function deleteReleased<T>(context: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const name = (error as Error | undefined)?.name ?? '';
    if (IN_USE.has(name)) throw new AwsResourceBusyError(`${context}: ${name}: ${(error as Error).message} (a replication group uses it, or has only just been deleted)`, { cause: error });
    throw mapAwsError(error, context);
  }
}
