/**
 * Static checks of the state machine: valid ASL, every Task retries, catches (with a catcher
 * named by its phase) and has a handler, and the transient retrier knows every transient
 * error class.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { createRequire } from 'node:module';
import { isAlias, isMap, parse, parseDocument, type YAMLMap } from 'yaml';
import * as errors from '../../../lib/errors.js';
import { TRANSIENT_ERROR_NAMES } from '../../../lib/errors.js';
import { ROOT, handlerFile } from '../../../sandbox/runner.js';
import { ASL_FILE, loadDefinition, readAsl } from '../../../statemachine/load.js';

const require = createRequire(import.meta.url);
const validate = require('asl-validator') as (d: unknown, o: object) => { isValid: boolean; errors: unknown[] };
const LAMBDA_ERRORS = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'];

type State = {
  Type: string;
  Retry?: { ErrorEquals: string[]; MaxAttempts?: number; JitterStrategy?: string; BackoffRate?: number }[];
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string }[];
  Branches?: { States: Record<string, State> }[];
  Next?: string;
  Default?: string;
  Choices?: { Next: string }[];
  Resource?: unknown;
};

function allStates(states: Record<string, State>, into: [string, State][] = []): [string, State][] {
  for (const entry of Object.entries(states)) {
    into.push(entry);
    for (const branch of entry[1].Branches ?? []) allStates(branch.States, into);
  }
  return into;
}

describe('statemachine/migrate.asl.yaml', () => {
  const raw = readAsl() as { States: Record<string, State>; StartAt: string };
  const { definition, tasks } = loadDefinition();
  const states = allStates(definition.States as unknown as Record<string, State>);

  it('is valid ASL with ARN and path checks on', () => {
    const result = validate(structuredClone(definition), { checkArn: true, checkPaths: true });
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
  });

  it('starts by validating the input', () => {
    expect(raw.StartAt).toBe('ValidateInput');
  });

  it.each(states.filter(([, s]) => s.Type === 'Task'))('%s retries Lambda errors first, then our transient errors with backoff, and catches the rest', (name, state) => {
    const retry = state.Retry ?? [];
    expect(retry[0]?.ErrorEquals).toEqual(LAMBDA_ERRORS);
    if (name !== 'ValidateInput') {
      const transient = retry[retry.length - 1]!;
      expect([...transient.ErrorEquals].sort()).toEqual([...TRANSIENT_ERROR_NAMES].sort());
      expect(transient.JitterStrategy).toBe('FULL');
      expect(transient.BackoffRate).toBeGreaterThan(1);
      expect(transient.MaxAttempts).toBeLessThanOrEqual(10);
    }
    expect(state.Catch?.[state.Catch.length - 1]?.ErrorEquals).toEqual(['States.ALL']);
    expect(state.Catch?.every((c) => c.ResultPath && c.ResultPath !== '$')).toBe(true);
  });

  it('binds every Task to a handler file and a serverless function', () => {
    const sls = parse(readFileSync(`${ROOT}/serverless.yml`, 'utf8'), { logLevel: 'silent', customTags: [] }) as { functions: Record<string, { handler: string }> };
    for (const { stateName, functionName } of tasks) {
      expect({ stateName, exists: existsSync(handlerFile(functionName)) }).toEqual({ stateName, exists: true });
      expect(sls.functions[functionName]?.handler).toBe(`handlers/${handlerFile(functionName).split('/handlers/')[1]!.replace(/\.ts$/, '')}.handler`);
    }
  });

  it('routes each failure by phase: before the pause, inside it (resume on spin-redis), after the switch (rollback)', () => {
    const phases: Record<string, string[]> = {
      CheckCleanupOnFailure: ['EnsureParameterGroup', 'EnsureSubnetGroup', 'EnsureReplicationGroup', 'DescribeReplicationGroup', 'PingRedis', 'EnableChangeCapture', 'CopyBulk', 'CatchUpLiveWrites'],
      ResumeSpinnakerOnSpinRedis: ['QuiesceSpinnaker', 'CheckSpinnakerQuiesced', 'ReconcileFinal', 'VerifyCopy'],
      RollbackScaleUpSpinRedis: ['PatchHalyardConfig', 'HalDeployApply', 'ResumeSpinnaker', 'CheckSpinnakerRollout', 'VerifySpinRedisDrained', 'ScaleDownSpinRedis'],
      // Spinnaker has moved and nothing uses spin-redis: reported with the success, not rolled back.
      ScaleDownSpinRedis: ['DisableChangeCapture'],
    };
    for (const [next, names] of Object.entries(phases)) for (const name of names) expect({ name, next: raw.States[name]?.Catch?.[0]?.Next }).toEqual({ name, next });
  });

  it('changes the Halyard config only after the pause and the strict verification, and records the switch first', () => {
    const order = [
      'EnableChangeCapture',
      'CopyBulk',
      'CatchUpLiveWrites',
      'QuiesceSpinnaker',
      'ReconcileFinal',
      'VerifyCopy',
      'BeginSwitch',
      'PatchHalyardConfig',
      'HalDeployApply',
      'ResumeSpinnaker',
    ];
    const walk = (seed: boolean) => {
      const chain: string[] = [];
      for (let name: string | undefined = raw.StartAt; name && chain.length < 200; ) {
        chain.push(name);
        const state: State = raw.States[name]!;
        // The success path: a Choice's first rule is the way forward (IsDryRun's is the dry run; IsS3Seed's the s3-seed branch).
        name = state.Type === 'Choice' ? (name === 'IsDryRun' || (name === 'IsS3Seed' && !seed) ? state.Default : state.Choices?.[0]?.Next) : state.Next;
      }
      return chain;
    };
    const inOrder = (chain: string[], states: string[]) => {
      const positions = states.map((s) => chain.indexOf(s));
      expect(positions.every((p) => p >= 0)).toBe(true);
      expect([...positions].sort((a, b) => a - b)).toEqual(positions);
      expect(chain).not.toContain('Cutover');
    };
    inOrder(walk(false), order);
    // s3-seed: Spinnaker quiesced before the snapshot, the group made from it, then the same strict verification and switch.
    const seed = walk(true);
    inOrder(seed, [
      'SeedQuiesceSpinnaker',
      'IsSeedQuiesced',
      'UploadSeedSnapshot',
      'SeedEnsureReplicationGroup',
      'DeleteSeedSnapshot',
      'VerifyCopy',
      'BeginSwitch',
      'PatchHalyardConfig',
      'ResumeSpinnaker',
    ]);
    expect(seed).not.toContain('CopyBulk');
    expect(seed).not.toContain('EnsureReplicationGroup');
  });

  it('has no dangling transitions', () => {
    const names = new Set(states.map(([n]) => n));
    for (const [name, state] of states) {
      const targets = [state.Next, state.Default, ...(state.Choices ?? []).map((c) => c.Next), ...(state.Catch ?? []).map((c) => c.Next)].filter(Boolean);
      for (const target of targets) expect({ name, target, known: names.has(target!) }).toEqual({ name, target, known: true });
    }
  });

  it("names every Task's catcher by its phase: a YAML anchor or an alias to one", () => {
    const unnamed: string[] = [];
    const visit = (states: YAMLMap) => {
      for (const pair of states.items) {
        const state = pair.value as YAMLMap;
        const catcher = state.get('Catch', true);
        if (state.get('Type') === 'Task' && !(isAlias(catcher) || (catcher as { anchor?: string } | undefined)?.anchor)) unnamed.push(String(pair.key));
        for (const branch of (state.get('Branches', true) as unknown as { items?: YAMLMap[] } | undefined)?.items ?? []) visit(branch.get('States', true) as unknown as YAMLMap);
      }
    };
    const states = parseDocument(readFileSync(ASL_FILE, 'utf8')).get('States', true);
    expect(isMap(states)).toBe(true);
    visit(states as YAMLMap);
    expect(unnamed).toEqual([]);
  });
});

describe('the transient errors and the retriers', () => {
  const { definition } = loadDefinition();
  const retriedNames = allStates(definition.States as unknown as Record<string, State>).flatMap(([, s]) => (s.Retry ?? []).flatMap((r) => r.ErrorEquals));
  const ours = retriedNames.filter((name) => !/^(Lambda|States)\./.test(name));
  // Every concrete error class lib/errors.ts exports, by its Step Functions name.
  const classes = (Object.values(errors) as unknown[])
    .filter((value): value is new (message: string) => errors.MigrationError => typeof value === 'function' && value.prototype instanceof errors.MigrationError)
    .map((ErrorClass) => new ErrorClass('x'));

  it('lists exactly the classes with retryable = true', () => {
    const retryable = classes.filter((e) => e.retryable).map((e) => e.name);
    expect([...TRANSIENT_ERROR_NAMES].sort()).toEqual(retryable.sort());
  });

  it('retries in the ASL only names of transient classes, and all of them', () => {
    const transient = new Set(TRANSIENT_ERROR_NAMES);
    expect(ours.filter((name) => !transient.has(name))).toEqual([]);
    expect([...transient].filter((name) => !ours.includes(name))).toEqual([]);
  });
});
