/** Lock, rollout and scale rules against a small in-memory fake of the cluster API. */
import { describe, expect, it } from '@jest/globals';
import { parseMigrationInput } from '../../../lib/config/schema.js';
import type { ClusterApi, ConfigMap, Deployment, StatefulSet, WorkloadKind } from '../../../lib/kubernetes/api.js';
import type { ExecutionStatus } from '../../../lib/aws/executions.js';
import { acquireLock, releaseLock, BACKUP_ANNOTATION, LOCK_ANNOTATION } from '../../../lib/kubernetes/lock.js';
import { checkRollout } from '../../../lib/kubernetes/rollout.js';
import { scaleDownSpinRedis, scaleUpSpinRedis } from '../../../lib/kubernetes/scale.js';
import { mapKubernetesError } from '../../../lib/kubernetes/errors.js';

const config = parseMigrationInput({ cluster: { name: 'prod', region: 'us-east-1' }, target: { replicationGroupId: 'spin-redis' } });
const ME = 'arn:aws:states:us-east-1:1:execution:sm:me';
const OTHER = 'arn:aws:states:us-east-1:1:execution:sm:other';

class FakeCluster {
  cm: ConfigMap = { metadata: { name: 'halyard-config', namespace: 'spinnaker', resourceVersion: '1' }, data: { 'redis.yml': 'a: 1\n' } };
  deployments = new Map<string, Deployment>();
  statefulSets = new Map<string, StatefulSet>();
  conflictsLeft = 0;
  /** The object of that kind, or a 404 as the API server answers for a name of the other kind. */
  workload(name: string, kind: WorkloadKind): Deployment | StatefulSet {
    const found = (kind === 'StatefulSet' ? this.statefulSets : this.deployments).get(name);
    if (!found) throw mapKubernetesError({ code: 404, body: { message: `${kind.toLowerCase()}s.apps "${name}" not found` } }, `read ${kind} spinnaker/${name}`);
    return found;
  }
  api(): ClusterApi {
    return {
      readConfigMap: async () => structuredClone(this.cm),
      replaceConfigMap: async (_ns, body) => {
        if (this.conflictsLeft > 0 || body.metadata?.resourceVersion !== this.cm.metadata?.resourceVersion) {
          this.conflictsLeft--;
          throw mapKubernetesError({ code: 409, body: { message: 'the object has been modified' } }, 'update ConfigMap');
        }
        this.cm = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(Number(this.cm.metadata!.resourceVersion) + 1) } };
        return this.cm;
      },
      listDeployments: async () => [...this.deployments.values()],
      readServiceAccount: async (_ns, name) => ({ metadata: { name } }),
      readDeployment: async (_ns, name) => structuredClone(this.deployments.get(name)!),
      readWorkload: async (_ns, name, kind) => structuredClone(this.workload(name, kind)),
      patchDeploymentAnnotations: async (_ns, name, annotations, kind = 'Deployment') => {
        const d = this.workload(name, kind);
        const merged = { ...(d.metadata?.annotations ?? {}) } as Record<string, string>;
        for (const [k, v] of Object.entries(annotations))
          if (v === null) delete merged[k];
          else merged[k] = v;
        d.metadata = { ...d.metadata, annotations: merged };
        return d;
      },
      readScale: async (_ns, name, kind = 'Deployment') => this.workload(name, kind).spec!.replicas ?? 1,
      replaceScale: async (_ns, name, replicas, kind = 'Deployment') => {
        this.workload(name, kind).spec!.replicas = replicas;
        return replicas;
      },
      listPods: async () => [],
      readSecret: async () => ({}),
      exec: async () => ({ exitCode: 0, stdout: '', stderr: '' }),
      listSpinnakerServices: async () => [],
      patchSpinnakerService: async () => ({}),
      listEvents: async () => [],
    };
  }
}

const statusOf = (statuses: Record<string, ExecutionStatus>) => async (arn: string) => statuses[arn] ?? 'UNKNOWN';

describe('the migration lock', () => {
  it('takes a free lock and stores the original data as the backup', async () => {
    const cluster = new FakeCluster();
    const result = await acquireLock(cluster.api(), config, ME, statusOf({}));
    expect(result).toMatchObject({ owner: ME, alreadyHeld: false });
    expect(JSON.parse(cluster.cm.metadata!.annotations![LOCK_ANNOTATION]!).owner).toBe(ME);
    expect(JSON.parse(cluster.cm.metadata!.annotations![BACKUP_ANNOTATION]!)).toEqual({ 'redis.yml': 'a: 1\n' });
  });

  it('refuses while another execution is running, naming it', async () => {
    const cluster = new FakeCluster();
    await acquireLock(cluster.api(), config, OTHER, statusOf({}));
    await expect(acquireLock(cluster.api(), config, ME, statusOf({ [OTHER]: 'RUNNING' }))).rejects.toMatchObject({ name: 'MigrationLockedError', message: expect.stringContaining(OTHER) });
  });

  it('takes over a stale lock but keeps the original backup', async () => {
    const cluster = new FakeCluster();
    await acquireLock(cluster.api(), config, OTHER, statusOf({}));
    cluster.cm.data = { 'redis.yml': 'patched: true\n' }; // the dead run had patched it
    const result = await acquireLock(cluster.api(), config, ME, statusOf({ [OTHER]: 'FAILED' }));
    expect(result.tookOverFrom).toBe(OTHER);
    expect(JSON.parse(cluster.cm.metadata!.annotations![BACKUP_ANNOTATION]!)).toEqual({ 'redis.yml': 'a: 1\n' });
  });

  it('is idempotent for the same execution and releases only its own lock', async () => {
    const cluster = new FakeCluster();
    await acquireLock(cluster.api(), config, ME, statusOf({}));
    await expect(acquireLock(cluster.api(), config, ME, statusOf({}))).resolves.toMatchObject({ alreadyHeld: true });
    await expect(releaseLock(cluster.api(), config, OTHER)).resolves.toMatchObject({ released: false });
    await expect(releaseLock(cluster.api(), config, ME)).resolves.toEqual({ released: true });
    expect(cluster.cm.metadata!.annotations).toEqual({});
  });

  it('turns a concurrent edit into a retryable 409', async () => {
    const cluster = new FakeCluster();
    cluster.conflictsLeft = 1;
    await expect(acquireLock(cluster.api(), config, ME, statusOf({}))).rejects.toMatchObject({ name: 'KubernetesConflictError', retryable: true });
    await expect(acquireLock(cluster.api(), config, ME, statusOf({}))).resolves.toMatchObject({ owner: ME });
  });
});

const deployment = (name: string, generation: number, status: Partial<NonNullable<Deployment['status']>>, replicas = 1): Deployment => ({
  metadata: { name, generation },
  spec: { replicas, selector: {}, template: {} },
  status: { replicas, ...status },
});

describe('the rollout check', () => {
  const now = () => new Date('2026-11-22T12:00:00Z');
  it('is ready only when every service observed its generation and all replicas are updated and available', async () => {
    const cluster = new FakeCluster();
    cluster.deployments.set('spin-orca', deployment('spin-orca', 3, { observedGeneration: 3, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 }));
    cluster.deployments.set('spin-gate', deployment('spin-gate', 3, { observedGeneration: 3, updatedReplicas: 0, readyReplicas: 1, availableReplicas: 1, unavailableReplicas: 1 }));
    cluster.deployments.set('spin-redis', deployment('spin-redis', 1, { observedGeneration: 0 }));
    const first = await checkRollout(cluster.api(), config, undefined, now);
    expect(first).toMatchObject({ ready: false, polls: 1 });
    expect(first.deployments.map((d) => d.name)).toEqual(['spin-orca', 'spin-gate']);
    cluster.deployments.set('spin-gate', deployment('spin-gate', 3, { observedGeneration: 3, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 }));
    await expect(checkRollout(cluster.api(), config, first, now)).resolves.toMatchObject({ ready: true, polls: 2 });
  });

  it('fails past the bound, naming the stuck deployments', async () => {
    const cluster = new FakeCluster();
    cluster.deployments.set('spin-gate', deployment('spin-gate', 3, { observedGeneration: 3, updatedReplicas: 1, availableReplicas: 0, unavailableReplicas: 1 }));
    await expect(checkRollout(cluster.api(), config, { polls: 80, waitingSince: '2026-11-22T11:30:00Z' }, now)).rejects.toMatchObject({
      name: 'RolloutTimeoutError',
      message: expect.stringContaining('spin-gate (0/1 available'),
    });
  });
});

describe('scaling spin-redis', () => {
  it('records the original count once, scales to 0, and a re-run still reports the original', async () => {
    const cluster = new FakeCluster();
    cluster.deployments.set('spin-redis', deployment('spin-redis', 1, {}, 2));
    await expect(scaleDownSpinRedis(cluster.api(), config)).resolves.toEqual({ deployment: 'spin-redis', kind: 'Deployment', previousReplicas: 2, replicas: 0 });
    await expect(scaleDownSpinRedis(cluster.api(), config)).resolves.toEqual({ deployment: 'spin-redis', kind: 'Deployment', previousReplicas: 2, replicas: 0 });
    await expect(scaleUpSpinRedis(cluster.api(), config)).resolves.toEqual({ deployment: 'spin-redis', kind: 'Deployment', replicas: 2, restored: true });
    expect(cluster.deployments.get('spin-redis')!.spec!.replicas).toBe(2);
    await expect(scaleUpSpinRedis(cluster.api(), config)).resolves.toMatchObject({ replicas: 2, restored: false });
  });

  it("scales the Helm charts' Bitnami StatefulSet, not a Deployment of that name, and brings back its recorded replicas", async () => {
    const cluster = new FakeCluster();
    const helm = parseMigrationInput({
      cluster: { name: 'prod', region: 'us-east-1' },
      spinnaker: { spinRedis: { statefulSet: 'spinnaker-redis-master' } },
      target: { replicationGroupId: 'spin-redis' },
    });
    cluster.statefulSets.set('spinnaker-redis-master', {
      metadata: { name: 'spinnaker-redis-master' },
      spec: { replicas: 1, serviceName: 'spinnaker-redis-headless', selector: { matchLabels: { app: 'redis', role: 'master' } }, template: {} },
    });
    await expect(scaleDownSpinRedis(cluster.api(), helm)).resolves.toEqual({ deployment: 'spinnaker-redis-master', kind: 'StatefulSet', previousReplicas: 1, replicas: 0 });
    const down = cluster.statefulSets.get('spinnaker-redis-master')!;
    expect(down.spec!.replicas).toBe(0);
    expect(down.metadata!.annotations).toEqual({ 'spin-elasticache.io/previous-replicas': '1' });
    await expect(scaleUpSpinRedis(cluster.api(), helm)).resolves.toEqual({ deployment: 'spinnaker-redis-master', kind: 'StatefulSet', replicas: 1, restored: true });
    const up = cluster.statefulSets.get('spinnaker-redis-master')!;
    expect(up.spec!.replicas).toBe(1);
    expect(up.metadata!.annotations).toEqual({});
    // The Deployment-shaped default would have read a workload that does not exist.
    await expect(scaleDownSpinRedis(cluster.api(), config)).rejects.toMatchObject({ name: 'KubernetesNotFoundError' });
  });
});

describe("a Sentinel-managed spin-redis (Spotahome's RedisFailover)", () => {
  const failover = parseMigrationInput({
    cluster: { name: 'prod', region: 'us-east-1' },
    spinnaker: { spinRedis: { sentinel: { redisFailover: 'spin-redis' }, passwordSecret: { name: 'redis-auth', key: 'password' } } },
    target: { replicationGroupId: 'spin-redis' },
  });

  it("is left running (the operator reconciles rfr-<name> back, and takes replicas 0 as 3), naming what to run instead; the rollback's scale-up has nothing to restore", async () => {
    const cluster = new FakeCluster();
    cluster.statefulSets.set('rfr-spin-redis', { metadata: { name: 'rfr-spin-redis' }, spec: { replicas: 3, serviceName: 'rfr-spin-redis', selector: { matchLabels: {} }, template: {} } });
    const result = await scaleDownSpinRedis(cluster.api(), failover);
    expect(result).toMatchObject({ deployment: 'rfr-spin-redis', kind: 'StatefulSet', previousReplicas: 3, replicas: 3 });
    expect(result.leftRunning).toContain('kubectl -n spinnaker delete redisfailover spin-redis');
    const after = cluster.statefulSets.get('rfr-spin-redis')!;
    expect(after.spec!.replicas).toBe(3);
    expect(after.metadata!.annotations ?? {}).toEqual({});
    await expect(scaleUpSpinRedis(cluster.api(), failover)).resolves.toEqual({ deployment: 'rfr-spin-redis', kind: 'StatefulSet', replicas: 3, restored: false });
  });

  it('with sentinel addresses and no workload named, is left running too; with a StatefulSet named (no operator), it is scaled', async () => {
    const cluster = new FakeCluster();
    const bare = parseMigrationInput({
      cluster: { name: 'prod', region: 'us-east-1' },
      spinnaker: { spinRedis: { url: 'redis-sentinel://10.0.0.5:26379/mymaster' } },
      target: { replicationGroupId: 'spin-redis' },
    });
    await expect(scaleDownSpinRedis(cluster.api(), bare)).resolves.toMatchObject({ replicas: 0, leftRunning: expect.stringContaining('spinRedis.statefulSet') });
    const named = parseMigrationInput({
      cluster: { name: 'prod', region: 'us-east-1' },
      spinnaker: { spinRedis: { url: 'redis-sentinel://10.0.0.5:26379/mymaster', statefulSet: 'redis-node' } },
      target: { replicationGroupId: 'spin-redis' },
    });
    cluster.statefulSets.set('redis-node', { metadata: { name: 'redis-node' }, spec: { replicas: 3, serviceName: 'redis-headless', selector: { matchLabels: {} }, template: {} } });
    await expect(scaleDownSpinRedis(cluster.api(), named)).resolves.toEqual({ deployment: 'redis-node', kind: 'StatefulSet', previousReplicas: 3, replicas: 0 });
  });
});

describe('mapKubernetesError', () => {
  it.each([
    [409, 'KubernetesConflictError'],
    [403, 'KubernetesForbiddenError'],
    [401, 'KubernetesForbiddenError'],
    [404, 'KubernetesNotFoundError'],
    [429, 'KubernetesUnavailableError'],
    [503, 'KubernetesUnavailableError'],
    [422, 'KubernetesRequestError'],
  ])('maps HTTP %i to %s', (code, name) => {
    expect(mapKubernetesError({ code, body: '{"message":"x"}' }, 'ctx').name).toBe(name);
  });
});
