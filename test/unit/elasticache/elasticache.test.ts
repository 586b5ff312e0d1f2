/** ElastiCache steps against aws-sdk-client-mock: idempotency, conflicts, and error mapping. */
import { afterEach, describe, expect, it } from '@jest/globals';
import {
  CacheParameterGroupAlreadyExistsFault,
  CacheParameterGroupNotFoundFault,
  CreateCacheParameterGroupCommand,
  CreateReplicationGroupCommand,
  DescribeCacheParameterGroupsCommand,
  DescribeCacheParametersCommand,
  DescribeEventsCommand,
  DescribeReplicationGroupsCommand,
  ElastiCacheClient,
  InvalidParameterValueException,
  ListTagsForResourceCommand,
  ModifyCacheParameterGroupCommand,
  ReplicationGroupNotFoundFault,
} from '@aws-sdk/client-elasticache';
import { mockClient } from 'aws-sdk-client-mock';
import { parseMigrationInput } from '../../../lib/config/schema.js';
import { ensureParameterGroup } from '../../../lib/elasticache/parameter-group.js';
import { describeReplicationGroup, ensureReplicationGroup } from '../../../lib/elasticache/replication-group.js';
import { createHandler as createDescribeHandler } from '../../../handlers/describe-replication-group.js';
import type { ReplicationGroupResult } from '../../../lib/elasticache/replication-group.js';

const elastiCache = mockClient(ElastiCacheClient);
afterEach(() => {
  elastiCache.reset();
});

const config = parseMigrationInput({ cluster: { name: 'prod', region: 'us-east-1' }, target: { replicationGroupId: 'spin-redis', engine: 'redis', engineVersion: '7.1' } });
const executionArn = 'arn:aws:states:us-east-1:123456789012:execution:spin-elasticache-prod:migrate-1';
const client = () => new ElastiCacheClient({ region: 'us-east-1' });
const meta = { $metadata: {} };

const existingGroup = {
  ReplicationGroupId: 'spin-redis',
  Status: 'available',
  ClusterEnabled: false,
  CacheNodeType: 'cache.r7g.large',
  AutomaticFailover: 'enabled' as const,
  MultiAZ: 'enabled' as const,
  TransitEncryptionEnabled: true,
  AtRestEncryptionEnabled: true,
  AuthTokenEnabled: false,
  MemberClusters: ['spin-redis-001', 'spin-redis-002'],
  NodeGroups: [{ PrimaryEndpoint: { Address: 'master.spin-redis.abc.use1.cache.amazonaws.com', Port: 6379 } }],
};

describe('ensureParameterGroup', () => {
  it('creates the group, sets gxE and tags it as ours', async () => {
    elastiCache.on(DescribeCacheParameterGroupsCommand).rejects(new CacheParameterGroupNotFoundFault({ message: 'not found', ...meta }));
    elastiCache.on(CreateCacheParameterGroupCommand).resolves({ CacheParameterGroup: { CacheParameterGroupName: 'spin-redis-params', CacheParameterGroupFamily: 'redis7', ARN: 'arn:pg' } });
    elastiCache.on(DescribeCacheParametersCommand).resolves({ Parameters: [{ ParameterName: 'notify-keyspace-events', ParameterValue: '' }] });
    elastiCache.on(ModifyCacheParameterGroupCommand).resolves({});
    const result = await ensureParameterGroup(client(), config, executionArn);
    expect(result).toEqual({ name: 'spin-redis-params', family: 'redis7', outcome: 'created' });
    const create = elastiCache.commandCalls(CreateCacheParameterGroupCommand)[0]!.args[0].input;
    expect(create.Tags).toEqual([
      { Key: 'spin-elasticache:managed', Value: 'true' },
      { Key: 'spin-elasticache:execution', Value: 'migrate-1' },
    ]);
    expect(elastiCache.commandCalls(ModifyCacheParameterGroupCommand)[0]!.args[0].input.ParameterNameValues).toEqual([{ ParameterName: 'notify-keyspace-events', ParameterValue: 'gxE' }]);
  });

  it('accepts an identical existing group without changing it', async () => {
    elastiCache.on(DescribeCacheParameterGroupsCommand).resolves({ CacheParameterGroups: [{ CacheParameterGroupName: 'spin-redis-params', CacheParameterGroupFamily: 'redis7', ARN: 'arn:pg' }] });
    elastiCache.on(DescribeCacheParametersCommand).resolves({ Parameters: [{ ParameterName: 'notify-keyspace-events', ParameterValue: 'gxE' }] });
    await expect(ensureParameterGroup(client(), config, executionArn)).resolves.toMatchObject({ outcome: 'existing' });
    expect(elastiCache.commandCalls(ModifyCacheParameterGroupCommand)).toHaveLength(0);
  });

  it('refuses to change a group someone else made, naming the differences', async () => {
    elastiCache.on(DescribeCacheParameterGroupsCommand).resolves({ CacheParameterGroups: [{ CacheParameterGroupName: 'spin-redis-params', CacheParameterGroupFamily: 'redis6.x', ARN: 'arn:pg' }] });
    elastiCache.on(DescribeCacheParametersCommand).resolves({ Parameters: [{ ParameterName: 'notify-keyspace-events', ParameterValue: 'Ex' }] });
    elastiCache.on(ListTagsForResourceCommand).resolves({ TagList: [] });
    const error = await ensureParameterGroup(client(), config, executionArn).catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'ResourceConflictError' });
    expect((error as Error).message).toContain('family is redis6.x, the engine needs redis7');
    expect((error as Error).message).toContain("notify-keyspace-events is 'Ex', needs 'gxE'");
    expect(elastiCache.commandCalls(ModifyCacheParameterGroupCommand)).toHaveLength(0);
  });

  it('finishes its own half-made group after a crash between create and modify', async () => {
    elastiCache.on(DescribeCacheParameterGroupsCommand).resolves({ CacheParameterGroups: [{ CacheParameterGroupName: 'spin-redis-params', CacheParameterGroupFamily: 'redis7', ARN: 'arn:pg' }] });
    elastiCache.on(DescribeCacheParametersCommand).resolves({ Parameters: [{ ParameterName: 'notify-keyspace-events', ParameterValue: '' }] });
    elastiCache.on(ListTagsForResourceCommand).resolves({ TagList: [{ Key: 'spin-elasticache:managed', Value: 'true' }] });
    elastiCache.on(ModifyCacheParameterGroupCommand).resolves({});
    await expect(ensureParameterGroup(client(), config, executionArn)).resolves.toMatchObject({ outcome: 'existing' });
    expect(elastiCache.commandCalls(ModifyCacheParameterGroupCommand)).toHaveLength(1);
  });

  it('maps throttling to a retryable named error', async () => {
    elastiCache.on(DescribeCacheParameterGroupsCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } }));
    await expect(ensureParameterGroup(client(), config, executionArn)).rejects.toMatchObject({ name: 'AwsThrottlingError', retryable: true });
  });

  it('treats a lost create race as existing', async () => {
    elastiCache
      .on(DescribeCacheParameterGroupsCommand)
      .rejectsOnce(new CacheParameterGroupNotFoundFault({ message: 'nf', ...meta }))
      .resolves({ CacheParameterGroups: [{ CacheParameterGroupName: 'spin-redis-params', CacheParameterGroupFamily: 'redis7' }] });
    elastiCache.on(CreateCacheParameterGroupCommand).rejects(new CacheParameterGroupAlreadyExistsFault({ message: 'exists', ...meta }));
    elastiCache.on(DescribeCacheParametersCommand).resolves({ Parameters: [{ ParameterName: 'notify-keyspace-events', ParameterValue: 'gxE' }] });
    await expect(ensureParameterGroup(client(), config, executionArn)).resolves.toMatchObject({ outcome: 'existing' });
  });
});

describe('ensureReplicationGroup', () => {
  const deps = () => ({ client: client(), authToken: async () => undefined, securityGroupIds: async () => ['sg-0123456789abcdef0'] });

  it('creates a cluster-mode-disabled, Multi-AZ, encrypted group in the cluster security group', async () => {
    elastiCache.on(DescribeReplicationGroupsCommand).rejects(new ReplicationGroupNotFoundFault({ message: 'nf', ...meta }));
    elastiCache.on(CreateReplicationGroupCommand).resolves({ ReplicationGroup: { ReplicationGroupId: 'spin-redis', Status: 'creating' } });
    const result = await ensureReplicationGroup(deps(), config, executionArn);
    expect(result).toMatchObject({ id: 'spin-redis', outcome: 'created', status: 'creating', polls: 0 });
    expect(elastiCache.commandCalls(CreateReplicationGroupCommand)[0]!.args[0].input).toMatchObject({
      NumCacheClusters: 2,
      AutomaticFailoverEnabled: true,
      MultiAZEnabled: true,
      TransitEncryptionEnabled: true,
      AtRestEncryptionEnabled: true,
      CacheParameterGroupName: 'spin-redis-params',
      CacheSubnetGroupName: 'spin-redis-subnets',
      SecurityGroupIds: ['sg-0123456789abcdef0'],
      Engine: 'redis',
      EngineVersion: '7.1',
    });
  });

  it('accepts an identical group and rejects a different one with every difference named', async () => {
    elastiCache.on(DescribeReplicationGroupsCommand).resolves({ ReplicationGroups: [existingGroup] });
    await expect(ensureReplicationGroup(deps(), config, executionArn)).resolves.toMatchObject({ outcome: 'existing' });
    elastiCache.on(DescribeReplicationGroupsCommand).resolves({ ReplicationGroups: [{ ...existingGroup, CacheNodeType: 'cache.t3.micro', TransitEncryptionEnabled: false }] });
    const error = (await ensureReplicationGroup(deps(), config, executionArn).catch((e: Error) => e)) as Error;
    expect(error.name).toBe('ResourceConflictError');
    expect(error.message).toContain('CacheNodeType is cache.t3.micro, wanted cache.r7g.large');
    expect(error.message).toContain('TransitEncryptionEnabled is false, wanted true');
    expect(elastiCache.commandCalls(CreateReplicationGroupCommand)).toHaveLength(0);
  });

  it('maps an invalid parameter to a fatal named error', async () => {
    elastiCache.on(DescribeReplicationGroupsCommand).rejects(new ReplicationGroupNotFoundFault({ message: 'nf', ...meta }));
    elastiCache.on(CreateReplicationGroupCommand).rejects(new InvalidParameterValueException({ message: 'Invalid AuthToken provided.', ...meta }));
    await expect(ensureReplicationGroup(deps(), config, executionArn)).rejects.toMatchObject({ name: 'AwsInvalidParameterError', retryable: false });
  });
});

describe('DescribeReplicationGroup', () => {
  const previous = { id: 'spin-redis', outcome: 'created' as const, status: 'creating', polls: 3, waitingSince: '2026-11-22T10:00:00.000Z' };
  const handler = (now: string) => createDescribeHandler({ elastiCache: client, now: () => new Date(now) });
  const state = (rg: ReplicationGroupResult = previous) => ({ config, execution: { arn: executionArn, startedAt: previous.waitingSince }, replicationGroup: rg });

  it('counts polls while creating and returns the primary endpoint once available', async () => {
    elastiCache
      .on(DescribeReplicationGroupsCommand)
      .resolvesOnce({ ReplicationGroups: [{ ...existingGroup, Status: 'creating', NodeGroups: [] }] })
      .resolves({ ReplicationGroups: [existingGroup] });
    const first = await handler('2026-11-22T10:05:00Z')(state());
    expect(first).toMatchObject({ status: 'creating', polls: 4 });
    const second = await handler('2026-11-22T10:06:00Z')(state(first));
    expect(second).toMatchObject({ status: 'available', polls: 5, primaryEndpoint: { address: 'master.spin-redis.abc.use1.cache.amazonaws.com', port: 6379 } });
  });

  it('turns create-failed into a fatal error carrying the reason from the events', async () => {
    elastiCache.on(DescribeReplicationGroupsCommand).resolves({ ReplicationGroups: [{ ...existingGroup, Status: 'create-failed' }] });
    elastiCache.on(DescribeEventsCommand).resolves({ Events: [{ Message: 'Insufficient cache node capacity' }] });
    await expect(handler('2026-11-22T10:05:00Z')(state())).rejects.toMatchObject({ name: 'ReplicationGroupCreateFailedError', message: expect.stringContaining('Insufficient cache node capacity') });
  });

  it('gives up after options.maxWaitMinutes', async () => {
    elastiCache.on(DescribeReplicationGroupsCommand).resolves({ ReplicationGroups: [{ ...existingGroup, Status: 'creating' }] });
    await expect(handler('2026-11-22T11:01:00Z')(state())).rejects.toMatchObject({ name: 'ReplicationGroupTimeoutError' });
  });

  it('names a broken response: available without an endpoint', async () => {
    elastiCache.on(DescribeReplicationGroupsCommand).resolves({ ReplicationGroups: [{ ...existingGroup, NodeGroups: [] }] });
    await expect(handler('2026-11-22T10:05:00Z')(state())).rejects.toMatchObject({ name: 'InvalidAwsResponseError' });
  });
});
