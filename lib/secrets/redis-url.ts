/**
 * The URL secret: a Secrets Manager secret whose value is the whole
 * `rediss://:<percent-encoded token>@<primary>:<port>` URL. Every connecting Spinnaker service
 * gets `redis.connection: encrypted:secrets-manager!r:<region>!s:<name>` and kork-secrets
 * replaces it with this value in the pod (kork-secrets-aws SecretsManagerSecretEngine: without
 * `!k` the whole SecretString). The value is built here from the token and never returned.
 *
 * Created (tagged `spin-elasticache:managed=true`, in the cluster's region) or updated with
 * PutSecretValue; DescribeSecret tells which. The stack may write only
 * secrets below `spin-elasticache/` that carry the tag (serverless.yml).
 */
import { CreateSecretCommand, DescribeSecretCommand, PutSecretValueCommand, ResourceNotFoundException, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mapAwsError } from '../aws/errors.js';
import type { MigrationConfig } from '../config/schema.js';
import { SecretUnavailableError } from '../errors.js';

export const MANAGED_TAG = { Key: 'spin-elasticache:managed', Value: 'true' } as const;

/** `$.halyard.redisUrlSecret`: where the URL lives, never what it is. */
export interface RedisUrlSecretResult {
  name: string;
  arn: string;
  action: 'created' | 'updated';
}

export async function describeRedisUrlSecret(client: Pick<SecretsManagerClient, 'send'>, config: MigrationConfig): Promise<{ arn: string; managed: boolean } | undefined> {
  const name = config.spinnaker.redisUrlSecret.name;
  try {
    const described = await client.send(new DescribeSecretCommand({ SecretId: name }));
    return { arn: described.ARN ?? '', managed: (described.Tags ?? []).some((t) => t.Key === MANAGED_TAG.Key && t.Value === MANAGED_TAG.Value) };
  } catch (error) {
    if (error instanceof ResourceNotFoundException || (error as Error).name === 'ResourceNotFoundException') return undefined;
    throw mapAwsError(error, `Secrets Manager DescribeSecret ${name}`);
  }
}

/** Create or update the URL secret so its value is `url`. Throws SecretUnavailableError for a secret of that name we do not manage. */
export async function ensureRedisUrlSecret(client: Pick<SecretsManagerClient, 'send'>, config: MigrationConfig, url: string): Promise<RedisUrlSecretResult> {
  const { name, kmsKeyId } = config.spinnaker.redisUrlSecret;
  const existing = await describeRedisUrlSecret(client, config);
  try {
    if (!existing) {
      const created = await client.send(
        new CreateSecretCommand({
          Name: name,
          SecretString: url,
          Description: `Spinnaker's Redis connection URL (with its AUTH token), for redis.connection: ${config.target.replicationGroupId}. Written by spin-elasticache.`,
          Tags: [{ ...MANAGED_TAG }, { Key: 'spin-elasticache:replication-group', Value: config.target.replicationGroupId }],
          ...(kmsKeyId ? { KmsKeyId: kmsKeyId } : {}),
        }),
      );
      return { name, arn: created.ARN ?? '', action: 'created' };
    }
    if (!existing.managed) {
      throw new SecretUnavailableError(
        `Secret ${name} exists but has no tag ${MANAGED_TAG.Key}=${MANAGED_TAG.Value}: it is not ours to overwrite. Name another one in spinnaker.redisUrlSecret.name, or tag it if it is the URL secret of an earlier migration.`,
      );
    }
    // No GetSecretValue to compare first: the stack reads no secret but the token's (a new version is harmless).
    await client.send(new PutSecretValueCommand({ SecretId: existing.arn, SecretString: url }));
    return { name, arn: existing.arn, action: 'updated' };
  } catch (error) {
    if (error instanceof SecretUnavailableError) throw error;
    const mapped = mapAwsError(error, `Secrets Manager write of ${name}`);
    if (mapped.retryable) throw mapped;
    throw new SecretUnavailableError(`Cannot write the Redis URL secret ${name}: ${(error as Error).name}. The stack may write only tagged secrets below spin-elasticache/.`, { cause: mapped });
  }
}
