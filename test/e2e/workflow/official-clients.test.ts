/**
 * The emulators are faithful enough for the official clients: after a rehearsal, `aws`
 * and `kubectl` see the replication group, the cluster, and the patched ConfigMap and
 * Deployments, exactly as a user poking at `npm start -- --keep` would.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { SandboxWorld } from '../../../sandbox/world.js';
import { rehearse } from '../../support/sandbox.js';

const run = promisify(execFile);
const has = async (cmd: string) =>
  run('sh', ['-c', `command -v ${cmd}`]).then(
    () => true,
    () => false,
  );

describe('official clients against the sandbox', () => {
  let world: SandboxWorld;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    ({ world } = await rehearse({ keys: 1000 }));
    env = { ...process.env, AWS_ACCESS_KEY_ID: world.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: world.credentials.secretAccessKey, AWS_DEFAULT_REGION: world.region, AWS_PAGER: '' };
  }, 90_000);
  afterAll(async () => world?.close());

  it('aws elasticache describe-replication-groups lists the available group', async () => {
    if (!(await has('aws'))) return console.warn('skipped: the aws CLI is not installed');
    const { stdout } = await run('aws', ['--endpoint-url', world.endpoints.elasticache, 'elasticache', 'describe-replication-groups', '--output', 'json'], { env });
    const groups = (
      JSON.parse(stdout) as { ReplicationGroups: { ReplicationGroupId: string; Status: string; TransitEncryptionEnabled: boolean; NodeGroups: { PrimaryEndpoint: { Port: number } }[] }[] }
    ).ReplicationGroups;
    expect(groups.map((g) => [g.ReplicationGroupId, g.Status, g.TransitEncryptionEnabled])).toEqual([['spinnaker-redis', 'available', true]]);
    expect(world.endpoints.targetRedis).toContain(String(groups[0]!.NodeGroups[0]!.PrimaryEndpoint.Port));
  }, 30_000);

  it('aws eks describe-cluster returns the Kubernetes emulator endpoint and CA', async () => {
    if (!(await has('aws'))) return console.warn('skipped: the aws CLI is not installed');
    const { stdout } = await run('aws', ['--endpoint-url', world.endpoints.eks, 'eks', 'describe-cluster', '--name', world.clusterName, '--output', 'json'], { env });
    const cluster = (JSON.parse(stdout) as { cluster: { endpoint: string; status: string; certificateAuthority: { data: string } } }).cluster;
    expect(cluster.endpoint).toBe(world.endpoints.kubernetes);
    expect(cluster.status).toBe('ACTIVE');
    expect(Buffer.from(cluster.certificateAuthority.data, 'base64').toString()).toContain('BEGIN CERTIFICATE');
  }, 30_000);

  it('kubectl lists the ConfigMap, Deployments and Pods, and reads the patched Halyard file', async () => {
    if (!(await has('kubectl'))) return console.warn('skipped: kubectl is not installed');
    const kubectl = (...args: string[]) => run('kubectl', ['--kubeconfig', world.endpoints.kubeconfig, '-n', 'spinnaker', ...args], { env });
    const { stdout: table } = await kubectl('get', 'configmap,deploy,pods');
    // redis.yml, the gate and spinnaker profiles, ~/.hal/config, and the profiles of the seven other connecting services.
    expect(table).toMatch(/configmap\/halyard-config\s+11/);
    expect(table).toMatch(/deployment\.apps\/spin-orca\s+1\/1/);
    expect(table).toMatch(/deployment\.apps\/spin-redis\s+0\/0/);
    expect(table).toMatch(/pod\/spin-gate-\S+\s+1\/1\s+Running/);
    const { stdout: yaml } = await kubectl('get', 'configmap', 'halyard-config', '-o', 'jsonpath={.data.redis\\.yml}');
    expect(yaml).toContain('skipLifeCycleManagement: true');
    expect(yaml).toMatch(/overrideBaseUrl: rediss:\/\/127\.0\.0\.1:\d+/);
    const { stdout: replicas } = await kubectl('get', 'deploy', 'spin-redis', '-o', 'jsonpath={.spec.replicas}');
    expect(replicas).toBe('0');
    const halyardPod = world.kubernetes.store.list('Pod', 'spinnaker', 'app=halyard')[0]!.metadata.name;
    const { stdout: file } = await kubectl('exec', halyardPod, '-c', 'halyard', '--', 'cat', '/home/spinnaker/.hal/default/profiles/gate-local.yml');
    expect(file).toContain('secure: true');
    const { stdout: orca } = await kubectl('exec', halyardPod, '-c', 'halyard', '--', 'cat', '/home/spinnaker/.hal/default/profiles/orca-local.yml');
    expect(orca).toContain('connection: encrypted:secrets-manager!r:us-east-1!s:spin-elasticache/spinnaker-redis/redis-url');
  }, 60_000);

  it('refuses kubectl without a valid token', async () => {
    if (!(await has('kubectl'))) return console.warn('skipped: kubectl is not installed');
    const result = await run('kubectl', ['--kubeconfig', world.endpoints.kubeconfig, '--token', 'k8s-aws-v1.bm90LWEtdG9rZW4', '-n', 'spinnaker', 'get', 'pods'], { env }).catch(
      (e: { stderr: string }) => e,
    );
    expect(String((result as { stderr: string }).stderr)).toMatch(/Unauthorized|must be logged in/);
  }, 30_000);
});
