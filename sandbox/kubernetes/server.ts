/**
 * The Kubernetes API emulator: HTTPS with the sandbox CA, EKS-token auth, discovery, and
 * the resources the workflow and kubectl use — namespaces, ConfigMaps, Secrets,
 * Deployments and StatefulSets (with the scale and status subresources), Jobs (the Helm charts'
 * hook, read only), Pods, Events, pod exec over the
 * WebSocket channel protocol (v5 and v4), and the Spinnaker Operator's CRD
 * `spinnakerservices.spinnaker.io` (v1alpha2, namespaced, short name spinsvc, status
 * subresource; JSON merge and JSON patches, strategic merge refused with 415 as the API server
 * does for custom resources; validating admission through `setAdmission`). Table responses
 * make `kubectl get` print as it does against a real cluster. Faults are injected per verb and resource.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import { verifyEksToken } from './auth.js';
import { authorized, rolesIn, type RbacRule } from './rbac.js';
import { ObjectStore, StoreError, type Kind, type KubeObject } from './store.js';

export type ExecHandler = (req: {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  stdin?: Buffer;
}) => Promise<{ stdout: string | Buffer; stderr: string | Buffer; exitCode: number }>;

export interface KubeFault {
  verb: 'get' | 'list' | 'create' | 'update' | 'patch' | 'delete' | 'exec' | '*';
  resource: string;
  name?: string;
  status: number;
  times: number;
  message?: string;
}

export interface KubernetesEmulatorOptions {
  tls: { certPem: string; keyPem: string; caPem: string };
  clusterName: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  exec?: ExecHandler;
  /** The RBAC rules for EKS identities: by default the Roles in deploy/kubernetes-rbac.yaml; `false` allows everything. The admin token is never checked. */
  rbac?: RbacRule[] | false;
}

/** A validating admission webhook: the denial message, or undefined to allow (CREATE/UPDATE of the main resource only). */
export type AdmissionHook = (request: { operation: 'CREATE' | 'UPDATE'; resource: string; namespace?: string; name: string; object: KubeObject; oldObject?: KubeObject }) => string | undefined;

export interface KubernetesEmulator {
  url: string;
  /** Install a validating webhook (the operator's, as `webhook-spinnakerservices-v1alpha2.spinnaker.io`). */
  setAdmission(name: string, hook: AdmissionHook | undefined): void;
  store: ObjectStore;
  adminToken: string;
  faults: { add(fault: KubeFault): void; clear(): void; fired: { verb: string; resource: string; status: number }[] };
  requestLog: { method: string; path: string; status: number }[];
  setExecHandler(handler: ExecHandler): void;
  writeKubeconfig(path: string, namespace?: string): void;
  close(): Promise<void>;
}

const SPINNAKER_GROUP = 'spinnaker.io';
const RESOURCES: Record<string, { kind: Kind; group: 'core' | 'apps' | 'batch' | typeof SPINNAKER_GROUP; namespaced: boolean }> = {
  namespaces: { kind: 'Namespace', group: 'core', namespaced: false },
  configmaps: { kind: 'ConfigMap', group: 'core', namespaced: true },
  secrets: { kind: 'Secret', group: 'core', namespaced: true },
  pods: { kind: 'Pod', group: 'core', namespaced: true },
  serviceaccounts: { kind: 'ServiceAccount', group: 'core', namespaced: true },
  deployments: { kind: 'Deployment', group: 'apps', namespaced: true },
  statefulsets: { kind: 'StatefulSet', group: 'apps', namespaced: true },
  jobs: { kind: 'Job', group: 'batch', namespaced: true },
  events: { kind: 'Event', group: 'core', namespaced: true },
  spinnakerservices: { kind: 'SpinnakerService', group: SPINNAKER_GROUP, namespaced: true },
};
const API_VERSION: Record<string, string> = { core: 'v1', apps: 'apps/v1', batch: 'batch/v1', [SPINNAKER_GROUP]: `${SPINNAKER_GROUP}/v1alpha2` };

/** The CRD as the operator's manifests declare it (deploy/crds/spinnaker.io_spinnakerservices.yaml): printer columns included. */
const SPINNAKER_DISCOVERY = {
  kind: 'APIResourceList',
  apiVersion: 'v1',
  groupVersion: `${SPINNAKER_GROUP}/v1alpha2`,
  resources: [
    {
      name: 'spinnakerservices',
      singularName: 'spinnakerservice',
      namespaced: true,
      kind: 'SpinnakerService',
      verbs: ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'],
      shortNames: ['spinsvc'],
      categories: ['spinnaker'],
    },
    { name: 'spinnakerservices/status', singularName: '', namespaced: true, kind: 'SpinnakerService', verbs: ['get', 'patch', 'update'] },
  ],
};

const CORE_DISCOVERY = {
  kind: 'APIResourceList',
  groupVersion: 'v1',
  resources: [
    { name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs: ['get', 'list'], shortNames: ['ns'] },
    { name: 'configmaps', singularName: 'configmap', namespaced: true, kind: 'ConfigMap', verbs: ['create', 'delete', 'get', 'list', 'patch', 'update'], shortNames: ['cm'] },
    { name: 'secrets', singularName: 'secret', namespaced: true, kind: 'Secret', verbs: ['create', 'delete', 'get', 'list', 'patch', 'update'] },
    { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['create', 'delete', 'get', 'list', 'patch', 'update'], shortNames: ['po'], categories: ['all'] },
    { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
    { name: 'serviceaccounts', singularName: 'serviceaccount', namespaced: true, kind: 'ServiceAccount', verbs: ['create', 'delete', 'get', 'list', 'patch', 'update'], shortNames: ['sa'] },
    { name: 'events', singularName: 'event', namespaced: true, kind: 'Event', verbs: ['create', 'delete', 'get', 'list', 'patch', 'update'], shortNames: ['ev'] },
  ],
};
const APPS_DISCOVERY = {
  kind: 'APIResourceList',
  apiVersion: 'v1',
  groupVersion: 'apps/v1',
  resources: [
    {
      name: 'deployments',
      singularName: 'deployment',
      namespaced: true,
      kind: 'Deployment',
      verbs: ['create', 'delete', 'get', 'list', 'patch', 'update'],
      shortNames: ['deploy'],
      categories: ['all'],
    },
    { name: 'deployments/scale', singularName: '', namespaced: true, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] },
    { name: 'deployments/status', singularName: '', namespaced: true, kind: 'Deployment', verbs: ['get', 'patch', 'update'] },
    {
      name: 'statefulsets',
      singularName: 'statefulset',
      namespaced: true,
      kind: 'StatefulSet',
      verbs: ['create', 'delete', 'get', 'list', 'patch', 'update'],
      shortNames: ['sts'],
      categories: ['all'],
    },
    { name: 'statefulsets/scale', singularName: '', namespaced: true, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] },
    { name: 'statefulsets/status', singularName: '', namespaced: true, kind: 'StatefulSet', verbs: ['get', 'patch', 'update'] },
  ],
};
const BATCH_DISCOVERY = {
  kind: 'APIResourceList',
  apiVersion: 'v1',
  groupVersion: 'batch/v1',
  resources: [{ name: 'jobs', singularName: 'job', namespaced: true, kind: 'Job', verbs: ['create', 'delete', 'get', 'list', 'patch', 'update'], categories: ['all'] }],
};

function status(code: number, reason: string, message: string, details?: object) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

/** RFC 7386 merge patch (strategic merge for ConfigMaps/annotations behaves the same). */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function jsonPatch(doc: unknown, ops: { op: string; path: string; value?: unknown; from?: string }[]): unknown {
  const root = structuredClone(doc) as Record<string, unknown>;
  const parts = (path: string) =>
    path
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const parentOf = (path: string): [Record<string, unknown> | unknown[], string] => {
    const segs = parts(path);
    let node: unknown = root;
    for (const s of segs.slice(0, -1)) node = (node as Record<string, unknown>)[s];
    if (node === undefined || node === null) throw new StoreError(422, 'Invalid', `path ${path} does not exist`);
    return [node as Record<string, unknown>, segs.at(-1)!];
  };
  for (const op of ops) {
    const [parent, key] = parentOf(op.path);
    const container = parent as Record<string, unknown>;
    if (op.op === 'test') {
      if (JSON.stringify(container[key]) !== JSON.stringify(op.value)) throw new StoreError(422, 'Invalid', `the test of ${op.path} failed`);
    } else if (op.op === 'add' || op.op === 'replace') {
      if (Array.isArray(parent) && key === '-') parent.push(op.value);
      else container[key] = op.value;
    } else if (op.op === 'remove') {
      if (!(key in container)) throw new StoreError(422, 'Invalid', `path ${op.path} does not exist`);
      delete container[key];
    } else throw new StoreError(422, 'Invalid', `unsupported op ${op.op}`);
  }
  return root;
}

/** `a=b,c=d` field selectors over dotted paths (involvedObject.name, metadata.name), as kubectl and the workflow send them. */
function matchesFields(o: KubeObject, selector?: string): boolean {
  if (!selector) return true;
  return selector
    .split(',')
    .filter(Boolean)
    .every((term) => {
      const m = /^([^!=]+)(!=|==?)(.*)$/.exec(term.trim());
      if (!m) return true;
      let node: unknown = o;
      for (const key of m[1]!.split('.')) node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
      const equal = String(node ?? '') === m[3];
      return m[2] === '!=' ? !equal : equal;
    });
}

function age(created?: string): string {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(created ?? '')) / 1000));
  return seconds < 120 ? `${seconds}s` : `${Math.round(seconds / 60)}m`;
}

function toTable(kind: Kind, items: KubeObject[], resourceVersion: string) {
  const columns: Record<string, { name: string; type: string }[]> = {
    ConfigMap: [
      { name: 'Name', type: 'string' },
      { name: 'Data', type: 'integer' },
      { name: 'Age', type: 'string' },
    ],
    Deployment: [
      { name: 'Name', type: 'string' },
      { name: 'Ready', type: 'string' },
      { name: 'Up-to-date', type: 'integer' },
      { name: 'Available', type: 'integer' },
      { name: 'Age', type: 'string' },
    ],
    StatefulSet: [
      { name: 'Name', type: 'string' },
      { name: 'Ready', type: 'string' },
      { name: 'Age', type: 'string' },
    ],
    Pod: [
      { name: 'Name', type: 'string' },
      { name: 'Ready', type: 'string' },
      { name: 'Status', type: 'string' },
      { name: 'Restarts', type: 'string' },
      { name: 'Age', type: 'string' },
    ],
    Event: [
      { name: 'Last Seen', type: 'string' },
      { name: 'Type', type: 'string' },
      { name: 'Reason', type: 'string' },
      { name: 'Object', type: 'string' },
      { name: 'Message', type: 'string' },
    ],
    // The CRD's additionalPrinterColumns (version, last configured, status, services).
    SpinnakerService: [
      { name: 'Name', type: 'string' },
      { name: 'Version', type: 'string' },
      { name: 'LastConfigured', type: 'date' },
      { name: 'Status', type: 'string' },
      { name: 'Services', type: 'number' },
      { name: 'Age', type: 'string' },
    ],
  };
  const cells = (o: KubeObject): unknown[] => {
    const s = (o.status ?? {}) as Record<string, number & string & unknown[]>;
    if (kind === 'ConfigMap') return [o.metadata.name, Object.keys((o.data as object) ?? {}).length, age(o.metadata.creationTimestamp)];
    if (kind === 'Deployment')
      return [o.metadata.name, `${s.readyReplicas ?? 0}/${(o.spec as { replicas?: number })?.replicas ?? 1}`, s.updatedReplicas ?? 0, s.availableReplicas ?? 0, age(o.metadata.creationTimestamp)];
    if (kind === 'StatefulSet') return [o.metadata.name, `${s.readyReplicas ?? 0}/${(o.spec as { replicas?: number })?.replicas ?? 1}`, age(o.metadata.creationTimestamp)];
    if (kind === 'Event') {
      const e = o as KubeObject & { lastTimestamp?: string; type?: string; reason?: string; message?: string; involvedObject?: { kind?: string; name?: string } };
      return [age(e.lastTimestamp), e.type ?? '', e.reason ?? '', `${(e.involvedObject?.kind ?? '').toLowerCase()}/${e.involvedObject?.name ?? ''}`, e.message ?? ''];
    }
    if (kind === 'SpinnakerService') {
      const st = (o.status ?? {}) as { version?: string; lastDeployed?: { config?: { lastUpdatedAt?: string } }; status?: string; serviceCount?: number };
      return [o.metadata.name, st.version ?? '', st.lastDeployed?.config?.lastUpdatedAt ?? '', st.status ?? '', st.serviceCount ?? 0, age(o.metadata.creationTimestamp)];
    }
    if (kind === 'Pod') {
      const ready = (s.conditions as { type: string; status: string }[] | undefined)?.some((c) => c.type === 'Ready' && c.status === 'True');
      const containers = ((o.spec as { containers?: unknown[] })?.containers ?? []).length;
      return [o.metadata.name, `${ready ? containers : 0}/${containers}`, s.phase ?? 'Pending', '0', age(o.metadata.creationTimestamp)];
    }
    return [o.metadata.name, age(o.metadata.creationTimestamp)];
  };
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: (
      columns[kind] ?? [
        { name: 'Name', type: 'string' },
        { name: 'Age', type: 'string' },
      ]
    ).map((c, i) => ({ ...c, format: i === 0 ? 'name' : '', description: c.name, priority: 0 })),
    rows: items.map((o) => ({ cells: cells(o), object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata } })),
  };
}

export async function startKubernetesEmulator(options: KubernetesEmulatorOptions): Promise<KubernetesEmulator> {
  const store = new ObjectStore();
  const adminToken = `sandbox-admin-${randomBytes(16).toString('hex')}`;
  const faultList: KubeFault[] = [];
  const fired: { verb: string; resource: string; status: number }[] = [];
  const requestLog: { method: string; path: string; status: number }[] = [];
  const admission = new Map<string, AdmissionHook>();
  /** ValidatingAdmissionWebhook: the first denial, worded as the API server words it. */
  const admit = (request: Parameters<AdmissionHook>[0]): void => {
    for (const [name, hook] of admission) {
      const denied = hook(request);
      if (denied !== undefined) throw new StoreError(400, 'Invalid', `admission webhook "${name}" denied the request: ${denied}`);
    }
  };
  let execHandler: ExecHandler = options.exec ?? (async ({ command }) => ({ stdout: '', stderr: `${command[0]}: not found\n`, exitCode: 127 }));

  const takeFault = (verb: string, resource: string, name?: string): KubeFault | undefined => {
    const f = faultList.find((x) => x.times > 0 && (x.verb === verb || x.verb === '*') && (x.resource === resource || x.resource === '*') && (!x.name || x.name === name));
    if (!f) return undefined;
    f.times--;
    fired.push({ verb, resource, status: f.status });
    return f;
  };

  const rules = options.rbac === false ? undefined : (options.rbac ?? rolesIn());
  const admins = new WeakSet<IncomingMessage>();
  const authenticate = async (req: IncomingMessage): Promise<string | undefined> => {
    const header = req.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (token === adminToken) return void admins.add(req);
    const check = await verifyEksToken(token, { clusterName: options.clusterName, region: options.region, ...options.credentials });
    return check.ok ? undefined : (check.reason ?? 'invalid token');
  };
  /** The RBAC refusal for this request, if any (as the API server words it). */
  const forbidden = (req: IncomingMessage, verb: string, apiGroup: string, resource: string, namespace: string | undefined, name: string | undefined): string | undefined => {
    if (!rules || admins.has(req) || authorized(rules, { verb, apiGroup, resource, ...(name ? { name } : {}) })) return undefined;
    const [plural, sub] = resource.split('/');
    return `${plural}${apiGroup ? `.${apiGroup}` : ''}${name ? ` "${name}"` : ''} is forbidden: User "spin-elasticache" cannot ${verb} resource "${plural}"${sub ? ` with subresource "${sub}"` : ''} in API group "${apiGroup}"${namespace ? ` in the namespace "${namespace}"` : ''}`;
  };

  const send = (req: IncomingMessage, res: ServerResponse, code: number, body: unknown) => {
    requestLog.push({ method: req.method ?? '', path: (req.url ?? '').split('?')[0]!, status: code });
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  async function handle(req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<void> {
    const unauthorized = await authenticate(req);
    if (unauthorized) return send(req, res, 401, status(401, 'Unauthorized', `Unauthorized: ${unauthorized}`));
    const url = new URL(req.url ?? '/', 'https://localhost');
    const path = url.pathname.replace(/\/$/, '');
    if (path === '/version') return send(req, res, 200, { major: '1', minor: '31', gitVersion: 'v1.31.0-eks-sandbox', platform: 'linux/amd64' });
    if (path === '/api') return send(req, res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] });
    if (path === '/api/v1') return send(req, res, 200, CORE_DISCOVERY);
    if (path === '/apis')
      return send(req, res, 200, {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: [
          { name: 'apps', versions: [{ groupVersion: 'apps/v1', version: 'v1' }], preferredVersion: { groupVersion: 'apps/v1', version: 'v1' } },
          { name: 'batch', versions: [{ groupVersion: 'batch/v1', version: 'v1' }], preferredVersion: { groupVersion: 'batch/v1', version: 'v1' } },
          {
            name: SPINNAKER_GROUP,
            versions: [{ groupVersion: `${SPINNAKER_GROUP}/v1alpha2`, version: 'v1alpha2' }],
            preferredVersion: { groupVersion: `${SPINNAKER_GROUP}/v1alpha2`, version: 'v1alpha2' },
          },
        ],
      });
    if (path === '/apis/apps/v1') return send(req, res, 200, APPS_DISCOVERY);
    if (path === '/apis/batch/v1') return send(req, res, 200, BATCH_DISCOVERY);
    if (path === `/apis/${SPINNAKER_GROUP}/v1alpha2`) return send(req, res, 200, SPINNAKER_DISCOVERY);

    const m = /^\/(?:api\/v1|apis\/apps\/v1|apis\/batch\/v1|apis\/spinnaker\.io\/v1alpha2)(?:\/namespaces\/([^/]+))?\/([a-z]+)(?:\/([^/]+))?(?:\/([a-z]+))?$/.exec(path);
    const nsOnly = /^\/api\/v1\/namespaces(?:\/([^/]+))?$/.exec(path);
    let namespace: string | undefined;
    let resource: string;
    let name: string | undefined;
    let sub: string | undefined;
    if (nsOnly) {
      resource = 'namespaces';
      name = nsOnly[1];
    } else if (m) {
      [, namespace, resource, name, sub] = m as unknown as [string, string | undefined, string, string | undefined, string | undefined];
    } else return send(req, res, 404, status(404, 'NotFound', `the server could not find the requested resource (${path})`));
    const spec = RESOURCES[resource];
    const pathGroup = path.startsWith('/apis/apps/') ? 'apps' : path.startsWith('/apis/batch/') ? 'batch' : path.startsWith(`/apis/${SPINNAKER_GROUP}/`) ? SPINNAKER_GROUP : 'core';
    if (!spec || spec.group !== pathGroup) return send(req, res, 404, status(404, 'NotFound', `the server doesn't have a resource type "${resource}"`));
    const method = req.method ?? 'GET';
    const verb = method === 'GET' ? (name ? 'get' : 'list') : method === 'POST' ? 'create' : method === 'PUT' ? 'update' : method === 'PATCH' ? 'patch' : 'delete';
    const refusal = forbidden(req, verb, pathGroup === 'core' ? '' : pathGroup, sub ? `${resource}/${sub}` : resource, namespace, name);
    if (refusal) return send(req, res, 403, status(403, 'Forbidden', refusal));
    const fault = takeFault(verb, sub ? `${resource}/${sub}` : resource, name);
    if (fault) {
      const reason = fault.status === 409 ? 'Conflict' : fault.status === 403 ? 'Forbidden' : fault.status === 429 ? 'TooManyRequests' : 'InternalError';
      return send(req, res, fault.status, status(fault.status, reason, fault.message ?? `${verb} ${resource} refused by the sandbox (injected ${fault.status})`));
    }
    try {
      if (verb === 'list') {
        const items = store
          .list(spec.kind, spec.namespaced ? namespace : undefined, url.searchParams.get('labelSelector') ?? undefined)
          .filter((o) => matchesFields(o, url.searchParams.get('fieldSelector') ?? undefined));
        if (/as=Table/.test(String(req.headers.accept ?? ''))) return send(req, res, 200, toTable(spec.kind, items, store.resourceVersion));
        return send(req, res, 200, { kind: `${spec.kind}List`, apiVersion: API_VERSION[spec.group], metadata: { resourceVersion: store.resourceVersion }, items });
      }
      const current = name ? store.get(spec.kind, namespace, name) : undefined;
      if (sub === 'scale') return handleScale(req, res, verb, namespace!, name!, body, current, resource);
      if (verb === 'get') {
        if (!current) throw new StoreError(404, 'NotFound', `${resource} "${name}" not found`);
        if (/as=Table/.test(String(req.headers.accept ?? ''))) return send(req, res, 200, toTable(spec.kind, [current], store.resourceVersion));
        return send(req, res, 200, current);
      }
      if (verb === 'create') {
        const obj = JSON.parse(body.toString()) as KubeObject;
        obj.metadata.namespace = spec.namespaced ? namespace : undefined;
        if (spec.kind === 'SpinnakerService') admit({ operation: 'CREATE', resource, ...(namespace ? { namespace } : {}), name: obj.metadata.name, object: obj });
        return send(req, res, 201, store.create({ ...obj, kind: spec.kind, apiVersion: API_VERSION[spec.group]! }));
      }
      if (!current) throw new StoreError(404, 'NotFound', `${resource} "${name}" not found`);
      if (verb === 'delete') return send(req, res, 200, store.delete(spec.kind, namespace, name!));
      if (verb === 'update') {
        const obj = JSON.parse(body.toString()) as KubeObject;
        if (obj.metadata?.name !== name) throw new StoreError(400, 'Invalid', 'the name of the object does not match the name on the URL');
        if (spec.kind === 'SpinnakerService' && sub !== 'status') admit({ operation: 'UPDATE', resource, ...(namespace ? { namespace } : {}), name: name!, object: obj, oldObject: current });
        const updated = store.update(
          { ...obj, kind: spec.kind, apiVersion: current.apiVersion, metadata: { ...obj.metadata, namespace } },
          { statusOnly: sub === 'status', ...(obj.metadata.resourceVersion ? { expectResourceVersion: obj.metadata.resourceVersion } : {}) },
        );
        return send(req, res, 200, updated);
      }
      // patch
      const type = String(req.headers['content-type'] ?? '');
      // Custom resources have no patch strategy: the API server answers a strategic merge patch with 415.
      if (spec.group === SPINNAKER_GROUP && (type.includes('strategic-merge-patch') || (!type.includes('json-patch') && !type.includes('merge-patch')))) {
        return send(
          req,
          res,
          415,
          status(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
          ),
        );
      }
      const patch = JSON.parse(body.toString()) as unknown;
      const patched = (type.includes('json-patch') ? jsonPatch(current, patch as never) : mergePatch(current, patch)) as KubeObject;
      // A resourceVersion in the patched object is a precondition, whatever the patch type (409 when stale).
      const expect = patched.metadata?.resourceVersion;
      if (spec.kind === 'SpinnakerService' && sub !== 'status') admit({ operation: 'UPDATE', resource, ...(namespace ? { namespace } : {}), name: name!, object: patched, oldObject: current });
      // ?dryRun=All: every stage (preconditions, admission) runs, nothing is stored.
      if (url.searchParams.get('dryRun') === 'All') {
        if (expect && expect !== current.metadata.resourceVersion) throw new StoreError(409, 'Conflict', `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified`);
        return send(req, res, 200, patched);
      }
      const updated = store.update(
        { ...patched, metadata: { ...patched.metadata, resourceVersion: current.metadata.resourceVersion } },
        { statusOnly: sub === 'status', ...(expect ? { expectResourceVersion: expect } : {}) },
      );
      return send(req, res, 200, updated);
    } catch (error) {
      if (error instanceof StoreError) return send(req, res, error.code, status(error.code, error.reason, error.message));
      if (error instanceof SyntaxError) return send(req, res, 400, status(400, 'BadRequest', error.message));
      throw error;
    }
  }

  function handleScale(req: IncomingMessage, res: ServerResponse, verb: string, namespace: string, name: string, body: Buffer, current: KubeObject | undefined, resource: string) {
    if (!current) return send(req, res, 404, status(404, 'NotFound', `${resource}.apps "${name}" not found`));
    const replicasOf = (d: KubeObject) => (d.spec as { replicas?: number }).replicas ?? 1;
    const scaleOf = (d: KubeObject) => ({
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: { name, namespace, uid: d.metadata.uid, resourceVersion: d.metadata.resourceVersion, creationTimestamp: d.metadata.creationTimestamp },
      spec: { replicas: replicasOf(d) },
      status: {
        replicas: (d.status as { replicas?: number })?.replicas ?? 0,
        selector: Object.entries((d.spec as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
      },
    });
    if (verb === 'get') return send(req, res, 200, scaleOf(current));
    const input = JSON.parse(body.toString()) as { spec?: { replicas?: number }; metadata?: { resourceVersion?: string } };
    const replicas = input.spec?.replicas;
    if (replicas === undefined || replicas < 0) return send(req, res, 422, status(422, 'Invalid', 'spec.replicas must be a non-negative integer'));
    const updated = store.update(
      { ...current, spec: { ...(current.spec as object), replicas } },
      verb === 'update' && input.metadata?.resourceVersion ? { expectResourceVersion: input.metadata.resourceVersion } : {},
    );
    return send(req, res, 200, scaleOf(updated));
  }

  const server: Server = createServer({ cert: options.tls.certPem, key: options.tls.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, Buffer.concat(chunks), res).catch((error: unknown) => send(req, res, 500, status(500, 'InternalError', String(error))));
    });
  });

  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) =>
      protocols.has('v5.channel.k8s.io') ? 'v5.channel.k8s.io' : protocols.has('v4.channel.k8s.io') ? 'v4.channel.k8s.io' : protocols.has('channel.k8s.io') ? 'channel.k8s.io' : false,
  });
  server.on('upgrade', (req: IncomingMessage, socket, head) => {
    void (async () => {
      const reject = (code: number, message: string) => {
        requestLog.push({ method: 'GET', path: (req.url ?? '').split('?')[0]!, status: code });
        socket.end(
          `HTTP/1.1 ${code} ${code === 401 ? 'Unauthorized' : code === 403 ? 'Forbidden' : code === 404 ? 'Not Found' : 'Bad Request'}\r\ncontent-type: application/json\r\n\r\n${JSON.stringify(status(code, code === 403 ? 'Forbidden' : 'BadRequest', message))}`,
        );
      };
      const unauthorized = await authenticate(req);
      if (unauthorized) return reject(401, `Unauthorized: ${unauthorized}`);
      const url = new URL(req.url ?? '/', 'https://localhost');
      const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(url.pathname);
      if (!m) return reject(404, 'not an exec endpoint');
      const [, namespace, podName] = m as unknown as [string, string, string];
      const refusal = forbidden(req, 'create', '', 'pods/exec', namespace, podName);
      if (refusal) return reject(403, refusal);
      const fault = takeFault('exec', 'pods/exec', podName);
      if (fault) return reject(fault.status, fault.message ?? `pods "${podName}" is forbidden: exec refused by the sandbox (injected)`);
      const pod = store.get('Pod', namespace, podName);
      if (!pod) return reject(404, `pods "${podName}" not found`);
      const containers = ((pod.spec as { containers?: { name: string }[] })?.containers ?? []).map((c) => c.name);
      const container = url.searchParams.get('container') ?? containers[0] ?? '';
      if (!containers.includes(container)) return reject(400, `container ${container} is not valid for pod ${podName}`);
      const command = url.searchParams.getAll('command');
      const wantsStdin = url.searchParams.get('stdin') === 'true' || url.searchParams.get('stdin') === '1';
      wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        requestLog.push({ method: 'GET', path: url.pathname, status: 101 });
        void runExec(ws, { namespace, pod: podName, container, command, wantsStdin });
      });
    })();
  });

  async function runExec(ws: WebSocket, req: { namespace: string; pod: string; container: string; command: string[]; wantsStdin: boolean }) {
    const v5 = ws.protocol === 'v5.channel.k8s.io';
    const stdinChunks: Buffer[] = [];
    let stdinClosed: () => void = () => undefined;
    const stdinDone = new Promise<void>((resolve) => (stdinClosed = resolve));
    ws.on('message', (data: Buffer) => {
      const buf = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
      if (buf[0] === 0) stdinChunks.push(buf.subarray(1));
      else if (buf[0] === 255 && buf[1] === 0) stdinClosed();
    });
    ws.on('close', () => stdinClosed());
    if (req.wantsStdin) {
      // v4 has no half-close: a short quiet period ends stdin.
      if (v5) await stdinDone;
      else await Promise.race([stdinDone, new Promise((r) => setTimeout(r, 300))]);
    }
    let result: { stdout: string | Buffer; stderr: string | Buffer; exitCode: number };
    try {
      result = await execHandler({ namespace: req.namespace, pod: req.pod, container: req.container, command: req.command, ...(req.wantsStdin ? { stdin: Buffer.concat(stdinChunks) } : {}) });
    } catch (error) {
      result = { stdout: '', stderr: `${String(error)}\n`, exitCode: 126 };
    }
    const frame = (channel: number, data: string | Buffer) => Buffer.concat([Buffer.from([channel]), Buffer.isBuffer(data) ? data : Buffer.from(data)]);
    if (result.stdout.length) ws.send(frame(1, result.stdout));
    if (result.stderr.length) ws.send(frame(2, result.stderr));
    const st =
      result.exitCode === 0
        ? { metadata: {}, status: 'Success' }
        : {
            metadata: {},
            status: 'Failure',
            message: `command terminated with non-zero exit code: error executing command [${req.command.join(' ')}], exit code ${result.exitCode}`,
            reason: 'NonZeroExitCode',
            details: { causes: [{ reason: 'ExitCode', message: String(result.exitCode) }] },
          };
    ws.send(frame(3, JSON.stringify(st)));
    ws.close(1000);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `https://127.0.0.1:${port}`;
  return {
    url,
    store,
    adminToken,
    requestLog,
    faults: {
      add: (f) => void faultList.push({ ...f }),
      clear: () => void faultList.splice(0),
      fired,
    },
    setExecHandler: (h) => void (execHandler = h),
    setAdmission: (name, hook) => void (hook ? admission.set(name, hook) : admission.delete(name)),
    writeKubeconfig(path, namespace = 'spinnaker') {
      const ca = Buffer.from(options.tls.caPem).toString('base64');
      writeFileSync(
        path,
        `apiVersion: v1\nkind: Config\nclusters:\n- name: ${options.clusterName}\n  cluster:\n    server: ${url}\n    certificate-authority-data: ${ca}\nusers:\n- name: sandbox-admin\n  user:\n    token: ${adminToken}\ncontexts:\n- name: ${options.clusterName}\n  context:\n    cluster: ${options.clusterName}\n    user: sandbox-admin\n    namespace: ${namespace}\ncurrent-context: ${options.clusterName}\n`,
        { mode: 0o600 },
      );
    },
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
