/**
 * The simulated Spinnaker and the seed on their own: Halyard's files and hal's checks, spin-redis
 * following its Deployment, Kubernetes semantics for the services' pods (rolling update with an
 * overlap, scale to 0, a pod that cannot reach its Redis is not Ready), the writers' keys, and
 * deterministic seed data with a real install's shares.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis } from '../../../lib/redis/connect.js';
import { type KubeObject, ObjectStore } from '../../../sandbox/kubernetes/store.js';
import { createSpinnakerSimulation, INITIAL_FILES, type SpinnakerSimulation } from '../../../sandbox/spinnaker/index.js';
import { REDIS_ENABLED_ANNOTATION, REDIS_URL_ANNOTATION } from '../../../sandbox/spinnaker/halyard.js';
import { EchoInstance } from '../../../sandbox/spinnaker/services/echo.js';
import { seedSpinnakerData } from '../../../sandbox/seed.js';
import { type RedisProcess, startRedis } from '../../../sandbox/redis/redis-process.js';

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}
const spinClients = async (url: string) => {
  const r = await connectRedis({ url });
  try {
    return ((await r.client('LIST')) as string).split('\n').filter((l) => / name=spin-(orca|clouddriver|gate|igor|fiat|echo|rosco)-/.test(l)).length;
  } finally {
    r.disconnect();
  }
};

describe('the services and their pods', () => {
  let other: RedisProcess;
  let traffic: SpinnakerSimulation;
  let trafficStore: ObjectStore;
  const pointAt = (name: string, annotations: Record<string, string>) => {
    const d = trafficStore.get('Deployment', 'spinnaker', name)!;
    const template = (d.spec as { template: { metadata: { annotations: Record<string, string> } } }).template;
    trafficStore.update({ ...d, spec: { ...(d.spec as object), template: { ...template, metadata: { ...template.metadata, annotations: { ...template.metadata.annotations, ...annotations } } } } });
  };
  const podsOf = (name: string) => trafficStore.list('Pod', 'spinnaker', `cluster=${name}`);
  const ready = (pod: KubeObject) => (pod.status as { conditions: { status: string }[] }).conditions[0]?.status === 'True';

  beforeAll(async () => {
    other = await startRedis({ dir: mkdtempSync(join(tmpdir(), 'other-')), password: 'right-password' });
    trafficStore = new ObjectStore();
    // kork-secrets resolves the whole redis.connection: a URL with the password in its user-info.
    const withPassword = (password: string) => `redis://:${password}@127.0.0.1:${other.port}`;
    traffic = createSpinnakerSimulation({
      dir: mkdtempSync(join(tmpdir(), 'sim-traffic-')),
      resolveSecret: async (ref) => withPassword(ref === 'encrypted:good' ? 'right-password' : 'wrong-password'),
      podStartMs: 100,
    });
    await traffic.install(trafficStore);
    await traffic.startTraffic();
  });
  afterAll(async () => {
    await traffic?.close();
    await other?.stop();
  });

  it('writes the real keys of every service on spin-redis', async () => {
    const r = await connectRedis({ url: traffic.spinRedisUrl });
    try {
      const patterns = [
        'allJobs:pipeline',
        'kubernetes:pods:attributes:*',
        'task:*',
        'spinnaker:fiat:users',
        'igor:jenkins-main:*',
        '{echo:pubsub:completed}:*',
        'spring:session:sessions:*',
        'allBakes',
      ];
      const missing = async () => {
        const out: string[] = [];
        for (const p of patterns) if ((await r.keys(p)).length === 0) out.push(p);
        return out;
      };
      await until('every service wrote', async () => (await missing()).length === 0, 15_000).catch(async () => expect(await missing()).toEqual([]));
      expect(await r.type('orca.task.queue.messages')).toMatch(/hash|none/);
      expect(await r.type('allJobs:pipeline')).toBe('set');
      expect(await r.type('monitor.active-executions')).toMatch(/hash|none/);
      expect((await r.keys('kubernetes:pods:attributes:*')).length).toBeGreaterThan(0);
      expect(await r.type('kubernetes:pods:hashes')).toBe('hash');
      expect((await r.keys('task:*')).length).toBeGreaterThan(0);
      expect(await r.type('spinnaker:fiat:users')).toBe('set');
      expect((await r.keys('igor:jenkins-main:*')).length).toBeGreaterThan(0);
      expect((await r.keys('{echo:pubsub:completed}:*')).length).toBeGreaterThan(0);
      expect((await r.keys('spring:session:sessions:*')).length).toBeGreaterThan(0);
      expect(await r.type('allBakes')).toBe('zset');
      // keiko's poll script was loaded with SCRIPT LOAD, then called with EVALSHA.
      expect(String(await r.info('commandstats'))).toMatch(/cmdstat_evalsha:calls=\d+/);
      expect(traffic.ledger.writes).toBeGreaterThan(50);
      expect(traffic.ledger.longestPollGapMs).toBeLessThan(2000);
    } finally {
      r.disconnect();
    }
  });

  it('keeps a pod whose Redis refuses its password not Ready, and the old pod serving', async () => {
    pointAt('spin-fiat', { [REDIS_URL_ANNOTATION]: 'encrypted:bad' });
    await until('a second fiat pod', () => podsOf('spin-fiat').length === 2);
    await sleep(600);
    const pods = podsOf('spin-fiat');
    expect(pods.filter(ready)).toHaveLength(1);
    const status = trafficStore.get('Deployment', 'spinnaker', 'spin-fiat')!.status as Record<string, number>;
    expect(status).toMatchObject({ replicas: 2, updatedReplicas: 1, readyReplicas: 1 });
  });

  it('rolls a new template out with the old and the new pod running at once, each on its own Redis', async () => {
    const before = podsOf('spin-orca');
    expect(before).toHaveLength(1);
    pointAt('spin-orca', { [REDIS_URL_ANNOTATION]: 'encrypted:good' });
    // maxSurge 1, maxUnavailable 0: the new pod starts and is Ready while the old one still runs.
    await until('two orca pods, both Ready', () => podsOf('spin-orca').filter(ready).length === 2 || podsOf('spin-orca').length === 1);
    await until('the old orca pod gone', () => podsOf('spin-orca').length === 1 && podsOf('spin-orca')[0]!.metadata.name !== before[0]!.metadata.name);
    const events = traffic.ledger.instanceEvents.filter((e) => e.service === 'orca');
    const newStart = events.find((e) => e.event === 'start' && e.url === other.url)!;
    const oldStop = events.find((e) => e.event === 'stop' && e.pod === before[0]!.metadata.name)!;
    expect(newStart.t).toBeLessThanOrEqual(oldStop.t);
    const r = await connectRedis({ url: other.url, password: 'right-password' });
    try {
      // The new orca launches executions on its Redis.
      await until('an execution on the new Redis', async () => (await r.exists('allJobs:pipeline')) === 1, 10_000);
    } finally {
      r.disconnect();
    }
    expect(trafficStore.get('Deployment', 'spinnaker', 'spin-orca')!.status).toMatchObject({ replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 });
  });

  it('starts echo with redis.enabled false without a Redis connection, and it refuses every Pub/Sub message', async () => {
    const before = podsOf('spin-echo')[0]!.metadata.name;
    pointAt('spin-echo', { [REDIS_ENABLED_ANNOTATION]: 'false' });
    await until('the new echo pod alone and Ready', () => podsOf('spin-echo').length === 1 && podsOf('spin-echo')[0]!.metadata.name !== before && ready(podsOf('spin-echo')[0]!));
    const pod = podsOf('spin-echo')[0]!.metadata.name;
    const echo = traffic.instances.find((i): i is EchoInstance => i instanceof EchoInstance && i.pod === pod)!;
    await until('a message refused', () => echo.refused > 0);
    expect(echo.triggered).toBe(0);
    expect(traffic.snapshot().services.find((s) => s.name === 'spin-echo')).toMatchObject({ redisEnabled: false, redis: undefined, ready: true });
    const r = await connectRedis({ url: traffic.spinRedisUrl });
    try {
      expect(String(await r.client('LIST'))).not.toContain(`name=spin-echo-${pod}`);
    } finally {
      r.disconnect();
    }
  });

  it('deletes the pods of a Deployment scaled to 0, and their instances leave Redis', async () => {
    pointAt('spin-fiat', { [REDIS_URL_ANNOTATION]: traffic.spinRedisUrl });
    for (const name of ['spin-orca', 'spin-clouddriver', 'spin-gate', 'spin-igor', 'spin-fiat', 'spin-echo', 'spin-rosco']) {
      const d = trafficStore.get('Deployment', 'spinnaker', name)!;
      trafficStore.update({ ...d, spec: { ...(d.spec as object), replicas: 0 } });
    }
    await until('no pods left', () => ['spin-orca', 'spin-gate', 'spin-fiat'].every((n) => podsOf(n).length === 0));
    await until('no Spinnaker client on spin-redis', async () => (await spinClients(traffic.spinRedisUrl)) === 0);
    await until('no Spinnaker client on the other Redis', async () => (await spinClients(`redis://:right-password@127.0.0.1:${other.port}`)) === 0);
    expect(trafficStore.get('Deployment', 'spinnaker', 'spin-orca')!.status).toMatchObject({ replicas: 0, readyReplicas: 0 });
  });
});

describe('seedSpinnakerData', () => {
  it('writes the Spinnaker shapes, the same way for the same seed', async () => {
    const server = await startRedis({ dir: mkdtempSync(join(tmpdir(), 'seed-')) });
    const redis = await connectRedis({ url: server.url });
    try {
      const first = await seedSpinnakerData(redis, { keys: 2000, seed: 7 });
      const sample = (await redis.keys('pipeline:*')).sort().slice(0, 5);
      const hash = await redis.hgetall(sample.find((k) => !k.includes(':', 'pipeline:'.length) && !k.startsWith('pipeline:executions'))!);
      await redis.flushall();
      const second = await seedSpinnakerData(redis, { keys: 2000, seed: 7 });
      expect(second).toEqual(first);
      expect(first.keys).toBeGreaterThanOrEqual(2000);
      expect(first.pipelines).toBeGreaterThan(0);
      expect(first.sessions).toBeGreaterThan(0);
      // Shares like a real install: clouddriver's cache is the largest tenant, orca second.
      expect(
        Object.entries(first.byService)
          .sort(([, a], [, b]) => b - a)
          .map(([s]) => s)
          .slice(0, 2),
      ).toEqual(['clouddriver', 'orca']);
      expect(await redis.type('kubernetes:pods:members')).toBe('set');
      expect(await redis.ttl((await redis.keys('task:*'))[0]!)).toBeGreaterThan(40_000);
      expect(await redis.type('pipeline:executions:pcfg-checkout-0')).toMatch(/zset|none/);
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
      // Rolling until every pod runs the new template and is Ready (a crash-looping pod keeps it rolling: then the 2 s run out).
      const rolling = ha.serviceList.some((s) => {
        const d = secured.get('Deployment', 'spinnaker', s.name);
        const st = (d?.status ?? {}) as { observedGeneration?: number; updatedReplicas?: number; replicas?: number; readyReplicas?: number };
        const wanted = (d?.spec as { replicas?: number } | undefined)?.replicas ?? 1;
        return (st.observedGeneration ?? 0) < (d?.metadata.generation ?? 0) || st.replicas !== wanted || st.updatedReplicas !== wanted || st.readyReplicas !== wanted;
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
