/** The simulated Spinnaker and the seed on their own: Halyard's files and hal's checks, spin-redis following its Deployment, deterministic seed data. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis } from '../../../lib/redis/connect.js';
import { ObjectStore } from '../../../sandbox/kubernetes/store.js';
import { createSpinnakerSimulation, INITIAL_FILES, type SpinnakerSimulation } from '../../../sandbox/spinnaker/index.js';
import { seedSpinnakerData } from '../../../sandbox/seed.js';
import { startRedis } from '../../../sandbox/redis/redis-process.js';

const HAL = '/home/spinnaker/.hal/default';
let store: ObjectStore;
let sim: SpinnakerSimulation;

beforeAll(async () => {
  store = new ObjectStore();
  sim = createSpinnakerSimulation({ dir: mkdtempSync(join(tmpdir(), 'sim-')), resolveSecret: async () => 'unused', podStartMs: 50 });
  await sim.install(store);
});
afterAll(async () => sim?.close());

const exec = (command: string[], stdin?: string) => sim.exec({ namespace: 'spinnaker', pod: 'halyard', container: 'halyard', command, ...(stdin === undefined ? {} : { stdin: Buffer.from(stdin) }) });

describe('the simulated Halyard pod', () => {
  it('starts with the ConfigMap files copied into ~/.hal, as the Helm chart does', async () => {
    expect(await exec(['cat', `${HAL}/profiles/gate-local.yml`])).toEqual({ stdout: INITIAL_FILES['gate-local.yml'], stderr: '', exitCode: 0 });
    expect((await exec(['cat', `${HAL}/nope.yml`])).exitCode).toBe(1);
    expect((await exec(['kubectl', 'version'])).exitCode).toBe(127);
  });

  it('fails hal deploy apply on an illegal overrideBaseUrl and changes no Deployment', async () => {
    const before = store.get('Deployment', 'spinnaker', 'spin-orca')!.metadata.generation;
    expect((await exec(['sh', '-c', `cat > '${HAL}/service-settings/redis.yml'`], 'overrideBaseUrl: not a url\n')).exitCode).toBe(0);
    const result = await exec(['hal', 'deploy', 'apply']);
    expect(result.exitCode).toBe(1);
    expect(String(result.stderr)).toContain('Illegal override baseURL');
    expect(store.get('Deployment', 'spinnaker', 'spin-orca')!.metadata.generation).toBe(before);
    await exec(['sh', '-c', `cat > '${HAL}/service-settings/redis.yml'`], INITIAL_FILES['redis.yml']);
  });

  it('stops spin-redis when its Deployment scales to 0 and starts it again on scale-up', async () => {
    const scale = (replicas: number) => {
      const d = store.get('Deployment', 'spinnaker', 'spin-redis')!;
      store.update({ ...d, spec: { ...(d.spec as object), replicas } });
    };
    expect(sim.spinRedis).toBeDefined();
    scale(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(sim.spinRedis).toBeUndefined();
    expect(store.list('Pod', 'spinnaker', 'cluster=spin-redis')).toEqual([]);
    scale(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(sim.spinRedis).toBeDefined();
    expect(store.list('Pod', 'spinnaker', 'cluster=spin-redis')).toHaveLength(1);
  });
});

describe('seedSpinnakerData', () => {
  it('writes the Spinnaker shapes, the same way for the same seed', async () => {
    const server = await startRedis({ dir: mkdtempSync(join(tmpdir(), 'seed-')) });
    const redis = await connectRedis({ url: server.url });
    try {
      const first = await seedSpinnakerData(redis, { keys: 2000, seed: 7 });
      const sample = (await redis.keys('pipeline:*')).sort().slice(0, 5);
      const hash = await redis.hgetall(sample.find((k) => !k.includes(':', 'pipeline:'.length))!);
      await redis.flushall();
      const second = await seedSpinnakerData(redis, { keys: 2000, seed: 7 });
      expect(second).toEqual(first);
      expect(first.keys).toBeGreaterThanOrEqual(2000);
      expect(first.pipelines).toBeGreaterThan(0);
      expect(first.sessions).toBeGreaterThan(0);
      expect(hash).toMatchObject({ application: expect.any(String), status: expect.any(String), startTime: expect.any(String) });
      expect(await redis.type('allJobs:pipeline')).toBe('set');
      expect(await redis.pttl((await redis.keys('spring:session:sessions:expires:*'))[0]!)).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });
});
