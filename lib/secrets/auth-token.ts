/**
 * The ElastiCache AUTH token, read from Secrets Manager by ARN. The value never leaves this
 * module except to the Redis client and CreateReplicationGroup; messages never include it.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { MigrationConfig } from '../config/schema.js';
import { InputValidationError, SecretUnavailableError } from '../errors.js';
import { mapAwsError } from '../aws/errors.js';

const TOKEN_RULE = /^[A-Za-z0-9!&#$^<>-]{16,128}$/;
const cache = new Map<string, string>();

export function checkAuthToken(token: string, where: string): void {
  if (!TOKEN_RULE.test(token)) {
    throw new InputValidationError(
      `${where}: the AUTH token must be 16-128 characters: letters, digits and only ! & # $ ^ < > - (it has ${token.length} characters${/[^A-Za-z0-9!&#$^<>-]/.test(token) ? ' and a character ElastiCache refuses' : ''})`,
      [{ path: 'target.authTokenSecretArn', message: 'the secret holds a token ElastiCache refuses' }],
    );
  }
}

export async function getAuthToken(client: Pick<SecretsManagerClient, 'send'>, config: MigrationConfig): Promise<string | undefined> {
  const { authTokenSecretArn: arn, authTokenSecretKey: key } = config.target;
  if (!arn) return undefined;
  const cacheKey = `${arn}#${key ?? ''}`;
  const cached = cache.get(cacheKey);
  if (cached) return cached;
  let secretString: string | undefined;
  try {
    ({ SecretString: secretString } = await client.send(new GetSecretValueCommand({ SecretId: arn })));
  } catch (error) {
    const mapped = mapAwsError(error, `Secrets Manager GetSecretValue ${arn}`);
    if (mapped.retryable) throw mapped;
    throw new SecretUnavailableError(
      `Cannot read the AUTH token secret ${arn}: ${(error as Error).name}. Check that it exists and that it is the secret the stack was deployed for (the authTokenSecretId parameter): only that one is readable by the Redis-facing functions.`,
    );
  }
  if (secretString === undefined) throw new SecretUnavailableError(`Secret ${arn} has no SecretString (binary secrets are not supported)`);
  let token = secretString;
  if (key) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(secretString);
    } catch {
      throw new SecretUnavailableError(`Secret ${arn} is not JSON, but target.authTokenSecretKey '${key}' was given`);
    }
    const value = (parsed as Record<string, unknown>)[key];
    if (typeof value !== 'string') throw new SecretUnavailableError(`Secret ${arn} has no string field '${key}'`);
    token = value;
  }
  checkAuthToken(token, `Secret ${arn}`);
  cache.set(cacheKey, token);
  return token;
}

/** For tests: forget memoized tokens. */
export function clearAuthTokenCache(): void {
  cache.clear();
}
