/**
 * What a step needs, read from the execution state. Domain functions take plain values
 * (a config, an endpoint); these read them out of the state that flows between Tasks, and
 * name the step that should have written them when they are missing.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { secretsManager } from '../aws/clients.js';
import { targetEndpoint, type PrimaryEndpoint } from '../elasticache/target-endpoint.js';
import type { ReplicationGroupResult } from '../elasticache/replication-group.js';
import { InvalidAwsResponseError } from '../errors.js';
import type { OutcomeFacts, StepError } from '../notify/summary.js';
import type { RedisEndpoint } from '../redis/connect.js';
import type { MigrationState } from './state.js';

/** `$.replicationGroup`, written by EnsureReplicationGroup. */
export function replicationGroupOf(state: Pick<MigrationState, 'replicationGroup'>): ReplicationGroupResult {
  if (!state.replicationGroup) throw new InvalidAwsResponseError('DescribeReplicationGroup ran before EnsureReplicationGroup');
  return state.replicationGroup;
}

/** The new group's primary endpoint, known once DescribeReplicationGroup saw it `available`. */
export function primaryEndpointOf(state: Pick<MigrationState, 'replicationGroup'>): PrimaryEndpoint {
  const endpoint = state.replicationGroup?.primaryEndpoint;
  if (!endpoint) throw new InvalidAwsResponseError('The replication group has no primary endpoint in the state yet');
  return endpoint;
}

/** URL and AUTH token of the new group. */
export async function resolveTargetEndpoint(state: Pick<MigrationState, 'config' | 'replicationGroup'>, client: Pick<SecretsManagerClient, 'send'> = secretsManager()): Promise<RedisEndpoint> {
  return targetEndpoint(client, state.config, primaryEndpointOf(state));
}

/** What NotifyOutcome reports; the rollback's Catch adds `rollbackError` beside `error`. */
export function outcomeFacts(state: MigrationState & { rollbackError?: StepError; scaleDownError?: StepError; captureRestoreError?: StepError }): OutcomeFacts {
  return {
    config: state.config,
    ...(state.lock?.flavor ? { flavor: state.lock.flavor } : {}),
    ...(state.replicationGroup?.primaryEndpoint ? { endpoint: state.replicationGroup.primaryEndpoint } : {}),
    ...(state.scaleDown ? { previousReplicas: state.scaleDown.previousReplicas } : {}),
    ...(state.scaleDown?.leftRunning ? { spinRedisLeftRunning: state.scaleDown.leftRunning } : {}),
    ...(state.error ? { error: state.error } : {}),
    ...(state.rollbackError ? { rollbackError: state.rollbackError } : {}),
    ...(state.scaleDownError ? { scaleDownError: state.scaleDownError } : {}),
    ...(state.captureRestoreError ? { captureRestoreError: state.captureRestoreError } : {}),
    replicationGroupRequested: Boolean(state.replicationGroup),
    switched: Boolean(state.switch),
    ...(state.rollout?.pauseMs !== undefined ? { pauseMs: state.rollout.pauseMs } : {}),
  };
}
