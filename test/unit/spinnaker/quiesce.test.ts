/** The quiesce and the resume against a small in-memory cluster: which Deployments, what is recorded, idempotency, the bound. */
import { describe, expect, it } from '@jest/globals';
import { parseMigrationInput } from '../../../lib/config/schema.js';
import type { ClusterApi, Deployment, Pod } from '../../../lib/kubernetes/api.js';
import { checkQuiesced, QUIESCE_REPLICAS_ANNOTATION, quiesceSpinnaker, resumeSpinnaker } from '../../../lib/spinnaker/quiesce.js';

const config = parseMigrationInput({ cluster: { name: 'prod', region: 'us-east-1' }, target: { replicationGroupId: 'spin-redis-ec' }, options: { drainTimeoutMinutes: 2 } });

const deployment = (name: string, replicas: number): Deployment => ({
  metadata: { name, labels: { app: 'spin', cluster: name } },
  spec: { replicas, selector: { matchLabels: { app: 'spin', cluster: name } }, template: {} },
});

class Cluster {
  deployments = new Map<string, Deployment>(
    [
      deployment('spin-orca', 3),
      deployment('spin-clouddriver-ro-deck', 2),
      deployment('spin-echo-worker', 1),
      deployment('spin-gate', 2),
      deployment('spin-deck', 2),
      deployment('spin-front50', 1),
      deployment('spin-redis', 1),
      deployment('spin-kayenta', 0),
    ].map((d) => [d.metadata!.name!, d]),
  );
  pods: Pod[] = [];
  failScaleOf?: string;
  api(): ClusterApi {
    return {
      readConfigMap: async () => ({}),
      replaceConfigMap: async (_ns, body) => body,
      listDeployments: async () => [...this.deployments.values()].map((d) => structuredClone(d)),
      readDeployment: async (_ns, name) => structuredClone(this.deployments.get(name)!),
      readWorkload: async (_ns, name) => structuredClone(this.deployments.get(name)!),
      patchDeploymentAnnotations: async (_ns, name, annotations) => {
        const d = this.deployments.get(name)!;
        const merged = { ...(d.metadata?.annotations ?? {}) } as Record<string, string>;
        for (const [k, v] of Object.entries(annotations))
          if (v === null) delete merged[k];
          else merged[k] = v;
        d.metadata = { ...d.metadata, annotations: merged };
        return d;
      },
      readScale: async (_ns, name) => this.deployments.get(name)!.spec!.replicas ?? 1,
      replaceScale: async (_ns, name, replicas) => {
        if (name === this.failScaleOf) throw Object.assign(new Error('boom'), { name: 'KubernetesUnavailableError' });
        this.deployments.get(name)!.spec!.replicas = replicas;
        return replicas;
      },
      listPods: async (_ns, selector) => this.pods.filter((p) => selector.split(',').every((kv) => p.metadata?.labels?.[kv.split('=')[0]!] === kv.split('=')[1])),
      exec: async () => ({ exitCode: 0, stdout: '', stderr: '' }),
      readServiceAccount: async () => ({}),
      readSecret: async () => ({}),
      listSpinnakerServices: async () => [],
      patchSpinnakerService: async () => ({}),
      listEvents: async () => [],
    };
  }
  replicas = () => Object.fromEntries([...this.deployments].map(([n, d]) => [n, d.spec!.replicas]));
}

describe('quiescing Spinnaker', () => {
  it("scales every Redis user to 0 (HA splits included), never deck, front50 or spin-redis, recording each one's replicas", async () => {
    const cluster = new Cluster();
    const result = await quiesceSpinnaker(cluster.api(), config);
    expect(cluster.replicas()).toEqual({ 'spin-orca': 0, 'spin-clouddriver-ro-deck': 0, 'spin-echo-worker': 0, 'spin-gate': 0, 'spin-deck': 2, 'spin-front50': 1, 'spin-redis': 1, 'spin-kayenta': 0 });
    expect(Object.fromEntries(result.services.map((s) => [s.name, s.replicas]))).toEqual({ 'spin-orca': 3, 'spin-clouddriver-ro-deck': 2, 'spin-echo-worker': 1, 'spin-gate': 2, 'spin-kayenta': 0 });
    expect(cluster.deployments.get('spin-orca')!.metadata!.annotations![QUIESCE_REPLICAS_ANNOTATION]).toBe('3');
  });

  it('a retry after a partial quiesce, or a re-run without the state, never records 0 as the original', async () => {
    const cluster = new Cluster();
    cluster.failScaleOf = 'spin-gate';
    await expect(quiesceSpinnaker(cluster.api(), config)).rejects.toThrow('boom');
    cluster.failScaleOf = undefined;
    // The retry starts from nothing in the state: the annotations are the record.
    const retried = await quiesceSpinnaker(cluster.api(), config);
    expect(retried.services.find((s) => s.name === 'spin-orca')?.replicas).toBe(3);
    const again = await quiesceSpinnaker(cluster.api(), config, { previous: retried });
    expect(again).toEqual(retried);
    await resumeSpinnaker(cluster.api(), config, undefined);
    expect(cluster.replicas()).toMatchObject({ 'spin-orca': 3, 'spin-clouddriver-ro-deck': 2, 'spin-echo-worker': 1, 'spin-gate': 2, 'spin-kayenta': 0 });
    expect(cluster.deployments.get('spin-orca')!.metadata!.annotations?.[QUIESCE_REPLICAS_ANNOTATION]).toBeUndefined();
  });

  it('the rollback quiesce keeps the first pause counts even after Halyard re-applied others', async () => {
    const cluster = new Cluster();
    const first = await quiesceSpinnaker(cluster.api(), config);
    await resumeSpinnaker(cluster.api(), config, first);
    cluster.deployments.get('spin-orca')!.spec!.replicas = 1; // hal deploy apply: targetSize 1
    const rollback = await quiesceSpinnaker(cluster.api(), config, { originals: first.services });
    expect(rollback.services.find((s) => s.name === 'spin-orca')?.replicas).toBe(3);
    // Halyard already brought orca back to 1: resume leaves what is not at 0 alone.
    cluster.deployments.get('spin-orca')!.spec!.replicas = 1;
    const resumed = await resumeSpinnaker(cluster.api(), config, first);
    expect(resumed.services.find((s) => s.name === 'spin-orca')).toEqual({ name: 'spin-orca', replicas: 1, restored: false });
    expect(cluster.replicas()['spin-gate']).toBe(2);
  });

  it('waits while a pod is left, and past drainTimeoutMinutes names it', async () => {
    const cluster = new Cluster();
    const record = await quiesceSpinnaker(cluster.api(), config);
    cluster.pods = [{ metadata: { name: 'spin-orca-abc-1', labels: { app: 'spin', cluster: 'spin-orca' }, deletionTimestamp: new Date() } }];
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const first = await checkQuiesced(cluster.api(), config, record, undefined, [], () => new Date(t0));
    expect(first).toMatchObject({ quiesced: false, podsLeft: ['spin-orca-abc-1'], polls: 1 });
    await expect(checkQuiesced(cluster.api(), config, record, first, [], () => new Date(t0 + 3 * 60_000))).rejects.toMatchObject({
      name: 'SpinnakerQuiesceTimeoutError',
      message: expect.stringContaining('spin-orca-abc-1'),
    });
    cluster.pods = [];
    expect(await checkQuiesced(cluster.api(), config, record, first, [], () => new Date(t0 + 60_000))).toMatchObject({ quiesced: true, quiescedAt: '2026-01-01T00:01:00.000Z' });
  });
});
