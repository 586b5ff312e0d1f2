import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parameterGroupFamily, parseMigrationInput } from '../../../lib/config/schema.js';
import { InputValidationError } from '../../../lib/errors.js';

const minimal = { cluster: { name: 'spinnaker-prod', region: 'us-east-1' }, target: { replicationGroupId: 'Spinnaker-Redis' } };

function problems(input: unknown): Record<string, string> {
  try {
    parseMigrationInput(input);
  } catch (error) {
    expect(error).toBeInstanceOf(InputValidationError);
    return Object.fromEntries((error as InputValidationError).issues.map((i) => [i.path, i.message]));
  }
  throw new Error('expected the input to be rejected');
}

describe('parseMigrationInput', () => {
  it('fills in defaults that describe a highly available, encrypted group', () => {
    const config = parseMigrationInput(minimal);
    expect(config.target).toMatchObject({
      replicationGroupId: 'spinnaker-redis',
      numCacheClusters: 2,
      multiAz: true,
      automaticFailover: true,
      transitEncryption: true,
      atRestEncryption: true,
      parameterGroupName: 'spinnaker-redis-params',
      subnetGroupName: 'spinnaker-redis-subnets',
      parameterGroupFamily: 'valkey8',
    });
    expect(config.spinnaker.halyard.files.redisServiceSettings).toEqual({ key: 'redis.yml', path: 'service-settings/redis.yml' });
    expect(config.options.dryRun).toBe(false);
  });

  it('takes its own output back as input: the derived parameterGroupFamily when it is the same, a named problem when not', () => {
    const config = parseMigrationInput(minimal);
    expect(parseMigrationInput(JSON.parse(JSON.stringify(config)))).toEqual(config);
    const redis = parseMigrationInput({ ...minimal, target: { ...minimal.target, engine: 'redis', engineVersion: '7.1' } });
    expect(problems({ ...redis, target: { ...redis.target, parameterGroupFamily: 'redis6.x' } })).toEqual({
      'target.parameterGroupFamily': 'derived from engine and engineVersion ("redis7" here): leave it out',
    });
  });

  it('accepts every sample input in events/ except the invalid one', () => {
    for (const name of ['migrate.json', 'migrate-minimal.json', 'migrate-dry-run.json']) {
      expect(() => parseMigrationInput(JSON.parse(readFileSync(`events/${name}`, 'utf8')))).not.toThrow();
    }
  });

  it('names the bound a number broke, not only zod\'s "Too small"', () => {
    expect(problems({ ...minimal, options: { maxWaitMinutes: 1, copySliceSeconds: 9999 } })).toEqual({
      'options.maxWaitMinutes': expect.stringMatching(/^too small: at least 5 \(the README's input reference/),
      'options.copySliceSeconds': expect.stringMatching(/^too big: at most 780 /),
    });
  });

  it("names the target's cross-field problems in the same pass as another part's", () => {
    const found = problems({ cluster: { name: 'a', region: 'nowhere' }, target: { replicationGroupId: 'x', multiAz: true, automaticFailover: false } });
    expect(Object.keys(found).sort()).toEqual(['cluster.region', 'target.multiAz']);
  });

  it("names the target's cross-field problems beside a target field's own, leaving out the rules that read the refused field", () => {
    // With another part refused too (the whole input fails, so zod skips the target's rules), a
    // malformed ARN used to hide the engine version rule: the user fixed the input in rounds. The
    // ARN's own rule (AUTH needs TLS) stays out: it reads the refused field.
    const found = problems({
      ...minimal,
      options: { copyMethod: 'fast' },
      target: { replicationGroupId: 'x', engine: 'valkey', engineVersion: '7.0', transitEncryption: false, authTokenSecretArn: 'not-an-arn', multiAz: true, automaticFailover: false },
    });
    expect(Object.keys(found).sort()).toEqual(['options.copyMethod', 'target.authTokenSecretArn', 'target.engineVersion', 'target.multiAz']);
    expect(found['target.authTokenSecretArn']).toMatch(/Secrets Manager secret ARN/);
    expect(found['target.engineVersion']).toMatch(/valkey engineVersion must be one of .*got '7.0'/);
    // A refused engine: the version rule would judge against the default engine, so it stays out.
    expect(Object.keys(problems({ ...minimal, target: { replicationGroupId: 'x', engine: 'memcached', engineVersion: '1.6' } }))).toEqual(['target.engine']);
    expect(Object.keys(problems({ ...minimal, options: { copyMethod: 'fast' }, target: { replicationGroupId: 'x', engine: 'memcached', engineVersion: '1.6' } })).sort()).toEqual([
      'options.copyMethod',
      'target.engine',
    ]);
    // An unknown field is named, and the rules still speak for the rest.
    expect(Object.keys(problems({ ...minimal, options: { copyMethod: 'fast' }, target: { replicationGroupId: 'x', colour: 'red', numCacheClusters: 1 } })).sort()).toEqual([
      'options.copyMethod',
      'target',
      'target.numCacheClusters',
    ]);
  });

  it('names the value an enum refused, and tells a wrong type from a missing field', () => {
    const found = problems({ ...minimal, options: { copyMethod: 'fast', copySliceSeconds: '60' }, target: { replicationGroupId: 'x', engine: 'memcached' } });
    expect(found['options.copyMethod']).toBe('"fast" is not one of "auto", "replication", "scan", "s3-seed"');
    expect(found['target.engine']).toMatch(/^"memcached" is not one of "redis", "valkey"$/);
    expect(found['options.copySliceSeconds']).toBe('expected number, received string');
    expect(problems({ ...minimal, cluster: { region: 'us-east-1' } })['cluster.name']).toBe('required: expected string, received undefined');
  });

  it('says where a refused value points: the other engine, no engine at all, the fields a fix also needs, the value of a malformed region', () => {
    const fiveOh = problems({ ...minimal, cluster: { name: 'spin', region: 'US-EAST-1' }, target: { replicationGroupId: 'x', engineVersion: '5.0', numCacheClusters: 1 } });
    expect(fiveOh['cluster.region']).toBe('an AWS region in lowercase, such as us-east-1 (got "US-EAST-1")');
    expect(fiveOh['target.engineVersion']).toMatch(/got '5.0'\); ElastiCache creates no new group before Redis OSS 6.0/);
    // Fixing numCacheClusters by turning automaticFailover off alone would next be refused for multiAz (on by default).
    expect(fiveOh['target.numCacheClusters']).toMatch(/turn automaticFailover off and multiAz with it/);
    expect(problems({ ...minimal, target: { replicationGroupId: 'x', engineVersion: '7.0' } })['target.engineVersion']).toMatch(
      /7.0 is a redis version: set engine: redis \(valkey is the default engine\)/,
    );
    expect(problems({ ...minimal, target: { replicationGroupId: 'x', engine: 'redis', engineVersion: '8.0' } })['target.engineVersion']).toMatch(/8.0 is a valkey version: set engine: valkey$/);
  });

  it('applies the ElastiCache rules for ids', () => {
    expect(Object.keys(problems({ ...minimal, target: { replicationGroupId: '1abc' } }))).toEqual(['target.replicationGroupId']);
    expect(Object.keys(problems({ ...minimal, target: { replicationGroupId: 'a--b' } }))).toEqual(['target.replicationGroupId']);
    expect(Object.keys(problems({ ...minimal, target: { replicationGroupId: 'abc-' } }))).toEqual(['target.replicationGroupId']);
    expect(Object.keys(problems({ ...minimal, target: { replicationGroupId: 'a'.repeat(41) } }))).toEqual(['target.replicationGroupId']);
    expect(parseMigrationInput({ ...minimal, target: { replicationGroupId: 'a'.repeat(40) } }).target.replicationGroupId).toHaveLength(40);
  });

  it('applies the node-count, failover and encryption rules, naming each field', () => {
    const found = problems({
      ...minimal,
      target: {
        replicationGroupId: 'ok',
        numCacheClusters: 1,
        automaticFailover: true,
        multiAz: true,
        transitEncryption: false,
        authTokenSecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf',
      },
    });
    expect(found['target.numCacheClusters']).toMatch(/automaticFailover needs numCacheClusters >= 2/);
    expect(found['target.authTokenSecretArn']).toMatch(/needs transitEncryption: true/);
    expect(problems({ ...minimal, target: { replicationGroupId: 'ok', numCacheClusters: 7 } })['target.numCacheClusters']).toMatch(/1 to 6/);
    expect(problems({ ...minimal, target: { replicationGroupId: 'ok', automaticFailover: false } })['target.multiAz']).toMatch(/multiAz needs automaticFailover/);
    expect(problems({ ...minimal, target: { replicationGroupId: 'ok', atRestEncryption: false, kmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/abc' } })['target.kmsKeyId']).toMatch(
      /needs atRestEncryption: true/,
    );
  });

  it('matches engine versions to parameter-group families', () => {
    expect(parameterGroupFamily('redis', '6.2')).toBe('redis6.x');
    expect(parameterGroupFamily('redis', '7.1')).toBe('redis7');
    expect(parameterGroupFamily('valkey', '7.2')).toBe('valkey7');
    expect(problems({ ...minimal, target: { replicationGroupId: 'ok', engine: 'redis', engineVersion: '8.0' } })['target.engineVersion']).toMatch(/6.0, 6.2, 7.0, 7.1/);
  });

  it('refuses a secret in the input and unknown fields', () => {
    const found = problems({ ...minimal, target: { replicationGroupId: 'ok', authToken: 'supersecretsupersecret', nodetype: 'x' } });
    expect(found['target.authToken']).toMatch(/never put a secret in the input/);
    expect(found.target).toMatch(/unknown field\(s\) 'authToken', 'nodetype'/);
    expect(JSON.stringify(found)).not.toContain('supersecretsupersecret');
  });

  it('reports a missing cluster as required', () => {
    expect(problems({ target: { replicationGroupId: 'ok' } }).cluster).toMatch(/^required/);
  });
});
