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
import type { ClusterApi, WorkloadKind } from '../kubernetes/api.js';
import { spinRedisWorkload, whySpinRedisIsLeftRunning } from '../kubernetes/scale.js';
import { type Flavor, spinnakerConfigFlavor } from '../spinnaker/flavor.js';
import { isRedisService } from '../spinnaker/quiesce.js';
import { describeGitOps } from '../spinnaker/gitops.js';
import { readSourceContainer, resolveSourceEndpoint } from '../kubernetes/spin-redis.js';
import { decideFork, type ForkDecision } from '../copy/fork-safety.js';
import { readFreeDisk } from '../kubernetes/source-snapshot.js';
import { payloadsMoveDirectly, readSourceFacts, targetRdbVersion, type SourceFacts } from '../copy/source-facts.js';
import { adviseS3Seed, type S3SeedAdvice } from '../copy/s3-seed.js';
import { MigrationError } from '../errors.js';

/** spin-redis as the copy will find it: versions, memory, writes, persistence, and whether it may fork. */
export interface SourcePlan {
  server: SourceFacts['server'];
  keys: number;
  memory: SourceFacts['memory'];
  writes: SourceFacts['writes'];
  persistence: SourceFacts['persistence'];
  /** The fork-safety decision (docs/COPY.md, "Fork safety"), with its figures. */
  fork: ForkDecision;
  /** DUMP payloads of the source's RDB version RESTORE into the target as they are, or keys go by type. */
  payloads: { sourceRdbVersion?: number; targetRdbVersion?: number; direct?: boolean; path: string };
  /** What CopyBulk will do with `options.copyMethod`. */
  copyMethod: string;
  /** Whether seeding ElastiCache from an RDB in S3 would be the better way in, and why (lib/copy/s3-seed.ts; `options.copyMethod: s3-seed` takes it, `auto` never does). */
  s3Seed: S3SeedAdvice;
}

export interface MigrationPlan {
  /** The install flavour the change is for, and the object that holds the config. */
  spinnaker: { flavor: Flavor; holder: string; redisConnection: string; notes: string[]; gitOpsManaged?: string };
  /** spin-redis's facts, or why they could not be read (this step must run where spin-redis is reachable). */
  source: SourcePlan | { unreachable: string };
  target: { engine: string; engineVersion: string; rdbVersion?: number };
  create: { resource: string; name: string; exists: boolean; settings: Record<string, unknown> }[];
  configMapDiff: Record<string, string>;
  scale: { deployment: string; kind: WorkloadKind; from: number; to: number };
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
  const spinRedis = spinRedisWorkload(config);
  const leftRunning = whySpinRedisIsLeftRunning(config);
  // A Sentinel-managed spin-redis may have no workload we know of: it is left running anyway.
  const replicas = leftRunning ? await api.readScale(namespace, spinRedis.name, spinRedis.kind).catch(() => 0) : await api.readScale(namespace, spinRedis.name, spinRedis.kind);
  if (leftRunning) notes.push(`After the switch: ${leftRunning}.`);
  const source = await planSource(api, config);
  const targetRdb = targetRdbVersion(t.engine, t.engineVersion);
  const deployments = (await api.listDeployments(namespace, config.spinnaker.serviceSelector)).filter((d) => d.metadata?.name !== config.spinnaker.spinRedis.deployment);
  const services = deployments.map((d) => d.metadata?.name ?? '?');
  const quiesce = deployments.filter(isRedisService).map((d) => ({ deployment: d.metadata?.name ?? '?', replicas: d.spec?.replicas ?? 1 }));
  if (config.target.authTokenSecretArn && !config.options.plaintextTokenInSpinnakerConfig) {
    notes.push(
      `The secret ${config.spinnaker.redisUrlSecret.name} (region ${config.cluster.region}) will hold the whole Redis URL with the token; every connecting service's redis.connection refers to it.`,
    );
  }
  // Argo CD / Flux: the real run is refused (SpinnakerConfigGitOpsManagedError); configMapDiff is the change to commit.
  const gitOpsManaged = halyard.gitOps.length > 0 ? `${describeGitOps(halyard.holder, halyard.gitOps)} A real run is refused: commit configMapDiff to its repository instead.` : undefined;
  return {
    spinnaker: { flavor, holder: halyard.holder, redisConnection: target.connection, notes: halyard.notes, ...(gitOpsManaged ? { gitOpsManaged } : {}) },
    source,
    target: { engine: t.engine, engineVersion: t.engineVersion, ...(targetRdb === undefined ? {} : { rdbVersion: targetRdb }) },
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
    scale: { deployment: spinRedis.name, kind: spinRedis.kind, from: replicas, to: leftRunning ? replicas : 0 },
    quiesce,
    rollout: services,
    notes,
  };
}

/** Reads spin-redis (password from its Secret, the pod's resources) and decides as CopyBulk will. */
async function planSource(api: ClusterApi, config: MigrationConfig): Promise<MigrationPlan['source']> {
  try {
    const [endpoint, container] = await Promise.all([resolveSourceEndpoint(config, api), readSourceContainer(config, api)]);
    const facts = await readSourceFacts(endpoint);
    const freeBytes =
      'container' in container && facts.persistence.disklessSync !== true && facts.persistence.dir
        ? await readFreeDisk(api, config.spinnaker.namespace, container.container, facts.persistence.dir)
        : undefined;
    const fork = decideFork(facts, container, freeBytes === undefined ? {} : { freeBytes });
    const targetRdb = targetRdbVersion(config.target.engine, config.target.engineVersion);
    const direct = payloadsMoveDirectly(facts.server.rdbVersion, targetRdb);
    const path =
      direct === false
        ? `type-based: the source writes RDB v${facts.server.rdbVersion}, newer than the target's v${targetRdb}, so DUMP payloads are refused and every key is copied by type (slower)`
        : direct
          ? `RESTORE of DUMP payloads as they are (RDB v${facts.server.rdbVersion} into v${targetRdb})`
          : 'unknown versions: the copy probes the target with one payload first and copies by type if it is refused';
    const method = config.options.copyMethod;
    const s3Seed = adviseS3Seed({
      datasetBytes: facts.memory.usedMemoryDataset ?? facts.memory.usedMemory,
      inputBytesPerSec: facts.writes.inputBytesPerSec,
      fork: fork.fork,
      sliceSeconds: config.options.copySliceSeconds,
      ...(facts.persistence.lastBgsaveSeconds !== undefined && facts.persistence.lastBgsaveSeconds >= 0 ? { lastBgsaveSeconds: facts.persistence.lastBgsaveSeconds } : {}),
    });
    const f = s3Seed.freeze;
    const copyMethod =
      method === 's3-seed'
        ? `s3-seed (options.copyMethod): Spinnaker's Redis users are quiesced BEFORE spin-redis's RDB is taken and stay at 0 until the switch (no catch-up follows a seed); write freeze about ${s3Seed.freezeSeconds} s: snapshot ${f.dumpSeconds} s, upload ${f.uploadSeconds} s, the group's creation from it ${f.createSeconds} s (assumed), then the strict verification and the switch`
        : method === 'scan'
          ? 'scan (options.copyMethod)'
          : fork.fork
            ? direct === false
              ? "scan: the target refuses the source's payloads"
              : `replication (PSYNC), by scan if the snapshot does not fit in one ${config.options.copySliceSeconds} s slice`
            : method === 'replication'
              ? `fails with ForkUnsafeError: ${fork.reason}`
              : `scan: ${fork.reason}`;
    return {
      server: facts.server,
      keys: facts.keys,
      memory: facts.memory,
      writes: facts.writes,
      persistence: facts.persistence,
      fork,
      payloads: {
        ...(facts.server.rdbVersion === undefined ? {} : { sourceRdbVersion: facts.server.rdbVersion }),
        ...(targetRdb === undefined ? {} : { targetRdbVersion: targetRdb }),
        ...(direct === undefined ? {} : { direct }),
        path,
      },
      copyMethod,
      s3Seed,
    };
  } catch (error) {
    // A dry run reports what it could not read rather than failing.
    if (error instanceof MigrationError) return { unreachable: `${error.name}: ${error.message}` };
    throw error;
  }
}
