/** Where and how to reach the new replication group: URL from its primary endpoint, token from Secrets Manager. */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { MigrationConfig } from '../config/schema.js';
import type { RedisEndpoint } from '../redis/connect.js';
import { getAuthToken } from '../secrets/auth-token.js';

export interface PrimaryEndpoint {
  address: string;
  port: number;
}

export function targetUrl(config: Pick<MigrationConfig, 'target'>, endpoint: PrimaryEndpoint): string {
  return `${config.target.transitEncryption ? 'rediss' : 'redis'}://${endpoint.address}:${endpoint.port}`;
}

export async function targetEndpoint(client: Pick<SecretsManagerClient, 'send'>, config: MigrationConfig, endpoint: PrimaryEndpoint): Promise<RedisEndpoint> {
  const password = await getAuthToken(client, config);
  return { url: targetUrl(config, endpoint), ...(password ? { password } : {}) };
}
