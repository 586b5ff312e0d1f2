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
  /** When every Deployment was found ready (ISO 8601). */
  readyAt?: string;
  /** The pause, when this rollout ends one: Spinnaker scaled to 0 (ISO 8601)… */
  pausedSince?: string;
  /** …and its length, from pausedSince to readyAt (ms): how long orca's queue was not processed. */
  pauseMs?: number;
  /** The switch: the Halyard ConfigMap patched (ISO 8601)… */
  switchedAt?: string;
  /** …and the cutover window, from switchedAt to readyAt (ms): the last Spinnaker pod Ready on the new Redis. */
  cutoverWindowMs?: number;
}

/** The moments a rollout check measures the pause and the cutover window from. */
export interface PauseMarks {
  pausedSince?: string;
  switchedAt?: string;
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
  marks: PauseMarks = {},
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
  const pausedSince = marks.pausedSince ?? previous?.pausedSince;
  const switchedAt = marks.switchedAt ?? previous?.switchedAt;
  const figures: Partial<RolloutResult> = {};
  if (ready) {
    const readyAt = now();
    figures.readyAt = readyAt.toISOString();
    if (pausedSince) Object.assign(figures, { pausedSince, pauseMs: readyAt.getTime() - Date.parse(pausedSince) });
    if (switchedAt) Object.assign(figures, { switchedAt, cutoverWindowMs: readyAt.getTime() - Date.parse(switchedAt) });
  }
  return { ready, deployments: states, polls, waitingSince, ...figures };
}
