import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { parseMigrationInput } from '../../../lib/config/schema.js';
import { changedKeys, diffFiles, patchHalyardFiles, redisTarget, secretReference } from '../../../lib/halyard/patch.js';
import { redactOutput } from '../../../lib/halyard/deploy.js';

const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:spinnaker/redis-auth-AbCdEf';
const withAuth = parseMigrationInput({ cluster: { name: 'prod', region: 'us-east-1' }, target: { replicationGroupId: 'spin-redis', authTokenSecretArn: secretArn, authTokenSecretKey: 'token' } });
const noTls = parseMigrationInput({ cluster: { name: 'prod', region: 'us-east-1' }, target: { replicationGroupId: 'spin-redis', transitEncryption: false } });
const endpoint = { address: 'master.spin-redis.abc.euw1.cache.amazonaws.com', port: 6379 };
const before = {
  'redis.yml': '# owned by the platform team\nsomething: kept\n',
  'gate-local.yml': 'server:\n  tomcat:\n    protocolHeader: X-Forwarded-Proto # proxy header\nredis:\n  timeout: 3000\n',
  'spinnaker-local.yml': undefined,
};

describe('patchHalyardFiles', () => {
  const after = patchHalyardFiles(withAuth, before, redisTarget(withAuth, endpoint));

  it('sets the external Redis settings and keeps everything else, comments included', () => {
    expect(parse(after['redis.yml']!)).toEqual({ something: 'kept', overrideBaseUrl: 'rediss://master.spin-redis.abc.euw1.cache.amazonaws.com:6379', skipLifeCycleManagement: true, enabled: false });
    expect(after['redis.yml']).toContain('# owned by the platform team');
    expect(parse(after['gate-local.yml']!)).toEqual({ server: { tomcat: { protocolHeader: 'X-Forwarded-Proto' } }, redis: { timeout: 3000, configuration: { secure: true } } });
    expect(after['gate-local.yml']).toContain('# proxy header');
  });

  it('references the AUTH token through kork-secrets, never the token itself', () => {
    expect(parse(after['spinnaker-local.yml']!)).toEqual({ redis: { password: `encrypted:secrets-manager!r:eu-west-1!s:${secretArn}!k:token` } });
    expect(secretReference(noTls)).toBeUndefined();
  });

  it('is idempotent', () => {
    const again = patchHalyardFiles(withAuth, after, redisTarget(withAuth, endpoint));
    expect(again).toEqual(after);
    expect(changedKeys(after, again)).toEqual([]);
  });

  it('uses redis:// without TLS and adds no password reference', () => {
    const plain = patchHalyardFiles(noTls, before, redisTarget(noTls, endpoint));
    expect(parse(plain['redis.yml']!).overrideBaseUrl).toBe('redis://master.spin-redis.abc.euw1.cache.amazonaws.com:6379');
    expect(plain['spinnaker-local.yml']).toBeUndefined();
  });

  it('produces a unified diff per changed key for the dry run', () => {
    const diff = diffFiles(before, after);
    expect(Object.keys(diff).sort()).toEqual(['gate-local.yml', 'redis.yml', 'spinnaker-local.yml']);
    expect(diff['redis.yml']).toContain('+overrideBaseUrl: rediss://master.spin-redis.abc.euw1.cache.amazonaws.com:6379');
    expect(diff['redis.yml']).toContain(' something: kept');
  });
});

describe('redactOutput', () => {
  it('masks credentials in URLs and password lines from hal output', () => {
    expect(redactOutput('connecting to rediss://:s3cr3t-token@host:6379 password: hunter2')).toBe('connecting to rediss://:****@host:6379 password: ****');
    expect(redactOutput('redis.password: encrypted:secrets-manager!r:x!s:y')).toContain('encrypted:secrets-manager');
  });
});
