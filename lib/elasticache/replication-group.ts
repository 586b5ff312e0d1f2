/**
 * EnsureReplicationGroup and DescribeReplicationGroup. Cluster mode disabled (orca does
 * not support cluster-mode Redis), Multi-AZ, TLS and AUTH when asked. The waiting is done
 * by the state machine; Describe turns create-failed and the overall bound into errors.
 */
import {
  CreateReplicationGroupCommand,
  DeleteReplicationGroupCommand,
  DescribeEventsCommand,
  DescribeReplicationGroupsCommand,
  ReplicationGroupAlreadyExistsFault,
  type ElastiCacheClient,
  type ReplicationGroup,
} from '@aws-sdk/client-elasticache';
import type { MigrationConfig } from '../config/schema.js';
import { InvalidAwsResponseError, ReplicationGroupCreateFailedError, ReplicationGroupTimeoutError, ResourceConflictError } from '../errors.js';
import { awsCall, awsFind } from '../aws/errors.js';
import { ownershipTags, type EnsureOutcome } from './tags.js';

/** `$.replicationGroup`, written by EnsureReplicationGroup and refreshed by DescribeReplicationGroup. */
export interface ReplicationGroupResult {
  id: string;
  outcome: EnsureOutcome;
  status: string;
  /** Primary endpoint, once `available`. */
  primaryEndpoint?: { address: string; port: number };
  /** Number of DescribeReplicationGroup polls so far. */
  polls: number;
  /** When EnsureReplicationGroup first saw the group (created or found), ISO 8601; bounds the wait. */
  waitingSince: string;
}

type Client = Pick<ElastiCacheClient, 'send'>;

export async function findReplicationGroup(client: Client, id: string): Promise<ReplicationGroup | undefined> {
  const found = await awsFind(`DescribeReplicationGroups ${id}`, 'ReplicationGroupNotFoundFault', () => client.send(new DescribeReplicationGroupsCommand({ ReplicationGroupId: id })));
  return found?.ReplicationGroups?.[0];
}

/** Every setting we choose that Describe reports, compared with what exists. */
export function replicationGroupDifferences(group: ReplicationGroup, config: MigrationConfig): string[] {
  const t = config.target;
  const differences: string[] = [];
  const check = (what: string, actual: unknown, wanted: unknown) => {
    if (actual !== undefined && actual !== wanted) differences.push(`${what} is ${String(actual)}, wanted ${String(wanted)}`);
  };
  check('ClusterEnabled', group.ClusterEnabled, false);
  check('CacheNodeType', group.CacheNodeType, t.nodeType);
  check('AutomaticFailover', group.AutomaticFailover, t.automaticFailover ? 'enabled' : 'disabled');
  check('MultiAZ', group.MultiAZ, t.multiAz ? 'enabled' : 'disabled');
  check('TransitEncryptionEnabled', group.TransitEncryptionEnabled, t.transitEncryption);
  check('AtRestEncryptionEnabled', group.AtRestEncryptionEnabled, t.atRestEncryption);
  check('AuthTokenEnabled', group.AuthTokenEnabled, Boolean(t.authTokenSecretArn));
  if (group.Engine) check('Engine', group.Engine, t.engine);
  const members = group.MemberClusters?.length;
  if (members !== undefined && group.Status === 'available') check('number of nodes', members, t.numCacheClusters);
  return differences;
}

export interface EnsureReplicationGroupDeps {
  client: Client;
  authToken: () => Promise<string | undefined>;
  securityGroupIds: () => Promise<string[]>;
  now?: () => Date;
}

/**
 * @param seed the s3-seed path: the .rdb object the group starts from (`SnapshotArns`, AWS "Tutorial:
 *   Seeding a new node-based cluster with an externally created backup")
 */
export async function ensureReplicationGroup(deps: EnsureReplicationGroupDeps, config: MigrationConfig, executionArn: string, seed?: { arn: string }): Promise<ReplicationGroupResult> {
  const t = config.target;
  const now = deps.now ?? (() => new Date());
  const securityGroupIds = t.securityGroupIds ?? (await deps.securityGroupIds());
  let group = await findReplicationGroup(deps.client, t.replicationGroupId);
  let outcome: ReplicationGroupResult['outcome'] = 'existing';
  if (!group) {
    const authToken = await deps.authToken();
    try {
      const created = await deps.client.send(
        new CreateReplicationGroupCommand({
          ReplicationGroupId: t.replicationGroupId,
          ReplicationGroupDescription: t.description,
          Engine: t.engine,
          EngineVersion: t.engineVersion,
          CacheNodeType: t.nodeType,
          NumCacheClusters: t.numCacheClusters,
          AutomaticFailoverEnabled: t.automaticFailover,
          MultiAZEnabled: t.multiAz,
          CacheParameterGroupName: t.parameterGroupName,
          CacheSubnetGroupName: t.subnetGroupName,
          SecurityGroupIds: securityGroupIds,
          Port: t.port,
          TransitEncryptionEnabled: t.transitEncryption,
          AtRestEncryptionEnabled: t.atRestEncryption,
          ...(t.kmsKeyId ? { KmsKeyId: t.kmsKeyId } : {}),
          ...(authToken ? { AuthToken: authToken } : {}),
          ...(seed ? { SnapshotArns: [seed.arn] } : {}),
          Tags: ownershipTags(executionArn),
        }),
      );
      group = created.ReplicationGroup;
      outcome = 'created';
    } catch (error) {
      if (!(error instanceof ReplicationGroupAlreadyExistsFault)) return awsCall(`CreateReplicationGroup ${t.replicationGroupId}`, () => Promise.reject(error));
      group = await findReplicationGroup(deps.client, t.replicationGroupId);
    }
  }
  if (!group) throw new InvalidAwsResponseError(`Replication group ${t.replicationGroupId} was neither created nor found`);
  if (outcome === 'existing') {
    const differences = replicationGroupDifferences(group, config);
    if (differences.length > 0) {
      throw new ResourceConflictError(
        `Replication group ${t.replicationGroupId} already exists with a different configuration: ${differences.join('; ')}. It is left untouched: choose another target.replicationGroupId, or align the input with it.`,
        differences,
      );
    }
  }
  return { id: t.replicationGroupId, outcome, status: group.Status ?? 'creating', polls: 0, waitingSince: now().toISOString() };
}

export interface DescribeDeps {
  client: Client;
  now?: () => Date;
}

export async function describeReplicationGroup(deps: DescribeDeps, config: MigrationConfig, previous: ReplicationGroupResult): Promise<ReplicationGroupResult> {
  const id = config.target.replicationGroupId;
  const now = deps.now ?? (() => new Date());
  const group = await findReplicationGroup(deps.client, id);
  if (!group) throw new InvalidAwsResponseError(`Replication group ${id} no longer exists (deleted while we waited?)`);
  const status = group.Status ?? '';
  const result: ReplicationGroupResult = { ...previous, status, polls: previous.polls + 1 };
  if (status === 'available') {
    const endpoint = group.NodeGroups?.[0]?.PrimaryEndpoint;
    if (!endpoint?.Address || !endpoint.Port) throw new InvalidAwsResponseError(`Replication group ${id} is available but has no primary endpoint`);
    return { ...result, primaryEndpoint: { address: endpoint.Address, port: endpoint.Port } };
  }
  if (status === 'create-failed') {
    const reason = await lastEventMessage(deps.client, id);
    throw new ReplicationGroupCreateFailedError(
      `Replication group ${id} is create-failed${reason ? `: ${reason}` : ''}. Spinnaker was not touched. Fix the cause (capacity, quotas, subnets, parameter group), delete the failed group or rerun with options.cleanupOnFailure, then start again.`,
    );
  }
  // A group seeded from S3 (SnapshotArns) whose .rdb could not be loaded: too large for the node, or a newer format (AWS, backups-seeding-redis).
  if (status === 'restore-failed') {
    const reason = await lastEventMessage(deps.client, id);
    throw new ReplicationGroupCreateFailedError(
      `Replication group ${id} is restore-failed${reason ? `: ${reason}` : ''}: ElastiCache could not load the seed. Delete the group (or rerun with options.cleanupOnFailure) and start again.`,
    );
  }
  if (!['creating', 'modifying', 'snapshotting'].includes(status)) {
    throw new InvalidAwsResponseError(`Replication group ${id} has status '${status}', which the migration does not expect`);
  }
  const waitedMinutes = (now().getTime() - Date.parse(previous.waitingSince)) / 60_000;
  if (waitedMinutes > config.options.maxWaitMinutes) {
    throw new ReplicationGroupTimeoutError(`Replication group ${id} is still '${status}' after ${Math.round(waitedMinutes)} minutes (options.maxWaitMinutes is ${config.options.maxWaitMinutes})`);
  }
  return result;
}

async function lastEventMessage(client: Client, id: string): Promise<string | undefined> {
  try {
    const { Events } = await client.send(new DescribeEventsCommand({ SourceIdentifier: id, SourceType: 'replication-group', Duration: 1440 }));
    return Events?.[0]?.Message;
  } catch {
    return undefined; // the reason is a nicety; the failure itself is certain
  }
}

export async function deleteReplicationGroup(client: Client, id: string): Promise<void> {
  await awsCall(`DeleteReplicationGroup ${id}`, () => client.send(new DeleteReplicationGroupCommand({ ReplicationGroupId: id })));
}
