/**
 * The pause of "quiesce, switch, resume", read out of the execution state. The same Tasks
 * run twice: before the switch (QuiesceSpinnaker, CheckSpinnakerQuiesced) and in the
 * rollback after it (RollbackQuiesceSpinnaker, RollbackCheckSpinnakerQuiesced). `$.switch`
 * tells which: in the rollback the record is `$.rollbackQuiesce`, the originals stay those
 * of the first pause, and ElastiCache must be left by Spinnaker too before the copy-back.
 */
import type { ClusterApi } from '../kubernetes/api.js';
import { InvalidAwsResponseError, RedisUnreachableError, RolloutTimeoutError, SpinRedisStillInUseError } from '../errors.js';
import { type DrainResult, verifyDrained } from '../copy/live.js';
import type { RedisEndpoint } from '../redis/connect.js';
import { flavorOf } from '../spinnaker/flavor.js';
import { operatorDeployState } from '../spinnaker/operator.js';
import { checkQuiesced, type QuiesceCheck, type QuiesceResult, quiesceSpinnaker, resumeSpinnaker, type ResumeResult } from '../spinnaker/quiesce.js';
import type { EndpointResolvers } from './endpoints.js';
import type { MigrationState } from './state.js';

type ScaleApi = Pick<ClusterApi, 'listDeployments' | 'patchDeploymentAnnotations' | 'readScale' | 'replaceScale'>;

/** QuiesceSpinnaker / RollbackQuiesceSpinnaker. */
export function quiesce(api: ScaleApi, state: MigrationState, now?: () => Date): Promise<QuiesceResult> {
  const clock = now ? { now } : {};
  if (state.switch) {
    return quiesceSpinnaker(api, state.config, { ...(state.rollbackQuiesce ? { previous: state.rollbackQuiesce } : {}), ...(state.quiesce ? { originals: state.quiesce.services } : {}), ...clock });
  }
  return quiesceSpinnaker(api, state.config, { ...(state.quiesce ? { previous: state.quiesce } : {}), ...clock });
}

/** CheckSpinnakerQuiesced / RollbackCheckSpinnakerQuiesced. */
export async function checkQuiesce(api: Pick<ClusterApi, 'listDeployments' | 'listPods'>, state: MigrationState, resolvers: EndpointResolvers, now?: () => Date): Promise<QuiesceCheck> {
  const record = state.switch ? state.rollbackQuiesce : state.quiesce;
  if (!record) throw new InvalidAwsResponseError(`${state.switch ? 'RollbackCheckSpinnakerQuiesced' : 'CheckSpinnakerQuiesced'} ran before its quiesce step recorded anything`);
  // Every data node of spin-redis: a Sentinel-managed one's replicas too (a client left on a demoted master still writes nowhere useful).
  const redis: { name: string; endpoint: () => Promise<RedisEndpoint> }[] = await resolvers.sourceNodes(state).then(
    (nodes) => nodes.map((n) => ({ name: nodes.length > 1 ? `spin-redis ${n.role} ${n.address}` : 'spin-redis', endpoint: async () => n.endpoint })),
    (error: unknown) => {
      if (!(error instanceof RedisUnreachableError)) throw error;
      return [{ name: 'spin-redis', endpoint: () => Promise.reject(error) }];
    },
  );
  // After the switch Spinnaker may have run on ElastiCache: it must have left it too before the copy-back.
  if (state.switch && state.replicationGroup?.primaryEndpoint) redis.push({ name: 'ElastiCache', endpoint: () => resolvers.target(state) });
  return checkQuiesced(api, state.config, record, state.switch ? state.rollbackQuiesceCheck : state.quiesceCheck, redis, now);
}

/**
 * ResumeSpinnaker, after the deploy, after a failure inside the pause, and in the rollback:
 * back to the first pause's counts, but only once the config Spinnaker must come back on is
 * what its Deployments run. `hal deploy apply` has applied the manifests when it returns; the
 * Spinnaker Operator deploys a changed SpinnakerService on its own time, and a pod scaled up
 * before that would start on the Redis we are leaving (or, in the rollback, on ElastiCache
 * after the copy-back) and write where nothing copies from. So for the operator: not resumed
 * (`resumed: false`, the Wait state loops) until status.lastDeployed.config.hash shows our write;
 * `Failure` throws SpinnakerOperatorDeployFailedError; waiting longer than
 * options.rolloutTimeoutMinutes throws RolloutTimeoutError. Either way nothing was written after
 * the switch, so the rollback's copy-back changes nothing.
 */
export async function resume(api: ScaleApi & Pick<ClusterApi, 'listSpinnakerServices' | 'listEvents'>, state: MigrationState, now: () => Date = () => new Date()): Promise<ResumeResult> {
  const inRollback = state.rollbackDeploy !== undefined;
  const deploy = inRollback ? state.rollbackDeploy : state.switch ? state.deploy : undefined;
  if (flavorOf(state) === 'operator' && deploy?.operator) {
    const previous = inRollback ? state.rollbackResume : state.resume;
    const operator = await operatorDeployState(api, state.config, deploy.operator);
    if (!operator.pickedUp || operator.status === 'Failure') {
      const waitingSince = previous?.waitingSince ?? now().toISOString();
      const waitingFor = `the Spinnaker Operator to deploy SpinnakerService ${operator.name}'s ${inRollback ? 'restored' : 'patched'} config (status ${operator.status ?? 'none'}, config hash ${operator.hash ?? 'absent'})`;
      if ((now().getTime() - Date.parse(waitingSince)) / 60_000 > state.config.options.rolloutTimeoutMinutes)
        throw new RolloutTimeoutError(
          `Waited more than ${state.config.options.rolloutTimeoutMinutes} minute(s) (options.rolloutTimeoutMinutes) for ${waitingFor}; Spinnaker stays scaled to 0. Look at the operator's logs and the resource's Events.`,
        );
      return { resumed: false, services: [], waitingFor, waitingSince, polls: (previous?.polls ?? 0) + 1 };
    }
  }
  return resumeSpinnaker(api, state.config, state.quiesce, now);
}

/**
 * VerifySpinRedisDrained: nothing but us (and, Sentinel-managed, its sentinels and replication
 * links) talks to any data node of spin-redis, its replicas included.
 * @throws SpinRedisStillInUseError naming the node and the clients
 */
export async function verifySpinRedisDrained(state: MigrationState, resolvers: Pick<EndpointResolvers, 'sourceNodes'>): Promise<DrainResult & { nodes: number }> {
  const nodes = await resolvers.sourceNodes(state);
  let last: DrainResult | undefined;
  for (const node of nodes) {
    try {
      last = await verifyDrained(node.endpoint);
    } catch (error) {
      if (error instanceof SpinRedisStillInUseError && nodes.length > 1) throw new SpinRedisStillInUseError(`spin-redis ${node.role} ${node.address}: ${error.message}`);
      throw error;
    }
  }
  return { ...last!, nodes: nodes.length };
}
