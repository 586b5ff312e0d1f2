/**
 * The few Kubernetes operations the workflow needs, behind small interfaces so domain code
 * and tests do not depend on client-node. `createClusterApi` implements them with
 * @kubernetes/client-node over an in-memory kubeconfig (endpoint and CA from EKS
 * DescribeCluster, an EKS token refreshed before it expires).
 */
import { PassThrough, Readable, Writable } from 'node:stream';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type CoreV1Event,
  Exec,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1ConfigMap,
  type V1ObjectMeta,
  type V1Deployment,
  type V1Pod,
  type V1StatefulSet,
  type V1Secret,
  type V1ServiceAccount,
  type V1Status,
} from '@kubernetes/client-node';
import type { EKSClient } from '@aws-sdk/client-eks';
import { KubernetesUnavailableError, PodExecError } from '../errors.js';
import { describeEksCluster } from '../eks/cluster.js';
import { createEksToken } from '../eks/token.js';
import { kubeCall, mapKubernetesError } from './errors.js';

export type ConfigMap = V1ConfigMap;
export type Deployment = V1Deployment;
export type Pod = V1Pod;
export type ServiceAccount = V1ServiceAccount;
export type Secret = V1Secret;
export type KubeEvent = CoreV1Event;
export type StatefulSet = V1StatefulSet;
/**
 * The kinds spin-redis runs as: Halyard's Deployment `spin-redis`, or the Bitnami chart's
 * StatefulSet `<release>-redis-master` (stable/spinnaker and OpsMx spinnaker-helm). Both have the
 * scale subresource, `spec.selector.matchLabels` and `spec.replicas`.
 */
export type WorkloadKind = 'Deployment' | 'StatefulSet';

/**
 * The Spinnaker Operator's API groups: the open-source operator's and Armory's (both v1alpha2,
 * plural spinnakerservices). A type only: this module is loaded with `import()` on the first
 * Kubernetes call (default-api.ts), so a value exported here would load the client at import.
 */
export type SpinnakerServiceGroup = 'spinnaker.io' | 'spinnaker.armory.io';

/** A `SpinnakerService` (spinnaker.io/v1alpha2): what the migration reads and patches of it. */
export interface SpinnakerService {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ObjectMeta;
  spec?: { spinnakerConfig?: Record<string, unknown>; [field: string]: unknown };
  /** Written by the operator only (status subresource): `status` OK/Updating/Unavailable/N/A/Failure, `lastDeployed.<detector>.hash`. */
  status?: { status?: string; lastDeployed?: Record<string, { hash?: string; lastUpdatedAt?: string }>; [field: string]: unknown };
}

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
  /** A Deployment or a StatefulSet (spin-redis). */
  readWorkload(namespace: string, name: string, kind: WorkloadKind): Promise<Deployment | StatefulSet>;
  /** JSON merge patch of metadata.annotations (null removes one); `kind` defaults to Deployment. */
  patchDeploymentAnnotations(namespace: string, name: string, annotations: Record<string, string | null>, kind?: WorkloadKind): Promise<Deployment | StatefulSet>;
  /** `spec.replicas` through the scale subresource; `kind` defaults to Deployment. */
  readScale(namespace: string, name: string, kind?: WorkloadKind): Promise<number>;
  replaceScale(namespace: string, name: string, replicas: number, kind?: WorkloadKind): Promise<number>;
  listPods(namespace: string, labelSelector: string): Promise<Pod[]>;
  /** The service account Spinnaker's pods run as (its IRSA annotation names their IAM role). */
  readServiceAccount(namespace: string, name: string): Promise<ServiceAccount>;
  /** One Secret (spin-redis's password on Bitnami charts); its `data` values are base64. */
  readSecret(namespace: string, name: string): Promise<Secret>;
  exec(namespace: string, pod: string, container: string, command: string[], stdin?: string): Promise<ExecResult>;
  /** The SpinnakerServices of a namespace in one API group; [] when that group's CRD is not installed (404). */
  listSpinnakerServices(namespace: string, group: SpinnakerServiceGroup): Promise<SpinnakerService[]>;
  /**
   * Patch a SpinnakerService: `merge` (RFC 7386; a `metadata.resourceVersion` in the patch is the
   * precondition, 409 otherwise) or `json` (RFC 6902; a `replace` of /metadata/resourceVersion is the precondition). Custom
   * resources refuse strategic merge patches (415). `dryRun`: validated and admitted (webhooks
   * with sideEffects None run) but not stored (`?dryRun=All`).
   */
  patchSpinnakerService(namespace: string, name: string, group: SpinnakerServiceGroup, patch: object, type: 'merge' | 'json', options?: { dryRun?: boolean }): Promise<SpinnakerService>;
  /** Events in a namespace by field selector (e.g. `involvedObject.kind=SpinnakerService,involvedObject.name=spinnaker`). */
  listEvents(namespace: string, fieldSelector: string): Promise<KubeEvent[]>;
}

const TOKEN_TTL_MS = 10 * 60_000; // EKS accepts a token for ~15 minutes
const OUTPUT_LIMIT = 256 * 1024;

export function createClusterApi(options: { clusterName: string; region: string; eks: () => Pick<EKSClient, 'send'> }): ClusterApi {
  let cached: { core: CoreV1Api; apps: AppsV1Api; custom: CustomObjectsApi; exec: Exec; expires: number } | undefined;
  async function clients() {
    if (cached && cached.expires > Date.now()) return cached;
    const cluster = await describeEksCluster(options.eks(), options.clusterName);
    const token = await createEksToken({ clusterName: options.clusterName, region: options.region });
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: options.clusterName, server: cluster.endpoint, caData: cluster.caData, skipTLSVerify: false }],
      users: [{ name: 'spin-elasticache', token }],
      contexts: [{ name: 'spin-elasticache', cluster: options.clusterName, user: 'spin-elasticache' }],
      currentContext: 'spin-elasticache',
    });
    cached = { core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api), custom: kc.makeApiClient(CustomObjectsApi), exec: new Exec(kc), expires: Date.now() + TOKEN_TTL_MS };
    return cached;
  }

  return {
    async readConfigMap(namespace, name) {
      const { core } = await clients();
      return kubeCall(`read ConfigMap ${namespace}/${name}`, () => core.readNamespacedConfigMap({ namespace, name }));
    },
    async replaceConfigMap(namespace, body) {
      const { core } = await clients();
      const name = body.metadata?.name ?? '';
      return kubeCall(`update ConfigMap ${namespace}/${name}`, () => core.replaceNamespacedConfigMap({ namespace, name, body }));
    },
    async listDeployments(namespace, labelSelector) {
      const { apps } = await clients();
      const list = await kubeCall(`list Deployments in ${namespace}`, () => apps.listNamespacedDeployment({ namespace, ...(labelSelector ? { labelSelector } : {}) }));
      return itemsOf(list, `list Deployments in ${namespace}`);
    },
    async readDeployment(namespace, name) {
      const { apps } = await clients();
      return kubeCall(`read Deployment ${namespace}/${name}`, () => apps.readNamespacedDeployment({ namespace, name }));
    },
    async readWorkload(namespace, name, kind) {
      const { apps } = await clients();
      if (kind === 'StatefulSet') return kubeCall(`read StatefulSet ${namespace}/${name}`, () => apps.readNamespacedStatefulSet({ namespace, name }));
      return kubeCall(`read Deployment ${namespace}/${name}`, () => apps.readNamespacedDeployment({ namespace, name }));
    },
    async patchDeploymentAnnotations(namespace, name, annotations, kind = 'Deployment') {
      const { apps } = await clients();
      const body = { metadata: { annotations } };
      const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
      if (kind === 'StatefulSet') return kubeCall(`annotate StatefulSet ${namespace}/${name}`, () => apps.patchNamespacedStatefulSet({ namespace, name, body }, merge));
      return kubeCall(`annotate Deployment ${namespace}/${name}`, () => apps.patchNamespacedDeployment({ namespace, name, body }, merge));
    },
    async readScale(namespace, name, kind = 'Deployment') {
      const { apps } = await clients();
      const scale = await kubeCall(`read scale of ${kind} ${namespace}/${name}`, () =>
        kind === 'StatefulSet' ? apps.readNamespacedStatefulSetScale({ namespace, name }) : apps.readNamespacedDeploymentScale({ namespace, name }),
      );
      return scale.spec?.replicas ?? 0;
    },
    async replaceScale(namespace, name, replicas, kind = 'Deployment') {
      const { apps } = await clients();
      const body = { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name, namespace }, spec: { replicas } };
      const scale = await kubeCall(`scale ${kind} ${namespace}/${name}`, () =>
        kind === 'StatefulSet' ? apps.replaceNamespacedStatefulSetScale({ namespace, name, body }) : apps.replaceNamespacedDeploymentScale({ namespace, name, body }),
      );
      return scale.spec?.replicas ?? replicas;
    },
    async listPods(namespace, labelSelector) {
      const { core } = await clients();
      const list = await kubeCall(`list pods ${labelSelector} in ${namespace}`, () => core.listNamespacedPod({ namespace, labelSelector }));
      return itemsOf(list, `list pods ${labelSelector} in ${namespace}`);
    },
    async readServiceAccount(namespace, name) {
      const { core } = await clients();
      return kubeCall(`read ServiceAccount ${namespace}/${name}`, () => core.readNamespacedServiceAccount({ namespace, name }));
    },
    async readSecret(namespace, name) {
      const { core } = await clients();
      return kubeCall(`read Secret ${namespace}/${name}`, () => core.readNamespacedSecret({ namespace, name }));
    },
    async exec(namespace, pod, container, command, stdin) {
      const { exec } = await clients();
      return runExec(exec, namespace, pod, container, command, stdin);
    },
    async listSpinnakerServices(namespace, group) {
      const { custom } = await clients();
      try {
        const list = (await custom.listNamespacedCustomObject({ group, version: 'v1alpha2', namespace, plural: 'spinnakerservices' })) as { items?: SpinnakerService[] };
        return list.items === undefined ? [] : itemsOf(list, `list spinnakerservices.${group} in ${namespace}`);
      } catch (error) {
        const mapped = mapKubernetesError(error, `list spinnakerservices.${group} in ${namespace}`);
        if (mapped.name === 'KubernetesNotFoundError') return [];
        throw mapped;
      }
    },
    async patchSpinnakerService(namespace, name, group, patch, type, options = {}) {
      const { custom } = await clients();
      return kubeCall(
        `patch spinnakerservices.${group} ${namespace}/${name}${options.dryRun ? ' (dry run)' : ''}`,
        async () =>
          (await custom.patchNamespacedCustomObject(
            { group, version: 'v1alpha2', namespace, plural: 'spinnakerservices', name, body: patch, ...(options.dryRun ? { dryRun: 'All' } : {}) },
            setHeaderOptions('Content-Type', type === 'merge' ? PatchStrategy.MergePatch : PatchStrategy.JsonPatch),
          )) as SpinnakerService,
      );
    },
    async listEvents(namespace, fieldSelector) {
      const { core } = await clients();
      const list = await kubeCall(`list events in ${namespace}`, () => core.listNamespacedEvent({ namespace, fieldSelector }));
      return itemsOf(list, `list events in ${namespace}`);
    },
  };
}

/**
 * A list's items. A body without a list of items (a proxy's page answered 200, a cut-off
 * response) is the API server not answering properly: transient, like an unparsable body.
 */
function itemsOf<T>(list: { items?: T[] } | undefined, context: string): T[] {
  if (!Array.isArray(list?.items)) throw new KubernetesUnavailableError(`${context}: the answer holds no list of items (a proxy or a cut-off response?)`);
  return list.items;
}

function collector(): Writable & { text(): string } {
  const chunks: Buffer[] = [];
  let size = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      size += chunk.length;
      // Keep the tail: hal prints a lot, and the end is what explains a failure.
      while (size > OUTPUT_LIMIT && chunks.length > 1) size -= chunks.shift()!.length;
      done();
    },
  }) as Writable & { text(): string };
  sink.text = () => Buffer.concat(chunks).toString('utf8');
  return sink;
}

async function runExec(exec: Exec, namespace: string, pod: string, container: string, command: string[], stdin?: string): Promise<ExecResult> {
  const stdout = collector();
  const stderr = collector();
  const input = stdin === undefined ? null : Readable.from([Buffer.from(stdin)]).pipe(new PassThrough());
  const where = `exec ${command[0]} in ${namespace}/${pod}`;
  return new Promise<ExecResult>((resolve, reject) => {
    let status: V1Status | undefined;
    exec
      .exec(namespace, pod, container, command, stdout, stderr, input, false, (s) => {
        status = s;
      })
      .then((ws) => {
        ws.on('close', () => {
          if (!status) return reject(new PodExecError(`${where}: the connection closed without an exit status`));
          resolve({ exitCode: exitCodeOf(status), stdout: stdout.text(), stderr: stderr.text() });
        });
        ws.on('error', (error: Error) => reject(new PodExecError(`${where}: ${error.message}`)));
      })
      .catch((error: unknown) => {
        // A refused WebSocket upgrade arrives as "Unexpected server response: 403".
        const status = /Unexpected server response: (\d{3})/.exec(String((error as Error)?.message))?.[1];
        const mapped = mapKubernetesError(status ? { code: Number(status), message: (error as Error).message } : error, where);
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
