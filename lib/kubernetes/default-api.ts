/**
 * One ClusterApi per cluster per warm Lambda, built from EKS DescribeCluster. The client code
 * (lib/kubernetes/api.ts, @kubernetes/client-node, the SDK's EKS client) is loaded with `import()` on the first
 * call, so a function that does not reach Kubernetes on this run (a copy step with a known
 * spin-redis URL) does not pay for evaluating it at its cold start.
 */
import type { MigrationConfig } from '../config/schema.js';
import type { ClusterApi } from './api.js';

const apis = new Map<string, ClusterApi>();

export function clusterApiFor(config: MigrationConfig): ClusterApi {
  const key = `${config.cluster.region}/${config.cluster.name}`;
  let api = apis.get(key);
  if (!api) {
    const { name: clusterName, region } = config.cluster;
    let loaded: Promise<ClusterApi> | undefined;
    const load = () => {
      loaded ??= Promise.all([import('./api.js'), import('../aws/eks-client.js')]).then(([{ createClusterApi }, { eksForKubernetes }]) =>
        createClusterApi({ clusterName, region, eks: eksForKubernetes }),
      );
      return loaded;
    };
    api = {
      readConfigMap: async (...args) => (await load()).readConfigMap(...args),
      replaceConfigMap: async (...args) => (await load()).replaceConfigMap(...args),
      listDeployments: async (...args) => (await load()).listDeployments(...args),
      readDeployment: async (...args) => (await load()).readDeployment(...args),
      readWorkload: async (...args) => (await load()).readWorkload(...args),
      patchDeploymentAnnotations: async (...args) => (await load()).patchDeploymentAnnotations(...args),
      readScale: async (...args) => (await load()).readScale(...args),
      replaceScale: async (...args) => (await load()).replaceScale(...args),
      listPods: async (...args) => (await load()).listPods(...args),
      readServiceAccount: async (...args) => (await load()).readServiceAccount(...args),
      readSecret: async (...args) => (await load()).readSecret(...args),
      listSpinnakerServices: async (...args) => (await load()).listSpinnakerServices(...args),
      patchSpinnakerService: async (...args) => (await load()).patchSpinnakerService(...args),
      listEvents: async (...args) => (await load()).listEvents(...args),
      exec: async (...args) => (await load()).exec(...args),
    };
    apis.set(key, api);
  }
  return api;
}
