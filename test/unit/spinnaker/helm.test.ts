/**
 * The Helm flavours' change (lib/spinnaker/helm.ts) against a fake cluster holding the two
 * ConfigMaps as stable/spinnaker renders them (templates/configmap/service-settings.yaml,
 * additional-profile-configmaps.yaml) and the chart's Halyard pod with the files its init
 * container copied: the ConfigMaps' end state after the patch, a `helm upgrade` in between, and
 * the restore.
 */
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { parseMigrationInput } from '../../../lib/config/schema.js';
import { redisTarget } from '../../../lib/halyard/patch.js';
import type { ClusterApi, ConfigMap } from '../../../lib/kubernetes/api.js';
import { BACKUP_ANNOTATION, LOCK_ANNOTATION } from '../../../lib/kubernetes/lock.js';
import { spinnakerConfigFlavor } from '../../../lib/spinnaker/flavor.js';
import { chartValues, opsmxGitOpsMode } from '../../../lib/spinnaker/helm.js';
import { mapKubernetesError } from '../../../lib/kubernetes/errors.js';

const ME = 'arn:aws:states:us-east-1:1:execution:sm:me';
const FULLNAME = 'spinnaker-spinnaker';
const SS = `${FULLNAME}-service-settings`;
const PROFILES = `${FULLNAME}-additional-profile-config-maps`;
const HAL = '/home/spinnaker/.hal/default';
const BITNAMI_PASSWORD = 'bitnami-Pa55word';
/** As the chart renders them: maps through toYaml (keys sorted), the password in the URL. */
const RENDERED: Record<string, Record<string, string>> = {
  [SS]: { 'redis.yml': `overrideBaseUrl: redis://:${BITNAMI_PASSWORD}@spinnaker-redis-master:6379\nskipLifeCycleManagement: true\n`, 'deck.yml': 'API_HOST: http://spin-gate:8084\n' },
  [PROFILES]: { 'gate-local.yml': '{}\n' },
};
const ENDPOINT = { address: 'master.spin.abc123.use1.cache.amazonaws.com', port: 6379 };

class FakeChart {
  maps = new Map<string, ConfigMap>();
  pod = new Map<string, string>();
  constructor() {
    for (const [name, data] of Object.entries(RENDERED))
      this.maps.set(name, { metadata: { name, namespace: 'spinnaker', resourceVersion: '1', labels: { app: FULLNAME, heritage: 'Helm' } }, data: { ...data } });
    this.initContainer();
  }
  /** templates/configmap/halyard-init-script.yaml: rm -rf, then cp of both ConfigMaps. */
  initContainer() {
    this.pod.clear();
    for (const [key, content] of Object.entries(this.maps.get(SS)!.data ?? {})) this.pod.set(`${HAL}/service-settings/${key}`, content);
    for (const [key, content] of Object.entries(this.maps.get(PROFILES)!.data ?? {})) this.pod.set(`${HAL}/profiles/${key}`, content);
  }
  /** Helm 3's three-way merge on upgrade: the chart's keys back to what it renders, keys only in the cluster kept. */
  helmUpgrade() {
    for (const [name, data] of Object.entries(RENDERED)) {
      const cm = this.maps.get(name)!;
      cm.data = { ...cm.data, ...data };
      cm.metadata!.resourceVersion = String(Number(cm.metadata!.resourceVersion) + 1);
    }
  }
  api(): ClusterApi {
    const api: Partial<ClusterApi> = {
      readConfigMap: async (_ns, name) => {
        const cm = this.maps.get(name);
        if (!cm) throw mapKubernetesError({ code: 404, body: { message: `configmaps "${name}" not found` } }, `read ConfigMap ${name}`);
        return structuredClone(cm);
      },
      replaceConfigMap: async (_ns, body) => {
        const name = body.metadata!.name!;
        const current = this.maps.get(name)!;
        if (body.metadata?.resourceVersion !== current.metadata?.resourceVersion) throw mapKubernetesError({ code: 409, body: { message: 'the object has been modified' } }, 'update ConfigMap');
        const next = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(Number(current.metadata!.resourceVersion) + 1) } };
        this.maps.set(name, next);
        return next;
      },
      listPods: async (_ns, selector) =>
        selector.startsWith('component=halyard')
          ? [
              {
                metadata: { name: `${FULLNAME}-halyard-0`, labels: { app: FULLNAME, component: 'halyard', release: 'spinnaker' } },
                spec: { containers: [{ name: 'halyard' }] },
                status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
              },
            ]
          : [],
      exec: async (_ns, _pod, _container, command, stdin) => {
        const [cmd, ...args] = command;
        if (cmd === 'cat') {
          const content = this.pod.get(args[0]!);
          return content === undefined ? { exitCode: 1, stdout: '', stderr: 'No such file' } : { exitCode: 0, stdout: content, stderr: '' };
        }
        if (cmd === 'sh') this.pod.set(/cat > '(.*)'/.exec(args[1]!)![1]!, stdin ?? '');
        if (cmd === 'rm') this.pod.delete(args[1]!);
        return { exitCode: 0, stdout: '', stderr: '' };
      },
    };
    return api as ClusterApi;
  }
}

const config = parseMigrationInput({
  cluster: { name: 'prod', region: 'us-east-1' },
  spinnaker: { flavor: 'helm-stable', spinRedis: { statefulSet: 'spinnaker-redis-master', passwordSecret: { name: 'spinnaker-redis', key: 'redis-password' } } },
  target: { replicationGroupId: 'spin', authTokenSecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:spinnaker/redis-auth-AbCdEf' },
});
const REF = 'encrypted:secrets-manager!r:us-east-1!s:spin-elasticache/spin/redis-url';
const status = async () => 'SUCCEEDED' as const;
const flavor = spinnakerConfigFlavor('helm-stable');
const target = redisTarget(config, ENDPOINT);

async function patched(chart = new FakeChart()) {
  await flavor.acquire(chart.api(), config, ME, status);
  const result = await flavor.apply(chart.api(), config, ME, target);
  return { chart, result };
}

describe('the Helm flavour (stable/spinnaker and OpsMx spinnaker-helm ConfigMaps)', () => {
  it("patches redis.yml in <fullname>-service-settings and every connecting service's profile in <fullname>-additional-profile-config-maps, and the Halyard pod's files to match", async () => {
    const { chart, result } = await patched();
    const ss = chart.maps.get(SS)!;
    const profiles = chart.maps.get(PROFILES)!;
    expect(parse(ss.data!['redis.yml']!)).toEqual({ overrideBaseUrl: `rediss://${ENDPOINT.address}:6379`, skipLifeCycleManagement: true });
    expect(ss.data!['deck.yml']).toBe(RENDERED[SS]!['deck.yml']);
    expect(parse(profiles.data!['gate-local.yml']!)).toEqual({ redis: { connection: REF, configuration: { secure: true } } });
    for (const svc of ['orca', 'clouddriver', 'igor', 'fiat', 'echo', 'rosco', 'kayenta']) expect(parse(profiles.data![`${svc}-local.yml`]!)).toEqual({ redis: { connection: REF } });
    // The running Halyard reads its own copy: the same bytes.
    expect(chart.pod.get(`${HAL}/service-settings/redis.yml`)).toBe(ss.data!['redis.yml']);
    expect(chart.pod.get(`${HAL}/profiles/orca-local.yml`)).toBe(profiles.data!['orca-local.yml']);
    // The lock and the service-settings backup on one ConfigMap, the profiles' backup on theirs.
    expect(JSON.parse(ss.metadata!.annotations![LOCK_ANNOTATION]!).owner).toBe(ME);
    expect(JSON.parse(ss.metadata!.annotations![BACKUP_ANNOTATION]!)).toEqual(RENDERED[SS]);
    expect(JSON.parse(profiles.metadata!.annotations![BACKUP_ANNOTATION]!)).toEqual(RENDERED[PROFILES]);
    expect(result.changedKeys).toContain(`${SS}/redis.yml`);
    expect(Object.keys(result.helm!.written[PROFILES]!).sort()).toEqual(
      ['clouddriver-local.yml', 'echo-local.yml', 'fiat-local.yml', 'gate-local.yml', 'igor-local.yml', 'kayenta-local.yml', 'orca-local.yml', 'rosco-local.yml', 'spinnaker-local.yml'].filter(
        (k) => k !== 'spinnaker-local.yml',
      ),
    );
    // A Halyard restart now copies the patched ConfigMaps: the same files.
    const before = new Map(chart.pod);
    chart.initContainer();
    for (const [path, content] of before) expect(chart.pod.get(path)).toBe(content);
  });

  it('never shows the Bitnami password of the chart-rendered redis.yml in the plan', async () => {
    const change = await flavor.plan(new FakeChart().api(), config, target);
    const text = JSON.stringify([change.diff(), change.notes, change.toCommit(), change.holder]);
    expect(text).not.toContain(BITNAMI_PASSWORD);
    expect(change.diff()[`${SS}/redis.yml`]).toContain(`-overrideBaseUrl: redis://:****@spinnaker-redis-master:6379`);
    expect(change.notes.join('\n')).toContain('additionalProfileConfigMaps');
  });

  it('restores both ConfigMaps and the pod files byte for byte, and drops the keys it added', async () => {
    const { chart, result } = await patched();
    const restored = await flavor.restore(chart.api(), config, result);
    expect(restored).toMatchObject({ restored: true });
    expect(chart.maps.get(SS)!.data).toEqual(RENDERED[SS]);
    expect(chart.maps.get(PROFILES)!.data).toEqual(RENDERED[PROFILES]);
    const fresh = new FakeChart();
    expect(Object.fromEntries(chart.pod)).toEqual(Object.fromEntries(fresh.pod));
  });

  it('notices a helm upgrade after the patch (SpinnakerConfigRevertedError), and the restore keeps what the chart re-rendered', async () => {
    const { chart, result } = await patched();
    await expect(flavor.assertChangeHolds!(chart.api(), config, result)).resolves.toBeUndefined();
    chart.helmUpgrade();
    // Helm 3 kept the keys we added: orca would stay on ElastiCache while gate goes back. Refused.
    expect(parse(chart.maps.get(PROFILES)!.data!['orca-local.yml']!)).toEqual({ redis: { connection: REF } });
    await expect(flavor.assertChangeHolds!(chart.api(), config, result)).rejects.toMatchObject({ name: 'SpinnakerConfigRevertedError', message: expect.stringContaining(`${SS}/redis.yml`) });
    const restored = await flavor.restore(chart.api(), config, result);
    expect(restored.keptFromHelmUpgrade?.sort()).toEqual([`${PROFILES}/gate-local.yml`, `${SS}/redis.yml`]);
    expect(chart.maps.get(SS)!.data).toEqual(RENDERED[SS]);
    expect(chart.maps.get(PROFILES)!.data).toEqual(RENDERED[PROFILES]);
    expect(chart.pod.get(`${HAL}/profiles/orca-local.yml`)).toBeUndefined();
    expect(chart.pod.get(`${HAL}/service-settings/redis.yml`)).toBe(RENDERED[SS]!['redis.yml']);
  });

  it('records every key it changed even when a retry finds part of the patch already written', async () => {
    const chart = new FakeChart();
    await flavor.acquire(chart.api(), config, ME, status);
    const first = await flavor.apply(chart.api(), config, ME, target);
    // The step is retried after both writes (e.g. the Lambda timed out while syncing the pod): nothing left to write.
    const retry = await flavor.apply(chart.api(), config, ME, target);
    expect(retry.helm!.written).toEqual(first.helm!.written);
    expect(Object.keys(retry.helm!.written[SS]!)).toEqual(['redis.yml']);
    chart.helmUpgrade();
    await expect(flavor.assertChangeHolds!(chart.api(), config, retry)).rejects.toMatchObject({ name: 'SpinnakerConfigRevertedError' });
  });

  it('releases the lock and both backups', async () => {
    const { chart } = await patched();
    await expect(flavor.release(chart.api(), config, ME)).resolves.toEqual({ released: true });
    expect(chart.maps.get(SS)!.metadata!.annotations ?? {}).toEqual({});
    expect(chart.maps.get(PROFILES)!.metadata!.annotations ?? {}).toEqual({});
  });

  it('gives the chart values that keep the change across helm upgrade, with no token', () => {
    const values = parse(chartValues(config, target, ENDPOINT)) as {
      redis: unknown;
      halyard: { additionalServiceSettings: Record<string, unknown>; additionalProfileConfigMaps: { data: Record<string, unknown> } };
    };
    expect(values.redis).toEqual({ enabled: false, external: { host: ENDPOINT.address, port: 6379 } });
    expect(values.halyard.additionalServiceSettings['redis.yml']).toEqual({ overrideBaseUrl: `rediss://${ENDPOINT.address}:6379`, skipLifeCycleManagement: true });
    expect(values.halyard.additionalProfileConfigMaps.data['gate-local.yml']).toEqual({ redis: { connection: REF, configuration: { secure: true } } });
  });
});

describe('the Helm pre-flight', () => {
  it('refuses, before anything is created, an input that still names the Halyard spin-redis Deployment, with the values to set', async () => {
    const plain = parseMigrationInput({ cluster: { name: 'prod', region: 'us-east-1' }, spinnaker: { flavor: 'helm-opsmx' }, target: { replicationGroupId: 'spin' } });
    const error = await spinnakerConfigFlavor('helm-opsmx').preflight!(new FakeChart().api(), plain).then(
      () => undefined,
      (e: unknown) => e as { name: string; message: string; issues: { path: string }[] },
    );
    expect(error?.name).toBe('InputValidationError');
    expect(error?.message).toContain('spinnaker-redis-master');
    expect(error?.message).toContain('"name": "spinnaker-redis", "key": "redis-password"');
    expect(error?.issues.map((i) => i.path)).toEqual(['spinnaker.spinRedis.statefulSet', 'spinnaker.spinRedis.passwordSecret']);
    await expect(spinnakerConfigFlavor('helm-opsmx').preflight!(new FakeChart().api(), config)).resolves.toBeUndefined();
  });
});

describe("OpsMx's GitOps mode", () => {
  it('is read from the Halyard pod (init containers from git or S3, hal deploy apply at start), and a plain chart pod is not', () => {
    expect(
      opsmxGitOpsMode({
        spec: {
          initContainers: [{ name: 'create-halyard-local', env: [{ name: 'GIT_CLONE_PARAM', valueFrom: {} }] }, { name: 'halyardconfig-update' }],
          containers: [{ name: 'halyard', lifecycle: { postStart: { exec: { command: ['/bin/sh', '-c', 'until curl http://localhost:8064/health; do sleep 10 ;done;hal deploy apply'] } } } }],
        },
      }),
    ).toEqual({
      tool: 'OpsMx Halyard GitOps',
      markers: ['init container create-halyard-local env GIT_CLONE_PARAM', 'init container halyardconfig-update', 'halyard postStart runs hal deploy apply'],
    });
    expect(opsmxGitOpsMode({ spec: { initContainers: [{ name: 'create-halyard-local' }], containers: [{ name: 'halyard' }] } })).toBeUndefined();
  });
});
