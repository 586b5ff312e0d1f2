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
import { MigrationError, RedisAuthError, RedisFailoverError, RedisUnreachableError } from '../errors.js';
import { askSentinels, type HostPort, hostPort, parseHostPort } from '../redis/sentinel.js';
import type { RedisEndpoint } from '../redis/connect.js';
import type { ClusterApi, Pod } from './api.js';
import { clusterApiFor } from './default-api.js';
import { parseQuantity } from './quantity.js';
import { spinRedisWorkload } from './scale.js';

export { parseQuantity };

type SpinRedisApi = Pick<ClusterApi, 'readWorkload' | 'listPods' | 'readSecret'>;

/** The Ready spin-redis pod, found through the Deployment's or StatefulSet's selector. */
async function readyPod(config: MigrationConfig, api: Pick<ClusterApi, 'readWorkload' | 'listPods'>, masterIp?: string): Promise<Pod> {
  const { namespace } = config.spinnaker;
  const { kind, name } = spinRedisWorkload(config);
  const workload = await api.readWorkload(namespace, name, kind);
  const labels = workload.spec?.selector?.matchLabels ?? {};
  const selector = Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  if (!selector) throw new RedisUnreachableError(`${kind} ${namespace}/${name} has no matchLabels selector; set spinnaker.spinRedis.url`);
  const pods = await api.listPods(namespace, selector);
  const ready = pods.filter((p) => p.status?.phase === 'Running' && p.status.podIP && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  // Sentinel-managed: the pod that is the master now (its container is the one that forks).
  const pod = masterIp ? ready.find((p) => p.status?.podIP === masterIp) : ready[0];
  if (masterIp && !pod)
    throw new RedisUnreachableError(
      `No Ready pod of ${kind} ${namespace}/${name} has the master's IP ${masterIp}; set spinnaker.spinRedis.statefulSet to the workload that runs the Sentinel-managed Redis`,
    );
  if (!pod?.status?.podIP) throw new RedisUnreachableError(`No Ready spin-redis pod (${selector}) in ${namespace}; is spin-redis scaled to 0?`);
  return pod;
}

/** The container that serves Redis: the first one with a port. */
function redisContainer(pod: Pod) {
  const containers = pod.spec?.containers ?? [];
  return containers.find((c) => (c.ports ?? []).length > 0) ?? containers[0];
}

/**
 * Where the steps connect to spin-redis, asked afresh at each invocation: the configured URL;
 * for a Sentinel-managed spin-redis the master the sentinels name now (so a failover between
 * two slices is followed); else the Ready pod of the workload.
 * @throws RedisFailoverError (transient) while no sentinel names a master that answers as one
 */
export async function resolveSourceEndpoint(config: MigrationConfig, api: SpinRedisApi = clusterApiFor(config)): Promise<RedisEndpoint> {
  return (await resolveSourceNodes(config, api))[0]!.endpoint;
}

/** One Redis server of spin-redis: the master first, then (Sentinel-managed only) its replicas. */
export interface SourceNode {
  role: 'master' | 'replica';
  /** `host:port`, for messages. */
  address: string;
  endpoint: RedisEndpoint;
}

/**
 * Every data node of spin-redis, master first. What must hold on all of them (keyspace
 * notifications, "no client but us") is checked on each: a replica is promoted by the next
 * failover, and a client still connected to a demoted master (Spotahome's master Service lags
 * the failover by up to its 30 s resync) is a client of spin-redis all the same.
 */
export async function resolveSourceNodes(config: MigrationConfig, api: SpinRedisApi = clusterApiFor(config)): Promise<SourceNode[]> {
  const password = await readSourcePassword(config, api);
  const withPassword = (url: string): RedisEndpoint => (password === undefined ? { url } : { url, password });
  const { url, sentinel } = config.spinnaker.spinRedis;
  if (sentinel) {
    const view = await askSentinels(await sentinelAddresses(config, api), {
      masterName: sentinel.masterName,
      ...(password === undefined ? {} : { masterPassword: password }),
      ...(sentinel.passwordSecret ? { sentinelPassword: await readSecretValue(config, api, sentinel.passwordSecret, 'spinnaker.spinRedis.sentinel.passwordSecret') } : {}),
    });
    return [
      { role: 'master' as const, address: hostPort(view.master), endpoint: withPassword(`redis://${hostPort(view.master)}`) },
      ...view.replicas.map((r) => ({ role: 'replica' as const, address: hostPort(r), endpoint: withPassword(`redis://${hostPort(r)}`) })),
    ];
  }
  if (url) return [{ role: 'master', address: new URL(url).host, endpoint: withPassword(url) }];
  const pod = await readyPod(config, api);
  const port = redisContainer(pod)?.ports?.[0]?.containerPort ?? 6379;
  return [{ role: 'master', address: `${pod.status!.podIP}:${port}`, endpoint: withPassword(`redis://${pod.status!.podIP}:${port}`) }];
}

/** Labels Spotahome's operator puts on a RedisFailover's pods (operator/redisfailover/service/client.go `generateSelectorLabels`). */
export function redisFailoverSelector(name: string, component: 'redis' | 'sentinel'): string {
  return `app.kubernetes.io/name=${name},app.kubernetes.io/component=${component},app.kubernetes.io/part-of=redis-failover`;
}

/**
 * The sentinels to ask: the input's addresses, or the Running pods of the RedisFailover's
 * sentinel Deployment `rfs-<name>` by pod IP, port 26379 (operator/redisfailover/service/generator.go
 * `generateSentinelDeployment`): a VPC Lambda cannot resolve the cluster's Service names.
 */
async function sentinelAddresses(config: MigrationConfig, api: Pick<ClusterApi, 'listPods'>): Promise<HostPort[]> {
  const sentinel = config.spinnaker.spinRedis.sentinel!;
  if (sentinel.addresses) return sentinel.addresses.map(parseHostPort);
  const name = sentinel.redisFailover!;
  const pods = await api.listPods(config.spinnaker.namespace, redisFailoverSelector(name, 'sentinel'));
  const running = pods.filter((p) => p.status?.phase === 'Running' && p.status.podIP && !p.metadata?.deletionTimestamp);
  if (running.length === 0)
    throw new RedisFailoverError(`No Running sentinel pod of RedisFailover ${config.spinnaker.namespace}/${name} (${redisFailoverSelector(name, 'sentinel')}); is the operator running?`);
  return running.map((p) => ({ host: p.status!.podIP!, port: 26379 }));
}

/**
 * The password from `spinnaker.spinRedis.passwordSecret` (a Secret in the Spinnaker
 * namespace), or undefined when none is configured. Errors name the Secret and key, never
 * the value.
 */
export async function readSourcePassword(config: MigrationConfig, api: Pick<ClusterApi, 'readSecret'>): Promise<string | undefined> {
  const ref = config.spinnaker.spinRedis.passwordSecret;
  return ref ? readSecretValue(config, api, ref, 'spinnaker.spinRedis.passwordSecret') : undefined;
}

async function readSecretValue(config: MigrationConfig, api: Pick<ClusterApi, 'readSecret'>, ref: { name: string; key: string }, field: string): Promise<string> {
  const secret = await api.readSecret(config.spinnaker.namespace, ref.name);
  const encoded = secret.data?.[ref.key];
  const value = encoded === undefined ? secret.stringData?.[ref.key] : Buffer.from(encoded, 'base64').toString('utf8');
  if (!value) throw new RedisAuthError(`Secret ${config.spinnaker.namespace}/${ref.name} has no key '${ref.key}' (${field})`);
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
export async function readSourceContainer(config: MigrationConfig, api: SpinRedisApi = clusterApiFor(config)): Promise<ContainerKnowledge> {
  try {
    const masterIp = config.spinnaker.spinRedis.sentinel ? new URL((await resolveSourceEndpoint(config, api)).url).hostname : undefined;
    const container = sourceContainerOf(await readyPod(config, api, masterIp));
    return container ? { container } : { unknown: 'the spin-redis pod has no container' };
  } catch (error) {
    // A passing fault is retried by the step; anything else means the limit cannot be known.
    if (error instanceof MigrationError && !error.retryable) return { unknown: `${error.name}: ${error.message}` };
    throw error;
  }
}
