/** ioredis and RESP errors -> our named errors, at the lib/ boundary (beside lib/aws/errors.ts and lib/kubernetes/errors.ts). */
import { MigrationError, RedisAuthError, RedisCommandUnsupportedError, RedisConnectionError, RedisFailoverError, RedisTlsError, RedisUnreachableError, RedisWriteRefusedError } from '../errors.js';

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|EPROTO$|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_OSSL)/;

/** What was sent, and to which server, when known: an unsupported command's message names both. */
export interface RedisErrorContext {
  command?: string;
  serverVersion?: string;
}

const UNSUPPORTED = /unknown command|ERR syntax error|wrong number of arguments|unknown subcommand/i;

export function mapRedisError(error: unknown, where = 'Redis', context: RedisErrorContext = {}): MigrationError {
  if (error instanceof MigrationError) return error;
  const err = error as { code?: string; message?: string } | undefined;
  const code = err?.code ?? '';
  const message = err?.message ?? String(error);
  if (/WRONGPASS|NOAUTH|invalid password|AUTH <password> called without any password/i.test(message)) {
    return new RedisAuthError(
      `${where}: authentication failed (${message.split('\n')[0]}); check its password (the workflow: the AUTH token secret, or spinnaker.spinRedis's password Secret; the copy command: --source-/--target-password-env or -file)`,
    );
  }
  // A cluster refuses a multi-key command across slots (lib/copy/cluster-target.ts): not transient,
  // and not TLS (CROSSSLOT contains "SSL").
  if (/^CROSSSLOT/.test(message)) return new RedisCommandUnsupportedError(`${where}: ${message.split('\n')[0]}`);
  if (TLS_CODES.test(code) || /ssl|tls|certificate|wrong version number/i.test(message)) {
    return new RedisTlsError(`${where}: TLS handshake failed (${code || message}); check transitEncryption and the CA`);
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
