/** `spinnaker.spinRedis` for a Sentinel-managed spin-redis: the URL form, the fields, and refusals that name the field and the fix. */
import { describe, expect, it } from '@jest/globals';
import { parseMigrationInput } from '../../../lib/config/schema.js';
import { InputValidationError } from '../../../lib/errors.js';
import { parseState } from '../../../lib/workflow/state.js';

const input = (spinRedis: Record<string, unknown>) => ({ cluster: { name: 'prod', region: 'us-east-1' }, spinnaker: { spinRedis }, target: { replicationGroupId: 'spin' } });
const refusal = (spinRedis: Record<string, unknown>) => {
  try {
    parseMigrationInput(input(spinRedis));
  } catch (error) {
    expect(error).toBeInstanceOf(InputValidationError);
    return error as InputValidationError & { issues: { path: string; message: string }[] };
  }
  throw new Error('accepted');
};

describe('a Sentinel-managed spin-redis in the input', () => {
  it('takes redis-sentinel://h:p[,h:p…]/<name> as the sentinel addresses and master name (26379 when no port)', () => {
    const config = parseMigrationInput(input({ url: 'redis-sentinel://10.0.3.17:26379,10.0.4.9/spin-master', passwordSecret: { name: 'redis-auth', key: 'password' } }));
    expect(config.spinnaker.spinRedis.url).toBeUndefined();
    expect(config.spinnaker.spinRedis.sentinel).toEqual({ addresses: ['10.0.3.17:26379', '10.0.4.9:26379'], masterName: 'spin-master' });
    // The state carries the config between steps: it parses again to the same thing.
    expect(parseState({ config, execution: { arn: 'arn:aws:states:us-east-1:1:execution:sm:x', startedAt: '' } }, 'CopyBulk').config.spinnaker.spinRedis).toEqual(config.spinnaker.spinRedis);
  });

  it("takes Spotahome's RedisFailover by name, mymaster by default, and the passwords as Secret references", () => {
    const config = parseMigrationInput(
      input({ sentinel: { redisFailover: 'spin-redis', passwordSecret: { name: 'sentinel-auth', key: 'password' } }, passwordSecret: { name: 'redis-auth', key: 'password' } }),
    );
    expect(config.spinnaker.spinRedis.sentinel).toEqual({ redisFailover: 'spin-redis', masterName: 'mymaster', passwordSecret: { name: 'sentinel-auth', key: 'password' } });
  });

  it.each([
    ['a password in the sentinel URL', { url: 'redis-sentinel://:hunter2@10.0.0.5:26379/mymaster' }, 'spinnaker.spinRedis.url', /sentinel\.passwordSecret/],
    ['a sentinel URL without a master name', { url: 'redis-sentinel://10.0.0.5:26379' }, 'spinnaker.spinRedis.url', /redis-sentinel:\/\/host:26379\[,host:port…\]\/mymaster/],
    ['a sentinel URL with a bad port', { url: 'redis-sentinel://10.0.0.5:0/mymaster' }, 'spinnaker.spinRedis.url', /host:port/],
    ['sentinel fields that say nowhere', { sentinel: { masterName: 'mymaster' } }, 'spinnaker.spinRedis.sentinel', /addresses .* or redisFailover/],
    ['both addresses and a RedisFailover', { sentinel: { addresses: ['10.0.0.5:26379'], redisFailover: 'spin-redis' } }, 'spinnaker.spinRedis.sentinel.addresses', /keep one/],
    ['a url and sentinel fields', { url: 'redis://10.0.0.5:6379', sentinel: { addresses: ['10.0.0.5:26379'] } }, 'spinnaker.spinRedis.url', /keep sentinel .* and remove url/],
    ['an address without a port', { sentinel: { addresses: ['10.0.0.5'] } }, 'spinnaker.spinRedis.sentinel.addresses[0]', /host:port, such as 10\.0\.3\.17:26379/],
    ['a RedisFailover name too long for the operator', { sentinel: { redisFailover: 'a'.repeat(49) } }, 'spinnaker.spinRedis.sentinel.redisFailover', /at most 48/],
    ['a sentinel password in the input', { sentinel: { addresses: ['10.0.0.5:26379'], password: 'hunter2' } }, 'spinnaker.spinRedis.sentinel.password', /never put a secret in the input/],
  ])('refuses %s, naming the field and the fix', (_what, spinRedis, path, fix) => {
    const error = refusal(spinRedis);
    const issue = error.issues.find((i) => i.path === path);
    expect(issue?.message).toMatch(fix);
    expect(error.message).not.toContain('hunter2');
  });
});
