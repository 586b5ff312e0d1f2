/**
 * "Quiesce, switch, resume": the Spinnaker services that use Redis are scaled to 0 before
 * the switch, so that no two Redis servers are ever written by Spinnaker at the same time
 * (a rolling `hal deploy apply` would otherwise run an old orca on spin-redis and a new one
 * on ElastiCache, each acking its own copy of the keiko queue: docs/COPY.md).
 *
 *   - quiesceSpinnaker: every Redis-using Deployment to 0 through the scale subresource, its
 *     replica count recorded first (state, and an annotation on the Deployment), so a retry,
 *     a re-run or the rollback never takes 0 for the original;
 *   - checkQuiesced: one check that their pods are gone and no client but ours is left on
 *     the Redis servers named; the Wait state loops it, bounded by options.drainTimeoutMinutes;
 *   - resumeSpinnaker: anything still at 0 back to its recorded count (Halyard re-applies
 *     `replicas` from targetSize/customSizing on every apply, so most are already back:
 *     docs/SPINNAKER-INSTALLS.md §3.4), and the annotations removed.
 *
 * Which Deployments: Halyard's own (`app=spin`, `cluster=spin-<svc>`, docs/SPINNAKER-INSTALLS.md
 * §3.4; Halyard deploys no StatefulSets) whose service reads or writes Redis, HA splits
 * included (clouddriver-rw/-ro/-ro-deck/-caching, echo-scheduler/-worker). Not deck (no
 * Redis), front50 (its Redis store is unsupported), halyard, or spin-redis itself.
 */
import type { MigrationConfig } from '../config/schema.js';
import { RedisUnreachableError, SpinnakerQuiesceTimeoutError } from '../errors.js';
import type { ClusterApi, Deployment } from '../kubernetes/api.js';
import { connectRedis, type RedisEndpoint } from '../redis/connect.js';
import { foreignClients } from '../copy/live.js';

/** Spinnaker services with a Redis client (docs/SPINNAKER-REDIS.md). */
export const REDIS_SERVICES = ['orca', 'clouddriver', 'gate', 'igor', 'fiat', 'echo', 'rosco', 'kayenta', 'keel'] as const;

/** On each Deployment we scale: its replicas before the quiesce, for a retry, a re-run or a human. */
export const QUIESCE_REPLICAS_ANNOTATION = 'spin-elasticache.io/quiesced-replicas';

export interface QuiescedService {
  /** The Deployment's name. */
  name: string;
  /** Its replicas before the quiesce (what the resume puts back). */
  replicas: number;
}

/** `$.quiesce` (and `$.rollbackQuiesce`). */
export interface QuiesceResult {
  services: QuiescedService[];
  /** When this pause began (ISO 8601): the first scale to 0; kept across retries. */
  startedAt: string;
}

/** `$.quiesceCheck` (and `$.rollbackQuiesceCheck`). */
export interface QuiesceCheck {
  quiesced: boolean;
  /** Pods of the quiesced Deployments still present (Running or Terminating), first 10. */
  podsLeft: string[];
  /** Clients other than ours on the Redis servers checked, first 5 (`name@addr`). */
  clientsLeft: string[];
  /** A server that could not be reached yet (e.g. spin-redis scaled back up, not Ready). */
  unreachable: string[];
  polls: number;
  waitingSince: string;
  /** When everything was found stopped (ISO 8601). */
  quiescedAt?: string;
}

/** `$.resume` (and `$.rollbackResume`). */
export interface ResumeResult {
  /** false: nothing scaled yet, the config Spinnaker must resume on is not deployed (the Wait state loops). */
  resumed: boolean;
  services: { name: string; replicas: number; restored: boolean }[];
  /** When it resumed (ISO 8601); absent while waiting. */
  resumedAt?: string;
  /** While waiting: what for, since when (ISO 8601), and how many checks so far. */
  waitingFor?: string;
  waitingSince?: string;
  polls?: number;
}

type Api = Pick<ClusterApi, 'listDeployments' | 'patchDeploymentAnnotations' | 'readScale' | 'replaceScale'>;

/** `spin-orca`, `spin-clouddriver-ro-deck`, `spin-echo-worker`: a Redis user. */
export function isRedisService(deployment: Deployment): boolean {
  const cluster = deployment.metadata?.labels?.cluster ?? deployment.metadata?.name ?? '';
  return REDIS_SERVICES.some((svc) => cluster === `spin-${svc}` || cluster.startsWith(`spin-${svc}-`));
}

async function redisDeployments(api: Pick<ClusterApi, 'listDeployments'>, config: MigrationConfig): Promise<Deployment[]> {
  const { namespace, serviceSelector, spinRedis } = config.spinnaker;
  const all = await api.listDeployments(namespace, serviceSelector);
  return all.filter((d) => d.metadata?.name !== spinRedis.deployment && isRedisService(d));
}

function recordedReplicas(d: Deployment): number | undefined {
  const value = d.metadata?.annotations?.[QUIESCE_REPLICAS_ANNOTATION];
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/**
 * Scale every Redis-using Spinnaker Deployment to 0, recording its replicas first.
 * `originals`: counts recorded by an earlier pause (the rollback's quiesce keeps the first
 * pause's); `previous`: this pause's own earlier try (its startedAt is kept).
 */
export async function quiesceSpinnaker(api: Api, config: MigrationConfig, options: { previous?: QuiesceResult; originals?: QuiescedService[]; now?: () => Date } = {}): Promise<QuiesceResult> {
  const { namespace } = config.spinnaker;
  const startedAt = options.previous?.startedAt ?? (options.now ?? (() => new Date()))().toISOString();
  const known = new Map([...(options.originals ?? []), ...(options.previous?.services ?? [])].map((s) => [s.name, s.replicas]));
  const services: QuiescedService[] = [];
  for (const d of await redisDeployments(api, config)) {
    const name = d.metadata!.name!;
    const annotated = recordedReplicas(d);
    // The first record wins: a retry after a scale to 0 must not take 0 for the original.
    const replicas = known.get(name) ?? annotated ?? d.spec?.replicas ?? 1;
    if (annotated === undefined) await api.patchDeploymentAnnotations(namespace, name, { [QUIESCE_REPLICAS_ANNOTATION]: String(replicas) });
    if ((await api.readScale(namespace, name)) !== 0) await api.replaceScale(namespace, name, 0);
    services.push({ name, replicas });
  }
  return { services, startedAt };
}

/**
 * One check: no pod left of the quiesced Deployments and no client but ours on each Redis
 * named. Not done yet is a result (the Wait state loops); past `options.drainTimeoutMinutes`
 * since the first check it is SpinnakerQuiesceTimeoutError, naming what is still there.
 */
export async function checkQuiesced(
  api: Pick<ClusterApi, 'listDeployments' | 'listPods'>,
  config: MigrationConfig,
  quiesce: QuiesceResult,
  previous: Partial<QuiesceCheck> | undefined | null,
  redis: { name: string; endpoint: () => Promise<RedisEndpoint> }[],
  now: () => Date = () => new Date(),
): Promise<QuiesceCheck> {
  const { namespace } = config.spinnaker;
  const waitingSince = previous?.waitingSince ?? now().toISOString();
  const polls = (previous?.polls ?? 0) + 1;
  const names = new Set(quiesce.services.map((s) => s.name));
  const deployments = (await api.listDeployments(namespace, config.spinnaker.serviceSelector)).filter((d) => names.has(d.metadata?.name ?? ''));
  const podsLeft: string[] = [];
  for (const d of deployments) {
    const labels = d.spec?.selector?.matchLabels ?? {};
    const selector = Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    if (!selector) continue;
    // A Terminating pod still counts: its process may still hold a Redis connection.
    for (const pod of await api.listPods(namespace, selector)) podsLeft.push(pod.metadata?.name ?? '?');
  }
  const clientsLeft: string[] = [];
  const unreachable: string[] = [];
  for (const { name, endpoint } of redis) {
    let resolved: RedisEndpoint;
    try {
      resolved = await endpoint();
    } catch (error) {
      if (!(error instanceof RedisUnreachableError)) throw error;
      unreachable.push(`${name}: ${error.message}`);
      continue;
    }
    const client = await connectRedis(resolved, { connectionName: 'spin-elasticache-quiesce' });
    try {
      for (const c of await foreignClients(client)) clientsLeft.push(`${name}: ${c.name || '(unnamed)'}@${c.addr}`);
    } finally {
      client.disconnect();
    }
  }
  const quiesced = podsLeft.length === 0 && clientsLeft.length === 0 && unreachable.length === 0;
  if (!quiesced) {
    const waitedMinutes = (now().getTime() - Date.parse(waitingSince)) / 60_000;
    if (waitedMinutes > config.options.drainTimeoutMinutes) {
      const what = [
        podsLeft.length ? `pods still present: ${podsLeft.slice(0, 10).join(', ')}` : '',
        clientsLeft.length ? `clients still connected: ${clientsLeft.slice(0, 5).join(', ')}` : '',
        unreachable.length ? `not reachable: ${unreachable.join('; ')}` : '',
      ].filter(Boolean);
      throw new SpinnakerQuiesceTimeoutError(
        `Spinnaker did not stop within ${config.options.drainTimeoutMinutes} minute(s) (options.drainTimeoutMinutes): ${what.join('; ')}. A pod stuck in Terminating needs its node or finalizers looked at; a foreign client is something else using spin-redis.`,
      );
    }
  }
  return {
    quiesced,
    podsLeft: podsLeft.slice(0, 10),
    clientsLeft: clientsLeft.slice(0, 5),
    unreachable,
    polls,
    waitingSince,
    ...(quiesced ? { quiescedAt: now().toISOString() } : {}),
  };
}

/**
 * Every quiesced Deployment still at 0 back to its recorded replicas, and the annotation
 * removed. Without `quiesce` (the quiesce itself failed before it could report) the
 * annotations are the record. Idempotent.
 */
export async function resumeSpinnaker(api: Api, config: MigrationConfig, quiesce: QuiesceResult | undefined, now: () => Date = () => new Date()): Promise<ResumeResult> {
  const { namespace } = config.spinnaker;
  const recorded = new Map((quiesce?.services ?? []).map((s) => [s.name, s.replicas]));
  const services: ResumeResult['services'] = [];
  for (const d of await redisDeployments(api, config)) {
    const name = d.metadata!.name!;
    const annotated = recordedReplicas(d);
    const original = recorded.get(name) ?? annotated;
    if (original === undefined) continue; // never quiesced
    const current = await api.readScale(namespace, name);
    const restore = current === 0 && original > 0;
    if (restore) await api.replaceScale(namespace, name, original);
    if (annotated !== undefined) await api.patchDeploymentAnnotations(namespace, name, { [QUIESCE_REPLICAS_ANNOTATION]: null });
    services.push({ name, replicas: restore ? original : current, restored: restore });
  }
  return { resumed: true, services, resumedAt: now().toISOString() };
}
