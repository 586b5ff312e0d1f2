/** EnsureSubnetGroup: a cache subnet group in the EKS cluster's subnets, or the ones given. */
import { CacheSubnetGroupAlreadyExistsFault, CreateCacheSubnetGroupCommand, DescribeCacheSubnetGroupsCommand, type CacheSubnetGroup, type ElastiCacheClient } from '@aws-sdk/client-elasticache';
import type { MigrationConfig } from '../config/schema.js';
import { InvalidAwsResponseError, ResourceConflictError } from '../errors.js';
import { awsCall, awsFind } from '../aws/errors.js';
import { ownershipTags, type EnsureOutcome } from './tags.js';

/** `$.subnetGroup` */
export interface SubnetGroupResult {
  name: string;
  subnetIds: string[];
  vpcId: string;
  outcome: EnsureOutcome;
}

type Client = Pick<ElastiCacheClient, 'send'>;

export async function findSubnetGroup(client: Client, name: string): Promise<CacheSubnetGroup | undefined> {
  const found = await awsFind(`DescribeCacheSubnetGroups ${name}`, 'CacheSubnetGroupNotFoundFault', () => client.send(new DescribeCacheSubnetGroupsCommand({ CacheSubnetGroupName: name })));
  return found?.CacheSubnetGroups?.[0];
}

export async function ensureSubnetGroup(client: Client, config: MigrationConfig, executionArn: string, clusterSubnetIds: () => Promise<string[]>): Promise<SubnetGroupResult> {
  const name = config.target.subnetGroupName;
  const wanted = [...new Set(config.target.subnetIds ?? (await clusterSubnetIds()))].sort();
  let group = await findSubnetGroup(client, name);
  let outcome: SubnetGroupResult['outcome'] = 'existing';
  if (!group) {
    try {
      const created = await client.send(
        new CreateCacheSubnetGroupCommand({
          CacheSubnetGroupName: name,
          CacheSubnetGroupDescription: `Spinnaker Redis (${config.target.replicationGroupId})`,
          SubnetIds: wanted,
          Tags: ownershipTags(executionArn),
        }),
      );
      group = created.CacheSubnetGroup;
      outcome = 'created';
    } catch (error) {
      if (!(error instanceof CacheSubnetGroupAlreadyExistsFault)) return awsCall(`CreateCacheSubnetGroup ${name}`, () => Promise.reject(error));
      group = await findSubnetGroup(client, name);
    }
  }
  if (!group?.VpcId) throw new InvalidAwsResponseError(`Cache subnet group ${name} has no VpcId`);
  const actual = (group.Subnets ?? [])
    .map((s) => s.SubnetIdentifier ?? '')
    .filter(Boolean)
    .sort();
  if (actual.join(',') !== wanted.join(',')) {
    const differences = [`subnets are ${actual.join(', ') || '(none)'}, wanted ${wanted.join(', ')}`];
    throw new ResourceConflictError(
      `Cache subnet group ${name} already exists with other subnets (${differences[0]}). Choose another target.subnetGroupName, or pass target.subnetIds to match it.`,
      differences,
    );
  }
  return { name, subnetIds: actual, vpcId: group.VpcId, outcome };
}
