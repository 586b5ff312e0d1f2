/**
 * The dry-run plan: what would be created (and what already exists), the exact ConfigMap
 * diff, what would be scaled, and which services would be paused for the switch. It reads, never writes. It spans every area, so it lives
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
import { isRedisService } from '../spinnaker/quiesce.js';

export interface MigrationPlan {
  /** The install flavour the change is for, and the object that holds the config. */
  spinnaker: { flavor: Flavor; holder: string; redisConnection: string; notes: string[] };
  create: { resource: string; name: string; exists: boolean; settings: Record<string, unknown> }[];
  configMapDiff: Record<string, string>;
  scale: { deployment: string; from: number; to: number };
  /** The services paused for the switch (scaled to 0, then back to these replicas). */
  quiesce: { deployment: string; replicas: number }[];
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
  const deployments = (await api.listDeployments(namespace, config.spinnaker.serviceSelector)).filter((d) => d.metadata?.name !== config.spinnaker.spinRedis.deployment);
  const services = deployments.map((d) => d.metadata?.name ?? '?');
  const quiesce = deployments.filter(isRedisService).map((d) => ({ deployment: d.metadata?.name ?? '?', replicas: d.spec?.replicas ?? 1 }));
  if (config.target.authTokenSecretArn && !config.options.plaintextTokenInSpinnakerConfig) {
    notes.push(
      `The secret ${config.spinnaker.redisUrlSecret.name} (region ${config.cluster.region}) will hold the whole Redis URL with the token; every connecting service's redis.connection refers to it.`,
    );
  }
  return {
    spinnaker: { flavor, holder: halyard.holder, redisConnection: target.connection, notes: halyard.notes },
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
    quiesce,
    rollout: services,
    notes,
  };
}
