/**
 * How a VPC-attached Lambda reaches spin-redis: the configured URL, or the Ready pod of the
 * spin-redis Deployment by IP (VPC CNI pod IPs are routable in the VPC) and container port.
 */
import type { MigrationConfig } from '../config/schema.js';
import { RedisUnreachableError } from '../errors.js';
import type { RedisEndpoint } from '../redis/connect.js';
import type { ClusterApi } from './api.js';
import { clusterApiFor } from './default-api.js';

export async function resolveSourceEndpoint(config: MigrationConfig, api: Pick<ClusterApi, 'readDeployment' | 'listPods'> = clusterApiFor(config)): Promise<RedisEndpoint> {
  if (config.spinnaker.spinRedis.url) return { url: config.spinnaker.spinRedis.url };
  const { namespace } = config.spinnaker;
  const name = config.spinnaker.spinRedis.deployment;
  const deployment = await api.readDeployment(namespace, name);
  const labels = deployment.spec?.selector?.matchLabels ?? {};
  const selector = Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  if (!selector) throw new RedisUnreachableError(`Deployment ${namespace}/${name} has no matchLabels selector; set spinnaker.spinRedis.url`);
  const pods = await api.listPods(namespace, selector);
  const pod = pods.find((p) => p.status?.phase === 'Running' && p.status.podIP && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  if (!pod?.status?.podIP) throw new RedisUnreachableError(`No Ready spin-redis pod (${selector}) in ${namespace}; is spin-redis scaled to 0?`);
  const port = pod.spec?.containers.flatMap((c) => c.ports ?? [])[0]?.containerPort ?? 6379;
  return { url: `redis://${pod.status.podIP}:${port}` };
}
