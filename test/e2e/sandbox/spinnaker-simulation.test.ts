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

/**
 * What the simulated services read, with a password-protected Redis as the new target: only
 * `redis.connection` (or services.redis.baseUrl) with the password in the URL's user-info
 * counts, after the pod resolved a kork-secrets reference. A config that hands the token
 * where no service reads it (the old `redis.password`) leaves the pods unable to start.
 */
describe('what a simulated service connects with', () => {
  const TOKEN = 'Sandbox-Token#0123^456789';
  const REF = 'encrypted:secrets-manager!r:us-east-1!s:spin-elasticache/x/redis-url';
  let target: Awaited<ReturnType<typeof startRedis>>;
  let secured: ObjectStore;
  let ha: SpinnakerSimulation;
  const secrets = new Map<string, string>();

  beforeAll(async () => {
    target = await startRedis({ dir: mkdtempSync(join(tmpdir(), 'target-')), password: TOKEN });
    secrets.set(REF, `redis://:${encodeURIComponent(TOKEN)}@127.0.0.1:${target.port}`);
    secured = new ObjectStore();
    ha = createSpinnakerSimulation({
      dir: mkdtempSync(join(tmpdir(), 'sim-ha-')),
      flavor: 'halyard-ha',
      podStartMs: 50,
      resolveSecret: async (ref) => {
        const value = secrets.get(ref);
        if (value === undefined) throw new Error('AccessDeniedException');
        return value;
      },
    });
    await ha.install(secured);
  });
  afterAll(async () => {
    await ha?.close();
    await target?.stop();
  });

  const run = (command: string[], stdin?: string) => ha.exec({ namespace: 'spinnaker', pod: 'halyard', container: 'halyard', command, ...(stdin === undefined ? {} : { stdin: Buffer.from(stdin) }) });
  const write = async (path: string, content: string) => expect((await run(['sh', '-c', `cat > '${HAL}/${path}'`], content)).exitCode).toBe(0);
  const remove = (path: string) => run(['rm', '-f', `${HAL}/${path}`]);
  const settle = async () => {
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const rolling = ha.serviceList.some((s) => {
        const st = (secured.get('Deployment', 'spinnaker', s.name)?.status ?? {}) as { observedGeneration?: number; updatedReplicas?: number; replicas?: number; unavailableReplicas?: number };
        return (st.observedGeneration ?? 0) < (secured.get('Deployment', 'spinnaker', s.name)?.metadata.generation ?? 0) || st.updatedReplicas === 0;
      });
      if (!rolling) return;
    }
  };
  const connected = () =>
    Object.fromEntries(
      ha
        .snapshot()
        .services.filter((s) => s.redis !== undefined || s.redisEnabled === false)
        .map((s) => [s.name, { redis: s.redis, auth: s.authenticated, ready: s.ready }]),
    );
  const targetUrl = () => `redis://127.0.0.1:${target.port}`;

  it('installs HA clouddriver as four sub-services, all on spin-redis through ~/.hal/config', () => {
    expect(ha.serviceList.map((s) => s.name)).toEqual(expect.arrayContaining(['spin-clouddriver-rw', 'spin-clouddriver-ro', 'spin-clouddriver-ro-deck', 'spin-clouddriver-caching']));
    expect(ha.serviceList.map((s) => s.name)).not.toContain('spin-clouddriver');
    for (const [name, c] of Object.entries(connected())) expect({ name, redis: c.redis }).toEqual({ name, redis: ha.spinRedisUrl });
  });

  it('leaves every pod unable to start when the token sits where no service reads it (redis.password)', async () => {
    await write('service-settings/redis.yml', `overrideBaseUrl: ${targetUrl()}\nskipLifeCycleManagement: true\n`);
    await write('profiles/spinnaker-local.yml', `redis:\n  password: ${REF}\n`);
    expect((await run(['hal', 'deploy', 'apply'])).exitCode).toBe(0);
    await settle();
    const now = connected();
    // orca and the others would get NOAUTH: their new pods never become Ready, the old ones stay on spin-redis.
    for (const name of ['spin-orca', 'spin-gate', 'spin-echo', 'spin-fiat']) expect({ name, ready: now[name]?.ready, redis: now[name]?.redis }).toEqual({ name, ready: false, redis: ha.spinRedisUrl });
    // HA clouddriver does not even follow overrideBaseUrl: its overrides file still says spin-redis.
    for (const name of ['spin-clouddriver-rw', 'spin-clouddriver-ro', 'spin-clouddriver-ro-deck', 'spin-clouddriver-caching'])
      expect({ name, redis: now[name]?.redis, ready: now[name]?.ready }).toEqual({ name, redis: ha.spinRedisUrl, ready: true });
    await remove('profiles/spinnaker-local.yml');
  });

  it('connects every service, HA sub-services included, with the token from the resolved redis.connection', async () => {
    for (const service of ['orca', 'gate', 'clouddriver', 'igor', 'fiat', 'echo', 'rosco']) {
      await write(`profiles/${service}-local.yml`, `redis:\n  connection: ${REF}\n${service === 'gate' ? '  configuration:\n    secure: true\n' : ''}`);
    }
    expect((await run(['hal', 'deploy', 'apply'])).exitCode).toBe(0);
    await settle();
    for (const [name, c] of Object.entries(connected())) expect({ name, ...c }).toEqual({ name, redis: targetUrl(), auth: true, ready: true });
    expect(Object.keys(connected())).toHaveLength(10);
  });

  it('switches echo Pub/Sub off with enabled: false in redis.yml, and never scales spin-redis back up', async () => {
    await write('service-settings/redis.yml', `overrideBaseUrl: ${targetUrl()}\nskipLifeCycleManagement: true\nenabled: false\n`);
    await remove('profiles/echo-local.yml');
    const d = secured.get('Deployment', 'spinnaker', 'spin-redis')!;
    secured.update({ ...d, spec: { ...(d.spec as object), replicas: 0 } });
    expect((await run(['hal', 'deploy', 'apply'])).stdout).toContain('Redis deployment already exists... not redeploying');
    await settle();
    expect(ha.snapshot().services.find((s) => s.name === 'spin-echo')).toMatchObject({ redisEnabled: false, redis: undefined, ready: true });
    expect((secured.get('Deployment', 'spinnaker', 'spin-redis')!.spec as { replicas: number }).replicas).toBe(0);
  });
});
