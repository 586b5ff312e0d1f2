/**
 * spin-redis as the steps see it: how a VPC-attached Lambda reaches it (the configured URL,
 * or the Ready pod of the spin-redis Deployment or StatefulSet by IP, which VPC CNI makes
 * routable, and container port), its password (a Kubernetes Secret named in the input, read
 * through the Kubernetes API: the Bitnami charts' `<release>-redis`), and its container's
 * resources (memory limit and request, ephemeral storage, volumes), which decide whether it
 * may fork for the replication copy (lib/copy/fork-safety.ts).
 */
import type { MigrationConfig } from '../config/schema.js';
import type { ContainerKnowledge, SourceContainer } from '../copy/fork-safety.js';
import { MigrationError, RedisAuthError, RedisUnreachableError } from '../errors.js';
import type { RedisEndpoint } from '../redis/connect.js';
import type { ClusterApi, Pod } from './api.js';
import { clusterApiFor } from './default-api.js';
import { parseQuantity } from './quantity.js';
import { spinRedisWorkload } from './scale.js';

export { parseQuantity };

type SpinRedisApi = Pick<ClusterApi, 'readWorkload' | 'listPods' | 'readSecret'>;

/** The Ready spin-redis pod, found through the Deployment's or StatefulSet's selector. */
async function readyPod(config: MigrationConfig, api: Pick<ClusterApi, 'readWorkload' | 'listPods'>): Promise<Pod> {
  const { namespace } = config.spinnaker;
  const { kind, name } = spinRedisWorkload(config);
  const workload = await api.readWorkload(namespace, name, kind);
  const labels = workload.spec?.selector?.matchLabels ?? {};
  const selector = Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  if (!selector) throw new RedisUnreachableError(`${kind} ${namespace}/${name} has no matchLabels selector; set spinnaker.spinRedis.url`);
  const pods = await api.listPods(namespace, selector);
  const pod = pods.find((p) => p.status?.phase === 'Running' && p.status.podIP && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  if (!pod?.status?.podIP) throw new RedisUnreachableError(`No Ready spin-redis pod (${selector}) in ${namespace}; is spin-redis scaled to 0?`);
  return pod;
}

/** The container that serves Redis: the first one with a port. */
function redisContainer(pod: Pod) {
  const containers = pod.spec?.containers ?? [];
  return containers.find((c) => (c.ports ?? []).length > 0) ?? containers[0];
}

export async function resolveSourceEndpoint(config: MigrationConfig, api: SpinRedisApi = clusterApiFor(config)): Promise<RedisEndpoint> {
  const password = await readSourcePassword(config, api);
  const withPassword = (url: string): RedisEndpoint => (password === undefined ? { url } : { url, password });
  if (config.spinnaker.spinRedis.url) return withPassword(config.spinnaker.spinRedis.url);
  const pod = await readyPod(config, api);
  const port = redisContainer(pod)?.ports?.[0]?.containerPort ?? 6379;
  return withPassword(`redis://${pod.status!.podIP}:${port}`);
}

/**
 * The password from `spinnaker.spinRedis.passwordSecret` (a Secret in the Spinnaker
 * namespace), or undefined when none is configured. Errors name the Secret and key, never
 * the value.
 */
export async function readSourcePassword(config: MigrationConfig, api: Pick<ClusterApi, 'readSecret'>): Promise<string | undefined> {
  const ref = config.spinnaker.spinRedis.passwordSecret;
  if (!ref) return undefined;
  const secret = await api.readSecret(config.spinnaker.namespace, ref.name);
  const encoded = secret.data?.[ref.key];
  const value = encoded === undefined ? secret.stringData?.[ref.key] : Buffer.from(encoded, 'base64').toString('utf8');
  if (!value) throw new RedisAuthError(`Secret ${config.spinnaker.namespace}/${ref.name} has no key '${ref.key}' (spinnaker.spinRedis.passwordSecret)`);
  return value;
}

/** The Redis container's resources and volumes, from the running pod (LimitRange defaults included). */
export function sourceContainerOf(pod: Pod): SourceContainer | undefined {
  const container = redisContainer(pod);
  if (!container) return undefined;
  const quantity = (value: unknown) => (typeof value === 'string' || typeof value === 'number' ? parseQuantity(String(value)) : undefined);
  const limits = container.resources?.limits ?? {};
  const requests = container.resources?.requests ?? {};
  const volumes = new Map((pod.spec?.volumes ?? []).map((v) => [v.name, v]));
  const mounts = (container.volumeMounts ?? []).map((m) => {
    const volume = volumes.get(m.name);
    const kind = volume?.emptyDir ? (volume.emptyDir.medium === 'Memory' ? 'memory' : 'emptyDir') : volume?.persistentVolumeClaim ? 'persistentVolumeClaim' : 'other';
    const sizeLimitBytes = volume?.emptyDir?.sizeLimit ? quantity(volume.emptyDir.sizeLimit) : undefined;
    return { path: m.mountPath, volume: m.name, kind, ...(sizeLimitBytes === undefined ? {} : { sizeLimitBytes }) } as SourceContainer['mounts'][number];
  });
  const memoryLimitBytes = quantity(limits.memory);
  const memoryRequestBytes = quantity(requests.memory);
  const ephemeralStorageLimitBytes = quantity(limits['ephemeral-storage']);
  return {
    pod: pod.metadata?.name ?? '?',
    container: container.name,
    ...(memoryLimitBytes === undefined ? {} : { memoryLimitBytes }),
    ...(memoryRequestBytes === undefined ? {} : { memoryRequestBytes }),
    ...(ephemeralStorageLimitBytes === undefined ? {} : { ephemeralStorageLimitBytes }),
    mounts,
  };
}

/**
 * What the fork-safety check knows of spin-redis's container. A pod that cannot be read
 * (no Ready pod, RBAC, a workload of another kind than the input says) is `unknown`, and
 * nothing forks.
 */
export async function readSourceContainer(config: MigrationConfig, api: Pick<ClusterApi, 'readWorkload' | 'listPods'> = clusterApiFor(config)): Promise<ContainerKnowledge> {
  try {
    const container = sourceContainerOf(await readyPod(config, api));
    return container ? { container } : { unknown: 'the spin-redis pod has no container' };
  } catch (error) {
    // A passing fault is retried by the step; anything else means the limit cannot be known.
    if (error instanceof MigrationError && !error.retryable) return { unknown: `${error.name}: ${error.message}` };
    throw error;
  }
}
