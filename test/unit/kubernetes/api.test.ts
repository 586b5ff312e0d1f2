/**
 * The REST half of createClusterApi against a local server that answers as the Kubernetes API
 * does (plain HTTP here; the sandbox's HTTPS emulator covers TLS and EKS tokens end to end):
 * how a refused WebSocket upgrade, a lost connection, hal's exit status and an API Status error
 * come back.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { V1Status } from '@kubernetes/client-node';
import { WebSocketServer, type WebSocket } from 'ws';
import { clusterApiOver, exitCodeOf } from '../../../lib/kubernetes/api.js';

/** What the server does with the next exec: refuse the upgrade with a status, or run and answer frames. */
type ExecBehaviour = { refuse: number } | { frames: (stdin: Buffer, command: string[]) => Buffer[] };
let execBehaviour: ExecBehaviour = { refuse: 500 };
const seen: { method: string; url: string; contentType?: string; body: string; auth?: string }[] = [];

let server: Server;
let url: string;
const frame = (channel: number, data: string) => Buffer.concat([Buffer.from([channel]), Buffer.from(data)]);

beforeAll(async () => {
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has('v5.channel.k8s.io') ? 'v5.channel.k8s.io' : false) });
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        body,
        ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}),
        ...(req.headers.authorization ? { auth: req.headers.authorization } : {}),
      });
      res.setHeader('content-type', 'application/json');
      if (req.url?.includes('/configmaps/missing')) {
        res.statusCode = 404;
        return res.end(JSON.stringify({ kind: 'Status', status: 'Failure', message: 'configmaps "missing" not found', reason: 'NotFound', code: 404 }));
      }
      if (req.url?.endsWith('/scale'))
        return res.end(JSON.stringify({ kind: 'Scale', spec: { replicas: req.method === 'PUT' ? (JSON.parse(body) as { spec: { replicas: number } }).spec.replicas : 2 } }));
      if (req.url?.includes('/pods?')) return res.end(JSON.stringify({ kind: 'PodList', items: [{ metadata: { name: 'p-1' } }] }));
      res.end(JSON.stringify({ kind: 'Deployment', metadata: { name: 'spin-redis' } }));
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const behaviour = execBehaviour;
    if ('refuse' in behaviour) return void socket.end(`HTTP/1.1 ${behaviour.refuse} Refused\r\ncontent-type: application/json\r\n\r\n{}`);
    const command = new URL(req.url ?? '/', 'http://x').searchParams.getAll('command');
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const stdin: Buffer[] = [];
      ws.on('message', (data: Buffer) => {
        if (data[0] === 0) stdin.push(data.subarray(1));
        if (data[0] === 255) {
          for (const f of behaviour.frames(Buffer.concat(stdin), command)) ws.send(f);
          ws.close(1000);
        }
      });
      if (new URL(req.url ?? '/', 'http://x').searchParams.get('stdin') !== 'true') {
        for (const f of behaviour.frames(Buffer.alloc(0), command)) ws.send(f);
        ws.close(1000);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const api = () => clusterApiOver(async () => ({ server: url, token: 'k8s-aws-v1.test' }));

describe('ClusterApi REST calls', () => {
  it('sends the requests client-node sends: merge patch for annotations, PUT of a Scale, label selectors', async () => {
    seen.length = 0;
    await api().patchDeploymentAnnotations('spinnaker', 'spin-redis', { 'a/b': 'c' });
    await expect(api().replaceScale('spinnaker', 'spin-redis', 0)).resolves.toBe(0);
    await expect(api().readScale('spinnaker', 'spin-redis')).resolves.toBe(2);
    await expect(api().listPods('spinnaker', 'app=spin,cluster=spin-redis')).resolves.toEqual([{ metadata: { name: 'p-1' } }]);
    expect(seen).toEqual([
      {
        method: 'PATCH',
        url: '/apis/apps/v1/namespaces/spinnaker/deployments/spin-redis',
        contentType: 'application/merge-patch+json',
        body: '{"metadata":{"annotations":{"a/b":"c"}}}',
        auth: 'Bearer k8s-aws-v1.test',
      },
      {
        method: 'PUT',
        url: '/apis/apps/v1/namespaces/spinnaker/deployments/spin-redis/scale',
        contentType: 'application/json',
        body: '{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"spin-redis","namespace":"spinnaker"},"spec":{"replicas":0}}',
        auth: 'Bearer k8s-aws-v1.test',
      },
      { method: 'GET', url: '/apis/apps/v1/namespaces/spinnaker/deployments/spin-redis/scale', body: '', auth: 'Bearer k8s-aws-v1.test' },
      { method: 'GET', url: '/api/v1/namespaces/spinnaker/pods?labelSelector=app%3Dspin%2Ccluster%3Dspin-redis', body: '', auth: 'Bearer k8s-aws-v1.test' },
    ]);
  });

  it('a Status error -> the named error with the API message', async () => {
    await expect(api().readConfigMap('spinnaker', 'missing')).rejects.toMatchObject({
      name: 'KubernetesNotFoundError',
      message: 'read ConfigMap spinnaker/missing: 404 configmaps "missing" not found',
    });
  });

  it('no server -> KubernetesUnavailableError', async () => {
    const gone = clusterApiOver(async () => ({ server: 'http://127.0.0.1:1', token: 't' }));
    await expect(gone.readDeployment('spinnaker', 'spin-redis')).rejects.toMatchObject({
      name: 'KubernetesUnavailableError',
      message: expect.stringMatching(/^read Deployment spinnaker\/spin-redis: .*ECONNREFUSED/),
    });
  });
});

describe('ClusterApi.exec', () => {
  it('a refused upgrade "Unexpected server response: 403" -> KubernetesForbiddenError', async () => {
    execBehaviour = { refuse: 403 };
    await expect(api().exec('spinnaker', 'halyard-0', 'halyard', ['hal', 'deploy', 'apply'])).rejects.toMatchObject({
      name: 'KubernetesForbiddenError',
      message: expect.stringMatching(/^exec hal in spinnaker\/halyard-0: 403 Unexpected server response: 403\. Check the EKS access entry/),
    });
  });

  it('"Unexpected server response: 503" -> KubernetesUnavailableError (retried)', async () => {
    execBehaviour = { refuse: 503 };
    await expect(api().exec('spinnaker', 'halyard-0', 'halyard', ['cat', '/x'])).rejects.toMatchObject({ name: 'KubernetesUnavailableError', retryable: true });
  });

  it('a network failure before the upgrade -> KubernetesUnavailableError', async () => {
    const gone = clusterApiOver(async () => ({ server: 'http://127.0.0.1:1', token: 't' }));
    await expect(gone.exec('spinnaker', 'halyard-0', 'halyard', ['cat', '/x'])).rejects.toMatchObject({
      name: 'KubernetesUnavailableError',
      message: 'exec cat in spinnaker/halyard-0: connect ECONNREFUSED 127.0.0.1:1',
    });
  });

  it('any other refused status -> PodExecError naming it', async () => {
    execBehaviour = { refuse: 404 };
    await expect(api().exec('spinnaker', 'halyard-0', 'halyard', ['cat', '/x'])).rejects.toMatchObject({
      name: 'PodExecError',
      message: 'exec cat in spinnaker/halyard-0: 404 Unexpected server response: 404',
    });
  });

  it('a connection that closes without an exit status -> PodExecError', async () => {
    execBehaviour = { frames: () => [frame(1, 'partial')] };
    await expect(api().exec('spinnaker', 'halyard-0', 'halyard', ['hal', 'deploy', 'apply'])).rejects.toMatchObject({
      name: 'PodExecError',
      message: 'exec hal in spinnaker/halyard-0: the connection closed without an exit status',
    });
  });

  it('returns stdout, stderr and the exit code from the status; stdin reaches the command and is closed', async () => {
    execBehaviour = { frames: (stdin, command) => [frame(1, `${command.join(' ')} got ${stdin.toString()}`), frame(2, 'warn\n'), frame(3, JSON.stringify({ status: 'Success' }))] };
    await expect(api().exec('spinnaker', 'halyard-0', 'halyard', ['hal', 'deploy', 'apply'], 'input')).resolves.toEqual({ exitCode: 0, stdout: 'hal deploy apply got input', stderr: 'warn\n' });
    execBehaviour = { frames: () => [frame(3, JSON.stringify({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '2' }] } }))] };
    await expect(api().exec('spinnaker', 'halyard-0', 'halyard', ['cat', '/missing'])).resolves.toMatchObject({ exitCode: 2 });
  });
});

describe('exitCodeOf', () => {
  it.each<[string, number, V1Status]>([
    ['Success', 0, { status: 'Success' }],
    ['the ExitCode cause', 127, { status: 'Failure', details: { causes: [{ reason: 'ExitCode', message: '127' }] } }],
    ['a failure without an ExitCode cause', 1, { status: 'Failure', message: 'command terminated' }],
    ['a non-numeric ExitCode', 1, { status: 'Failure', details: { causes: [{ reason: 'ExitCode', message: 'x' }] } }],
  ])('%s -> %i', (_, code, status) => {
    expect(exitCodeOf(status)).toBe(code);
  });
});
