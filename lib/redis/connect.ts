/**
 * Connecting to Redis the way every step does: TLS when the URL says `rediss://`, an
 * optional extra CA (REDIS_TLS_CA_FILE), AUTH from a value the caller fetched (never from
 * the URL we log), and ioredis errors mapped to named errors. Every wait is bounded: the
 * TCP/TLS connect by `connectTimeout`, the handshake and every command by the command
 * timeout, so a server that accepts the connection and then says nothing (or junk) fails the
 * step with RedisConnectionError instead of holding it until the Lambda's timeout.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { RedisConnectionError, RedisUnreachableError } from '../errors.js';
import { mapRedisError, tagRedisError } from './errors.js';

export interface RedisEndpoint {
  /** `redis://host:port` or `rediss://host:port`, optionally `/db`; no password here. */
  url: string;
  password?: string;
  /** Extra CA PEM file for TLS; defaults to REDIS_TLS_CA_FILE. */
  caFile?: string;
  /** How long one command may wait for its reply; defaults to REDIS_COMMAND_TIMEOUT_MS, else DEFAULT_COMMAND_TIMEOUT_MS. */
  commandTimeoutMs?: number;
}

/**
 * Far above any command of ours (a batch EVAL of 100 keys, a chunk of a big key, SCAN COUNT
 * 1000: milliseconds to a few seconds), and below the 60 s of the shortest Lambdas that talk to
 * Redis (PingRedis, EnableChangeCapture…), so a silent server fails there with a named error too.
 */
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;

export function commandTimeoutMs(endpoint: Pick<RedisEndpoint, 'commandTimeoutMs'>): number {
  const fromEnv = process.env.REDIS_COMMAND_TIMEOUT_MS;
  const ms = endpoint.commandTimeoutMs ?? (fromEnv ? Number(fromEnv) : DEFAULT_COMMAND_TIMEOUT_MS);
  if (!Number.isInteger(ms) || ms <= 0)
    throw new RedisUnreachableError(`Invalid Redis command timeout ${JSON.stringify(endpoint.commandTimeoutMs ?? fromEnv)} (REDIS_COMMAND_TIMEOUT_MS): a positive number of milliseconds`);
  return ms;
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
    commandTimeout: commandTimeoutMs(endpoint),
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    lazyConnect: true,
    ...extra,
  };
}

/**
 * An ioredis client whose command errors carry the endpoint (tagRedisError), so an error a
 * step did not map itself still names the server when the handler maps it. A command that
 * timed out closes the connection: every later command on it would wait out its own timeout
 * behind the unanswered one (a step's cleanup in `finally` too, past the Lambda's timeout);
 * closed, they fail at once ("Connection is closed.", RedisConnectionError as well).
 */
class EndpointRedis extends Redis<NonNullable<RedisOptions['replyMapping']>> {
  constructor(
    options: RedisOptions,
    private readonly where: string,
  ) {
    super(options);
  }

  override sendCommand(...args: Parameters<Redis['sendCommand']>): ReturnType<Redis['sendCommand']> {
    const [command] = args;
    const reject = command.reject;
    command.reject = (error: Error) => {
      const timedOut = error.message === 'Command timed out';
      reject(tagRedisError(error, this.where, this.options.commandTimeout));
      // Once ready only: during the handshake ioredis ends the connection itself, with this error.
      if (timedOut && this.status === 'ready') this.disconnect();
    };
    return super.sendCommand(...args);
  }
}

/**
 * Open a connection and wait until it is ready; failures become named errors. ioredis bounds
 * the TCP (and TLS) connect by `connectTimeout`, but not what follows (HELLO, AUTH, SELECT,
 * CLIENT SETNAME, the INFO ready check): a server that accepts and then says nothing would
 * hold us for a command timeout per handshake command. The whole handshake gets one command
 * timeout: not `connectTimeout`, as a server held by CLIENT PAUSE (FAILOVER, an operator) for a
 * few seconds is slow, not gone (the fault matrix's "spin-redis blocks past the slice deadline").
 */
export async function connectRedis(endpoint: RedisEndpoint, extra: RedisOptions = {}): Promise<Redis> {
  const where = redactUrl(endpoint.url);
  const options = redisOptions(endpoint, {
    // Fail fast on the first connect; callers (and the state machine) own retries.
    retryStrategy: () => null,
    ...extra,
  });
  const client = new EndpointRedis(options, where);
  let lastError: unknown;
  client.on('error', (error) => {
    lastError = error;
  });
  const handshakeMs = options.commandTimeout ?? options.connectTimeout ?? 5000;
  let timer: NodeJS.Timeout | undefined;
  let startTimer: (() => void) | undefined;
  const handshake = new Promise<never>((_, reject) => {
    startTimer = () => {
      timer = setTimeout(
        () => reject(new RedisConnectionError(`${where}: accepted the connection but did not complete the Redis handshake within ${handshakeMs} ms (no answer, or not Redis)`)),
        handshakeMs,
      );
    };
    client.once('connect', startTimer);
  });
  try {
    await Promise.race([client.connect(), handshake]);
    return client;
  } catch (error) {
    client.disconnect();
    throw error instanceof RedisConnectionError ? error : mapRedisError(lastError ?? error, where);
  } finally {
    clearTimeout(timer);
    if (startTimer) client.off('connect', startTimer);
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
