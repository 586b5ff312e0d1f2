/** AWS SDK exceptions -> our named errors: every row of docs/ARCHITECTURE.md "Errors" for the AWS SDK, with real SDK exception classes. */
import { describe, expect, it } from '@jest/globals';
import {
  CacheParameterGroupQuotaExceededFault,
  CacheSubnetGroupQuotaExceededFault,
  ElastiCacheServiceException,
  InvalidParameterCombinationException,
  InvalidParameterValueException,
  InvalidReplicationGroupStateFault,
  ReplicationGroupNotFoundFault,
} from '@aws-sdk/client-elasticache';
import { ResourceNotFoundException as EksResourceNotFoundException } from '@aws-sdk/client-eks';
import { ResourceNotFoundException as SecretNotFoundException } from '@aws-sdk/client-secrets-manager';
import { awsCall, awsFind, mapAwsError } from '../../../lib/aws/errors.js';
import { AwsResourceBusyError, InputValidationError, MigrationError } from '../../../lib/errors.js';

const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });

/** A service exception the SDK builds from an error code it has no class for (e.g. the Query protocol's `Throttling`). */
function serviceError(name: string, httpStatusCode: number, fault: 'client' | 'server' = httpStatusCode >= 500 ? 'server' : 'client') {
  return new ElastiCacheServiceException({ name, $fault: fault, message: `${name} happened`, ...meta(httpStatusCode) });
}

/** A Node socket error as the SDK's HTTP handler rethrows it: plain Error, a `code`, no `$metadata`. */
function socketError(code: string) {
  return Object.assign(new Error(`connect ${code} 10.0.0.1:443`), { code });
}

describe('mapAwsError', () => {
  it.each([
    ['Throttling (Query protocol)', serviceError('Throttling', 400)],
    ['ThrottlingException', serviceError('ThrottlingException', 400)],
    ['RequestLimitExceeded', serviceError('RequestLimitExceeded', 503, 'client')],
    ['TooManyRequestsException', serviceError('TooManyRequestsException', 429)],
    ['SlowDown', serviceError('SlowDown', 503, 'client')],
    ['any name with HTTP 429', serviceError('Unknown', 429)],
    ["ElastiCache's own rate limit, APICallRateForCustomerExceededFault", serviceError('APICallRateForCustomerExceededFault', 400)],
  ])('%s -> AwsThrottlingError (transient)', (_, error) => {
    const mapped = mapAwsError(error, 'ElastiCache CreateReplicationGroup spin');
    expect(mapped.name).toBe('AwsThrottlingError');
    expect(mapped.retryable).toBe(true);
  });

  it.each([
    ['ServiceUnavailable', serviceError('ServiceUnavailable', 503)],
    ['InternalFailure', serviceError('InternalFailure', 500)],
    ['InternalServerError with no $fault', { name: 'InternalServerError', message: 'x', $metadata: {} }],
    ['any name with $fault server', serviceError('SomethingOdd', 400, 'server')],
    ['any name with HTTP 502', { name: 'UnknownError', message: 'bad gateway', $metadata: { httpStatusCode: 502 } }],
    ['ECONNREFUSED', socketError('ECONNREFUSED')],
    ['ECONNRESET', socketError('ECONNRESET')],
    ['ETIMEDOUT', socketError('ETIMEDOUT')],
    ['EPIPE', socketError('EPIPE')],
    ['ENOTFOUND', socketError('ENOTFOUND')],
    ['EAI_AGAIN', socketError('EAI_AGAIN')],
    ['the SDK TimeoutError', Object.assign(new Error('Connection timed out after 1000 ms'), { name: 'TimeoutError' })],
    ['RequestTimeout', Object.assign(new Error('socket hang up'), { name: 'RequestTimeout' })],
  ])('%s -> AwsServiceUnavailableError (transient)', (_, error) => {
    const mapped = mapAwsError(error, 'ctx');
    expect(mapped.name).toBe('AwsServiceUnavailableError');
    expect(mapped.retryable).toBe(true);
  });

  it.each([
    ['InvalidParameterValue', new InvalidParameterValueException({ message: 'bad node type', ...meta(400) })],
    ['InvalidParameterCombination', new InvalidParameterCombinationException({ message: 'TLS needs AUTH', ...meta(400) })],
    ['ValidationException', serviceError('ValidationException', 400)],
    ['MissingParameter', serviceError('MissingParameter', 400)],
    ['InvalidSubnet', serviceError('InvalidSubnet', 400)],
    ['an unknown client fault', serviceError('SubnetNotAllowedFault', 400)],
  ])('%s -> AwsInvalidParameterError (fatal)', (_, error) => {
    const mapped = mapAwsError(error, 'ctx');
    expect(mapped.name).toBe('AwsInvalidParameterError');
    expect(mapped.retryable).toBe(false);
  });

  it.each([
    ['AccessDeniedException', serviceError('AccessDeniedException', 400)],
    ['AccessDenied', serviceError('AccessDenied', 403)],
    ['UnauthorizedOperation', serviceError('UnauthorizedOperation', 400)],
    ['InvalidClientTokenId', serviceError('InvalidClientTokenId', 400)],
    ['UnrecognizedClientException', serviceError('UnrecognizedClientException', 400)],
    ['ExpiredTokenException', serviceError('ExpiredTokenException', 400)],
    ['any name with HTTP 403', serviceError('Unknown', 403)],
  ])('%s -> AwsAccessDeniedError (fatal), pointing at the IAM policy', (_, error) => {
    const mapped = mapAwsError(error, 'EKS DescribeCluster prod');
    expect(mapped.name).toBe('AwsAccessDeniedError');
    expect(mapped.retryable).toBe(false);
    expect(mapped.message).toMatch(/^EKS DescribeCluster prod: .+ \(check the Lambda role's IAM policy\)$/);
  });

  it.each([
    ['CacheParameterGroupQuotaExceeded', new CacheParameterGroupQuotaExceededFault({ message: 'too many', ...meta(400) })],
    ['CacheSubnetGroupQuotaExceeded', new CacheSubnetGroupQuotaExceededFault({ message: 'too many', ...meta(400) })],
    ['LimitExceededException', serviceError('LimitExceededException', 400)],
  ])('%s -> AwsQuotaExceededError (fatal)', (_, error) => {
    const mapped = mapAwsError(error, 'ctx');
    expect(mapped.name).toBe('AwsQuotaExceededError');
    expect(mapped.retryable).toBe(false);
  });

  it.each([
    ['ReplicationGroupNotFoundFault', new ReplicationGroupNotFoundFault({ message: 'no such group', ...meta(404) })],
    ['EKS ResourceNotFoundException', new EksResourceNotFoundException({ message: 'No cluster found', ...meta(404) })],
    ['Secrets Manager ResourceNotFoundException', new SecretNotFoundException({ message: "Secrets Manager can't find the specified secret.", ...meta(400) })],
    ['ParameterGroupDoesNotExist', serviceError('ParameterGroupDoesNotExist', 400)],
    ['any name with HTTP 404', serviceError('Unknown', 404)],
  ])('%s -> AwsResourceNotFoundError (fatal)', (_, error) => {
    const mapped = mapAwsError(error, 'ctx');
    expect(mapped.name).toBe('AwsResourceNotFoundError');
    expect(mapped.retryable).toBe(false);
  });

  it('InvalidReplicationGroupState -> AwsResourceBusyError (transient: the group is modifying)', () => {
    const error = new InvalidReplicationGroupStateFault({ message: 'Replication group spin is not in available state.', ...meta(400) });
    const mapped = mapAwsError(error, 'ElastiCache ModifyReplicationGroup spin');
    expect(mapped).toBeInstanceOf(AwsResourceBusyError);
    expect(mapped.retryable).toBe(true);
    expect(mapped.message).toBe('ElastiCache ModifyReplicationGroup spin: InvalidReplicationGroupStateFault: Replication group spin is not in available state.');
    expect(mapped.cause).toBe(error);
  });

  it('says where it happened, names the SDK exception, and keeps the original as cause', () => {
    const error = new InvalidParameterValueException({ message: 'The parameter CacheNodeType is not a valid node type.', ...meta(400) });
    const mapped = mapAwsError(error, 'ElastiCache CreateReplicationGroup spin');
    expect(mapped.message).toBe('ElastiCache CreateReplicationGroup spin: InvalidParameterValueException: The parameter CacheNodeType is not a valid node type.');
    expect(mapped.cause).toBe(error);
  });

  it('passes our own errors through untouched', () => {
    const ours = new InputValidationError('bad input');
    expect(mapAwsError(ours, 'ctx')).toBe(ours);
  });

  it('something that is neither an SDK exception nor an Error -> InvalidAwsResponseError', () => {
    const mapped = mapAwsError('a string', 'SFN DescribeExecution');
    expect(mapped.name).toBe('InvalidAwsResponseError');
    expect(mapped.message).toBe('SFN DescribeExecution: Error: a string');
    expect(mapAwsError(undefined, 'ctx').name).toBe('InvalidAwsResponseError');
  });

  it('a plain Error with no status or code is fatal, not retried forever', () => {
    const mapped = mapAwsError(new Error('Region is missing'), 'ctx');
    expect(mapped.name).toBe('AwsInvalidParameterError');
    expect(mapped.message).toBe('ctx: Error: Region is missing');
  });
});

describe('ElastiCache fault names that do not follow the common patterns', () => {
  it.each(['NodeQuotaForCustomerExceededFault', 'ClusterQuotaForCustomerExceededFault', 'NodeQuotaForClusterExceededFault', 'TagQuotaPerResourceExceeded'])(
    '%s -> AwsQuotaExceededError (fatal)',
    (name) => {
      const mapped = mapAwsError(serviceError(name, 400), 'ElastiCache CreateReplicationGroup spin');
      expect({ name: mapped.name, retryable: mapped.retryable }).toEqual({ name: 'AwsQuotaExceededError', retryable: false });
    },
  );

  it('InvalidVPCNetworkStateFault is a network configuration problem, not a busy resource: fatal', () => {
    const mapped = mapAwsError(serviceError('InvalidVPCNetworkStateFault', 400), 'ElastiCache CreateReplicationGroup spin');
    expect({ name: mapped.name, retryable: mapped.retryable }).toEqual({ name: 'AwsInvalidParameterError', retryable: false });
  });
});

describe('awsCall', () => {
  it('returns what the call returns', async () => {
    await expect(awsCall('ctx', async () => 42)).resolves.toBe(42);
  });

  it('throws the mapped error', async () => {
    const call = awsCall('ElastiCache DescribeReplicationGroups spin', async () => {
      throw serviceError('Throttling', 400);
    });
    await expect(call).rejects.toBeInstanceOf(MigrationError);
    await expect(call).rejects.toMatchObject({ name: 'AwsThrottlingError', message: 'ElastiCache DescribeReplicationGroups spin: Throttling: Throttling happened' });
  });
});

describe('awsFind', () => {
  it('answers undefined for the named "not found" exception', async () => {
    const result = await awsFind('ctx', 'ReplicationGroupNotFoundFault', async () => {
      throw new ReplicationGroupNotFoundFault({ message: 'gone', ...meta(404) });
    });
    expect(result).toBeUndefined();
  });

  it('returns a found value, and maps every other exception (even another NotFound)', async () => {
    await expect(awsFind('ctx', 'ReplicationGroupNotFoundFault', async () => 'found')).resolves.toBe('found');
    await expect(
      awsFind('ctx', 'ReplicationGroupNotFoundFault', async () => {
        throw new EksResourceNotFoundException({ message: 'No cluster found', ...meta(404) });
      }),
    ).rejects.toMatchObject({ name: 'AwsResourceNotFoundError' });
    await expect(
      awsFind('ctx', 'ReplicationGroupNotFoundFault', async () => {
        throw socketError('ECONNRESET');
      }),
    ).rejects.toMatchObject({ name: 'AwsServiceUnavailableError' });
  });
});
