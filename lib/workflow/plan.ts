/**
 * The dry-run plan: what would be created (and what already exists), the exact ConfigMap
 * diff, and what would be scaled. It reads, never writes. It spans every area, so it lives
 * with the workflow, the one layer allowed to compose them.
 */
import type { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import type { MigrationConfig } from '../config/schema.js';
import { findParameterGroup, KEYSPACE_EVENTS } from '../elasticache/parameter-group.js';
import { findReplicationGroup } from '../elasticache/replication-group.js';
import { findSubnetGroup } from '../elasticache/subnet-group.js';
import { redisTarget } from '../halyard/patch.js';
import type { ClusterApi } from '../kubernetes/api.js';
import { type Flavor, spinnakerConfigFlavor } from '../spinnaker/flavor.js';
import { describeGitOps } from '../spinnaker/gitops.js';

export interface MigrationPlan {
  /** The install flavour the change is for, and the object that holds the config. */
  spinnaker: { flavor: Flavor; holder: string; redisConnection: string; notes: string[]; gitOpsManaged?: string };
  create: { resource: string; name: string; exists: boolean; settings: Record<string, unknown> }[];
  configMapDiff: Record<string, string>;
  scale: { deployment: string; from: number; to: number };
  rollout: string[];
  notes: string[];
}

export async function planMigration(api: ClusterApi, elastiCache: Pick<ElastiCacheClient, 'send'>, config: MigrationConfig, flavor: Flavor = 'halyard'): Promise<MigrationPlan> {
  const t = config.target;
  const { namespace } = config.spinnaker;
  const [params, subnets, group] = await Promise.all([
    findParameterGroup(elastiCache, t.parameterGroupName),
    findSubnetGroup(elastiCache, t.subnetGroupName),
    findReplicationGroup(elastiCache, t.replicationGroupId),
  ]);
  const endpoint = group?.NodeGroups?.[0]?.PrimaryEndpoint;
  const notes: string[] = [];
  const address = endpoint?.Address ?? `<primary endpoint of ${t.replicationGroupId}>`;
  if (!endpoint?.Address) notes.push('The ConfigMap diff shows a placeholder for the primary endpoint: it is known once the group exists.');
  // No token here: with the plaintext consent the diff shows a placeholder where it would go.
  const target = redisTarget(config, { address, port: endpoint?.Port ?? t.port });
  const halyard = await spinnakerConfigFlavor(flavor).plan(api, config, target);
  const replicas = await api.readScale(namespace, config.spinnaker.spinRedis.deployment);
  const services = (await api.listDeployments(namespace, config.spinnaker.serviceSelector)).map((d) => d.metadata?.name ?? '?').filter((n) => n !== config.spinnaker.spinRedis.deployment);
  if (config.target.authTokenSecretArn && !config.options.plaintextTokenInSpinnakerConfig) {
    notes.push(
      `The secret ${config.spinnaker.redisUrlSecret.name} (region ${config.cluster.region}) will hold the whole Redis URL with the token; every connecting service's redis.connection refers to it.`,
    );
  }
  // Argo CD / Flux: the real run is refused (SpinnakerConfigGitOpsManagedError); configMapDiff is the change to commit.
  const gitOpsManaged = halyard.gitOps.length > 0 ? `${describeGitOps(halyard.holder, halyard.gitOps)} A real run is refused: commit configMapDiff to its repository instead.` : undefined;
  return {
    spinnaker: { flavor, holder: halyard.holder, redisConnection: target.connection, notes: halyard.notes, ...(gitOpsManaged ? { gitOpsManaged } : {}) },
    create: [
      { resource: 'cache parameter group', name: t.parameterGroupName, exists: Boolean(params), settings: { family: t.parameterGroupFamily, 'notify-keyspace-events': KEYSPACE_EVENTS } },
      { resource: 'cache subnet group', name: t.subnetGroupName, exists: Boolean(subnets), settings: { subnetIds: t.subnetIds ?? "the EKS cluster's subnets" } },
      {
        resource: 'replication group',
        name: t.replicationGroupId,
        exists: Boolean(group),
        settings: {
          engine: `${t.engine} ${t.engineVersion}`,
          nodeType: t.nodeType,
          numCacheClusters: t.numCacheClusters,
          multiAz: t.multiAz,
          automaticFailover: t.automaticFailover,
          transitEncryption: t.transitEncryption,
          atRestEncryption: t.atRestEncryption,
          authToken: t.authTokenSecretArn ? `from ${t.authTokenSecretArn}` : 'none',
          securityGroupIds: t.securityGroupIds ?? 'the EKS cluster security group',
        },
      },
    ],
    configMapDiff: halyard.diff(),
    scale: { deployment: config.spinnaker.spinRedis.deployment, from: replicas, to: 0 },
    rollout: services,
    notes,
  };
}
