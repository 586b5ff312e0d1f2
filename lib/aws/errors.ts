/** AWS SDK exceptions -> our named errors, at the lib/ boundary. */
import {
  AwsAccessDeniedError,
  AwsCredentialsError,
  AwsInvalidParameterError,
  AwsQuotaExceededError,
  AwsResourceBusyError,
  AwsResourceNotFoundError,
  AwsServiceUnavailableError,
  AwsThrottlingError,
  InvalidAwsResponseError,
  MigrationError,
} from '../errors.js';

interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
}

const NETWORK_CODES = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|TimeoutError|RequestTimeout)$/;

export function mapAwsError(error: unknown, context: string): MigrationError {
  if (error instanceof MigrationError) return error;
  const e = (error ?? {}) as SdkError;
  const name = e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  const message = `${context}: ${name}: ${e.message ?? String(error)}`;
  // ElastiCache's own rate limit is APICallRateForCustomerExceededFault (retried, not a quota).
  if (/Throttl|RequestLimitExceeded|TooManyRequests|SlowDown|RequestThrottled|APICallRateForCustomerExceeded/i.test(name) || status === 429) return new AwsThrottlingError(message, { cause: error });
  // A resource in a passing state (modifying, snapshotting...). Not InvalidVPCNetworkStateFault: that
  // one is a subnet or security-group problem, which waiting does not fix.
  if (/^Invalid(?!VPCNetwork).*State/.test(name)) return new AwsResourceBusyError(message, { cause: error });
  if (name === 'CredentialsProviderError')
    return new AwsCredentialsError(`${message} (no AWS credentials: set AWS_PROFILE, or the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY variables, or run where a role is attached)`, { cause: error });
  if (/AccessDenied|UnauthorizedOperation|NotAuthorized|InvalidClientTokenId|UnrecognizedClient|ExpiredToken/i.test(name) || status === 403) {
    return new AwsAccessDeniedError(`${message} (check the Lambda role's IAM policy)`, { cause: error });
  }
  // ElastiCache spells its quotas NodeQuotaForCustomerExceededFault, TagQuotaPerResourceExceeded, …
  if (/Quota|LimitExceeded/i.test(name)) return new AwsQuotaExceededError(message, { cause: error });
  if (/NotFound|DoesNotExist/i.test(name) || status === 404) return new AwsResourceNotFoundError(message, { cause: error });
  if (/^InvalidParameter|^Invalid|ValidationException|MissingParameter/i.test(name)) return new AwsInvalidParameterError(message, { cause: error });
  if (e.$fault === 'server' || (status !== undefined && status >= 500) || /ServiceUnavailable|InternalFailure|InternalError|InternalServerError/i.test(name) || NETWORK_CODES.test(e.code ?? name)) {
    return new AwsServiceUnavailableError(message, { cause: error });
  }
  if (e.$metadata === undefined && !(error instanceof Error)) return new InvalidAwsResponseError(message);
  return new AwsInvalidParameterError(message, { cause: error });
}

/** Run one SDK call and map whatever it throws. */
export async function awsCall<T>(context: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw mapAwsError(error, context);
  }
}

/** A Describe call where "not found" is an answer, not an error. */
export async function awsFind<T>(context: string, notFoundName: string, call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    if ((error as Error).name === notFoundName) return undefined;
    throw mapAwsError(error, context);
  }
}
