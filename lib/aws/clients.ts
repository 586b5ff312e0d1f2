/**
 * AWS SDK clients, built once per warm Lambda. Region and endpoints come from the SDK's own
 * environment variables (AWS_REGION, AWS_ENDPOINT_URL_<SERVICE>), which is how the sandbox
 * points them at its emulators. The SDK retries a little; the state machine owns the long
 * retries with backoff.
 */
import { EKSClient } from '@aws-sdk/client-eks';
import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';

const common = { maxAttempts: 3 } as const;

function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

export const elastiCache = lazy(() => new ElastiCacheClient(common));
export const eks = lazy(() => new EKSClient(common));
export const secretsManager = lazy(() => new SecretsManagerClient(common));
export const sfn = lazy(() => new SFNClient(common));
export const sns = lazy(() => new SNSClient(common));

/** Anything with the SDK v3 `send` method; tests pass real clients under aws-sdk-client-mock. */
export interface Sender {
  send(command: unknown): Promise<unknown>;
}
