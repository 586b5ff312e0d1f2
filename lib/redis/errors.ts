/** ioredis and RESP errors -> our named errors, at the lib/ boundary (beside lib/aws/errors.ts and lib/kubernetes/errors.ts). */
import { MigrationError, RedisAuthError, RedisCommandUnsupportedError, RedisConnectionError, RedisFailoverError, RedisTlsError, RedisUnreachableError, RedisWriteRefusedError } from '../errors.js';

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|EPROTO$|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_OSSL)/;

/** What was sent, and to which server, when known: an unsupported command's message names both. */
export interface RedisErrorContext {
  command?: string;
  serverVersion?: string;
}

const UNSUPPORTED = /unknown command|ERR syntax error|wrong number of arguments|unknown subcommand/i;

const ENDPOINT = Symbol('redis endpoint');
const endpointOf = (error: unknown): string | undefined => (error instanceof Error ? (error as Error & { [ENDPOINT]?: string })[ENDPOINT] : undefined);

/**
 * ioredis's errors that are plain `Error`s, known by their text: a command's timeout
 * (Command.js), bytes its RESP decoder cannot read (DataHandler.js appends "Please report
 * this."), a closed connection. Beside them, its named classes (redis-errors' ReplyError,
 * ParserError, AbortError, InterruptError; MaxRetriesPerRequestError, ClusterAllFailedError).
 */
const CLIENT_ERROR_NAMES = new Set(['ReplyError', 'ParserError', 'AbortError', 'InterruptError', 'MaxRetriesPerRequestError', 'ClusterAllFailedError']);
const CLIENT_ERROR_TEXT = /^Command timed out|Please report this\.$|^Connection is closed\.$|^Stream isn't writeable/;
/** Whether `error` came from the Redis client (ioredis), so mapRedisError is the mapping for it. */
export function isRedisClientError(error: unknown): boolean {
  return error instanceof Error && (CLIENT_ERROR_NAMES.has(error.name) || CLIENT_ERROR_TEXT.test(error.message) || endpointOf(error) !== undefined);
}

/** Nothing came back in time: ioredis's commandTimeout, or the raw connection's (resp.ts) idle bound. */
const SILENT = /^Command timed out|no reply within/;
const SILENT_MS = /within (\d+) ms/;
/** Bytes that are not RESP: ioredis's decoder (6.x) or redis-parser (5.x), or resp.ts. */
const NOT_RESP = /Unknown RESP type|^Protocol error|not RESP/;

/**
 * Marks a client's error with its endpoint (redacted), for mapRedisError when its caller gives
 * no place, and says how long a timed-out command waited (ioredis says only "Command timed out").
 */
export function tagRedisError(error: Error, where: string, commandTimeoutMs?: number): Error {
  if (error.message === 'Command timed out' && commandTimeoutMs !== undefined) error.message = `Command timed out: no reply within ${commandTimeoutMs} ms`;
  (error as Error & { [ENDPOINT]?: string })[ENDPOINT] ??= where;
  return error;
}

export function mapRedisError(error: unknown, place?: string, context: RedisErrorContext = {}): MigrationError {
  if (error instanceof MigrationError) return error;
  const where = place ?? endpointOf(error) ?? 'Redis';
  const err = error as { code?: string; message?: string } | undefined;
  const code = err?.code ?? '';
  const message = err?.message ?? String(error);
  // Transient: the server (or whatever answers on that port) may be back to itself on the retry.
  if (SILENT.test(message)) {
    const ms = SILENT_MS.exec(message)?.[1];
    return new RedisConnectionError(`${where}: no reply within ${ms ? `${ms} ms` : 'the command timeout'}; the server accepted the connection, then went silent`);
  }
  if (NOT_RESP.test(message)) {
    const detail = message
      .split('\n')[0]!
      .replace(/^(connection lost: )?(not RESP: )?/, '')
      .replace(/\. Please report this\.$/, '');
    return new RedisConnectionError(`${where}: answered with bytes that are not the Redis protocol (${detail}); is this a Redis port, and is TLS (rediss://) right?`);
  }
  if (/WRONGPASS|NOAUTH|invalid password|AUTH <password> called without any password/i.test(message)) {
    return new RedisAuthError(
      `${where}: authentication failed (${message.split('\n')[0]}); check its password (the workflow: the AUTH token secret, or spinnaker.spinRedis's password Secret; the copy command: --source-/--target-password-env or -file)`,
    );
  }
  // A cluster refuses a multi-key command across slots (lib/copy/cluster-target.ts): not transient,
  // and not TLS (CROSSSLOT contains "SSL").
  if (/^CROSSSLOT/.test(message)) return new RedisCommandUnsupportedError(`${where}: ${message.split('\n')[0]}`);
  // The connection reset during the TLS handshake (Node: ECONNRESET, "Client network socket
  // disconnected before secure TLS connection was established"): the server closed it, busy,
  // failing over or restarting. Transient, as any reset; a TLS setting that is wrong fails the
  // handshake itself (a certificate, or "wrong version number" from a server without TLS).
  if (/socket disconnected before secure TLS connection/i.test(message)) {
    return new RedisConnectionError(`${where}: the connection was reset during the TLS handshake (${message.split('\n')[0]}); retried. If it keeps happening, check transitEncryption and the CA`);
  }
  if (TLS_CODES.test(code) || /ssl|tls|certificate|wrong version number/i.test(message)) {
    return new RedisTlsError(
      `${where}: TLS handshake failed (${code || message}); check transitEncryption and the CA (the workflow: target.transitEncryption, and REDIS_TLS_CA_FILE for a private CA; the copy command: rediss:// only where the server speaks TLS, and --ca-file)`,
    );
  }
  const firstLine = message.split('\n')[0];
  // A failover promotes a replica within about a second: the same write then succeeds.
  if (/^READONLY/.test(message)) return new RedisFailoverError(`${where}: ${firstLine} (a failover in progress?)`);
  if (/^(OOM|MISCONF)/.test(message) || /NOPERM/i.test(message)) return new RedisWriteRefusedError(`${where}: ${firstLine}`);
  if (UNSUPPORTED.test(message)) {
    const command = context.command ? ` to ${context.command}` : '';
    const version = context.serverVersion ? ` (Redis ${context.serverVersion})` : '';
    return new RedisCommandUnsupportedError(`${where}${version} answered "${firstLine}"${command}: the server does not support this command or argument`);
  }
  if (/^(ECONNREFUSED|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|EPIPE)$/.test(code) || /Connection is closed|connect ETIMEDOUT|Stream isn't writeable|max retries/i.test(message)) {
    return new RedisConnectionError(`${where}: cannot connect (${code || message.split('\n')[0]})`);
  }
  if (code === 'ENOTFOUND') return new RedisUnreachableError(`${where}: host not found`);
  return new RedisConnectionError(`${where}: ${message.split('\n')[0]}`);
}
