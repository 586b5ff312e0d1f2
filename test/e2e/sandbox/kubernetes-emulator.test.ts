/** The Kubernetes emulator on its own, through @kubernetes/client-node: the behaviours the workflow relies on. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { AppsV1Api, CoreV1Api, Exec, KubeConfig, type V1Status } from '@kubernetes/client-node';
import { createSandboxPki } from '../../../sandbox/pki.js';
import { startKubernetesEmulator, type KubernetesEmulator } from '../../../sandbox/kubernetes/server.js';
import { createEksToken } from '../../../lib/eks/token.js';

const credentials = { accessKeyId: 'AKIATESTEMULATOR0001', secretAccessKey: 'emulator-test-secret' };
let k8s: KubernetesEmulator;
let caPem: string;

function client(token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: k8s.url, caData: Buffer.from(caPem).toString('base64') }],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

beforeAll(async () => {
  const pki = createSandboxPki(join(mkdtempSync(join(tmpdir(), 'k8s-')), 'pki'));
  const cert = pki.issue('kubernetes');
  caPem = pki.caPem;
  k8s = await startKubernetesEmulator({
    tls: { certPem: cert.certPem, keyPem: cert.keyPem, caPem },
    clusterName: 'emu',
    region: 'us-east-1',
    credentials,
    exec: async ({ command, stdin }) => (command[0] === 'cat' ? { stdout: stdin ?? '', stderr: '', exitCode: 0 } : { stdout: '', stderr: 'nope\n', exitCode: 3 }),
  });
  k8s.store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'spinnaker' } });
  k8s.store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm', namespace: 'spinnaker' }, data: { a: '1' } });
  k8s.store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'halyard-config', namespace: 'spinnaker' }, data: { a: '1' } });
  k8s.store.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'clouddriver-creds', namespace: 'spinnaker' }, data: { key: 'c2VjcmV0' } });
  k8s.store.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'spinnaker-redis', namespace: 'spinnaker' }, data: { 'redis-password': Buffer.from('bitnami-pw').toString('base64') } });
  k8s.store.create({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd', namespace: 'spinnaker', labels: { app: 'spin' } },
    spec: { replicas: 2, selector: { matchLabels: { app: 'spin' } }, template: {} },
  });
  k8s.store.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p1', namespace: 'spinnaker', labels: { app: 'halyard' } }, spec: { containers: [{ name: 'halyard' }] } });
  k8s.store.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p2', namespace: 'spinnaker', labels: { app: 'other' } }, spec: { containers: [{ name: 'x' }] } });
});
afterAll(async () => k8s?.close());

describe('the Kubernetes emulator', () => {
  it('accepts an EKS token for its cluster and refuses one for another cluster', async () => {
    const good = await createEksToken({ clusterName: 'emu', region: 'us-east-1', credentials });
    const other = await createEksToken({ clusterName: 'not-emu', region: 'us-east-1', credentials });
    await expect(client(good).makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'halyard-config', namespace: 'spinnaker' })).resolves.toMatchObject({ data: { a: '1' } });
    await expect(client(other).makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'halyard-config', namespace: 'spinnaker' })).rejects.toMatchObject({ code: 401 });
  });

  it("holds the EKS identity to the Roles in deploy/kubernetes-rbac.yaml: no Secret but spin-redis's password, no other ConfigMap, no pod creation", async () => {
    const kc = client(await createEksToken({ clusterName: 'emu', region: 'us-east-1', credentials }));
    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);
    await expect(core.readNamespacedSecret({ name: 'clouddriver-creds', namespace: 'spinnaker' })).rejects.toMatchObject({ code: 403 });
    await expect(core.listNamespacedSecret({ namespace: 'spinnaker' })).rejects.toMatchObject({ code: 403 });
    // spin-redis's password (Bitnami charts' Secret), for spinnaker.spinRedis.passwordSecret.
    await expect(core.readNamespacedSecret({ name: 'spinnaker-redis', namespace: 'spinnaker' })).resolves.toMatchObject({ data: { 'redis-password': Buffer.from('bitnami-pw').toString('base64') } });
    await expect(core.readNamespacedConfigMap({ name: 'cm', namespace: 'spinnaker' })).rejects.toMatchObject({ code: 403 });
    await expect(core.createNamespacedPod({ namespace: 'spinnaker', body: { metadata: { name: 'evil' }, spec: { containers: [{ name: 'x', image: 'x' }] } } })).rejects.toMatchObject({ code: 403 });
    await expect(apps.replaceNamespacedDeploymentScale({ name: 'd', namespace: 'spinnaker', body: { metadata: { name: 'd', namespace: 'spinnaker' }, spec: { replicas: 5 } } })).rejects.toMatchObject({
      code: 403,
    });
    await expect(core.listNamespacedPod({ namespace: 'spinnaker', labelSelector: 'app=halyard' })).resolves.toMatchObject({ items: [expect.anything()] });
    expect(k8s.store.get('Pod', 'spinnaker', 'evil')).toBeUndefined();
    expect(k8s.store.get('Deployment', 'spinnaker', 'd')?.spec).toMatchObject({ replicas: 2 });
  });

  it('answers 409 to a replace with a stale resourceVersion', async () => {
    const core = client(k8s.adminToken).makeApiClient(CoreV1Api);
    const cm = await core.readNamespacedConfigMap({ name: 'cm', namespace: 'spinnaker' });
    await core.replaceNamespacedConfigMap({ name: 'cm', namespace: 'spinnaker', body: { ...cm, data: { a: '2' } } });
    await expect(core.replaceNamespacedConfigMap({ name: 'cm', namespace: 'spinnaker', body: { ...cm, data: { a: '3' } } })).rejects.toMatchObject({ code: 409 });
    expect(k8s.store.get('ConfigMap', 'spinnaker', 'cm')?.data).toEqual({ a: '2' });
  });

  it('lists pods by label and scales through the scale subresource, bumping the generation', async () => {
    const kc = client(k8s.adminToken);
    const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'spinnaker', labelSelector: 'app=halyard' });
    expect(pods.items.map((p) => p.metadata?.name)).toEqual(['p1']);
    const apps = kc.makeApiClient(AppsV1Api);
    await apps.replaceNamespacedDeploymentScale({ name: 'd', namespace: 'spinnaker', body: { metadata: { name: 'd', namespace: 'spinnaker' }, spec: { replicas: 0 } } });
    expect((await apps.readNamespacedDeploymentScale({ name: 'd', namespace: 'spinnaker' })).spec?.replicas).toBe(0);
    expect(k8s.store.get('Deployment', 'spinnaker', 'd')?.metadata.generation).toBe(2);
  });

  it('runs exec with stdin and reports the exit status', async () => {
    const exec = new Exec(client(k8s.adminToken));
    const run = (command: string[], stdin?: string) =>
      new Promise<{ out: string; status?: V1Status }>((resolve, reject) => {
        let out = '';
        let status: V1Status | undefined;
        const sink = new Writable({ write: (c, _e, done) => ((out += String(c)), done()) });
        const input = stdin === undefined ? null : toReadable(stdin);
        exec.exec('spinnaker', 'p1', 'halyard', command, sink, sink, input, false, (s) => (status = s)).then((ws) => ws.on('close', () => resolve({ out, status })), reject);
      });
    const cat = await run(['cat'], 'hello');
    expect(cat).toMatchObject({ out: 'hello', status: { status: 'Success' } });
    const failed = await run(['false']);
    expect(failed.status?.details?.causes?.[0]).toEqual({ reason: 'ExitCode', message: '3' });
  });
});

function toReadable(text: string): Readable {
  return Readable.from([Buffer.from(text)]);
}
