/**
 * The pause of "quiesce, switch, resume", read out of the execution state. The same Tasks
 * run twice: before the switch (QuiesceSpinnaker, CheckSpinnakerQuiesced) and in the
 * rollback after it (RollbackQuiesceSpinnaker, RollbackCheckSpinnakerQuiesced). `$.switch`
 * tells which: in the rollback the record is `$.rollbackQuiesce`, the originals stay those
 * of the first pause, and ElastiCache must be left by Spinnaker too before the copy-back.
 */
import type { ClusterApi } from '../kubernetes/api.js';
import { InvalidAwsResponseError } from '../errors.js';
import type { RedisEndpoint } from '../redis/connect.js';
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
export function checkQuiesce(api: Pick<ClusterApi, 'listDeployments' | 'listPods'>, state: MigrationState, resolvers: EndpointResolvers, now?: () => Date): Promise<QuiesceCheck> {
  const record = state.switch ? state.rollbackQuiesce : state.quiesce;
  if (!record) throw new InvalidAwsResponseError(`${state.switch ? 'RollbackCheckSpinnakerQuiesced' : 'CheckSpinnakerQuiesced'} ran before its quiesce step recorded anything`);
  const redis: { name: string; endpoint: () => Promise<RedisEndpoint> }[] = [{ name: 'spin-redis', endpoint: () => resolvers.source(state) }];
  // After the switch Spinnaker may have run on ElastiCache: it must have left it too before the copy-back.
  if (state.switch && state.replicationGroup?.primaryEndpoint) redis.push({ name: 'ElastiCache', endpoint: () => resolvers.target(state) });
  return checkQuiesced(api, state.config, record, state.switch ? state.rollbackQuiesceCheck : state.quiesceCheck, redis, now);
}

/** ResumeSpinnaker, after the deploy, after a failure inside the pause, and in the rollback: back to the first pause's counts. */
export function resume(api: ScaleApi, state: MigrationState, now?: () => Date): Promise<ResumeResult> {
  return resumeSpinnaker(api, state.config, state.quiesce, now);
}
