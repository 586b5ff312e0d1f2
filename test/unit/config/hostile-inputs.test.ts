/**
 * Hostile migration inputs are refused by the ValidateInput handler with a named error that
 * names the field and the fix, a message of a few KB (Step Functions' payload limit is 256 KB),
 * and no stack overflow: Kubernetes names as Kubernetes validates them, Halyard paths that
 * would leave ~/.hal, deep or huge inputs, and credentials in spin-redis's URL.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { handler } from '../../../handlers/validate-input.js';
import { parseMigrationInput } from '../../../lib/config/schema.js';
import { ROOT } from '../../../sandbox/runner.js';

const base = JSON.parse(readFileSync(join(ROOT, 'events', 'health-check.json'), 'utf8')) as { spinnaker: Record<string, unknown>; target: Record<string, unknown> };
const withSpinnaker = (spinnaker: Record<string, unknown>) => ({ ...base, spinnaker: { ...base.spinnaker, ...spinnaker } });
const halyard = (h: Record<string, unknown>) => withSpinnaker({ halyard: { ...(base.spinnaker.halyard as object), ...h } });

async function refusal(input: unknown) {
  const error = await handler({ input, execution: { arn: 'arn:aws:states:us-east-1:123456789012:execution:m:x', startedAt: '' } }).then(
    () => undefined,
    (e: unknown) => e as Error & { issues?: { path: string; message: string }[] },
  );
  if (!error) throw new Error('accepted');
  return { name: error.name, message: error.message, paths: (error.issues ?? []).map((i) => i.path) };
}

describe('hostile inputs', () => {
  it.each([
    ['a 64-character namespace', withSpinnaker({ namespace: 'a'.repeat(64) }), 'spinnaker.namespace', /at most 63/],
    ['a namespace with a dot', withSpinnaker({ namespace: 'a.b' }), 'spinnaker.namespace', /Kubernetes name/],
    ['a 64-character container name', halyard({ container: 'c'.repeat(64) }), 'spinnaker.halyard.container', /at most 63/],
    ['a 254-character ConfigMap name', halyard({ configMap: 'c'.repeat(254) }), 'spinnaker.halyard.configMap', /at most 253/],
    ['halHome with ..', halyard({ halHome: '/home/spinnaker/.hal/../../etc/.hal' }), 'spinnaker.halyard.halHome', /ending in \/\.hal, with no '\.' or '\.\.' segments/],
    ['halHome outside ~/.hal', halyard({ halHome: '/etc' }), 'spinnaker.halyard.halHome', /ending in \/\.hal/],
    ['a file path with ..', halyard({ files: { gateProfile: { path: '../../../etc/cron.d/x.yml' } } }), 'spinnaker.halyard.files.gateProfile.path', /no '\.' or '\.\.' segments/],
    ['an absolute file path', halyard({ files: { gateProfile: { path: '/etc/x.yml' } } }), 'spinnaker.halyard.files.gateProfile.path', /no leading '\/'/],
    ['a deployment name with a slash', halyard({ deployment: '../x' }), 'spinnaker.halyard.deployment', /letters, digits/],
    ['a password in the spin-redis URL query', withSpinnaker({ spinRedis: { url: 'redis://spin-redis:6379?password=hunter2' } }), 'spinnaker.spinRedis.url', /no user, password or \?query/],
    [
      'a password in the spin-redis URL user-info',
      withSpinnaker({ spinRedis: { url: 'redis://:hunter2@spin-redis:6379' } }),
      'spinnaker.spinRedis.url',
      /a password belongs in a Secret, spinRedis.passwordSecret/,
    ],
    ['a selector with a newline', halyard({ podSelector: 'app=halyard\nx' }), 'spinnaker.halyard.podSelector', /label selector/],
  ])('refuses %s, naming the field and the fix', async (_what, input, path, fix) => {
    const r = await refusal(input);
    expect(r.name).toBe('InputValidationError');
    expect(r.paths).toContain(path);
    expect(r.message).toMatch(fix);
    expect(r.message).not.toContain('hunter2');
  });

  it('refuses input nested 100,000 deep with a named error, not a stack overflow', async () => {
    let deep: unknown = {};
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    const r = await refusal({ ...base, extra: deep });
    expect(r).toMatchObject({ name: 'InputValidationError', message: expect.stringMatching(/nested deeper than 8 levels/) });
  });

  it('refuses a 256 KB input full of bad subnet ids with an error of a few KB', async () => {
    const subnetIds = Array.from({ length: 20_000 }, (_, i) => `subnet-bad${i}`);
    const r = await refusal({ ...base, target: { ...base.target, subnetIds } });
    expect(r.name).toBe('InputValidationError');
    expect(r.message).toMatch(/bytes, more than 32768/);
    expect(Buffer.byteLength(r.message)).toBeLessThan(4096);
  });

  it('reports at most 20 problems, each shortened, when an input under the size limit has many', () => {
    const subnetIds = Array.from({ length: 1000 }, (_, i) => `bad${i}`);
    let message = '';
    try {
      parseMigrationInput({ ...base, target: { ...base.target, subnetIds } });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/has 1000 problem\(s\)/);
    expect(message).toMatch(/… and 980 more/);
    expect(Buffer.byteLength(message)).toBeLessThan(8192);
  });

  it('still accepts the shipped inputs and a StatefulSet-style Halyard home', () => {
    expect(parseMigrationInput(halyard({ halHome: '/home/spinnaker/.hal/' })).spinnaker.halyard.halHome).toBe('/home/spinnaker/.hal/');
    expect(parseMigrationInput(withSpinnaker({ spinRedis: { url: 'rediss://10.0.0.12:6379/0' } })).spinnaker.spinRedis.url).toBe('rediss://10.0.0.12:6379/0');
  });
});
