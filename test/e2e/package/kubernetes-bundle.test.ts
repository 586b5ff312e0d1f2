/**
 * The Kubernetes client as the Lambda functions ship it: bundled with serverless.yml's esbuild
 * options and deploy/esbuild-plugins.cjs (only the operations, models and parts of undici our
 * calls reach), run under the Node that runs this test in a process of its own, against the
 * Kubernetes emulator over TLS with an EKS token. Every ClusterApi operation makes a real call
 * (fixtures/cluster-calls.ts), and each function that carries the client is imported from its
 * bundle: a part the plugins left out that a call needs fails here, not in the Lambda.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { bundleFunction, entryOf, readServerless } from '../../../bench/lambda-bundle.js';
import { startKubernetesEmulator, type KubernetesEmulator } from '../../../sandbox/kubernetes/server.js';
import { createSandboxPki } from '../../../sandbox/pki.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'k8s-bundle-'));
const credentials = { accessKeyId: 'AKIAEXAMPLE000000001', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const sls = readServerless();
let k8s: KubernetesEmulator;
let caPem: string;
const execs: { command: string[]; stdin?: string }[] = [];

beforeAll(async () => {
  const pki = createSandboxPki(join(dir, 'pki'));
  const cert = pki.issue('kubernetes');
  caPem = pki.caPem;
  k8s = await startKubernetesEmulator({
    tls: { certPem: cert.certPem, keyPem: cert.keyPem, caPem },
    clusterName: 'spinnaker',
    region: 'us-east-1',
    credentials,
    rbac: false,
    exec: async ({ command, stdin }) => {
      execs.push({ command, ...(stdin ? { stdin: stdin.toString() } : {}) });
      return { stdout: 'hi\n', stderr: '', exitCode: 0 };
    },
  });
  const ns = 'spinnaker';
  const { store } = k8s;
  store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'halyard-config', namespace: ns }, data: { config: 'a: 1' } });
  store.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'redis', namespace: ns }, data: { 'redis-password': Buffer.from('pw').toString('base64') } });
  store.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: ns, annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::1:role/spin' } } });
  for (const name of ['spin-orca', 'spin-gate'])
    store.create({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: ns, labels: { app: 'spin' } },
      spec: { replicas: 2, selector: { matchLabels: { app: 'spin' } }, template: {} },
    });
  store.create({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'redis-master', namespace: ns }, spec: { replicas: 1, selector: { matchLabels: { app: 'redis' } }, template: {} } });
  store.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'spin-orca-1', namespace: ns, labels: { app: 'spin' } }, spec: { containers: [{ name: 'orca' }] } });
  store.create({ apiVersion: 'spinnaker.io/v1alpha2', kind: 'SpinnakerService', metadata: { name: 'spinnaker', namespace: ns }, spec: { spinnakerConfig: { config: {} } } });
  store.create({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'e1', namespace: ns }, involvedObject: { kind: 'SpinnakerService', name: 'spinnaker' }, reason: 'Deployed' });
});
afterAll(async () => {
  await k8s?.close();
  rmSync(dir, { recursive: true, force: true });
});

const childEnv = () => ({
  PATH: process.env.PATH,
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
  CLUSTER_URL: k8s.url,
  CLUSTER_CA_BASE64: Buffer.from(caPem).toString('base64'),
});

describe('the bundled Kubernetes client', () => {
  it('makes every ClusterApi call against the emulator', async () => {
    const { bundle, kubernetesClient } = await bundleFunction('test/e2e/package/fixtures/cluster-calls.ts', join(dir, 'calls'), sls.custom.esbuild);
    expect(kubernetesClient).toBe(true);
    const { stdout } = await run(process.execPath, [bundle], { env: childEnv(), timeout: 60_000 });
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out).toEqual({
      configMapData: { config: 'a: 1' },
      // The models the plugins kept still turn timestamps into Dates.
      configMapCreated: true,
      replacedData: { config: 'a: 1', patched: 'yes' },
      deployments: ['spin-gate', 'spin-orca'],
      deploymentReplicas: 2,
      statefulSet: 'redis-master',
      annotated: 'b',
      annotatedStatefulSet: 'c',
      scale: 2,
      scaled: 3,
      scaledStatefulSet: 0,
      statefulSetScale: 0,
      pods: ['spin-orca-1'],
      serviceAccount: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::1:role/spin' },
      secret: ['redis-password'],
      spinnakerServices: ['spinnaker'],
      patchedService: { config: {}, profiles: { gate: 'x' } },
      events: 1,
      exec: { exitCode: 0, stdout: 'hi\n', stderr: '' },
      missing: 'KubernetesNotFoundError',
    });
    // End state in the emulator, not only what the client said.
    expect(k8s.store.get('ConfigMap', 'spinnaker', 'halyard-config')?.data).toEqual({ config: 'a: 1', patched: 'yes' });
    expect(k8s.store.get('Deployment', 'spinnaker', 'spin-orca')?.spec).toMatchObject({ replicas: 3 });
    expect(execs).toEqual([{ command: ['echo', 'hi'], stdin: 'input' }]);
  }, 180_000);

  it('every function that carries the client imports from its bundle', async () => {
    const failures: string[] = [];
    let carrying = 0;
    for (const [name, fn] of Object.entries(sls.functions)) {
      const { bundle, kubernetesClient } = await bundleFunction(entryOf(fn.handler), join(dir, name), sls.custom.esbuild);
      if (!kubernetesClient) continue;
      carrying++;
      const script = `const m = await import(${JSON.stringify(pathToFileURL(bundle).href)}); if (typeof m.handler !== 'function') throw new Error('no handler');`;
      await run(process.execPath, ['--input-type=module', '-e', script], { env: childEnv(), timeout: 60_000 }).catch((error: Error) => failures.push(`${name}: ${error.message}`));
    }
    expect(failures).toEqual([]);
    expect(carrying).toBeGreaterThan(10);
  }, 600_000);
});
