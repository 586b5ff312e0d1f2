/** Where and how to reach the new replication group: URL from Describe, token from Secrets Manager. */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { InvalidAwsResponseError } from '../errors.js';
import { secretsManager } from '../aws/clients.js';
import type { RedisEndpoint } from '../redis/connect.js';
import { getAuthToken } from '../secrets/auth-token.js';
import type { MigrationState } from '../workflow/state.js';

export function targetUrl(state: Pick<MigrationState, 'config' | 'replicationGroup'>): string {
  const endpoint = state.replicationGroup?.primaryEndpoint;
  if (!endpoint) throw new InvalidAwsResponseError('The replication group has no primary endpoint in the state yet');
  return `${state.config.target.transitEncryption ? 'rediss' : 'redis'}://${endpoint.address}:${endpoint.port}`;
}

export async function resolveTargetEndpoint(state: MigrationState, client: Pick<SecretsManagerClient, 'send'> = secretsManager()): Promise<RedisEndpoint> {
  const password = await getAuthToken(client, state.config);
  return { url: targetUrl(state), ...(password ? { password } : {}) };
}
