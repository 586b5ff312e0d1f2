/**
 * The health check that keeps watching after a migration (EventBridge schedule →
 * HealthCheck Lambda, or `spin-elasticache health`). It answers the questions a platform
 * engineer asks about the new Redis, each as a finding: is the group available and still
 * as configured; does it have its primary and replicas; do keyspace notifications still
 * fire (Gate's sessions need expired events); is memory, eviction and replication lag
 * sane; and does Spinnaker still point at it, with spin-redis still at zero.
 *
 * A failing check is a finding, never an exception: the report always comes back.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DescribeCacheParametersCommand, type ElastiCacheClient, type ReplicationGroup } from '@aws-sdk/client-elasticache';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parse, stringify } from 'yaml';
import type { MigrationConfig } from '../config/schema.js';
import { asMigrationError } from '../errors.js';
import { keyCount } from '../redis/keyspace.js';
import { awsCall } from '../aws/errors.js';
import { findReplicationGroup, replicationGroupDifferences } from '../elasticache/replication-group.js';
import { KEYSPACE_EVENTS } from '../elasticache/parameter-group.js';
import type { ClusterApi } from '../kubernetes/api.js';
import { spinRedisWorkload, whySpinRedisIsLeftRunning } from '../kubernetes/scale.js';
import { connectRedis, type RedisEndpoint } from '../redis/connect.js';
import { pingRedis } from '../redis/ping.js';
import { getAuthToken } from '../secrets/auth-token.js';
import { findSpinnakerService } from '../spinnaker/operator.js';
import { CHART_HALYARD_SELECTOR, chartFullname, helmConfigMapNames } from '../spinnaker/helm.js';

/** `unknown`: the check could not ask (AWS or Kubernetes API unreachable, throttled, credentials or access refused): nothing is known of what it checks. */
export type FindingStatus = 'ok' | 'warning' | 'critical' | 'unknown';

export interface Finding {
  check: string;
  status: FindingStatus;
  detail: string;
}

export interface HealthMetrics {
  pingLatencyMs?: number;
  memoryUsedPercent?: number;
  evictedKeys?: number;
  maxReplicationLagBytes?: number;
  connectedReplicas?: number;
  keys?: number;
}

export interface HealthReport {
  replicationGroupId: string;
  /** The group's ARN, where the last status is kept as a tag. */
  arn?: string;
  checkedAt: string;
  /**
   * `unhealthy` if any finding is critical; else `unknown` if a check could not ask its API (a
   * failure of the checker, not of Redis: not reported as unhealthy); else `degraded` if any is a
   * warning; else `healthy`.
   */
  status: 'healthy' | 'degraded' | 'unhealthy' | 'unknown';
  findings: Finding[];
  metrics: HealthMetrics;
}

export interface HealthDeps {
  elastiCache: Pick<ElastiCacheClient, 'send'>;
  secretsManager: Pick<SecretsManagerClient, 'send'>;
  cluster: () => Pick<ClusterApi, 'readConfigMap' | 'readScale' | 'listSpinnakerServices' | 'listPods'>;
  now?: () => Date;
  /** While the primary answers READONLY (a failover): PINGs in all, and the pause between them, ms (default 4 × 2000). */
  failoverPings?: { tries: number; pauseMs: number };
}

export const MEMORY_WARNING_PERCENT = 80;
export const MEMORY_CRITICAL_PERCENT = 95;
/** A replica further behind than this is reported (Spinnaker reads only the primary). */
export const REPLICATION_LAG_WARNING_BYTES = 1024 * 1024;

/** The checker could not ask its API: says nothing about Redis or Spinnaker. */
const CANNOT_ASK = new Set(['AwsAccessDeniedError', 'AwsCredentialsError', 'AwsServiceUnavailableError', 'AwsThrottlingError', 'KubernetesUnavailableError', 'KubernetesForbiddenError']);
/** `unknown` when `error` is the checker's own failure to ask, else `otherwise`. */
const failed = (error: unknown, otherwise: FindingStatus): FindingStatus => (CANNOT_ASK.has(asMigrationError(error).name) ? 'unknown' : otherwise);

const errorText = (error: unknown) => {
  const named = asMigrationError(error);
  return `${named.name}: ${named.message}`;
};

function primaryOf(group: ReplicationGroup): { address: string; port: number } | undefined {
  const endpoint = group.NodeGroups?.[0]?.PrimaryEndpoint;
  return endpoint?.Address && endpoint.Port ? { address: endpoint.Address, port: endpoint.Port } : undefined;
}

/**
 * PING (pingRedis writes a key), again after a pause while the primary answers READONLY: a
 * Multi-AZ failover promotes the replica within seconds, and is not an outage to alert on.
 */
async function pingThroughFailover(endpoint: RedisEndpoint, { tries, pauseMs }: { tries: number; pauseMs: number }) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await pingRedis(endpoint);
    } catch (error) {
      if (attempt >= tries || asMigrationError(error).name !== 'RedisFailoverError') throw error;
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }
}

export async function checkHealth(config: MigrationConfig, deps: HealthDeps): Promise<HealthReport> {
  const t = config.target;
  const findings: Finding[] = [];
  const metrics: HealthMetrics = {};
  const add = (check: string, status: FindingStatus, detail: string) => findings.push({ check, status, detail });
  let group: ReplicationGroup | undefined;
  const report = (): HealthReport => ({
    replicationGroupId: t.replicationGroupId,
    ...(group?.ARN ? { arn: group.ARN } : {}),
    checkedAt: (deps.now ?? (() => new Date()))().toISOString(),
    status: findings.some((f) => f.status === 'critical')
      ? 'unhealthy'
      : findings.some((f) => f.status === 'unknown')
        ? 'unknown'
        : findings.some((f) => f.status === 'warning')
          ? 'degraded'
          : 'healthy',
    findings,
    metrics,
  });

  // 1. The replication group, as ElastiCache describes it.
  try {
    group = await findReplicationGroup(deps.elastiCache, t.replicationGroupId);
  } catch (error) {
    add('replication-group', failed(error, 'critical'), `cannot describe ${t.replicationGroupId}: ${errorText(error)}`);
    return report();
  }
  if (!group) {
    add('replication-group', 'critical', `${t.replicationGroupId} does not exist`);
    return report();
  }
  if (group.Status !== 'available') add('replication-group', 'critical', `status is ${group.Status ?? 'unknown'}, not available`);
  else add('replication-group', 'ok', 'available');
  const drift = replicationGroupDifferences(group, config);
  add(
    'configuration',
    drift.length > 0 ? 'warning' : 'ok',
    drift.length > 0 ? `changed since the migration: ${drift.join('; ')}` : 'as the input asked (Multi-AZ, failover, encryption, AUTH on or off, node type)',
  );
  const members = group.NodeGroups?.[0]?.NodeGroupMembers ?? [];
  const primaries = members.filter((m) => m.CurrentRole === 'primary').length;
  const replicas = members.filter((m) => m.CurrentRole === 'replica').length;
  const wantedReplicas = t.numCacheClusters - 1;
  if (primaries !== 1) add('nodes', 'critical', `${primaries} primary node(s)`);
  else if (replicas < wantedReplicas) add('nodes', 'warning', `${replicas} replica(s), ${wantedReplicas} wanted: a failover has less to fail over to`);
  else add('nodes', 'ok', `1 primary, ${replicas} replica(s)`);

  // 2. The parameter group still asks for the notifications Gate depends on.
  try {
    const parameters = await awsCall(`DescribeCacheParameters ${t.parameterGroupName}`, () =>
      deps.elastiCache.send(new DescribeCacheParametersCommand({ CacheParameterGroupName: t.parameterGroupName })),
    );
    const value = parameters.Parameters?.find((p) => p.ParameterName === 'notify-keyspace-events')?.ParameterValue ?? '';
    const missing = [...KEYSPACE_EVENTS].filter((flag) => !value.includes(flag) && !(flag !== 'E' && flag !== 'K' && value.includes('A')));
    add(
      'parameter-group',
      missing.length > 0 ? 'critical' : 'ok',
      missing.length > 0
        ? `notify-keyspace-events is '${value}' in ${t.parameterGroupName}: '${missing.join('')}' missing (Gate's sessions stop expiring cleanly)`
        : `notify-keyspace-events '${value}'`,
    );
  } catch (error) {
    add('parameter-group', failed(error, 'warning'), `cannot read ${t.parameterGroupName}: ${errorText(error)}`);
  }

  // 3. The data plane, from inside the VPC.
  const primary = primaryOf(group);
  if (!primary) add('redis', 'critical', 'no primary endpoint');
  else {
    let endpoint: RedisEndpoint | undefined;
    try {
      const password = await getAuthToken(deps.secretsManager, config);
      endpoint = { url: `${group.TransitEncryptionEnabled ? 'rediss' : 'redis'}://${primary.address}:${primary.port}`, ...(password ? { password } : {}) };
    } catch (error) {
      add('redis', failed(error, 'critical'), `cannot read the AUTH token: ${errorText(error)}`);
    }
    if (endpoint) {
      try {
        const ping = await pingThroughFailover(endpoint, deps.failoverPings ?? { tries: 4, pauseMs: 2000 });
        metrics.pingLatencyMs = ping.latencyMs;
        add('redis', 'ok', `PING ${ping.latencyMs} ms from the VPC, ${ping.serverVersion}; keyspace notifications fire`);
      } catch (error) {
        // Still READONLY after the pauses: a failover that takes long, reported, but not as an outage.
        add('redis', asMigrationError(error).name === 'RedisFailoverError' ? 'warning' : 'critical', errorText(error));
      }
      await inspectInfo(endpoint, wantedReplicas, metrics, add).catch((error: unknown) => add('redis-info', 'warning', `INFO failed: ${errorText(error)}`));
    }
  }

  // 4. Spinnaker still points at the group, and spin-redis stays down.
  try {
    const api = deps.cluster();
    const { namespace } = config.spinnaker;
    const settings = await redisSettingsOf(api, config);
    add(...spinnakerConfigFinding(settings.text, settings.key, primary, t.replicationGroupId, settings.owner, settings.next));
    const spinRedis = spinRedisWorkload(config);
    const spinRedisReplicas = await api.readScale(namespace, spinRedis.name, spinRedis.kind).catch((error: unknown) => {
      if (asMigrationError(error).name === 'KubernetesNotFoundError') return 0;
      throw error;
    });
    const leftRunning = whySpinRedisIsLeftRunning(config);
    if (leftRunning && spinRedisReplicas > 0) add('spin-redis', 'ok', `left running on purpose (${spinRedisReplicas} replica(s)): ${leftRunning}`);
    else
      add(
        'spin-redis',
        spinRedisReplicas > 0 ? 'warning' : 'ok',
        spinRedisReplicas > 0 ? `spin-redis runs again (${spinRedisReplicas} replica(s)): anything still using it writes where Spinnaker no longer reads` : 'scaled to 0 (or deleted)',
      );
  } catch (error) {
    add('spinnaker-config', failed(error, 'warning'), `cannot read the cluster: ${errorText(error)}`);
  }
  return report();
}

/**
 * Where Halyard's redis service settings point. A file that does not parse, or a URL that is
 * not one, is critical: the next `hal deploy apply` fails or points Spinnaker somewhere else.
 */
/**
 * Spinnaker's redis service settings as YAML: Halyard's redis.yml in the ConfigMap; for a Helm
 * install (spinnaker.flavor helm-*) redis.yml in the chart's `<fullname>-service-settings`,
 * which the next `helm upgrade` re-renders from the chart values (a revert shows here); for an
 * operator install (spinnaker.flavor operator, or no Halyard ConfigMap) the SpinnakerService's
 * spec.spinnakerConfig.service-settings.redis, which the operator writes to the same file.
 */
async function redisSettingsOf(
  api: Pick<ClusterApi, 'readConfigMap' | 'listSpinnakerServices' | 'listPods'>,
  config: MigrationConfig,
): Promise<{ text: string | undefined; key: string; owner?: string; next?: string }> {
  const key = config.spinnaker.halyard.files.redisServiceSettings.key;
  const { flavor } = config.spinnaker;
  const chart = async () => {
    const { serviceSettings } = helmConfigMapNames(await chartFullname(api, config));
    const configMap = await api.readConfigMap(config.spinnaker.namespace, serviceSettings);
    return { text: configMap.data?.[key], key: `${serviceSettings}/${key}`, owner: "the chart's", next: 'the next Halyard restart and hal deploy apply (the chart hook after helm upgrade)' };
  };
  if (flavor === 'helm-stable' || flavor === 'helm-opsmx') return chart();
  if (flavor !== 'operator') {
    const configMap = await api.readConfigMap(config.spinnaker.namespace, config.spinnaker.halyard.configMap).catch((error: unknown) => {
      if (asMigrationError(error).name === 'KubernetesNotFoundError') return undefined;
      throw error;
    });
    if (configMap) return { text: configMap.data?.[key], key };
    // No Halyard ConfigMap: a chart's Halyard pod says Helm.
    if (flavor === undefined && (await api.listPods(config.spinnaker.namespace, CHART_HALYARD_SELECTOR)).length > 0) return chart();
  }
  const { cr } = await findSpinnakerService(api, config);
  const redis = (cr.spec?.spinnakerConfig?.['service-settings'] as { redis?: unknown } | undefined)?.redis;
  return { text: redis === undefined ? undefined : stringify(redis), key: 'spec.spinnakerConfig.service-settings.redis', owner: "the SpinnakerService's" };
}

export function spinnakerConfigFinding(
  redisYml: string | undefined,
  key: string,
  primary: { address: string; port: number } | undefined,
  groupId: string,
  owner = "Halyard's",
  nextDeploy?: string,
): [string, FindingStatus, string] {
  const next = nextDeploy ?? (owner === "Halyard's" ? 'the next hal deploy apply' : "the operator's next deploy");
  let settings: unknown;
  try {
    settings = parse(redisYml ?? '');
  } catch (error) {
    return ['spinnaker-config', 'critical', `${owner} ${key} does not parse as YAML (${(error as Error).name}): fix it before ${next}`];
  }
  const url = (settings as { overrideBaseUrl?: unknown } | null)?.overrideBaseUrl;
  if (url === undefined) return ['spinnaker-config', 'critical', `${owner} ${key} has no overrideBaseUrl, not ${groupId}: ${next} moves Spinnaker off ElastiCache`];
  let parsed: URL;
  try {
    if (typeof url !== 'string') throw new TypeError('not a string');
    parsed = new URL(url);
  } catch {
    return ['spinnaker-config', 'critical', `${owner} ${key} has an overrideBaseUrl that is not a URL: set it to the primary endpoint of ${groupId}`];
  }
  const pointsHere = primary !== undefined && parsed.hostname === primary.address && Number(parsed.port || 6379) === primary.port;
  if (pointsHere) return ['spinnaker-config', 'ok', `${owner} ${key} points at ${primary.address}:${primary.port}`];
  return ['spinnaker-config', 'critical', `${owner} ${key} points at ${parsed.host}, not at ${groupId}: ${next} moves Spinnaker off ElastiCache`];
}

async function inspectInfo(endpoint: RedisEndpoint, wantedReplicas: number, metrics: HealthMetrics, add: (check: string, status: FindingStatus, detail: string) => void): Promise<void> {
  const redis = await connectRedis(endpoint, { connectionName: 'spin-elasticache-health' });
  try {
    const info = await redis.info();
    const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
    const role = field('role');
    if (role !== 'master') add('role', 'critical', `the primary endpoint answers as ${role ?? 'unknown'}`);
    const connected = Number(field('connected_slaves') ?? 0);
    metrics.connectedReplicas = connected;
    const lagOf = (text: string) => {
      const masterOffset = Number(/^master_repl_offset:(\d+)/m.exec(text)?.[1] ?? 0);
      const lags = [...text.matchAll(/^slave\d+:.*offset=(\d+)/gm)].map((m) => masterOffset - Number(m[1]));
      return lags.length > 0 ? Math.max(...lags) : 0;
    };
    metrics.maxReplicationLagBytes = lagOf(info);
    // A replica acknowledges its offset once a second (REPLCONF ACK, replication.c
    // replicationCron): right after a burst of writes the primary's view is up to a second of
    // them behind. Only a lag that is still there a second later is one.
    if (metrics.maxReplicationLagBytes > REPLICATION_LAG_WARNING_BYTES) {
      await sleep(1100);
      metrics.maxReplicationLagBytes = lagOf(await redis.info('replication'));
    }
    if (connected < wantedReplicas) add('replication', 'warning', `${connected} replica(s) connected to the primary, ${wantedReplicas} wanted`);
    else if (metrics.maxReplicationLagBytes > REPLICATION_LAG_WARNING_BYTES) add('replication', 'warning', `a replica is ${metrics.maxReplicationLagBytes} bytes behind`);
    else add('replication', 'ok', `${connected} replica(s) connected, at most ${metrics.maxReplicationLagBytes} bytes behind`);
    const used = Number(field('used_memory') ?? 0);
    const max = Number(field('maxmemory') ?? 0);
    metrics.evictedKeys = Number(field('evicted_keys') ?? 0);
    metrics.keys = keyCount(info);
    if (max > 0) {
      metrics.memoryUsedPercent = Math.round((used / max) * 1000) / 10;
      const status: FindingStatus = metrics.memoryUsedPercent >= MEMORY_CRITICAL_PERCENT ? 'critical' : metrics.memoryUsedPercent >= MEMORY_WARNING_PERCENT ? 'warning' : 'ok';
      add('memory', status, `${metrics.memoryUsedPercent}% of maxmemory used (${(used / 1e6).toFixed(1)} of ${(max / 1e6).toFixed(1)} MB)`);
    } else add('memory', 'ok', `${(used / 1e6).toFixed(1)} MB used, no maxmemory set`);
    // Evictions drop Spinnaker data (orca's history has no TTL to spare it).
    add(
      'evictions',
      metrics.evictedKeys > 0 ? 'warning' : 'ok',
      metrics.evictedKeys > 0 ? `${metrics.evictedKeys} key(s) evicted since the node started: raise the node type or maxmemory-policy noeviction` : 'no key evicted',
    );
  } finally {
    redis.disconnect();
  }
}
