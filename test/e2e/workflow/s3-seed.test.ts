/**
 * options.copyMethod s3-seed through the real state machine in the sandbox: Spinnaker quiesced
 * before the snapshot, spin-redis's RDB uploaded to the emulated S3, the ElastiCache group's real
 * redis-server started from it (SnapshotArns), the strict verification, the switch. And its
 * failures: S3 refusing the upload, ElastiCache refusing the snapshot, a seed too large for the
 * node; each resumes Spinnaker on spin-redis and leaves no object behind.
 */
import { describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { connectRedis } from '../../../lib/redis/connect.js';
import type { TaskHandler } from '../../../sandbox/runner.js';
import { SANDBOX_SEED_BUCKET, type SandboxWorld, type WorldSnapshot } from '../../../sandbox/world.js';
import { leakedSecrets, rehearse } from '../../support/sandbox.js';

/** Every key with its type and value (sorted collections, TTL present or not): both sides compared whole. */
async function contents(redis: Redis): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      const ttl = (await redis.pttl(key)) > 0;
      const value =
        type === 'string'
          ? await redis.get(key)
          : type === 'hash'
            ? JSON.stringify(Object.entries(await redis.hgetall(key)).sort())
            : type === 'list'
              ? JSON.stringify(await redis.lrange(key, 0, -1))
              : type === 'set'
                ? JSON.stringify((await redis.smembers(key)).sort())
                : type === 'zset'
                  ? JSON.stringify(await redis.call('ZRANGE', key, '0', '-1', 'WITHSCORES'))
                  : type;
      out.set(key, `${type}|${ttl}|${value}`);
    }
  } while (cursor !== '0');
  return out;
}

function expectBackOnSpinRedis(snapshot: WorldSnapshot, world: SandboxWorld) {
  expect(snapshot.spinRedis).toMatchObject({ replicas: 1, running: true });
  for (const s of snapshot.services.filter((x) => x.redis !== undefined)) expect({ name: s.name, redis: s.redis }).toEqual({ name: s.name, redis: world.spinnaker.spinRedisUrl });
  for (const s of snapshot.services) expect({ name: s.name, replicas: s.replicas, ready: s.ready }).toEqual({ name: s.name, replicas: 1, ready: true });
  expect(snapshot.missingExecutions).toEqual([]);
  expect(snapshot.invariants).toEqual({ noMessageProcessedTwice: true, noMessageLost: true, noDeletedKeyResurrected: true, lastWriteWins: true });
  // No copy of Spinnaker's data left in S3, not even parts of an upload.
  expect(world.s3.keys(SANDBOX_SEED_BUCKET)).toEqual([]);
  expect(world.s3.pendingUploads(SANDBOX_SEED_BUCKET)).toEqual([]);
}

describe('the s3-seed path', () => {
  it('seeds the group from spin-redis frozen, verifies, switches, and deletes the object', async () => {
    let atSeed: { source: Map<string, string>; target: Map<string, string>; objectGone: boolean } | undefined;
    let spinnakerAtUpload: number[] = [];
    let current: SandboxWorld | undefined;
    const w = () => current!;
    const { world, result } = await rehearse(
      { copyMethod: 's3-seed', auth: true },
      {
        wrapTask: (name: string, handler: TaskHandler): TaskHandler => {
          if (name === 'UploadSeedSnapshot')
            return async (event) => {
              // The freeze starts before the snapshot: no Spinnaker Redis user is running.
              spinnakerAtUpload = w()
                .spinnaker.snapshot()
                .services.filter((s) => s.redis !== undefined)
                .map((s) => s.replicas);
              return handler(event);
            };
          if (name === 'DeleteSeedSnapshot')
            return async (event) => {
              const out = await handler(event);
              // Both sides frozen: the seeded group holds exactly what spin-redis holds.
              const source = await connectRedis(w().spinRedisEndpoint);
              const target = await w().elastiCache.adminClient('spinnaker-redis');
              try {
                atSeed = { source: await contents(source), target: await contents(target), objectGone: w().s3.keys(SANDBOX_SEED_BUCKET).length === 0 };
              } finally {
                source.disconnect();
                target.disconnect();
              }
              return out;
            };
          return handler;
        },
      },
      (prepared) => {
        current = prepared;
      },
    );
    try {
      expect([result.status, result.error, result.cause]).toEqual(['SUCCEEDED', undefined, undefined]);
      const steps = result.steps.map((s) => s.name);
      expect(steps).toEqual(expect.arrayContaining(['SeedQuiesceSpinnaker', 'UploadSeedSnapshot', 'SeedEnsureReplicationGroup', 'DeleteSeedSnapshot', 'VerifyCopy', 'PatchHalyardConfig']));
      // No online copy, no catch-up: nothing but the seed brought the data.
      for (const absent of ['CopyBulk', 'CatchUpLiveWrites', 'ReconcileFinal', 'EnableChangeCapture', 'QuiesceSpinnaker']) expect(steps).not.toContain(absent);
      expect(spinnakerAtUpload.length).toBeGreaterThan(0);
      expect(spinnakerAtUpload.every((r) => r === 0)).toBe(true);
      expect(atSeed?.objectGone).toBe(true);
      expect(atSeed?.source.size).toBeGreaterThan(3000);
      // A key with a TTL may expire between the two reads (orca's queue locks live seconds): only those may be on one side alone.
      const expiring = (a: Map<string, string>, b: Map<string, string>) => [...a].filter(([k, v]) => !b.has(k) && v.split('|')[1] === 'true').map(([k]) => k);
      const drop = (m: Map<string, string>, keys: string[]) => new Map([...m].filter(([k]) => !keys.includes(k)));
      const gone = [...expiring(atSeed!.source, atSeed!.target), ...expiring(atSeed!.target, atSeed!.source)];
      expect(gone.length).toBeLessThan(5);
      expect(drop(atSeed!.target, gone)).toEqual(drop(atSeed!.source, gone));
      const output = result.output as { seed: { bytes: number; rdbVersion: number; keys: number; reused: boolean; arn: string }; seedRemoval: { deleted: boolean } };
      expect(output.seed).toMatchObject({ rdbVersion: 10, reused: false, arn: expect.stringMatching(/^arn:aws:s3:::spin-elasticache-sandbox-seed\/seed\/e2e-\d+\/spin-redis\.rdb$/) });
      expect(output.seed.bytes).toBeGreaterThan(10_000);
      expect(output.seedRemoval.deleted).toBe(true);
      const snapshot = await world.snapshot();
      // Spinnaker on ElastiCache, every service back, nothing lost or resurrected.
      expect(snapshot.figures.finalRedis).toBe('ElastiCache');
      for (const s of snapshot.services.filter((x) => x.redis !== undefined)) expect(s.redis).toBe(world.endpoints.targetRedis?.replace('redis://', 'rediss://'));
      for (const s of snapshot.services) expect({ name: s.name, replicas: s.replicas, ready: s.ready }).toEqual({ name: s.name, replicas: 1, ready: true });
      expect(snapshot.spinRedis.replicas).toBe(0);
      expect(snapshot.missingExecutions).toEqual([]);
      expect(snapshot.invariants).toEqual({ noMessageProcessedTwice: true, noMessageLost: true, noDeletedKeyResurrected: true, lastWriteWins: true });
      expect(world.s3.keys(SANDBOX_SEED_BUCKET)).toEqual([]);
      expect(leakedSecrets(world, result.output, result.history)).toEqual([]);
    } finally {
      await world.close();
    }
  }, 120_000);

  it('the dry run states the freeze s3-seed would cost and why the plan would or would not choose it, changing nothing', async () => {
    const { world, result } = await rehearse({ copyMethod: 's3-seed', input: { options: { dryRun: true } } });
    try {
      expect(result.status).toBe('SUCCEEDED');
      const source = (result.output as { plan: { source: { copyMethod: string; s3Seed: { chosen: boolean; reason: string; freezeSeconds: number; freeze: Record<string, number> } } } }).plan.source;
      expect(source.copyMethod).toMatch(
        /^s3-seed \(options.copyMethod\): Spinnaker's Redis users are quiesced BEFORE spin-redis's RDB is taken .* write freeze about \d+ s: snapshot \d+ s, upload \d+ s/,
      );
      // A sandbox-sized spin-redis: the online copy is the better way in, and the plan says so.
      expect(source.s3Seed.chosen).toBe(false);
      expect(source.s3Seed.freezeSeconds).toBe(source.s3Seed.freeze.dumpSeconds! + source.s3Seed.freeze.uploadSeconds! + source.s3Seed.freeze.createSeconds!);
      expect(world.elastiCache.groupIds()).toEqual([]);
      expect(world.s3.keys(SANDBOX_SEED_BUCKET)).toEqual([]);
      for (const s of (await world.snapshot()).services) expect({ name: s.name, replicas: s.replicas }).toEqual({ name: s.name, replicas: 1 });
    } finally {
      await world.close();
    }
  }, 60_000);

  it('S3 refusing the upload: rolled back inside the pause, Spinnaker resumed on spin-redis, nothing in S3, no group', async () => {
    const { world, result } = await rehearse({ copyMethod: 's3-seed' }, {}, (w) => {
      for (const operation of ['PutObject', 'UploadPart']) w.s3.faults.add({ operation, kind: 'access-denied', times: 1000 });
    });
    try {
      expect(result.status).toBe('FAILED');
      expect(result.error).toBe('MigrationRolledBack');
      expect(result.cause).toContain('AwsAccessDeniedError');
      expect(result.cause).toMatch(/no ElastiCache group had been created yet\.$/);
      expect(result.steps.map((s) => s.name)).toEqual(expect.arrayContaining(['ResumeSpinnakerOnSpinRedis', 'RollbackDeleteSeedSnapshot']));
      expect(world.elastiCache.groupIds()).toEqual([]);
      expectBackOnSpinRedis(await world.snapshot(), world);
    } finally {
      await world.close();
    }
  }, 120_000);

  it('ElastiCache refusing the snapshot (not readable by it): rolled back, the object deleted', async () => {
    const { world, result } = await rehearse({ copyMethod: 's3-seed' }, {}, (w) => w.s3.deleteBucketPolicy(SANDBOX_SEED_BUCKET));
    try {
      expect(result.status).toBe('FAILED');
      expect(result.error).toBe('MigrationRolledBack');
      expect(result.cause).toMatch(/AwsInvalidParameterError.*No permission to access S3 object/);
      expect(result.cause).toMatch(/no ElastiCache group had been created yet\.$/);
      expect(world.elastiCache.groupIds()).toEqual([]);
      expect(result.steps.map((s) => s.name)).toContain('RollbackDeleteSeedSnapshot');
      expectBackOnSpinRedis(await world.snapshot(), world);
    } finally {
      await world.close();
    }
  }, 120_000);

  it('a seed too large for the node: restore-failed, rolled back, and with cleanupOnFailure the group is deleted', async () => {
    const { world, result } = await rehearse({ copyMethod: 's3-seed', nodeMemoryBytes: { 'cache.r7g.large': 4096 }, input: { options: { cleanupOnFailure: true } } });
    try {
      expect(result.status).toBe('FAILED');
      expect(result.cause).toMatch(/ReplicationGroupCreateFailedError.*restore-failed.*does not fit a cache.r7g.large node/);
      // The step waits out the group's deletion, then deletes its subnet and parameter groups: nothing is left.
      expect(result.cause).toMatch(/the ElastiCache resources this execution created were deleted \(options.cleanupOnFailure\)\.$/);
      expect(result.steps.find((s) => s.name === 'RollbackCleanupCreatedResources')).toMatchObject({ status: 'SUCCEEDED' });
      expect(world.elastiCache.groupIds()).toEqual([]);
      expect(world.elastiCache.subnetGroupNames()).toEqual([]);
      expect(world.elastiCache.parameterGroupNames().filter((name) => !name.startsWith('default.'))).toEqual([]);
      expectBackOnSpinRedis(await world.snapshot(), world);
    } finally {
      await world.close();
    }
  }, 120_000);
});
