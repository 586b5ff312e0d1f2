/**
 * cleanupOnFailure's deletions against aws-sdk-client-mock: ElastiCache's "in use" answers for
 * the subnet and parameter groups are busy (the state machine retries until the deleted
 * replication group lets go of them), here and nowhere else.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import {
  CacheSubnetGroupInUse,
  DeleteCacheParameterGroupCommand,
  DeleteCacheSubnetGroupCommand,
  DescribeCacheParameterGroupsCommand,
  DescribeCacheSubnetGroupsCommand,
  DescribeReplicationGroupsCommand,
  ElastiCacheClient,
  InvalidCacheParameterGroupStateFault,
  InvalidParameterValueException,
  ListTagsForResourceCommand,
  ReplicationGroupNotFoundFault,
} from '@aws-sdk/client-elasticache';
import { mockClient } from 'aws-sdk-client-mock';
import { mapAwsError } from '../../../lib/aws/errors.js';
import { parseMigrationInput } from '../../../lib/config/schema.js';
import { deleteCreatedResources } from '../../../lib/elasticache/cleanup.js';
import type { MigrationError } from '../../../lib/errors.js';

const elastiCache = mockClient(ElastiCacheClient);
afterEach(() => {
  elastiCache.reset();
});

const config = parseMigrationInput({ cluster: { name: 'prod', region: 'us-east-1' }, target: { replicationGroupId: 'spin-redis', engine: 'redis', engineVersion: '7.1' } });
const executionArn = 'arn:aws:states:us-east-1:123456789012:execution:spin-elasticache-prod:migrate-1';
const client = () => new ElastiCacheClient({ region: 'us-east-1' });
const meta = { $metadata: { httpStatusCode: 400 } };
const subnetInUse = () => new CacheSubnetGroupInUse({ message: 'Cache subnet group spin-redis-subnets is currently in use.', ...meta });
const parametersInUse = () =>
  new InvalidCacheParameterGroupStateFault({ message: 'One or more cache clusters are still members of this parameter group spin-redis-params, so the group cannot be deleted.', ...meta });

/** The replication group is gone; the subnet and parameter groups are still there, created by this execution. */
function groupGoneLeavingOurs() {
  elastiCache.on(DescribeReplicationGroupsCommand).rejects(new ReplicationGroupNotFoundFault({ message: 'ReplicationGroup spin-redis not found.', $metadata: { httpStatusCode: 404 } }));
  elastiCache.on(DescribeCacheSubnetGroupsCommand).resolves({ CacheSubnetGroups: [{ CacheSubnetGroupName: 'spin-redis-subnets', ARN: 'arn:sg' }] });
  elastiCache.on(DescribeCacheParameterGroupsCommand).resolves({ CacheParameterGroups: [{ CacheParameterGroupName: 'spin-redis-params', ARN: 'arn:pg' }] });
  elastiCache.on(ListTagsForResourceCommand).resolves({ TagList: [{ Key: 'spin-elasticache:execution', Value: 'migrate-1' }] });
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (e: unknown) => e as MigrationError,
  );

describe('deleteCreatedResources', () => {
  it('answers busy (retried) when ElastiCache still counts the deleted group as using the subnet group', async () => {
    groupGoneLeavingOurs();
    elastiCache.on(DeleteCacheSubnetGroupCommand).rejects(subnetInUse());
    const error = await failure(deleteCreatedResources(client(), config, executionArn));
    expect(error).toMatchObject({ name: 'AwsResourceBusyError', retryable: true });
    expect(error?.message).toContain('delete subnet group spin-redis-subnets: CacheSubnetGroupInUse');
  });

  it('answers busy (retried) when ElastiCache still counts it as using the parameter group', async () => {
    groupGoneLeavingOurs();
    elastiCache.on(DeleteCacheSubnetGroupCommand).resolves({});
    elastiCache.on(DeleteCacheParameterGroupCommand).rejects(parametersInUse());
    const error = await failure(deleteCreatedResources(client(), config, executionArn));
    expect(error).toMatchObject({ name: 'AwsResourceBusyError', retryable: true });
    expect(error?.message).toContain('delete parameter group spin-redis-params: InvalidCacheParameterGroupStateFault');
  });

  it('deletes both once ElastiCache lets go of them', async () => {
    groupGoneLeavingOurs();
    elastiCache.on(DeleteCacheSubnetGroupCommand).resolves({});
    elastiCache.on(DeleteCacheParameterGroupCommand).resolves({});
    await expect(deleteCreatedResources(client(), config, executionArn)).resolves.toEqual({
      deleted: ['subnet group spin-redis-subnets', 'parameter group spin-redis-params'],
      kept: [],
    });
  });

  it('answers busy when the group it deleted goes between its lookup and the read of its tags (NotFound, as AWS answers)', async () => {
    elastiCache
      .on(DescribeReplicationGroupsCommand)
      .resolves({ ReplicationGroups: [{ ReplicationGroupId: 'spin-redis', Status: 'available', ARN: 'arn:aws:elasticache:us-east-1:123456789012:replicationgroup:spin-redis' }] });
    elastiCache.on(ListTagsForResourceCommand).rejects(new ReplicationGroupNotFoundFault({ message: 'ReplicationGroup spin-redis not found.', $metadata: { httpStatusCode: 404 } }));
    const error = await failure(deleteCreatedResources(client(), config, executionArn));
    expect(error).toMatchObject({ name: 'AwsResourceBusyError', retryable: true });
    expect(error?.message).toBe('Replication group spin-redis went while its tags were read; looking again');
  });

  it('waits out a deleting group without reading its tags (ListTagsForResource may refuse a group in that state)', async () => {
    elastiCache
      .on(DescribeReplicationGroupsCommand)
      .resolves({ ReplicationGroups: [{ ReplicationGroupId: 'spin-redis', Status: 'deleting', ARN: 'arn:aws:elasticache:us-east-1:123456789012:replicationgroup:spin-redis' }] });
    elastiCache.on(ListTagsForResourceCommand).rejects(new InvalidParameterValueException({ message: 'InvalidReplicationGroupState', ...meta }));
    const error = await failure(deleteCreatedResources(client(), config, executionArn));
    expect(error).toMatchObject({ name: 'AwsResourceBusyError', message: 'Replication group spin-redis is still deleting' });
  });

  it('still maps any other refusal as everywhere else (fatal)', async () => {
    groupGoneLeavingOurs();
    elastiCache.on(DeleteCacheSubnetGroupCommand).rejects(new InvalidParameterValueException({ message: 'bad name', ...meta }));
    expect(await failure(deleteCreatedResources(client(), config, executionArn))).toMatchObject({ name: 'AwsInvalidParameterError', retryable: false });
  });

  it('keeps the "in use" mapping local: elsewhere a subnet group in use is not a wait', () => {
    expect(mapAwsError(subnetInUse(), 'DeleteCacheSubnetGroup spin-redis-subnets')).toMatchObject({ name: 'AwsInvalidParameterError', retryable: false });
  });
});
