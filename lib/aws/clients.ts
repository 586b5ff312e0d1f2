/**
 * AWS SDK clients, built once per warm Lambda. Region and endpoints come from the SDK's own
 * environment variables (AWS_REGION, AWS_ENDPOINT_URL_<SERVICE>), which is how the sandbox
 * points them at its emulators. The SDK retries a little; the state machine owns the long
 * retries with backoff. Each client is marked pure, so a bundle holds only the clients its
 * function uses (the SDK packages declare `sideEffects: false`; esbuild drops the rest).
 */
import { EKSClient } from '@aws-sdk/client-eks';
import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';

const common = { maxAttempts: 3 } as const;

/**
 * One client per warm Lambda. Keyed by the endpoint variable as well, so that a process
 * that points at several sandboxes in turn (the test suite) gets a fresh client each time.
 */
function lazy<T>(endpointVariable: string, make: () => T): () => T {
  let value: T | undefined;
  let madeFor: string | undefined;
  return () => {
    const endpoint = process.env[endpointVariable] ?? '';
    if (value === undefined || madeFor !== endpoint) {
      value = make();
      madeFor = endpoint;
    }
    return value;
  };
}

export const elastiCache = /* @__PURE__ */ lazy('AWS_ENDPOINT_URL_ELASTICACHE', () => new ElastiCacheClient(common));
export const eks = /* @__PURE__ */ lazy('AWS_ENDPOINT_URL_EKS', () => new EKSClient(common));
export const secretsManager = /* @__PURE__ */ lazy('AWS_ENDPOINT_URL_SECRETS_MANAGER', () => new SecretsManagerClient(common));
export const iam = /* @__PURE__ */ lazy('AWS_ENDPOINT_URL_IAM', () => new IAMClient(common));
export const sfn = /* @__PURE__ */ lazy('AWS_ENDPOINT_URL_SFN', () => new SFNClient(common));
export const sns = /* @__PURE__ */ lazy('AWS_ENDPOINT_URL_SNS', () => new SNSClient(common));
// Path-style against an endpoint of its own (the sandbox's emulator on 127.0.0.1); virtual-hosted in AWS.
export const s3 = /* @__PURE__ */ lazy('AWS_ENDPOINT_URL_S3', () => new S3Client({ ...common, forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3) }));

/** Anything with the SDK v3 `send` method; tests pass real clients under aws-sdk-client-mock. */
export interface Sender {
  send(command: unknown): Promise<unknown>;
}
