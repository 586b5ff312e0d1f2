/**
 * One readiness check of the Spinnaker Deployments after `hal deploy apply`. Ready means
 * every Deployment has observed its latest generation and has all replicas updated,
 * ready and available. The state machine's Wait state spaces the checks.
 */
import type { MigrationConfig } from '../config/schema.js';
import { RolloutTimeoutError } from '../errors.js';
import type { ClusterApi, Deployment } from './api.js';

/** `$.rollout` */
export interface RolloutResult {
  ready: boolean;
  deployments: { name: string; ready: boolean; generation: number; observedGeneration: number }[];
  polls: number;
  waitingSince: string;
}

export function deploymentReady(d: Deployment): boolean {
  const wanted = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  return (
    (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
    (s.updatedReplicas ?? 0) === wanted &&
    (s.readyReplicas ?? 0) === wanted &&
    (s.availableReplicas ?? 0) === wanted &&
    (s.replicas ?? 0) === wanted &&
    !s.unavailableReplicas
  );
}

export async function checkRollout(
  api: Pick<ClusterApi, 'listDeployments'>,
  config: MigrationConfig,
  previous: Partial<RolloutResult> | undefined | null,
  now: () => Date = () => new Date(),
): Promise<RolloutResult> {
  const { namespace, serviceSelector, spinRedis } = config.spinnaker;
  const deployments = (await api.listDeployments(namespace, serviceSelector)).filter((d) => d.metadata?.name !== spinRedis.deployment);
  const waitingSince = previous?.waitingSince ?? now().toISOString();
  const polls = (previous?.polls ?? 0) + 1;
  const states = deployments.map((d) => ({
    name: d.metadata?.name ?? '?',
    ready: deploymentReady(d),
    generation: d.metadata?.generation ?? 0,
    observedGeneration: d.status?.observedGeneration ?? 0,
  }));
  const ready = states.length > 0 && states.every((s) => s.ready);
  if (!ready) {
    const waitedMinutes = (now().getTime() - Date.parse(waitingSince)) / 60_000;
    if (waitedMinutes > config.options.rolloutTimeoutMinutes) {
      const stuck = deployments
        .filter((d) => !deploymentReady(d))
        .map(
          (d) =>
            `${d.metadata?.name} (${d.status?.availableReplicas ?? 0}/${d.spec?.replicas ?? 1} available, ${d.status?.updatedReplicas ?? 0} updated, generation ${d.status?.observedGeneration ?? 0}/${d.metadata?.generation ?? 0})`,
        );
      throw new RolloutTimeoutError(
        `Spinnaker did not become healthy within ${config.options.rolloutTimeoutMinutes} minutes: ${stuck.join('; ') || `no Deployment matches '${serviceSelector}'`}. Look at those pods' logs (a Redis connection error points at the URL, AUTH or TLS).`,
      );
    }
  }
  return { ready, deployments: states, polls, waitingSince };
}
