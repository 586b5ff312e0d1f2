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
}

export const PREVIOUS_REPLICAS_ANNOTATION = 'spin-elasticache.io/previous-replicas';

/** Which workload runs spin-redis, from the input. */
export function spinRedisWorkload(config: MigrationConfig): { kind: WorkloadKind; name: string } {
  const { statefulSet, deployment } = config.spinnaker.spinRedis;
  return statefulSet ? { kind: 'StatefulSet', name: statefulSet } : { kind: 'Deployment', name: deployment };
}

type ScaleApi = Pick<ClusterApi, 'readWorkload' | 'patchDeploymentAnnotations' | 'readScale' | 'replaceScale'>;

export async function scaleDownSpinRedis(api: ScaleApi, config: MigrationConfig): Promise<ScaleDownResult> {
  const { namespace } = config.spinnaker;
  const { kind, name } = spinRedisWorkload(config);
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
