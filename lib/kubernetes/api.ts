/**
 * The few Kubernetes operations the workflow needs, behind small interfaces so domain code
 * and tests do not depend on a client library. `createClusterApi` speaks the Kubernetes REST
 * API itself (node:https and JSON; pod exec over the WebSocket channel protocol with `ws`),
 * with the endpoint and CA from EKS DescribeCluster and an EKS token refreshed before it
 * expires. Not @kubernetes/client-node: it bundles every API group and undici (about 1.9 MB
 * minified and 300+ ms of each cold start) for the nine calls below. The requests are the ones
 * client-node's AppsV1Api/CoreV1Api and Exec send (paths, verbs, merge patch for annotations,
 * `v5.channel.k8s.io` then `v4.channel.k8s.io` for exec); the sandbox's API emulator serves them.
 */
import type { IncomingMessage } from 'node:http';
import type { EKSClient } from '@aws-sdk/client-eks';
import type { V1ConfigMap, V1Deployment, V1Pod, V1Scale, V1Status } from '@kubernetes/client-node';
import WebSocket from 'ws';
import { PodExecError } from '../errors.js';
import { describeEksCluster } from '../eks/cluster.js';
import { createEksToken } from '../eks/token.js';
import { mapKubernetesError } from './errors.js';

export type ConfigMap = V1ConfigMap;
export type Deployment = V1Deployment;
export type Pod = V1Pod;

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ClusterApi {
  readConfigMap(namespace: string, name: string): Promise<ConfigMap>;
  /** Replace with the resourceVersion in `body.metadata` as precondition (409 on a concurrent edit). */
  replaceConfigMap(namespace: string, body: ConfigMap): Promise<ConfigMap>;
  listDeployments(namespace: string, labelSelector?: string): Promise<Deployment[]>;
  readDeployment(namespace: string, name: string): Promise<Deployment>;
  patchDeploymentAnnotations(namespace: string, name: string, annotations: Record<string, string | null>): Promise<Deployment>;
  readScale(namespace: string, name: string): Promise<number>;
  replaceScale(namespace: string, name: string, replicas: number): Promise<number>;
  listPods(namespace: string, labelSelector: string): Promise<Pod[]>;
  exec(namespace: string, pod: string, container: string, command: string[], stdin?: string): Promise<ExecResult>;
}

/** Where and as whom: the API server URL (https; http only in tests), its CA (PEM) and a bearer token. */
export interface ClusterSession {
  server: string;
  caPem?: Buffer;
  token: string;
}

const TOKEN_TTL_MS = 10 * 60_000; // EKS accepts a token for ~15 minutes
const OUTPUT_LIMIT = 256 * 1024;
/** No answer in this long (connect, headers or body) is a KubernetesUnavailableError, retried by the state machine. */
const REQUEST_TIMEOUT_MS = 30_000;

export function createClusterApi(options: { clusterName: string; region: string; eks: () => Pick<EKSClient, 'send'> }): ClusterApi {
  let cached: (ClusterSession & { expires: number }) | undefined;
  return clusterApiOver(async () => {
    if (cached && cached.expires > Date.now()) return cached;
    const cluster = await describeEksCluster(options.eks(), options.clusterName);
    const token = await createEksToken({ clusterName: options.clusterName, region: options.region });
    cached = { server: cluster.endpoint, caPem: Buffer.from(cluster.caData, 'base64'), token, expires: Date.now() + TOKEN_TTL_MS };
    return cached;
  });
}

/** The ClusterApi over any session source (createClusterApi's EKS one, or a test's server and token). */
export function clusterApiOver(session: () => Promise<ClusterSession>): ClusterApi {
  const ns = (namespace: string) => `namespaces/${encodeURIComponent(namespace)}`;
  const deployment = (namespace: string, name: string) => `/apis/apps/v1/${ns(namespace)}/deployments/${encodeURIComponent(name)}`;
  const send = async <T>(context: string, method: string, path: string, init: RequestInit = {}) => call<T>(await session(), context, method, path, init);
  return {
    readConfigMap: (namespace, name) => send(`read ConfigMap ${namespace}/${name}`, 'GET', `/api/v1/${ns(namespace)}/configmaps/${encodeURIComponent(name)}`),
    replaceConfigMap(namespace, body) {
      const name = body.metadata?.name ?? '';
      return send(`update ConfigMap ${namespace}/${name}`, 'PUT', `/api/v1/${ns(namespace)}/configmaps/${encodeURIComponent(name)}`, { body });
    },
    async listDeployments(namespace, labelSelector) {
      const list = await send<{ items: Deployment[] }>(`list Deployments in ${namespace}`, 'GET', `/apis/apps/v1/${ns(namespace)}/deployments`, { query: { labelSelector } });
      return list.items ?? [];
    },
    readDeployment: (namespace, name) => send(`read Deployment ${namespace}/${name}`, 'GET', deployment(namespace, name)),
    patchDeploymentAnnotations: (namespace, name, annotations) =>
      send(`annotate Deployment ${namespace}/${name}`, 'PATCH', deployment(namespace, name), { body: { metadata: { annotations } }, contentType: 'application/merge-patch+json' }),
    async readScale(namespace, name) {
      const scale = await send<V1Scale>(`read scale of ${namespace}/${name}`, 'GET', `${deployment(namespace, name)}/scale`);
      return scale.spec?.replicas ?? 0;
    },
    async replaceScale(namespace, name, replicas) {
      const body: V1Scale = { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name, namespace }, spec: { replicas } };
      const scale = await send<V1Scale>(`scale ${namespace}/${name}`, 'PUT', `${deployment(namespace, name)}/scale`, { body });
      return scale.spec?.replicas ?? replicas;
    },
    async listPods(namespace, labelSelector) {
      const list = await send<{ items: Pod[] }>(`list pods ${labelSelector} in ${namespace}`, 'GET', `/api/v1/${ns(namespace)}/pods`, { query: { labelSelector } });
      return list.items ?? [];
    },
    async exec(namespace, pod, container, command, stdin) {
      return runExec(await session(), namespace, pod, container, command, stdin);
    },
  };
}

interface RequestInit {
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
}

/** One JSON request; any failure comes back mapped (mapKubernetesError reads `code` and the Status `body` as client-node's ApiException has them). */
function call<T>(session: ClusterSession, context: string, method: string, path: string, init: RequestInit): Promise<T> {
  const url = new URL(path, session.server);
  for (const [k, v] of Object.entries(init.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
  const payload = init.body === undefined ? undefined : Buffer.from(JSON.stringify(init.body));
  const headers: Record<string, string> = { Accept: 'application/json', Authorization: `Bearer ${session.token}` };
  if (payload) {
    headers['Content-Type'] = init.contentType ?? 'application/json';
    headers['Content-Length'] = String(payload.length);
  }
  return new Promise<T>((resolve, reject) => {
    const fail = (error: unknown) => reject(mapKubernetesError(error, context));
    const onResponse = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', fail);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const code = res.statusCode ?? 0;
        if (code < 200 || code >= 300) return fail({ code, body: text, message: `HTTP ${code}` });
        try {
          resolve(JSON.parse(text) as T);
        } catch {
          fail({ code, message: `the response is not JSON: ${text.slice(0, 200)}` });
        }
      });
    };
    const options = { method, headers, timeout: REQUEST_TIMEOUT_MS, ...(session.caPem ? { ca: session.caPem } : {}) };
    // Not `import … from 'node:https'`: in the ESM bundle that builds node:http's ESM facade, whose
    // lazy WebSocket export loads Node's bundled undici (40-80 ms of every cold start).
    const req = url.protocol === 'http:' ? process.getBuiltinModule('node:http').request(url, options, onResponse) : process.getBuiltinModule('node:https').request(url, options, onResponse);
    req.on('timeout', () => req.destroy(new Error(`no answer in ${REQUEST_TIMEOUT_MS / 1000} s`)));
    req.on('error', fail);
    req.end(payload);
  });
}

/** Keeps the last OUTPUT_LIMIT bytes: hal prints a lot, and the end is what explains a failure. */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  push(chunk: Buffer) {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > OUTPUT_LIMIT && this.chunks.length > 1) this.size -= this.chunks.shift()!.length;
  }
  text() {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/**
 * Pod exec over the channel protocol: each binary frame starts with its channel (0 stdin, 1
 * stdout, 2 stderr, 3 the final V1Status; with v5, [255, 0] closes stdin). A refused upgrade
 * arrives from `ws` as "Unexpected server response: 403".
 */
function runExec(session: ClusterSession, namespace: string, pod: string, container: string, command: string[], stdin?: string): Promise<ExecResult> {
  const where = `exec ${command[0]} in ${namespace}/${pod}`;
  const url = new URL(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/exec`, session.server);
  url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
  for (const part of command) url.searchParams.append('command', part);
  url.searchParams.set('container', container);
  url.searchParams.set('stderr', 'true');
  url.searchParams.set('stdin', String(stdin !== undefined));
  url.searchParams.set('stdout', 'true');
  url.searchParams.set('tty', 'false');
  return new Promise<ExecResult>((resolve, reject) => {
    const stdout = new Tail();
    const stderr = new Tail();
    let opened = false;
    let status: V1Status | undefined;
    const ws = new WebSocket(url, ['v5.channel.k8s.io', 'v4.channel.k8s.io'], {
      headers: { Authorization: `Bearer ${session.token}` },
      handshakeTimeout: REQUEST_TIMEOUT_MS,
      ...(session.caPem ? { ca: session.caPem } : {}),
    });
    ws.on('open', () => {
      opened = true;
      if (stdin === undefined) return;
      ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(stdin)]));
      if (ws.protocol === 'v5.channel.k8s.io') ws.send(Buffer.from([255, 0]));
    });
    ws.on('message', (data: WebSocket.RawData) => {
      const frame = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      const payload = frame.subarray(1);
      if (frame[0] === 1) stdout.push(payload);
      else if (frame[0] === 2) stderr.push(payload);
      else if (frame[0] === 3) {
        try {
          status = JSON.parse(payload.toString('utf8')) as V1Status;
        } catch {
          status = { status: 'Failure', message: payload.toString('utf8') };
        }
      }
    });
    ws.on('close', () => {
      if (!opened) return; // the 'error' before it said why
      if (!status) return reject(new PodExecError(`${where}: the connection closed without an exit status`));
      resolve({ exitCode: exitCodeOf(status), stdout: stdout.text(), stderr: stderr.text() });
    });
    ws.on('error', (error: Error) => {
      if (opened) return reject(new PodExecError(`${where}: ${error.message}`));
      const code = /Unexpected server response: (\d{3})/.exec(error.message)?.[1];
      const mapped = mapKubernetesError(code ? { code: Number(code), message: error.message } : error, where);
      // The mapped message already starts with `where`.
      reject(mapped.name === 'KubernetesUnavailableError' || mapped.name === 'KubernetesForbiddenError' ? mapped : new PodExecError(mapped.message, { cause: mapped }));
    });
  });
}

export function exitCodeOf(status: V1Status): number {
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  const code = cause?.message ? Number(cause.message) : NaN;
  return Number.isFinite(code) ? code : 1;
}
