/**
 * The health check's own failures (no credentials, the AWS API unreachable or refusing) are
 * not an unhealthy Redis: status `unknown`, no Healthy metric, an SNS subject that says the
 * check could not run. A Redis that does not answer stays critical.
 */
import { DescribeReplicationGroupsCommand, ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import { mapAwsError } from '../../../lib/aws/errors.js';
import { parseMigrationInput } from '../../../lib/config/schema.js';
import { checkHealth } from '../../../lib/health/check.js';
import { formatHealth } from '../../../lib/health/format.js';
import { healthMessage } from '../../../lib/health/notify.js';

const config = parseMigrationInput({ cluster: { name: 'spin', region: 'us-east-1' }, target: { replicationGroupId: 'spinnaker-redis' } });
const noCluster = () => {
  throw new Error('not reached');
};

function sdkError(name: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${name} happened`), { name, ...extra });
}

async function reportWhenDescribeFails(error: Error) {
  const elastiCache = mockClient(ElastiCacheClient);
  elastiCache.on(DescribeReplicationGroupsCommand).rejects(error);
  try {
    return await checkHealth(config, { elastiCache: new ElastiCacheClient({ region: 'us-east-1' }), secretsManager: new SecretsManagerClient({ region: 'us-east-1' }), cluster: noCluster });
  } finally {
    elastiCache.restore();
  }
}

describe("the health check's own failures", () => {
  it('names missing credentials AwsCredentialsError (not a bad parameter) and says how to give them', () => {
    const error = mapAwsError(sdkError('CredentialsProviderError'), 'DescribeReplicationGroups spinnaker-redis');
    expect(error.name).toBe('AwsCredentialsError');
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/AWS_PROFILE/);
  });

  it.each([
    ['no credentials', sdkError('CredentialsProviderError')],
    ['the API unreachable', sdkError('Error', { code: 'ECONNREFUSED' })],
    ['access denied', sdkError('AccessDeniedException', { $metadata: { httpStatusCode: 403 } })],
  ])('%s: UNKNOWN, not UNHEALTHY, and SNS says the check could not run', async (_label, error) => {
    const report = await reportWhenDescribeFails(error);
    expect(report.status).toBe('unknown');
    expect(report.findings).toEqual([expect.objectContaining({ check: 'replication-group', status: 'unknown' })]);
    expect(formatHealth(report)).toMatch(/^spinnaker-redis: UNKNOWN .*\n {2}\? replication-group/);
    expect(healthMessage(report, 'healthy').subject).toBe('The health check of ElastiCache spinnaker-redis could not run');
  });

  it('a group that does not exist is still critical', async () => {
    const report = await reportWhenDescribeFails(sdkError('ReplicationGroupNotFoundFault', { $metadata: { httpStatusCode: 404 } }));
    expect(report.status).toBe('unhealthy');
  });
});
