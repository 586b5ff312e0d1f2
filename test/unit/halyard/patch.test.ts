import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { parseMigrationInput } from '../../../lib/config/schema.js';
import { changedKeys, diffFiles, patchHalyardFiles, REDIS_CLIENT_SERVICES, redisTarget, redisUrl, redisUrlReference } from '../../../lib/halyard/patch.js';
import { redactOutput } from '../../../lib/halyard/deploy.js';

const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:spinnaker/redis-auth-AbCdEf';
const auth = { cluster: { name: 'prod', region: 'eu-west-1' }, target: { replicationGroupId: 'spin-redis', authTokenSecretArn: secretArn, authTokenSecretKey: 'token' } };
const withAuth = parseMigrationInput(auth);
const plaintext = parseMigrationInput({ ...auth, options: { plaintextTokenInSpinnakerConfig: true } });
const noTls = parseMigrationInput({ cluster: { name: 'prod', region: 'us-east-1' }, target: { replicationGroupId: 'spin-redis', transitEncryption: false } });
const endpoint = { address: 'master.spin-redis.abc.euw1.cache.amazonaws.com', port: 6379 };
const REFERENCE = 'encrypted:secrets-manager!r:eu-west-1!s:spin-elasticache/spin-redis/redis-url';
const before = {
  'redis.yml': '# owned by the platform team\nsomething: kept\n',
  'gate-local.yml': 'server:\n  tomcat:\n    protocolHeader: X-Forwarded-Proto # proxy header\nredis:\n  timeout: 3000\n',
  'orca-local.yml': '# orca\nqueue:\n  zombieCheck:\n    enabled: true\n',
  'spinnaker-local.yml': undefined,
};

describe('patchHalyardFiles', () => {
  const after = patchHalyardFiles(withAuth, before, redisTarget(withAuth, endpoint));

  it('sets overrideBaseUrl without credentials and skipLifeCycleManagement, never enabled: false (echo Pub/Sub), and keeps everything else', () => {
    expect(parse(after['redis.yml']!)).toEqual({ something: 'kept', overrideBaseUrl: 'rediss://master.spin-redis.abc.euw1.cache.amazonaws.com:6379', skipLifeCycleManagement: true });
    expect(after['redis.yml']).toContain('# owned by the platform team');
    expect(parse(after['gate-local.yml']!)).toEqual({ server: { tomcat: { protocolHeader: 'X-Forwarded-Proto' } }, redis: { timeout: 3000, connection: REFERENCE, configuration: { secure: true } } });
    expect(after['gate-local.yml']).toContain('# proxy header');
  });

  it('gives every connecting service redis.connection as a kork-secrets reference to the URL secret; nothing reads redis.password', () => {
    for (const service of REDIS_CLIENT_SERVICES) expect({ service, profile: parse(after[`${service}-local.yml`]!).redis.connection }).toEqual({ service, profile: REFERENCE });
    expect(parse(after['orca-local.yml']!)).toEqual({ queue: { zombieCheck: { enabled: true } }, redis: { connection: REFERENCE } });
    expect(after['spinnaker-local.yml']).toBeUndefined();
    expect(JSON.stringify(after)).not.toContain('password');
    expect(redisUrlReference(noTls)).toBeUndefined();
  });

  it('is idempotent', () => {
    const again = patchHalyardFiles(withAuth, after, redisTarget(withAuth, endpoint));
    expect(again).toEqual(after);
    expect(changedKeys(after, again)).toEqual([]);
  });

  it('uses redis:// without TLS, and the plain URL as redis.connection without AUTH', () => {
    const plain = patchHalyardFiles(noTls, before, redisTarget(noTls, endpoint));
    expect(parse(plain['redis.yml']!).overrideBaseUrl).toBe('redis://master.spin-redis.abc.euw1.cache.amazonaws.com:6379');
    expect(parse(plain['fiat-local.yml']!)).toEqual({ redis: { connection: 'redis://master.spin-redis.abc.euw1.cache.amazonaws.com:6379' } });
  });

  it('writes the token in the URL user-info only with the plaintext consent, percent-encoded as java.net.URI needs', () => {
    const token = 'Ab#c^d<e>f!g&h$i-0123456789';
    expect(redisUrl(plaintext, endpoint, token)).toBe('rediss://:Ab%23c%5Ed%3Ce%3Ef%21g%26h%24i-0123456789@master.spin-redis.abc.euw1.cache.amazonaws.com:6379');
    expect(decodeURIComponent(new URL(redisUrl(plaintext, endpoint, token)).password)).toBe(token);
    const target = redisTarget(plaintext, endpoint, token);
    expect(target).toMatchObject({ plaintext: true, connection: redisUrl(plaintext, endpoint, token), baseUrl: 'rediss://master.spin-redis.abc.euw1.cache.amazonaws.com:6379' });
    expect(redisTarget(withAuth, endpoint, token).connection).toBe(REFERENCE);
    // The dry run has no token: a placeholder, not a secret.
    expect(redisTarget(plaintext, endpoint).connection).toBe('rediss://:AUTH-TOKEN@master.spin-redis.abc.euw1.cache.amazonaws.com:6379');
  });

  it('produces a unified diff per changed key for the dry run', () => {
    const diff = diffFiles(before, after);
    expect(Object.keys(diff).sort()).toEqual([
      'clouddriver-local.yml',
      'echo-local.yml',
      'fiat-local.yml',
      'gate-local.yml',
      'igor-local.yml',
      'kayenta-local.yml',
      'orca-local.yml',
      'redis.yml',
      'rosco-local.yml',
    ]);
    expect(diff['redis.yml']).toContain('+overrideBaseUrl: rediss://master.spin-redis.abc.euw1.cache.amazonaws.com:6379');
    expect(diff['redis.yml']).toContain(' something: kept');
    expect(diff['redis.yml']).not.toContain('enabled');
  });
});

describe('redactOutput', () => {
  it('masks credentials in URLs and password lines from hal output', () => {
    expect(redactOutput('connecting to rediss://:s3cr3t-token@host:6379 password: hunter2')).toBe('connecting to rediss://:****@host:6379 password: ****');
    expect(redactOutput('redis.password: encrypted:secrets-manager!r:x!s:y')).toContain('encrypted:secrets-manager');
  });
});
