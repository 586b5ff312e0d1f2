/**
 * Failures in the sandbox, injected through the emulators and process control (never by
 * branches in the handlers): before the cutover Spinnaker is left untouched; after it, the
 * rollback puts it back exactly as it was, with nothing orca wrote lost.
 */
import { describe, expect, it } from '@jest/globals';
import type { TaskHandler } from '../../../sandbox/runner.js';
import { INITIAL_FILES } from '../../../sandbox/spinnaker/index.js';
import type { SandboxWorld, WorldSnapshot } from '../../../sandbox/world.js';
import { leakedSecrets, rehearse } from '../../support/sandbox.js';

const ORIGINAL_DATA = { ...INITIAL_FILES };

function expectUntouched(snapshot: WorldSnapshot, world: SandboxWorld) {
  const { config: _config, ...halyardFiles } = snapshot.configMap;
  expect(halyardFiles).toEqual(ORIGINAL_DATA);
  expect(Object.keys(snapshot.configMapAnnotations).filter((k) => k.startsWith('spin-elasticache.io/'))).toEqual([]);
  expect(snapshot.spinRedis).toMatchObject({ replicas: 1, running: true });
  for (const s of snapshot.services.filter((x) => x.redis !== undefined)) expect({ name: s.name, redis: s.redis }).toEqual({ name: s.name, redis: world.spinnaker.spinRedisUrl });
  // Every Deployment at its replicas and Ready again, nothing of a pause left behind.
  for (const s of snapshot.services) expect({ name: s.name, replicas: s.replicas, ready: s.ready }).toEqual({ name: s.name, replicas: 1, ready: true });
  expect(world.kubernetes.store.list('Deployment', 'spinnaker').filter((d) => d.metadata.annotations?.['spin-elasticache.io/quiesced-replicas'])).toEqual([]);
  expect(snapshot.missingExecutions).toEqual([]);
}

describe('failures before the cutover', () => {
  it('create-failed stops with the reason and leaves Spinnaker untouched', async () => {
    const { world, result } = await rehearse({}, {}, (w) => w.elastiCache.failNextCreate('Insufficient cache node capacity in us-east-1b'));
    try {
      expect(result.status).toBe('FAILED');
      expect(result.error).toBe('ReplicationGroupCreateFailedError');
      expect(result.cause).toContain('Insufficient cache node capacity');
      expect(result.steps.map((s) => s.name)).not.toContain('PatchHalyardConfig');
      expectUntouched(await world.snapshot(), world);
      expect(world.sns.messages.at(-1)?.subject).toMatch(/failed before the cutover/);
    } finally {
      await world.close();
    }
  }, 60_000);

  it('a Redis that cannot be reached from the ping step fails with a named error after retries', async () => {
    const killPrimaryFirst =
      (world: () => SandboxWorld) =>
      (name: string, handler: TaskHandler): TaskHandler =>
        name === 'PingRedis'
          ? async (event) => {
              for (const node of world().elastiCache.nodes('spinnaker-redis')) await node.process.kill();
              return handler(event);
            }
          : handler;
    let current: SandboxWorld | undefined;
    const { world, result } = await rehearse({}, { wrapTask: killPrimaryFirst(() => current!) }, (w) => void (current = w));
    try {
      expect(result.status).toBe('FAILED');
      expect(result.error).toBe('RedisConnectionError');
      expect(result.steps.find((s) => s.name === 'PingRedis')?.attempts).toBeGreaterThan(1);
      expectUntouched(await world.snapshot(), world);
    } finally {
      await world.close();
    }
  }, 60_000);

  it('deletes only what it created when cleanupOnFailure is set', async () => {
    // 40 retries of CleanupCreatedResources 60 ms apart (30 s in the ASL), far past the emulator's
    // deletion and lingering membership (375 ms).
    const { world, result } = await rehearse(
      { input: { options: { cleanupOnFailure: true, maxWaitMinutes: 10, rolloutTimeoutMinutes: 2, drainTimeoutMinutes: 2, copySliceSeconds: 20 } } },
      { retryMs: 60 },
      (w) => w.elastiCache.failNextCreate('capacity'),
    );
    try {
      expect(result.error).toBe('ReplicationGroupCreateFailedError');
      // The step waited out the group's deletion, then deleted its subnet and parameter groups: nothing is left.
      expect(result.steps.find((s) => s.name === 'CleanupCreatedResources')).toMatchObject({ status: 'SUCCEEDED' });
      expect(world.elastiCache.groupIds()).toEqual([]);
      expect(world.elastiCache.subnetGroupNames()).toEqual([]);
      expect(world.elastiCache.parameterGroupNames().filter((name) => !name.startsWith('default.'))).toEqual([]);
    } finally {
      await world.close();
    }
  }, 60_000);
});

describe('a failure inside the pause (before the switch)', () => {
  it('VerifyCopy failing resumes Spinnaker on spin-redis: replicas back, ConfigMap untouched, no Spinnaker write on ElastiCache', async () => {
    const failVerify = (name: string, handler: TaskHandler): TaskHandler =>
      name === 'VerifyCopy' ? async () => Promise.reject(Object.assign(new Error('1 missing'), { name: 'VerificationFailedError' })) : handler;
    const { world, result } = await rehearse({}, { wrapTask: failVerify });
    try {
      expect(result.error).toBe('MigrationRolledBack');
      expect(result.cause).toContain('VerificationFailedError');
      const visited = result.steps.map((s) => s.name);
      expect(visited).toEqual(expect.arrayContaining(['QuiesceSpinnaker', 'ResumeSpinnakerOnSpinRedis', 'CheckResumeOnSpinRedis', 'ReleaseLockAfterRollback']));
      expect(visited).not.toContain('PatchHalyardConfig');
      const snapshot = await world.snapshot();
      expectUntouched(snapshot, world);
      expect([...world.spinnaker.orcaWrites().values()].filter((url) => url !== world.spinnaker.spinRedisUrl)).toEqual([]);
    } finally {
      await world.close();
    }
  }, 90_000);
});

describe('failures after the cutover began', () => {
  it('hal deploy apply exiting 1 rolls back: ConfigMap byte-identical, services on spin-redis, nothing lost', async () => {
    const { world, result } = await rehearse({ spinnakerFaults: { halFailures: 1 } });
    try {
      expect(result.status).toBe('FAILED');
      expect(result.error).toBe('MigrationRolledBack');
      expect(result.cause).toContain('HalDeployFailedError');
      const visited = result.steps.map((s) => s.name);
      expect(visited).toEqual(expect.arrayContaining(['RollbackHalyardConfig', 'RollbackHalDeployApply', 'RollbackCopyBackWrites', 'ReleaseLockAfterRollback']));
      const snapshot = await world.snapshot();
      expectUntouched(snapshot, world);
      expect(leakedSecrets(world, result.history, snapshot.configMap)).toEqual([]);
      expect(world.sns.messages.at(-1)?.subject).toMatch(/rolled back/);
    } finally {
      await world.close();
    }
  }, 90_000);
});
