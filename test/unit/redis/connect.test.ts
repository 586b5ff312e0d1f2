/**
 * lib/redis/connect.ts (URL redaction, URL -> ioredis options, connecting) and lib/redis/errors.ts
 * (ioredis errors -> our named errors); the raw connection (lib/redis/resp.ts) and the replica
 * session (lib/copy/replication/replica-session.ts) against servers that accept the connection
 * and then say nothing or junk (real sockets on free local ports: test/support/hostile-redis.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { ReplicaSession } from '../../../lib/copy/replication/replica-session.js';
import { connectRedis, redactUrl, redisOptions } from '../../../lib/redis/connect.js';
import { isRedisClientError, mapRedisError, tagRedisError } from '../../../lib/redis/errors.js';
import { RespConnection, RespError } from '../../../lib/redis/resp.js';
import { RedisAuthError, SecretUnavailableError } from '../../../lib/errors.js';
import { type HostileMode, type HostileRedis, startHostileRedis } from '../../support/hostile-redis.js';

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
  const savedTimeout = process.env.REDIS_COMMAND_TIMEOUT_MS;
  beforeAll(() => {
    delete process.env.REDIS_TLS_CA_FILE;
  });
  afterEach(() => {
    if (savedTimeout === undefined) delete process.env.REDIS_COMMAND_TIMEOUT_MS;
    else process.env.REDIS_COMMAND_TIMEOUT_MS = savedTimeout;
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
      commandTimeout: 30_000,
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
    expect(options).toStrictEqual({ host: 'spin-redis', port: 6379, db: 0, connectTimeout: 100, commandTimeout: 30_000, maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false });
  });

  it("the command timeout: the endpoint's, else REDIS_COMMAND_TIMEOUT_MS, else 30 s; anything but a positive integer is refused", () => {
    process.env.REDIS_COMMAND_TIMEOUT_MS = '45000';
    expect(redisOptions({ url: 'redis://h' }).commandTimeout).toBe(45_000);
    expect(redisOptions({ url: 'redis://h', commandTimeoutMs: 250 }).commandTimeout).toBe(250);
    process.env.REDIS_COMMAND_TIMEOUT_MS = '30s';
    expect(() => redisOptions({ url: 'redis://h' })).toThrow(expect.objectContaining({ name: 'RedisUnreachableError', message: expect.stringContaining('"30s" (REDIS_COMMAND_TIMEOUT_MS)') }));
    delete process.env.REDIS_COMMAND_TIMEOUT_MS;
    expect(() => redisOptions({ url: 'redis://h', commandTimeoutMs: 0 })).toThrow(expect.objectContaining({ name: 'RedisUnreachableError' }));
    expect(redisOptions({ url: 'redis://h' }).commandTimeout).toBe(30_000);
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
    expect(mapped.message).toBe(
      `rediss://target:6379: TLS handshake failed (${code}); check transitEncryption and the CA (the workflow: target.transitEncryption, and REDIS_TLS_CA_FILE for a private CA; the copy command: rediss:// only where the server speaks TLS, and --ca-file)`,
    );
  });

  it('a reset during the TLS handshake is a connection error, retried (the server closed it), not a TLS setting', () => {
    // Node's error for it carries ECONNRESET (lib/_tls_wrap.js onSocketClose); a copy of it without the code too.
    for (const error of [
      withCode('Client network socket disconnected before secure TLS connection was established', 'ECONNRESET'),
      new Error('Client network socket disconnected before secure TLS connection was established'),
    ]) {
      const mapped = mapRedisError(error, 'where');
      expect([mapped.name, mapped.retryable]).toEqual(['RedisConnectionError', true]);
      expect(mapped.message).toBe(
        'where: the connection was reset during the TLS handshake (Client network socket disconnected before secure TLS connection was established); retried. If it keeps happening, check transitEncryption and the CA',
      );
    }
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

  it.each([
    ['ioredis 6, a command past commandTimeout', 'Command timed out', 'no reply within the command timeout'],
    ['the same, tagged by connectRedis', 'Command timed out: no reply within 250 ms', 'no reply within 250 ms'],
    ['resp.ts, a reply overdue', 'connection lost: no reply within 30000 ms', 'no reply within 30000 ms'],
  ])('%s -> RedisConnectionError (transient), saying the server went silent', (_, message, said) => {
    const mapped = mapRedisError(new Error(message), 'rediss://target:6379');
    expect(mapped.name).toBe('RedisConnectionError');
    expect(mapped.retryable).toBe(true);
    expect(mapped.message).toBe(`rediss://target:6379: ${said}; the server accepted the connection, then went silent`);
  });

  it.each([
    ['ioredis 6 decoder', 'Unknown RESP type 72 "H". Please report this.', 'Unknown RESP type 72 "H"'],
    ['ioredis 5 (redis-parser)', 'Protocol error, got "H" as reply type byte', 'Protocol error, got "H" as reply type byte'],
    ['resp.ts', 'connection lost: not RESP: got "HTTP/1.1 400"', 'got "HTTP/1.1 400"'],
  ])('junk instead of RESP (%s) -> RedisConnectionError (transient), asking whether it is a Redis port', (_, message, detail) => {
    const mapped = mapRedisError(new Error(message), 'redis://spin-redis:6379');
    expect(mapped.name).toBe('RedisConnectionError');
    expect(mapped.message).toBe(`redis://spin-redis:6379: answered with bytes that are not the Redis protocol (${detail}); is this a Redis port, and is TLS (rediss://) right?`);
  });

  it('an error tagged with its endpoint is named by it when the caller gives no place; a given place wins', () => {
    const tagged = tagRedisError(new Error('Command timed out'), 'redis://spin-redis:6379', 1000);
    expect(tagged.message).toBe('Command timed out: no reply within 1000 ms');
    expect(isRedisClientError(tagged)).toBe(true);
    expect(mapRedisError(tagged).message).toBe('redis://spin-redis:6379: no reply within 1000 ms; the server accepted the connection, then went silent');
    expect(mapRedisError(tagged, 'target').message).toMatch(/^target: /);
    // ioredis's untagged plain Errors are recognised by their text; an Error of anyone else is not one.
    expect(['Command timed out', 'Unknown RESP type 72 "H". Please report this.', 'Connection is closed.'].map((m) => isRedisClientError(new Error(m)))).toEqual([true, true, true]);
    expect(isRedisClientError(new Error('boom'))).toBe(false);
  });

  it('passes our own errors through untouched', () => {
    const ours = new SecretUnavailableError('no secret');
    expect(mapRedisError(ours, 'where')).toBe(ours);
  });
});

/** How long `promise` took to settle, and how: the error's name and message, or 'resolved'. */
async function timed(promise: Promise<unknown>): Promise<{ ms: number; name: string; message: string }> {
  const started = performance.now();
  const outcome = await promise.then(
    () => ({ name: 'resolved', message: '' }),
    (error: Error) => ({ name: error.name, message: error.message }),
  );
  return { ms: Math.round(performance.now() - started), ...outcome };
}

describe('a server that accepts the connection, then says nothing or junk', () => {
  const servers: HostileRedis[] = [];
  const start = async (mode: HostileMode) => {
    const server = await startHostileRedis(mode);
    servers.push(server);
    return server;
  };
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it('silent from the start: connectRedis fails within one command timeout (the handshake), RedisConnectionError', async () => {
    const server = await start('silent');
    // The handshake's own bound and its first command's end it together, whichever fires first.
    const outcome = await timed(connectRedis({ url: server.url, commandTimeoutMs: 300 }, { connectTimeout: 100 }));
    expect(outcome.name).toBe('RedisConnectionError');
    expect(outcome.message).toMatch(
      new RegExp(
        `^${server.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: (no reply within 300 ms; the server accepted the connection, then went silent|accepted the connection but did not complete the Redis handshake within 300 ms \\(no answer, or not Redis\\))$`,
      ),
    );
    // Not connectTimeout (100 ms): that bounds the TCP connect only.
    expect(outcome.ms).toBeGreaterThanOrEqual(290);
    expect(outcome.ms).toBeLessThan(3000);
  });

  it('an HTTP answer: connectRedis fails at once, RedisConnectionError naming what came back', async () => {
    const server = await start('junk');
    const outcome = await timed(connectRedis({ url: server.url }));
    expect(outcome).toMatchObject({
      name: 'RedisConnectionError',
      message: `${server.url}: answered with bytes that are not the Redis protocol (Unknown RESP type 72 "H"); is this a Redis port, and is TLS (rediss://) right?`,
    });
    expect(outcome.ms).toBeLessThan(1000);
  });

  it('silent after the handshake: a command fails after the command timeout, an error that maps to RedisConnectionError naming the endpoint', async () => {
    const server = await start('mute-after-handshake');
    const client = await connectRedis({ url: server.url, commandTimeoutMs: 300 });
    try {
      const started = performance.now();
      const error = await client.get('k').then(
        () => undefined,
        (e: unknown) => e,
      );
      const ms = performance.now() - started;
      expect(isRedisClientError(error)).toBe(true);
      expect(mapRedisError(error)).toMatchObject({ name: 'RedisConnectionError', message: `${server.url}: no reply within 300 ms; the server accepted the connection, then went silent` });
      expect(ms).toBeGreaterThanOrEqual(290);
      expect(ms).toBeLessThan(3000);
      expect(server.received).toContain('get');
      // The connection is closed with it: a cleanup command fails at once instead of waiting out another timeout.
      const cleanupStarted = performance.now();
      const cleanup = await client.del('k').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(performance.now() - cleanupStarted).toBeLessThan(50);
      expect(mapRedisError(cleanup)).toMatchObject({ name: 'RedisConnectionError', message: `${server.url}: cannot connect (Connection is closed.)` });
    } finally {
      client.disconnect();
    }
  });

  describe('the raw connection (resp.ts)', () => {
    it('silent from the start: open fails after the command timeout, RedisConnectionError', async () => {
      const server = await start('silent');
      const outcome = await timed(RespConnection.open({ url: server.url, commandTimeoutMs: 400 }, 'test'));
      expect(outcome).toMatchObject({ name: 'RedisConnectionError', message: `${server.url}: no reply within 400 ms; the server accepted the connection, then went silent` });
      expect(outcome.ms).toBeGreaterThanOrEqual(390);
      expect(outcome.ms).toBeLessThan(3000);
    });

    it('an HTTP answer: open fails at once with RedisConnectionError (no uncaught exception from the socket listener)', async () => {
      const server = await start('junk');
      const outcome = await timed(RespConnection.open({ url: server.url }, 'test'));
      expect(outcome).toMatchObject({
        name: 'RedisConnectionError',
        message: `${server.url}: answered with bytes that are not the Redis protocol (got "HTTP/1.1 400 Bad Request\\r\\ncontent-length"); is this a Redis port, and is TLS (rediss://) right?`,
      });
      expect(outcome.ms).toBeLessThan(1000);
    });

    it('silent after the handshake: the waiting reply becomes a RespError after the command timeout, and the connection is lost', async () => {
      const server = await start('mute-after-handshake');
      const connection = await RespConnection.open({ url: server.url, commandTimeoutMs: 300 }, 'test');
      try {
        const started = performance.now();
        const reply = await connection.call(['GET', 'k']);
        const ms = performance.now() - started;
        expect(reply).toEqual(new RespError('connection lost: no reply within 300 ms'));
        expect(connection.lost?.message).toBe('no reply within 300 ms');
        expect(ms).toBeGreaterThanOrEqual(290);
        expect(ms).toBeLessThan(3000);
      } finally {
        connection.close();
      }
    });
  });

  it('a command still being written (a big RESTORE streamed from a file) is not silence; once written, the bound runs', async () => {
    const server = await start('mute-after-handshake');
    const connection = await RespConnection.open({ url: server.url, commandTimeoutMs: 300 }, 'test');
    try {
      let settled = false;
      const reply = connection.call(['RESTORE', 'big', '0']).then((r) => {
        settled = true;
        return r;
      });
      // 1.2 s of writing, four times the bound: the connection stays up.
      for (let i = 0; i < 12; i++) {
        connection.socket.write(Buffer.alloc(16 * 1024));
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(settled).toBe(false);
      expect(connection.lost).toBeUndefined();
      const started = performance.now();
      expect(await reply).toEqual(new RespError('connection lost: no reply within 300 ms'));
      expect(performance.now() - started).toBeLessThan(3000);
    } finally {
      connection.close();
    }
  });

  describe('the replica session', () => {
    it('a master silent after +FULLRESYNC drops the link after the stream idle timeout; our own REPLCONF ACKs do not keep it alive', async () => {
      const server = await start('mute-after-fullresync');
      const session = await ReplicaSession.open({ url: server.url }, { diskless: true, streamIdleTimeoutMs: 1500 });
      try {
        const lost = new Promise<Error>((resolve) => {
          session.connection.onError = resolve;
        });
        const reply = await session.psync('?', '-1', { timeoutMs: 1000, accepted: (r) => Buffer.isBuffer(r), onBytes: () => undefined });
        expect(String(reply)).toMatch(/^FULLRESYNC /);
        session.startAcks(() => 0);
        const started = performance.now();
        const error = await lost;
        const ms = performance.now() - started;
        expect(error.message).toBe('no reply within 1500 ms');
        expect(session.lost).toBe(error);
        expect(ms).toBeGreaterThanOrEqual(1400);
        expect(ms).toBeLessThan(3000);
        expect(server.received.filter((c) => c === 'replconf').length).toBeGreaterThan(1); // the ACKs went out meanwhile
      } finally {
        session.close();
      }
    }, 10_000);

    it('time with the socket paused (our backpressure on the source) does not count as silence', async () => {
      const server = await start('mute-after-fullresync');
      const session = await ReplicaSession.open({ url: server.url }, { diskless: true, streamIdleTimeoutMs: 300 });
      try {
        await session.psync('?', '-1', { timeoutMs: 1000, accepted: (r) => Buffer.isBuffer(r), onBytes: () => undefined });
        session.connection.socket.pause();
        await new Promise((r) => setTimeout(r, 900));
        expect(session.lost).toBeUndefined();
        session.connection.socket.resume();
        await new Promise((r) => setTimeout(r, 900));
        expect(session.lost?.message).toBe('no reply within 300 ms');
      } finally {
        session.close();
      }
    }, 10_000);
  });
});
