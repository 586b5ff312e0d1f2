/** One ClusterApi per cluster per warm Lambda, built from EKS DescribeCluster. */
import { eks } from '../aws/clients.js';
import type { MigrationConfig } from '../config/schema.js';
import { createClusterApi, type ClusterApi } from './api.js';

const apis = new Map<string, ClusterApi>();

export function clusterApiFor(config: MigrationConfig): ClusterApi {
  const key = `${config.cluster.region}/${config.cluster.name}`;
  let api = apis.get(key);
  if (!api) {
    api = createClusterApi({ clusterName: config.cluster.name, region: config.cluster.region, eks });
    apis.set(key, api);
  }
  return api;
}
