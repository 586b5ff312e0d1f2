/**
 * How a Spinnaker service turns its config into a Redis connection, as the real ones do
 * (docs/SPINNAKER-INSTALLS.md §1–§3):
 *   - the property sources of a service, highest first: `<canonical>-local.yml` (HA sub-service),
 *     `<base>-local.yml`, `spinnaker-local.yml`, the HA `<canonical>-overrides.yml`, then
 *     Halyard's `spinnaker.yml` (halyard SpringService.getActiveSpringProfiles: later profiles win);
 *   - `redis.connection` from the first that sets it, else the jar default
 *     `redis.connection: ${services.redis.baseUrl}` (e.g. orca-web/config/orca.yml);
 *   - echo's `redis.enabled: ${services.redis.enabled:false}` (echo-web/config/echo.yml);
 *   - kork-secrets replaces a value only when it is wholly an `encrypted:` reference
 *     (kork-secrets SecretPropertyProcessor), resolved in the pod;
 *   - the password only from the URL's user-info, after `:` (kork-jedis
 *     RedisClientConnectionProperties.password(); percent-decoded like java.net.URI.getUserInfo()).
 *     Nothing reads `redis.password`.
 */
import { Redis } from 'ioredis';
import { redisOptions } from '../../lib/redis/connect.js';

/** A parsed YAML property source (a profile file, or what Halyard generates). */
export type PropertySource = Record<string, unknown> | undefined;

function get(source: PropertySource, path: string[]): unknown {
  let node: unknown = source;
  for (const key of path) node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  return node;
}

/** What a service reads for Redis from its property sources (highest precedence first). */
export function redisProperties(sources: PropertySource[]): { connection?: string; redisEnabled: boolean; gateSecure: boolean } {
  const first = (path: string[]) => sources.map((s) => get(s, path)).find((v) => v !== undefined);
  const connection = first(['redis', 'connection']) ?? first(['services', 'redis', 'baseUrl']);
  const enabled = first(['redis', 'enabled']) ?? first(['services', 'redis', 'enabled']);
  return {
    ...(connection !== undefined ? { connection: String(connection) } : {}),
    redisEnabled: enabled === true || enabled === 'true',
    gateSecure: first(['redis', 'configuration', 'secure']) === true,
  };
}

/** kork RedisClientConnectionProperties over java.net.URI: scheme, host, port (−1 → 6379), password from the user-info. */
export function korkConnection(value: string): { url: string; password?: string } {
  const m = /^(rediss?):\/\/(?:([^@/]*)@)?([^:/@]+)(?::(\d+))?(\/\d*)?$/.exec(value);
  if (!m) throw new Error(`Illegal character or malformed Redis URI in redis.connection (${value.replace(/\/\/[^@]*@/, '//****@').slice(0, 60)})`);
  const [, scheme, userInfo, host, port] = m;
  const decoded = userInfo === undefined ? undefined : decodeURIComponent(userInfo);
  const password = decoded?.includes(':') ? decoded.slice(decoded.indexOf(':') + 1) : undefined;
  return { url: `${scheme}://${host}:${port ?? 6379}`, ...(password ? { password } : {}) };
}

/** Connect, AUTH and PING as a service does at start; rejects as its pod would crash-loop (NOAUTH, WRONGPASS, TLS). */
export async function probeRedis(target: { url: string; password?: string }, caFile: string | undefined, name: string): Promise<void> {
  const client = new Redis(
    redisOptions(
      { url: target.url, ...(target.password ? { password: target.password } : {}), ...(caFile ? { caFile } : {}) },
      { connectionName: name, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 },
    ),
  );
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
  } finally {
    client.disconnect();
  }
}
