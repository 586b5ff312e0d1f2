/** The Halyard change planned once: what the dry run shows is what the patch writes, and the rollback undoes it. */
import { describe, expect, it } from '@jest/globals';
import { parseMigrationInput } from '../../../lib/config/schema.js';
import { applyHalyardChange, planHalyardChange, restoreHalyardConfig } from '../../../lib/halyard/change.js';
import type { ClusterApi, ConfigMap } from '../../../lib/kubernetes/api.js';
import { BACKUP_ANNOTATION, LOCK_ANNOTATION } from '../../../lib/kubernetes/lock.js';
import { redisTarget, REDIS_CLIENT_SERVICES } from '../../../lib/halyard/patch.js';

const config = parseMigrationInput({ cluster: { name: 'prod', region: 'us-east-1' }, target: { replicationGroupId: 'spin-redis' } });
const ME = 'arn:aws:states:us-east-1:1:execution:sm:me';
const endpoint = redisTarget(config, { address: 'master.spin-redis.x.cache.amazonaws.com', port: 6379 });
const PROFILES = REDIS_CLIENT_SERVICES.map((s) => `${s}-local.yml`);
const HAL = '/home/spinnaker/.hal/default';
const original = { 'redis.yml': '# ours\nsomething: kept\n', 'unrelated.yml': 'x: 1\n' };

/** A ConfigMap locked by `owner` with its backup, and a Halyard pod whose files are a Map. */
class FakeHalyard {
  cm: ConfigMap;
  podFiles = new Map<string, string>([[`${HAL}/service-settings/redis.yml`, original['redis.yml']]]);
  constructor(owner = ME) {
    const annotations = { [LOCK_ANNOTATION]: JSON.stringify({ owner, acquiredAt: '2026-11-22T10:00:00Z' }), [BACKUP_ANNOTATION]: JSON.stringify(original) };
    this.cm = { metadata: { name: 'halyard-config', namespace: 'spinnaker', resourceVersion: '1', annotations }, data: { ...original } };
  }
  api(): Pick<ClusterApi, 'readConfigMap' | 'replaceConfigMap' | 'listPods' | 'exec'> {
    return {
      readConfigMap: async () => structuredClone(this.cm),
      replaceConfigMap: async (_ns, body) => {
        this.cm = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(Number(this.cm.metadata!.resourceVersion) + 1) } };
        return this.cm;
      },
      listPods: async () => [{ metadata: { name: 'halyard-0' }, spec: { containers: [{ name: 'halyard' }] }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }],
      exec: async (_ns, _pod, _container, command, stdin) => {
        const [cmd, ...args] = command;
        if (cmd === 'cat') {
          const content = this.podFiles.get(args[0]!);
          return content === undefined ? { exitCode: 1, stdout: '', stderr: 'No such file' } : { exitCode: 0, stdout: content, stderr: '' };
        }
        if (cmd === 'sh') this.podFiles.set(/cat > '(.*)'/.exec(args[1]!)![1]!, stdin ?? '');
        if (cmd === 'rm') this.podFiles.delete(args[1]!);
        return { exitCode: 0, stdout: '', stderr: '' };
      },
    };
  }
}

describe('the Halyard change', () => {
  it('writes exactly what the dry run planned, into the ConfigMap and the pod, and a re-run changes nothing', async () => {
    const halyard = new FakeHalyard();
    const plan = await planHalyardChange(halyard.api(), config, endpoint);
    expect(plan.changedKeys).toEqual([...PROFILES, 'redis.yml'].sort());
    expect(Object.keys(plan.diff())).toEqual(plan.changedKeys);

    const result = await applyHalyardChange(halyard.api(), config, ME, endpoint);
    expect(result).toMatchObject({ configMap: 'halyard-config', resourceVersion: '2', changedKeys: plan.changedKeys });
    expect(halyard.cm.data).toEqual({ ...original, ...Object.fromEntries(plan.changedKeys.map((k) => [k, plan.after[k]])) });
    expect(halyard.podFiles.get(`${HAL}/service-settings/redis.yml`)).toBe(plan.after['redis.yml']);
    for (const key of PROFILES) expect(halyard.podFiles.get(`${HAL}/profiles/${key}`)).toBe(plan.after[key]);

    await expect(applyHalyardChange(halyard.api(), config, ME, endpoint)).resolves.toMatchObject({ resourceVersion: '2', changedKeys: [], podFilesWritten: [] });
  });

  it('refuses to patch under another execution’s lock and leaves everything as it was', async () => {
    const halyard = new FakeHalyard('arn:aws:states:us-east-1:1:execution:sm:other');
    await expect(applyHalyardChange(halyard.api(), config, ME, endpoint)).rejects.toMatchObject({ name: 'MigrationLockedError' });
    expect(halyard.cm.data).toEqual(original);
  });

  it('restores the ConfigMap byte for byte from the backup and removes the pod files it added', async () => {
    const halyard = new FakeHalyard();
    await applyHalyardChange(halyard.api(), config, ME, endpoint);
    await expect(restoreHalyardConfig(halyard.api(), config)).resolves.toMatchObject({ restored: true });
    expect(halyard.cm.data).toEqual(original);
    expect([...halyard.podFiles]).toEqual([[`${HAL}/service-settings/redis.yml`, original['redis.yml']]]);
    await expect(restoreHalyardConfig(halyard.api(), config)).resolves.toEqual({ restored: false, podFilesWritten: [] });
  });

  it('will not restore without a backup', async () => {
    const halyard = new FakeHalyard();
    delete halyard.cm.metadata!.annotations![BACKUP_ANNOTATION];
    await expect(restoreHalyardConfig(halyard.api(), config)).rejects.toMatchObject({ name: 'KubernetesRequestError' });
  });
});
