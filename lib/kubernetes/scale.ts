/**
 * Scaling spin-redis through the scale subresource, whether it runs as Halyard's Deployment or
 * as the Helm charts' Bitnami StatefulSet (`spinnaker.spinRedis.statefulSet`). The original
 * replica count is kept in an annotation on the workload before the first scale-down, so a
 * re-run (or the rollback) always knows it. A StatefulSet scaled to 0 keeps its PVC (the
 * Bitnami `redis-data-<name>-0` claim, with its AOF): the rollback's scale-up finds the data.
 */
import type { MigrationConfig } from '../config/schema.js';
import type { ClusterApi, WorkloadKind } from './api.js';

/** `$.scaleDown` */
export interface ScaleDownResult {
  /** The workload's name (kept as `deployment` for the state's shape). */
  deployment: string;
  kind: WorkloadKind;
  previousReplicas: number;
  replicas: number;
  /** Not scaled, and why (a Sentinel-managed spin-redis): what to do by hand is in the summary. */
  leftRunning?: string;
}

/**
 * Why a Sentinel-managed spin-redis is left running, if it is. Spotahome's operator reconciles
 * its StatefulSet rfr-<name> and Deployment rfs-<name> back to the RedisFailover's spec every
 * 30 s (operator/redisfailover/service/check.go `CheckRedisNumber`, `ensurer.go`, resync in
 * `factory.go`), and a spec.redis.replicas of 0 is defaulted to 3 (api/redisfailover/v1/validate.go):
 * neither the workload nor the resource can be scaled to 0; deleting the RedisFailover deletes its
 * data (and its PVCs unless keepAfterDeletion), which is the user's call once the migration has proved
 * itself. Without a RedisFailover or a StatefulSet named in the input, we do not know what runs it.
 */
export function whySpinRedisIsLeftRunning(config: MigrationConfig): string | undefined {
  const { sentinel, statefulSet } = config.spinnaker.spinRedis;
  if (!sentinel) return undefined;
  if (sentinel.redisFailover)
    return `spin-redis is the RedisFailover ${config.spinnaker.namespace}/${sentinel.redisFailover}: its operator would scale rfr-${sentinel.redisFailover} back up (and takes replicas: 0 as 3), so it is left running; nothing uses it any more. Once satisfied, run: kubectl -n ${config.spinnaker.namespace} delete redisfailover ${sentinel.redisFailover}`;
  if (!statefulSet)
    return 'spin-redis is Sentinel-managed and the input names no workload for it (spinRedis.statefulSet), so it is left running; nothing uses it any more: stop it where it is managed';
  return undefined;
}

export const PREVIOUS_REPLICAS_ANNOTATION = 'spin-elasticache.io/previous-replicas';

/** Which workload runs spin-redis, from the input. */
export function spinRedisWorkload(config: MigrationConfig): { kind: WorkloadKind; name: string } {
  const { statefulSet, deployment, sentinel } = config.spinnaker.spinRedis;
  if (statefulSet) return { kind: 'StatefulSet', name: statefulSet };
  // Spotahome's operator names the Redis StatefulSet rfr-<name> (operator/redisfailover/service/names.go).
  return sentinel?.redisFailover ? { kind: 'StatefulSet', name: `rfr-${sentinel.redisFailover}` } : { kind: 'Deployment', name: deployment };
}

type ScaleApi = Pick<ClusterApi, 'readWorkload' | 'patchDeploymentAnnotations' | 'readScale' | 'replaceScale'>;

export async function scaleDownSpinRedis(api: ScaleApi, config: MigrationConfig): Promise<ScaleDownResult> {
  const { namespace } = config.spinnaker;
  const { kind, name } = spinRedisWorkload(config);
  const leftRunning = whySpinRedisIsLeftRunning(config);
  if (leftRunning) {
    const replicas = await api.readScale(namespace, name, kind).catch(() => 0);
    return { deployment: name, kind, previousReplicas: replicas, replicas, leftRunning };
  }
  const workload = await api.readWorkload(namespace, name, kind);
  const recorded = workload.metadata?.annotations?.[PREVIOUS_REPLICAS_ANNOTATION];
  let previousReplicas: number;
  if (recorded !== undefined) previousReplicas = Number(recorded);
  else {
    previousReplicas = await api.readScale(namespace, name, kind);
    await api.patchDeploymentAnnotations(namespace, name, { [PREVIOUS_REPLICAS_ANNOTATION]: String(previousReplicas) }, kind);
  }
  const replicas = await api.replaceScale(namespace, name, 0, kind);
  return { deployment: name, kind, previousReplicas, replicas };
}

export async function scaleUpSpinRedis(api: ScaleApi, config: MigrationConfig): Promise<{ deployment: string; kind: WorkloadKind; replicas: number; restored: boolean }> {
  const { namespace } = config.spinnaker;
  const { kind, name } = spinRedisWorkload(config);
  const workload = await api.readWorkload(namespace, name, kind);
  const recorded = workload.metadata?.annotations?.[PREVIOUS_REPLICAS_ANNOTATION];
  if (recorded === undefined) return { deployment: name, kind, replicas: await api.readScale(namespace, name, kind), restored: false };
  const replicas = await api.replaceScale(namespace, name, Number(recorded), kind);
  await api.patchDeploymentAnnotations(namespace, name, { [PREVIOUS_REPLICAS_ANNOTATION]: null }, kind);
  return { deployment: name, kind, replicas, restored: true };
}
