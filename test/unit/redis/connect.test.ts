/** The pure half of lib/redis/connect.ts (URL redaction, URL -> ioredis options) and lib/redis/errors.ts (ioredis errors -> our named errors). */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { redactUrl, redisOptions } from '../../../lib/redis/connect.js';
import { mapRedisError } from '../../../lib/redis/errors.js';
import { RedisAuthError, SecretUnavailableError } from '../../../lib/errors.js';

/** What ioredis and Node hand over: an Error with a `code` (sockets, TLS) or a server reply's text. */
const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('redactUrl', () => {
  it.each([
    ['redis://user:pa%40ss@host.example:6379/2', 'redis://host.example:6379/2'],
    ['rediss://:secret@master.spin.cache.amazonaws.com:6380', 'rediss://master.spin.cache.amazonaws.com:6380'],
    ['redis://10.0.0.5:6379/', 'redis://10.0.0.5:6379'],
    ['redis://host', 'redis://host'],
    ['not a url', '<unparseable url>'],
  ])('%s -> %s', (url, redacted) => {
    expect(redactUrl(url)).toBe(redacted);
  });
});

describe('redisOptions', () => {
  const savedCa = process.env.REDIS_TLS_CA_FILE;
  beforeAll(() => {
    delete process.env.REDIS_TLS_CA_FILE;
  });
  afterAll(() => {
    if (savedCa !== undefined) process.env.REDIS_TLS_CA_FILE = savedCa;
  });

  it('rediss:// with a host name: TLS with SNI, credentials decoded, db from the path', () => {
    expect(redisOptions({ url: 'rediss://u%20x:pa%40ss@master.spin.cache.amazonaws.com:6380/3' })).toStrictEqual({
      host: 'master.spin.cache.amazonaws.com',
      port: 6380,
      db: 3,
      password: 'pa@ss',
      username: 'u x',
      tls: { servername: 'master.spin.cache.amazonaws.com' },
      connectTimeout: 5000,
      maxRetriesPerRequest: 2,
      enableOfflineQueue: true,
      lazyConnect: true,
    });
  });

  it('an IP address gets no SNI name; the given password wins over the URL; port 6379 and db 0 by default', () => {
    expect(redisOptions({ url: 'rediss://:from-url@10.0.0.5', password: 'from-secret' })).toMatchObject({ host: '10.0.0.5', port: 6379, db: 0, password: 'from-secret', tls: {} });
  });

  it('redis:// has no TLS and no credentials unless given; extra options win', () => {
    const options = redisOptions({ url: 'redis://spin-redis:6379' }, { connectTimeout: 100, lazyConnect: false });
    expect(options).toStrictEqual({ host: 'spin-redis', port: 6379, db: 0, connectTimeout: 100, maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false });
  });

  it('refuses a URL that is not redis:// or rediss://', () => {
    expect(() => redisOptions({ url: 'http://user:pw@host:8080' })).toThrow(expect.objectContaining({ name: 'RedisUnreachableError', message: 'Not a Redis URL: http://host:8080' }));
  });
});

describe('mapRedisError', () => {
  it.each([
    ['WRONGPASS', new Error('WRONGPASS invalid username-password pair or user is disabled.')],
    ['NOAUTH', new Error('NOAUTH Authentication required.')],
    ['ERR invalid password (Redis 5)', new Error('ERR invalid password')],
    ['AUTH without a password configured', new Error('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?')],
  ])('%s -> RedisAuthError (fatal)', (_, error) => {
    const mapped = mapRedisError(error, 'rediss://target:6379');
    expect(mapped).toBeInstanceOf(RedisAuthError);
    expect(mapped.retryable).toBe(false);
    expect(mapped.message).toBe(
      `rediss://target:6379: authentication failed (${error.message}); check its password (the workflow: the AUTH token secret, or spinnaker.spinRedis's password Secret; the copy command: --source-/--target-password-env or -file)`,
    );
  });

  it.each([
    ['ERR_TLS_CERT_ALTNAME_INVALID', withCode("Hostname/IP does not match certificate's altnames", 'ERR_TLS_CERT_ALTNAME_INVALID')],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', withCode('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT')],
    ['SELF_SIGNED_CERT_IN_CHAIN', withCode('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN')],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', withCode('unable to verify the first certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE')],
    ['CERT_HAS_EXPIRED', withCode('certificate has expired', 'CERT_HAS_EXPIRED')],
    ['EPROTO', withCode('write EPROTO 00F8:error:0A00010B:SSL routines:ssl3_get_record:wrong version number', 'EPROTO')],
    ['ERR_SSL_WRONG_VERSION_NUMBER', withCode('wrong version number', 'ERR_SSL_WRONG_VERSION_NUMBER')],
    ['ERR_OSSL_EVP_BAD_DECRYPT', withCode('bad decrypt', 'ERR_OSSL_EVP_BAD_DECRYPT')],
  ])('%s -> RedisTlsError (fatal), naming the code', (code, error) => {
    const mapped = mapRedisError(error, 'rediss://target:6379');
    expect(mapped.name).toBe('RedisTlsError');
    expect(mapped.retryable).toBe(false);
    expect(mapped.message).toBe(`rediss://target:6379: TLS handshake failed (${code}); check transitEncryption and the CA`);
  });

  it('a TLS failure with no code is recognised by its message', () => {
    const mapped = mapRedisError(new Error('Client network socket disconnected before secure TLS connection was established'), 'where');
    expect(mapped.name).toBe('RedisTlsError');
    expect(mapped.message).toBe('where: TLS handshake failed (Client network socket disconnected before secure TLS connection was established); check transitEncryption and the CA');
  });

  it.each([
    ['OOM', "OOM command not allowed when used memory > 'maxmemory'."],
    ['MISCONF', 'MISCONF Redis is configured to save RDB snapshots, but it is currently not able to persist on disk.'],
    ['NOPERM', "NOPERM User default has no permissions to run the 'restore' command"],
  ])('%s -> RedisWriteRefusedError (fatal), first line only', (_, message) => {
    const mapped = mapRedisError(new Error(`${message}\nsecond line`), 'target');
    expect(mapped.name).toBe('RedisWriteRefusedError');
    expect(mapped.retryable).toBe(false);
    expect(mapped.message).toBe(`target: ${message}`);
  });

  it('READONLY (an ElastiCache Multi-AZ failover promoting a replica) -> RedisFailoverError (transient)', () => {
    const mapped = mapRedisError(new Error("READONLY You can't write against a read only replica."), 'target');
    expect(mapped.name).toBe('RedisFailoverError');
    expect(mapped.retryable).toBe(true);
    expect(mapped.message).toBe("target: READONLY You can't write against a read only replica. (a failover in progress?)");
  });

  it.each([
    [
      'ABSTTL on Redis 4.0',
      'ERR syntax error',
      { command: 'RESTORE … ABSTTL', serverVersion: '4.0.14' },
      'target (Redis 4.0.14) answered "ERR syntax error" to RESTORE … ABSTTL: the server does not support this command or argument',
    ],
    [
      'multi-field HSET on 3.2',
      "ERR wrong number of arguments for 'hset' command",
      { command: 'HSET', serverVersion: '3.2.13' },
      'target (Redis 3.2.13) answered "ERR wrong number of arguments for \'hset\' command" to HSET: the server does not support this command or argument',
    ],
    [
      'a renamed command',
      "ERR unknown command 'CONFIG', with args beginning with: 'SET' ",
      {},
      "target answered \"ERR unknown command 'CONFIG', with args beginning with: 'SET' \": the server does not support this command or argument",
    ],
  ])('%s -> RedisCommandUnsupportedError (fatal), naming the command and the version', (_, message, context, expected) => {
    const mapped = mapRedisError(new Error(message), 'target', context);
    expect(mapped.name).toBe('RedisCommandUnsupportedError');
    expect(mapped.retryable).toBe(false);
    expect(mapped.message).toBe(expected);
  });

  it.each(['ECONNREFUSED', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EPIPE'])('%s -> RedisConnectionError (transient)', (code) => {
    const mapped = mapRedisError(withCode(`connect ${code} 10.0.0.5:6379`, code), 'redis://spin-redis:6379');
    expect(mapped.name).toBe('RedisConnectionError');
    expect(mapped.retryable).toBe(true);
    expect(mapped.message).toBe(`redis://spin-redis:6379: cannot connect (${code})`);
  });

  it.each(['Connection is closed.', 'connect ETIMEDOUT', "Stream isn't writeable and enableOfflineQueue options is false", 'Reached the max retries per request limit (which is 2).'])(
    'ioredis "%s" -> RedisConnectionError (transient)',
    (message) => {
      const mapped = mapRedisError(new Error(message), 'where');
      expect(mapped.name).toBe('RedisConnectionError');
      expect(mapped.message).toBe(`where: cannot connect (${message})`);
    },
  );

  it('ENOTFOUND -> RedisUnreachableError (fatal: the host name does not resolve)', () => {
    const mapped = mapRedisError(withCode('getaddrinfo ENOTFOUND nosuch.cache.amazonaws.com', 'ENOTFOUND'), 'rediss://nosuch:6379');
    expect(mapped.name).toBe('RedisUnreachableError');
    expect(mapped.retryable).toBe(false);
    expect(mapped.message).toBe('rediss://nosuch:6379: host not found');
  });

  it('anything else -> RedisConnectionError with its first line; "Redis" when no place is given', () => {
    expect(mapRedisError(new Error('LOADING Redis is loading the dataset in memory\nmore'))).toMatchObject({
      name: 'RedisConnectionError',
      message: 'Redis: LOADING Redis is loading the dataset in memory',
    });
    expect(mapRedisError('a string')).toMatchObject({ name: 'RedisConnectionError', message: 'Redis: a string' });
  });

  it('passes our own errors through untouched', () => {
    const ours = new SecretUnavailableError('no secret');
    expect(mapRedisError(ours, 'where')).toBe(ours);
  });
});
