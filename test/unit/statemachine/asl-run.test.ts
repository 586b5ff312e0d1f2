/**
 * The real ASL, run in-process by aws-local-stepfunctions, with every Task bound to a fake
 * (except ValidateInput, which is real). These tests pin the routing: polling, slices,
 * retries, the pre-cutover failure path and the rollback path.
 */
import { describe, expect, it } from '@jest/globals';
import {
  AwsThrottlingError,
  HalDeployFailedError,
  KubernetesForbiddenError,
  SpinnakerConfigRevertedError,
  ReplicationGroupCreateFailedError,
  VerificationFailedError,
  type MigrationError,
} from '../../../lib/errors.js';
import { handler as validateInput } from '../../../handlers/validate-input.js';
import { runMigration, type ExecutionResult, type TaskHandler } from '../../../sandbox/runner.js';

const input = { cluster: { name: 'spin', region: 'us-east-1' }, target: { replicationGroupId: 'spin-redis-ec' } };

interface Script {
  describeStatuses?: string[];
  copySlices?: number;
  catchUpSlices?: number;
  reconcileSlices?: number;
  verifySlices?: number;
  copyBackSlices?: number;
  quiescePolls?: number;
  rolloutPolls?: number;
  /** ResumeSpinnaker answers `resumed: false` this many times first (the operator has not deployed yet). */
  resumeWaits?: number;
  failures?: Record<string, MigrationError[]>;
}

function fakes(script: Script) {
  const calls: string[] = [];
  const statuses = [...(script.describeStatuses ?? ['creating', 'available'])];
  let slices = 0;
  let rolloutPolls = 0;
  let catchUps = 0;
  let quiescePolls = 0;
  let resumeWaits = script.resumeWaits ?? 0;
  const sliced = { reconcileFinal: 0, verifyCopy: 0, copyBackWrites: 0 };
  // A walk's slice: done after the scripted number; each slice sees the checkpoint the last one returned.
  const walk = (name: keyof typeof sliced, path: string, total: number | undefined) => (event: Record<string, unknown>) => {
    const previous = event[path] as { checkpoint?: { cursor: string } } | undefined;
    const slice = ++sliced[name];
    if (slice > 1 && previous?.checkpoint?.cursor !== String(slice - 1)) throw new Error(`${name} slice ${slice} was not given the last checkpoint`);
    return slice >= (total ?? 1) ? { done: true, slices: slice, ok: true } : { done: false, slices: slice, checkpoint: { cursor: String(slice) } };
  };
  const failures = Object.fromEntries(Object.entries(script.failures ?? {}).map(([k, v]) => [k, [...v]]));
  const fake =
    (name: string, result: (event: Record<string, unknown>) => unknown): TaskHandler =>
    async (event) => {
      calls.push(name);
      const next = failures[name]?.shift();
      if (next) throw next;
      return result(event as Record<string, unknown>);
    };
  const handlers: Record<string, TaskHandler> = {
    validateInput: async (e) => {
      calls.push('validateInput');
      return validateInput(e as never);
    },
    acquireMigrationLock: fake('acquireMigrationLock', () => ({ owner: 'x' })),
    releaseMigrationLock: fake('releaseMigrationLock', () => ({ released: true })),
    planMigration: fake('planMigration', () => ({ create: [] })),
    ensureParameterGroup: fake('ensureParameterGroup', () => ({ outcome: 'created' })),
    ensureSubnetGroup: fake('ensureSubnetGroup', () => ({ outcome: 'created' })),
    ensureReplicationGroup: fake('ensureReplicationGroup', () => ({ status: 'creating', polls: 0 })),
    describeReplicationGroup: fake('describeReplicationGroup', () => ({ status: statuses.shift() ?? 'available' })),
    pingRedis: fake('pingRedis', () => ({ ok: true })),
    copyBulk: fake('copyBulk', () => ({ done: ++slices >= (script.copySlices ?? 1), checkpoint: { slices } })),
    enableChangeCapture: fake('enableChangeCapture', () => ({ previous: '' })),
    catchUpLiveWrites: fake('catchUpLiveWrites', () => ({ caughtUp: ++catchUps >= (script.catchUpSlices ?? 1) })),
    quiesceSpinnaker: fake('quiesceSpinnaker', () => ({ services: [{ name: 'spin-orca', replicas: 2 }], startedAt: '2026-01-01T00:00:00Z' })),
    checkSpinnakerQuiesced: fake('checkSpinnakerQuiesced', () => ({ quiesced: ++quiescePolls >= (script.quiescePolls ?? 1) })),
    resumeSpinnaker: fake('resumeSpinnaker', () => (resumeWaits-- > 0 ? { resumed: false, services: [] } : { resumed: true, services: [{ name: 'spin-orca', replicas: 2, restored: true }] })),
    patchHalyardConfig: fake('patchHalyardConfig', () => ({ changedKeys: ['redis.yml'] })),
    halDeployApply: fake('halDeployApply', () => ({ exitCode: 0 })),
    checkSpinnakerRollout: fake('checkSpinnakerRollout', () => ({ ready: ++rolloutPolls >= (script.rolloutPolls ?? 1) })),
    verifySpinRedisDrained: fake('verifySpinRedisDrained', () => ({ foreignClients: 0 })),
    reconcileFinal: fake('reconcileFinal', walk('reconcileFinal', 'reconcile', script.reconcileSlices)),
    verifyCopy: fake('verifyCopy', walk('verifyCopy', 'verify', script.verifySlices)),
    disableChangeCapture: fake('disableChangeCapture', () => ({ restored: true })),
    scaleDownSpinRedis: fake('scaleDownSpinRedis', () => ({ previousReplicas: 1, replicas: 0 })),
    scaleUpSpinRedis: fake('scaleUpSpinRedis', () => ({ replicas: 1 })),
    restoreHalyardConfig: fake('restoreHalyardConfig', () => ({ restored: true })),
    copyBackWrites: fake('copyBackWrites', walk('copyBackWrites', 'copyBack', script.copyBackSlices)),
    cleanupCreatedResources: fake('cleanupCreatedResources', () => ({ deleted: [] })),
    notifyOutcome: fake('notifyOutcome', (e) => ({ outcome: e.outcome })),
  };
  return { handlers, calls };
}

async function run(script: Script, given: unknown = input): Promise<{ result: ExecutionResult; calls: string[]; visited: string[] }> {
  const { handlers, calls } = fakes(script);
  const result = await runMigration(given, { executionName: 'test', handlers, waitMs: 0, retryMs: 0 });
  const visited = result.history.filter((e) => e.type === 'StateEntered').map((e) => e.state!);
  return { result, calls, visited };
}

describe('the state machine, run locally', () => {
  it('polls, slices and loops to success: catch-up, quiesce, final sync, strict verify, then switch and resume', async () => {
    const { result, calls, visited } = await run({ describeStatuses: ['creating', 'creating', 'modifying', 'available'], copySlices: 3, catchUpSlices: 2, quiescePolls: 3, rolloutPolls: 2 });
    expect(result.status).toBe('SUCCEEDED');
    expect(calls.filter((c) => c === 'describeReplicationGroup')).toHaveLength(4);
    expect(calls.filter((c) => c === 'copyBulk')).toHaveLength(3);
    expect(calls.filter((c) => c === 'catchUpLiveWrites')).toHaveLength(2);
    expect(visited.filter((s) => s === 'WaitForReplicationGroup')).toHaveLength(4);
    expect(visited.filter((s) => s === 'WaitForSpinnakerQuiesce')).toHaveLength(2);
    expect(visited.filter((s) => s === 'WaitForSpinnakerRollout')).toHaveLength(1);
    const order = [
      'EnableChangeCapture',
      'CopyBulk',
      'CatchUpLiveWrites',
      'QuiesceSpinnaker',
      'CheckSpinnakerQuiesced',
      'ReconcileFinal',
      'VerifyCopy',
      'BeginSwitch',
      'PatchHalyardConfig',
      'HalDeployApply',
      'ResumeSpinnaker',
      'CheckSpinnakerRollout',
      'VerifySpinRedisDrained',
      'DisableChangeCapture',
      'ScaleDownSpinRedis',
      'MigrationSucceeded',
    ];
    const positions = order.map((s) => visited.indexOf(s));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(visited).not.toContain('RollbackHalyardConfig');
    expect(visited).not.toContain('ResumeSpinnakerOnSpinRedis');
    const output = result.output as Record<string, unknown>;
    expect(output).toMatchObject({ switch: { switched: true }, rollout: { ready: true }, catchUp: { caughtUp: true }, quiesceCheck: { quiesced: true } });
    expect(output).toMatchObject({ reconcile: { done: true, slices: 1 }, verify: { done: true, ok: true, slices: 1 } });
    expect(output.notify).toEqual({ outcome: 'SUCCEEDED' });
  });

  it('does not check the rollout before ResumeSpinnaker has resumed (the operator deploys on its own time)', async () => {
    const { result, visited } = await run({ resumeWaits: 2 });
    expect(result.status).toBe('SUCCEEDED');
    expect(visited.filter((s) => s === 'WaitForSpinnakerConfigDeployed')).toHaveLength(2);
    expect(visited.filter((s) => s === 'ResumeSpinnaker')).toHaveLength(3);
    expect(visited.indexOf('CheckSpinnakerRollout')).toBeGreaterThan(visited.lastIndexOf('ResumeSpinnaker'));
  });

  it('spin-redis that cannot be scaled down after Spinnaker moved is reported with the success, not rolled back; a config revert still rolls back', async () => {
    const refused = await run({ failures: { scaleDownSpinRedis: [new KubernetesForbiddenError('scale refused')], disableChangeCapture: [new KubernetesForbiddenError('CONFIG refused')] } });
    expect(refused.result.status).toBe('SUCCEEDED');
    expect(refused.visited).not.toContain('RollbackScaleUpSpinRedis');
    expect(refused.result.output).toMatchObject({ scaleDownError: { Error: 'KubernetesForbiddenError' }, captureRestoreError: { Error: 'KubernetesForbiddenError' } });
    const reverted = await run({ failures: { scaleDownSpinRedis: [new SpinnakerConfigRevertedError('helm upgrade')] } });
    expect(reverted.result.error).toBe('MigrationRolledBack');
    expect(reverted.visited).toContain('RollbackCopyBackWrites');
  });

  it('loops the final mirror and the strict verification slice by slice inside the pause, each slice resuming from the last checkpoint', async () => {
    const { result, calls, visited } = await run({ reconcileSlices: 3, verifySlices: 4 });
    expect(result.status).toBe('SUCCEEDED');
    expect(calls.filter((c) => c === 'reconcileFinal')).toHaveLength(3);
    expect(calls.filter((c) => c === 'verifyCopy')).toHaveLength(4);
    // Every verification slice after every reconciliation slice, and the switch after the last.
    expect(visited.lastIndexOf('ReconcileFinal')).toBeLessThan(visited.indexOf('VerifyCopy'));
    expect(visited.lastIndexOf('VerifyCopy')).toBeLessThan(visited.indexOf('BeginSwitch'));
    expect(result.output).toMatchObject({ reconcile: { done: true, slices: 3 }, verify: { done: true, slices: 4 } });
  });

  it('a timed-out verification slice is retried from its own checkpoint', async () => {
    const timeout = Object.assign(new Error('slice timed out'), { name: 'States.Timeout' }) as MigrationError;
    const { result, calls } = await run({ verifySlices: 2, failures: { verifyCopy: [timeout] } });
    expect(result.status).toBe('SUCCEEDED');
    expect(calls.filter((c) => c === 'verifyCopy')).toHaveLength(3);
  });

  it('a failure inside the pause resumes Spinnaker on spin-redis and ends rolled back, with nothing switched', async () => {
    const { result, visited } = await run({ failures: { verifyCopy: [new VerificationFailedError('1 missing')] } });
    expect(result.error).toBe('MigrationRolledBack');
    expect(result.cause).toContain('VerificationFailedError');
    const order = ['VerifyCopy', 'ResumeSpinnakerOnSpinRedis', 'CheckResumeOnSpinRedis', 'RollbackRestoreSourceNotifications', 'ReleaseLockAfterRollback', 'MigrationRolledBack'];
    const positions = order.map((s) => visited.indexOf(s));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    for (const never of ['BeginSwitch', 'PatchHalyardConfig', 'RollbackHalyardConfig', 'RollbackCopyBackWrites', 'ScaleDownSpinRedis']) expect(visited).not.toContain(never);
  });

  it('retries a transient error to success', async () => {
    const { result, calls } = await run({ failures: { ensureReplicationGroup: [new AwsThrottlingError('slow down'), new AwsThrottlingError('slow down')] } });
    expect(result.status).toBe('SUCCEEDED');
    expect(calls.filter((c) => c === 'ensureReplicationGroup')).toHaveLength(3);
    expect(result.steps.find((s) => s.name === 'EnsureReplicationGroup')?.attempts).toBe(3);
  });

  it('stops at ValidateInput on bad input, creating nothing', async () => {
    const { result, calls } = await run({}, { cluster: { name: 'x', region: 'nowhere' }, target: { replicationGroupId: '9' } });
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('InputValidationError');
    expect(result.cause).toContain('cluster.region');
    expect(calls).toEqual(['validateInput']);
  });

  it('fails before the cutover on create-failed, leaving Spinnaker untouched and keeping resources by default', async () => {
    const { result, calls } = await run({ failures: { describeReplicationGroup: [new ReplicationGroupCreateFailedError('create-failed: insufficient capacity')] } });
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('ReplicationGroupCreateFailedError');
    expect(result.cause).toContain('insufficient capacity');
    expect(calls).not.toContain('patchHalyardConfig');
    expect(calls).not.toContain('cleanupCreatedResources');
    expect(calls).toContain('releaseMigrationLock');
    expect(calls.at(-1)).toBe('notifyOutcome');
  });

  it('deletes what it created when cleanupOnFailure is set', async () => {
    const { result, calls } = await run({ failures: { describeReplicationGroup: [new ReplicationGroupCreateFailedError('create-failed')] } }, { ...input, options: { cleanupOnFailure: true } });
    expect(result.error).toBe('ReplicationGroupCreateFailedError');
    expect(calls).toContain('cleanupCreatedResources');
  });

  it('rolls back when hal deploy apply fails after the ConfigMap was patched', async () => {
    const { result, visited } = await run({ failures: { halDeployApply: [new HalDeployFailedError('hal exited 1')] } });
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('MigrationRolledBack');
    expect(result.cause).toContain('HalDeployFailedError');
    const order = [
      'RollbackScaleUpSpinRedis',
      'RollbackQuiesceSpinnaker',
      'RollbackCheckSpinnakerQuiesced',
      'RollbackCopyBackWrites',
      'RollbackHalyardConfig',
      'RollbackHalDeployApply',
      'RollbackResumeSpinnaker',
      'RollbackCheckSpinnakerRollout',
      'ReleaseLockAfterRollback',
      'MigrationRolledBack',
    ];
    const positions = order.map((s) => visited.indexOf(s));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(visited).not.toContain('ScaleDownSpinRedis');
  });

  it("loops the rollback's copy-back slice by slice before the Halyard config is restored", async () => {
    const { result, calls, visited } = await run({ copyBackSlices: 3, failures: { halDeployApply: [new HalDeployFailedError('hal exited 1')] } });
    expect(result.error).toBe('MigrationRolledBack');
    expect(calls.filter((c) => c === 'copyBackWrites')).toHaveLength(3);
    expect(visited.lastIndexOf('RollbackCopyBackWrites')).toBeLessThan(visited.indexOf('RollbackHalyardConfig'));
  });

  it('stops with RollbackFailed (lock kept) when the rollback itself fails', async () => {
    const { result, calls } = await run({ failures: { halDeployApply: [new HalDeployFailedError('hal exited 1')], restoreHalyardConfig: [new KubernetesForbiddenError('forbidden')] } });
    expect(result.error).toBe('KubernetesForbiddenError');
    expect(calls.filter((c) => c === 'releaseMigrationLock')).toHaveLength(0);
  });

  it('plans without creating anything on a dry run', async () => {
    const { result, calls } = await run({}, { ...input, options: { dryRun: true } });
    expect(result.status).toBe('SUCCEEDED');
    expect(calls).toEqual(['validateInput', 'acquireMigrationLock', 'planMigration', 'releaseMigrationLock']);
  });
});
