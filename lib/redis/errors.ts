/** ioredis and RESP errors -> our named errors, at the lib/ boundary (beside lib/aws/errors.ts and lib/kubernetes/errors.ts). */
import {
  MigrationError,
  RedisAuthError,
  RedisConnectionError,
  RedisTlsError,
  RedisUnreachableError,
  RedisWriteRefusedError,
} from '../errors.js';

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|EPROTO$|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_OSSL)/;

export function mapRedisError(error: unknown, where = 'Redis'): MigrationError {
  if (error instanceof MigrationError) return error;
  const err = error as { code?: string; message?: string } | undefined;
  const code = err?.code ?? '';
  const message = err?.message ?? String(error);
  if (/WRONGPASS|NOAUTH|invalid password|AUTH <password> called without any password/i.test(message)) {
    return new RedisAuthError(`${where}: authentication failed (${message.split('\n')[0]}); check the AUTH token secret`);
  }
  if (TLS_CODES.test(code) || /ssl|tls|certificate|wrong version number/i.test(message)) {
    return new RedisTlsError(`${where}: TLS handshake failed (${code || message}); check transitEncryption and the CA`);
  }
  if (/^(OOM|READONLY|MISCONF)/.test(message) || /unknown command|NOPERM/i.test(message)) {
    return new RedisWriteRefusedError(`${where}: ${message.split('\n')[0]}`);
  }
  if (/^(ECONNREFUSED|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|EPIPE)$/.test(code) || /Connection is closed|connect ETIMEDOUT|Stream isn't writeable|max retries/i.test(message)) {
    return new RedisConnectionError(`${where}: cannot connect (${code || message.split('\n')[0]})`);
  }
  if (code === 'ENOTFOUND') return new RedisUnreachableError(`${where}: host not found`);
  return new RedisConnectionError(`${where}: ${message.split('\n')[0]}`);
}
