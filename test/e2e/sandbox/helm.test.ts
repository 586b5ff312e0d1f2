/**
 * Helm installs end to end (sandbox/spinnaker/helm.ts): spin-redis as the Bitnami StatefulSet
 * with a password, reached and scaled through the Kubernetes API as the steps do; a migration
 * that patches the chart's ConfigMaps and Halyard pod; kubectl sees the result as a user would.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseMigrationInput } from '../../../lib/config/schema.js';
import { handler as healthCheck } from '../../../handlers/health-check.js';
import { clusterApiFor } from '../../../lib/kubernetes/default-api.js';
import { scaleDownSpinRedis, scaleUpSpinRedis } from '../../../lib/kubernetes/scale.js';
import { resolveSourceEndpoint } from '../../../lib/kubernetes/spin-redis.js';
import { connectRedis } from '../../../lib/redis/connect.js';
import { PROFILES, REDIS_MASTER, SERVICE_SETTINGS } from '../../../sandbox/spinnaker/helm.js';
import type { ExecutionResult } from '../../../sandbox/runner.js';
import { startWorld, type SandboxWorld } from '../../../sandbox/world.js';
import { leakedSecrets, rehearse, yamlOf } from '../../support/sandbox.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const replicasOf = (world: SandboxWorld) => (world.kubernetes.store.get('StatefulSet', 'spinnaker', REDIS_MASTER)?.spec as { replicas?: number } | undefined)?.replicas;

async function until(what: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!what() && Date.now() < deadline) await sleep(50);
}

describe("spin-redis as the charts' Bitnami StatefulSet", () => {
  let world: SandboxWorld;
  beforeAll(async () => {
    world = await startWorld({ keys: 500, creationDelayMs: 300, podStartMs: 150, flavor: 'helm-stable' });
  }, 60_000);
  afterAll(async () => world?.close());

  it('is reached with the password read from the Secret through the Kubernetes API, and every service connected with the password from its URL user-info', async () => {
    const config = parseMigrationInput(world.input);
    const endpoint = await resolveSourceEndpoint(config, clusterApiFor(config));
    expect(endpoint.password).toBe(world.spinRedisEndpoint.password);
    const redis = await connectRedis(endpoint);
    expect(await redis.dbsize()).toBeGreaterThan(0);
    redis.disconnect();
    // Without it, NOAUTH: the services could only have started with the password.
    await expect(connectRedis({ url: world.spinnaker.spinRedisUrl }).then((r) => r.dbsize().finally(() => r.disconnect()))).rejects.toThrow(/NOAUTH|Authentication required/);
    const snapshot = await world.snapshot();
    const connecting = snapshot.services.filter((s) => s.redis !== undefined);
    expect(connecting.length).toBe(7);
    expect(connecting.every((s) => s.redis === world.spinnaker.spinRedisUrl && s.authenticated)).toBe(true);
  });

  it('scales down to 0 and back to its recorded replicas through the StatefulSet scale subresource, its data kept on the PVC', async () => {
    const config = parseMigrationInput(world.input);
    const api = clusterApiFor(config);
    const before = await connectRedis(world.spinRedisEndpoint).then(async (r) => {
      await r.set('helm-e2e:marker', 'kept');
      await r.call('BGREWRITEAOF').catch(() => undefined);
      const n = await r.dbsize();
      r.disconnect();
      return n;
    });
    await expect(scaleDownSpinRedis(api, config)).resolves.toEqual({ deployment: REDIS_MASTER, kind: 'StatefulSet', previousReplicas: 1, replicas: 0 });
    expect(replicasOf(world)).toBe(0);
    expect(world.kubernetes.store.get('StatefulSet', 'spinnaker', REDIS_MASTER)?.metadata.annotations?.['spin-elasticache.io/previous-replicas']).toBe('1');
    await until(() => world.spinnaker.spinRedis === undefined);
    expect(world.spinnaker.spinRedis).toBeUndefined();
    expect(world.kubernetes.store.list('Pod', 'spinnaker', 'app=redis,role=master')).toEqual([]);

    await expect(scaleUpSpinRedis(api, config)).resolves.toEqual({ deployment: REDIS_MASTER, kind: 'StatefulSet', replicas: 1, restored: true });
    expect(replicasOf(world)).toBe(1);
    expect(world.kubernetes.store.get('StatefulSet', 'spinnaker', REDIS_MASTER)?.metadata.annotations?.['spin-elasticache.io/previous-replicas']).toBeUndefined();
    await until(() => world.spinnaker.spinRedis !== undefined);
    expect(world.kubernetes.store.list('Pod', 'spinnaker', 'app=redis,role=master').map((p) => p.metadata.name)).toEqual([`${REDIS_MASTER}-0`]);
    const redis = await connectRedis(world.spinRedisEndpoint);
    expect(await redis.get('helm-e2e:marker')).toBe('kept');
    expect(await redis.dbsize()).toBeGreaterThanOrEqual(before - 50);
    redis.disconnect();
  }, 30_000);
});

describe('the helm-opsmx flavour', () => {
  let world: SandboxWorld;
  let result: ExecutionResult;
  beforeAll(async () => {
    ({ world, result } = await rehearse({ keys: 1000, flavor: 'helm-opsmx', auth: true }));
  }, 120_000);
  afterAll(async () => world?.close());

  it("migrates by patching the chart's ConfigMaps and the Halyard pod's files, scales the Bitnami StatefulSet to 0, and leaks neither the token nor the Bitnami password", async () => {
    expect(result.status).toBe('SUCCEEDED');
    expect((result.output as { lock?: { flavor?: string } }).lock?.flavor).toBe('helm-opsmx');
    expect(replicasOf(world)).toBe(0);
    const ss = world.kubernetes.store.get('ConfigMap', 'spinnaker', SERVICE_SETTINGS)!.data as Record<string, string>;
    const profiles = world.kubernetes.store.get('ConfigMap', 'spinnaker', PROFILES)!.data as Record<string, string>;
    const snapshot = await world.snapshot();
    expect(yamlOf(ss['redis.yml'])).toEqual({ overrideBaseUrl: snapshot.halyard.overrideBaseUrl, skipLifeCycleManagement: true });
    expect(yamlOf(profiles['orca-local.yml'])).toEqual({ redis: { connection: expect.stringMatching(/^encrypted:secrets-manager!r:us-east-1!s:spin-elasticache\//) } });
    // The running Halyard's copy says the same (the next restart copies the ConfigMaps again).
    expect(world.spinnaker.halyardFiles.get('/home/spinnaker/.hal/default/service-settings/redis.yml')).toBe(ss['redis.yml']);
    const connecting = snapshot.services.filter((s) => s.redis !== undefined);
    expect(connecting.every((s) => s.redis === snapshot.halyard.overrideBaseUrl && s.authenticated)).toBe(true);
    expect(snapshot.helm?.annotations[SERVICE_SETTINGS]).toEqual({});
    expect(leakedSecrets(world, result.output, result.history, snapshot)).toEqual([]);
  });

  it('kubectl get configmap,statefulset shows the patched config and spin-redis at 0', async () => {
    const ok = await run('sh', ['-c', 'command -v kubectl']).then(
      () => true,
      () => false,
    );
    if (!ok) return console.warn('skipped: kubectl is not installed');
    const { stdout } = await run('kubectl', ['--kubeconfig', world.endpoints.kubeconfig, '-n', 'spinnaker', 'get', 'configmap,statefulset']);
    expect(stdout).toMatch(new RegExp(`statefulset.apps/${REDIS_MASTER}\\s+0/0`));
    expect(stdout).toMatch(/statefulset.apps\/spinnaker-redis-replicas\s+3\/3/);
    const { stdout: redisYml } = await run('kubectl', ['--kubeconfig', world.endpoints.kubeconfig, '-n', 'spinnaker', 'get', 'configmap', SERVICE_SETTINGS, '-o', 'jsonpath={.data.redis\\.yml}']);
    expect(redisYml).toMatch(/^overrideBaseUrl: rediss:\/\//);
  });
});

describe('the health check after a Helm migration', () => {
  let world: SandboxWorld;
  beforeAll(async () => {
    const run = await rehearse({ keys: 300, flavor: 'helm-stable', auth: false });
    world = run.world;
    expect(run.result.status).toBe('SUCCEEDED');
  }, 120_000);
  afterAll(async () => world?.close());

  const spinnakerConfig = async () => {
    const printed: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => (printed.push(String(chunk)), true)) as typeof process.stdout.write;
    try {
      const report = (await healthCheck(world.input)) as { findings: { check: string; status: string; detail: string }[] };
      return { finding: report.findings.find((f) => f.check === 'spinnaker-config')!, spinRedis: report.findings.find((f) => f.check === 'spin-redis')!, printed: printed.join('') };
    } finally {
      process.stdout.write = write;
    }
  };

  it("reads the chart's redis.yml (the flavour detected from the Halyard pod), then flags the revert of a helm upgrade made without the new values, without printing the Bitnami password", async () => {
    const before = await spinnakerConfig();
    expect(before.finding.status).toBe('ok');
    expect(before.finding.detail).toContain(`${SERVICE_SETTINGS}/redis.yml`);
    const hook = await world.spinnaker.helmUpgrade();
    expect(hook.exitCode).toBe(0);
    const after = await spinnakerConfig();
    expect(after.finding.status).toBe('critical');
    expect(after.finding.detail).toMatch(/points at 127\.0\.0\.1:\d+, not at spinnaker-redis: the next Halyard restart and hal deploy apply/);
    // The upgrade also ran the Bitnami StatefulSet again.
    expect(after.spinRedis.status).toBe('warning');
    expect(JSON.stringify([after, before])).not.toContain(world.spinRedisEndpoint.password!);
  });
});

describe('the helm-stable dry run', () => {
  let world: SandboxWorld;
  let result: ExecutionResult;
  beforeAll(async () => {
    ({ world, result } = await rehearse({
      keys: 300,
      flavor: 'helm-stable',
      input: { options: { dryRun: true, maxWaitMinutes: 10, rolloutTimeoutMinutes: 2, drainTimeoutMinutes: 2, copySliceSeconds: 20 } },
    }));
  }, 120_000);
  afterAll(async () => world?.close());

  it("shows the chart's ConfigMaps' diff (the Bitnami password masked), the StatefulSet to scale and the chart values to set, and changes nothing", () => {
    const plan = (result.output as { plan?: { spinnaker: { flavor: string; holder: string; notes: string[] }; configMapDiff: Record<string, string>; scale: Record<string, unknown> } }).plan!;
    expect(plan.spinnaker.flavor).toBe('helm-stable');
    expect(plan.spinnaker.holder).toContain(SERVICE_SETTINGS);
    expect(Object.keys(plan.configMapDiff)).toContain(`${SERVICE_SETTINGS}/redis.yml`);
    expect(plan.configMapDiff[`${SERVICE_SETTINGS}/redis.yml`]).toContain('-overrideBaseUrl: redis://:****@');
    expect(plan.scale).toEqual({ deployment: REDIS_MASTER, kind: 'StatefulSet', from: 1, to: 0 });
    expect(plan.spinnaker.notes.join('\n')).toMatch(/additionalProfileConfigMaps:\n\s+data:\n\s+orca-local.yml:/);
    expect(leakedSecrets(world, result.output, result.history)).toEqual([]);
    expect(world.kubernetes.store.get('ConfigMap', 'spinnaker', SERVICE_SETTINGS)?.data).toEqual(world.spinnaker.chartRendered()?.[SERVICE_SETTINGS]);
    expect(replicasOf(world)).toBe(1);
  });
});
