/**
 * Scaling spin-redis through the scale subresource. The original replica count is kept in
 * an annotation before the first scale-down, so a re-run (or the rollback) always knows it.
 */
import type { MigrationConfig } from '../config/schema.js';
import type { ClusterApi } from './api.js';

/** `$.scaleDown` */
export interface ScaleDownResult {
  deployment: string;
  previousReplicas: number;
  replicas: number;
}

export const PREVIOUS_REPLICAS_ANNOTATION = 'spin-elasticache.io/previous-replicas';

export async function scaleDownSpinRedis(api: Pick<ClusterApi, 'readDeployment' | 'patchDeploymentAnnotations' | 'readScale' | 'replaceScale'>, config: MigrationConfig): Promise<ScaleDownResult> {
  const { namespace } = config.spinnaker;
  const name = config.spinnaker.spinRedis.deployment;
  const deployment = await api.readDeployment(namespace, name);
  const recorded = deployment.metadata?.annotations?.[PREVIOUS_REPLICAS_ANNOTATION];
  let previousReplicas: number;
  if (recorded !== undefined) previousReplicas = Number(recorded);
  else {
    previousReplicas = await api.readScale(namespace, name);
    await api.patchDeploymentAnnotations(namespace, name, { [PREVIOUS_REPLICAS_ANNOTATION]: String(previousReplicas) });
  }
  const replicas = await api.replaceScale(namespace, name, 0);
  return { deployment: name, previousReplicas, replicas };
}

export async function scaleUpSpinRedis(
  api: Pick<ClusterApi, 'readDeployment' | 'patchDeploymentAnnotations' | 'readScale' | 'replaceScale'>,
  config: MigrationConfig,
): Promise<{ deployment: string; replicas: number; restored: boolean }> {
  const { namespace } = config.spinnaker;
  const name = config.spinnaker.spinRedis.deployment;
  const deployment = await api.readDeployment(namespace, name);
  const recorded = deployment.metadata?.annotations?.[PREVIOUS_REPLICAS_ANNOTATION];
  if (recorded === undefined) return { deployment: name, replicas: await api.readScale(namespace, name), restored: false };
  const replicas = await api.replaceScale(namespace, name, Number(recorded));
  await api.patchDeploymentAnnotations(namespace, name, { [PREVIOUS_REPLICAS_ANNOTATION]: null });
  return { deployment: name, replicas, restored: true };
}
