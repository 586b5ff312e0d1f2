/**
 * Connecting to Redis the way every step does: TLS when the URL says `rediss://`, an
 * optional extra CA (REDIS_TLS_CA_FILE), AUTH from a value the caller fetched (never from
 * the URL we log), and ioredis errors mapped to named errors.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { RedisUnreachableError } from '../errors.js';
import { mapRedisError } from './errors.js';

export interface RedisEndpoint {
  /** `redis://host:port` or `rediss://host:port`, optionally `/db`; no password here. */
  url: string;
  password?: string;
  /** Extra CA PEM file for TLS; defaults to REDIS_TLS_CA_FILE. */
  caFile?: string;
}

let cachedCa: { file: string; pem: string } | undefined;
function readCa(file: string): string {
  if (cachedCa?.file !== file) cachedCa = { file, pem: readFileSync(file, 'utf8') };
  return cachedCa.pem;
}

export function redisOptions(endpoint: RedisEndpoint, extra: RedisOptions = {}): RedisOptions {
  const url = new URL(endpoint.url);
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new RedisUnreachableError(`Not a Redis URL: ${url.protocol}//${url.host}`);
  }
  const caFile = endpoint.caFile ?? process.env.REDIS_TLS_CA_FILE;
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  const password = endpoint.password ?? (url.password ? decodeURIComponent(url.password) : undefined);
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : 6379,
    db,
    ...(password ? { password } : {}),
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.protocol === 'rediss:' ? { tls: { ...(isIP(url.hostname) ? {} : { servername: url.hostname }), ...(caFile ? { ca: readCa(caFile) } : {}) } } : {}),
    connectTimeout: 5000,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    lazyConnect: true,
    ...extra,
  };
}

/** Open a connection and wait until it is ready; failures become named errors. */
export async function connectRedis(endpoint: RedisEndpoint, extra: RedisOptions = {}): Promise<Redis> {
  const client = new Redis(
    redisOptions(endpoint, {
      // Fail fast on the first connect; callers (and the state machine) own retries.
      retryStrategy: () => null,
      ...extra,
    }),
  );
  let lastError: unknown;
  client.on('error', (error) => {
    lastError = error;
  });
  try {
    await client.connect();
    return client;
  } catch (error) {
    client.disconnect();
    throw mapRedisError(lastError ?? error, redactUrl(endpoint.url));
  }
}

/** Strip any user-info from a URL before it goes near a log or an error message. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '<unparseable url>';
  }
}
