/**
 * No bare `Error` (nor TypeError, SyntaxError, RangeError) leaves any handler: every handler in
 * handlers/, fed missing fields, wrong types and garbage state, fails with a named error that
 * Step Functions can route. Every AWS and Kubernetes endpoint points at a closed local port, so
 * nothing leaves the machine and a call that gets that far fails fast.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';

const CLOSED = 'http://127.0.0.1:9';
for (const service of ['ELASTICACHE', 'EKS', 'SECRETS_MANAGER', 'SNS', 'STS', 'SFN', 'CLOUDWATCH']) process.env[`AWS_ENDPOINT_URL_${service}`] = CLOSED;
process.env.AWS_REGION = 'us-east-1';
process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
process.env.AWS_SECRET_ACCESS_KEY = 'example';
process.env.AWS_MAX_ATTEMPTS = '1';

const HANDLERS_DIR = join(import.meta.dirname, '../../../handlers');
const files = readdirSync(HANDLERS_DIR).filter((f) => f.endsWith('.ts') && f !== 'slack-command.ts');

const config = { cluster: { name: 'prod', region: 'us-east-1' }, target: { replicationGroupId: 'spin-redis' } };
const execution = { arn: 'arn:aws:states:us-east-1:1:execution:sm:x', startedAt: '2026-01-01T00:00:00Z' };
/** Events a handler may receive when the ASL, a person or a replayed execution hands it the wrong thing. */
const events: [string, unknown][] = [
  ['undefined', undefined],
  ['null', null],
  ['a number', 42],
  ['a string', 'state'],
  ['an empty object', {}],
  ['config null', { config: null, execution }],
  ['config a string', { config: 'prod', execution }],
  ['config with wrong types', { config: { cluster: { name: 5 }, target: [] }, execution }],
  ['no execution', { config }],
  ['execution a number', { config, execution: 7 }],
  [
    'garbage step results',
    {
      config,
      execution,
      lock: 'x',
      replicationGroup: { primaryEndpoint: 'nope', status: 9 },
      copy: 'half',
      capture: [],
      catchUp: { position: 12 },
      rollout: 5,
      scaleDown: { previousReplicas: 'two' },
      verify: null,
      state: 3,
      outcome: {},
    },
  ],
  ['the raw input where the state belongs', { input: { cluster: 1 }, execution }],
];

const FORBIDDEN = new Set(['Error', 'TypeError', 'SyntaxError', 'RangeError', 'ReferenceError']);
type Handler = (event: unknown) => Promise<unknown>;
const handlers = new Map<string, Handler>();

beforeAll(async () => {
  for (const file of files) handlers.set(file, ((await import(join(HANDLERS_DIR, file))) as { handler: Handler }).handler);
});

describe.each(files)('%s', (file) => {
  it.each(events)(
    'with %s: a named error, never a bare one, and not the catch-all',
    async (_what, event) => {
      const outcome = await handlers.get(file)!(structuredClone(event)).then(
        (result) => ({ result }),
        (error: unknown) => ({ error: error as Error }),
      );
      if ('result' in outcome) return; // a handler may accept an odd event (NotifyOutcome reports what it has)
      const { error } = outcome;
      expect(error.name).toMatch(/^[A-Z][A-Za-z]+Error$/);
      expect(FORBIDDEN.has(error.name)).toBe(false);
      expect({ name: error.name, message: error.message }).not.toMatchObject({ name: 'UnexpectedError' });
    },
    20_000,
  );
});
