/** Ownership tags: which execution created a resource, read back from ListTagsForResource (aws-sdk-client-mock). */
import { afterEach, describe, expect, it } from '@jest/globals';
import { AddTagsToResourceCommand, ElastiCacheClient, ElastiCacheServiceException, ListTagsForResourceCommand } from '@aws-sdk/client-elasticache';
import { mockClient } from 'aws-sdk-client-mock';
import { EXECUTION_TAG, executionName, MANAGED_TAG, ownershipTags, readOwnership, tagResource } from '../../../lib/elasticache/tags.js';

const elastiCache = mockClient(ElastiCacheClient);
afterEach(() => {
  elastiCache.reset();
});

const client = () => new ElastiCacheClient({ region: 'us-east-1' });
const EXECUTION_ARN = 'arn:aws:states:us-east-1:123456789012:execution:spin-elasticache-prod:migrate-2026-11-30';
const GROUP_ARN = 'arn:aws:elasticache:us-east-1:123456789012:replicationgroup:spin-redis';

describe('ownership tags', () => {
  it('names the execution by the last segment of its ARN', () => {
    expect(executionName(EXECUTION_ARN)).toBe('migrate-2026-11-30');
    expect(executionName('no-colons')).toBe('no-colons');
  });

  it('marks a resource as ours and names the execution', () => {
    expect(MANAGED_TAG).toBe('spin-elasticache:managed');
    expect(EXECUTION_TAG).toBe('spin-elasticache:execution');
    expect(ownershipTags(EXECUTION_ARN)).toStrictEqual([
      { Key: 'spin-elasticache:managed', Value: 'true' },
      { Key: 'spin-elasticache:execution', Value: 'migrate-2026-11-30' },
    ]);
  });

  it('tagResource sends those tags for the resource', async () => {
    elastiCache.on(AddTagsToResourceCommand).resolves({});
    await tagResource(client(), GROUP_ARN, EXECUTION_ARN);
    expect(elastiCache.commandCalls(AddTagsToResourceCommand).map((call) => call.args[0].input)).toStrictEqual([{ ResourceName: GROUP_ARN, Tags: ownershipTags(EXECUTION_ARN) }]);
  });
});

describe('readOwnership', () => {
  it('reads who created a resource we manage', async () => {
    elastiCache.on(ListTagsForResourceCommand, { ResourceName: GROUP_ARN }).resolves({ TagList: [{ Key: 'team', Value: 'spinnaker' }, ...ownershipTags(EXECUTION_ARN)] });
    await expect(readOwnership(client(), GROUP_ARN)).resolves.toStrictEqual({ managed: true, createdBy: 'migrate-2026-11-30' });
  });

  it.each([
    ['no tags', {}],
    ['other tags only', { TagList: [{ Key: 'team', Value: 'spinnaker' }] }],
    ['managed=false', { TagList: [{ Key: MANAGED_TAG, Value: 'false' }] }],
  ])('a resource with %s is not ours', async (_, output) => {
    elastiCache.on(ListTagsForResourceCommand).resolves(output);
    await expect(readOwnership(client(), GROUP_ARN)).resolves.toStrictEqual({ managed: false });
  });

  it('a resource without an ARN is not ours, and nothing is asked', async () => {
    await expect(readOwnership(client(), undefined)).resolves.toStrictEqual({ managed: false });
    expect(elastiCache.calls()).toHaveLength(0);
  });

  it('maps SDK errors', async () => {
    elastiCache.on(ListTagsForResourceCommand).rejects(new ElastiCacheServiceException({ name: 'Throttling', $fault: 'client', message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } }));
    await expect(readOwnership(client(), GROUP_ARN)).rejects.toMatchObject({ name: 'AwsThrottlingError', message: `ListTagsForResource ${GROUP_ARN}: Throttling: Rate exceeded` });
  });
});
