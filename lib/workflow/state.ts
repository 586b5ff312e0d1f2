/**
 * The execution state that flows between Task states. ValidateInput replaces the raw
 * input with `{ config, execution }`; every later Task receives the whole state and its
 * result lands at its own ResultPath (the key named next to each field). Nothing here
 * may hold a secret: execution history is readable by anyone who can read the execution.
 */
import { type MigrationConfig, parseMigrationInput } from '../config/schema.js';
import type { Outcome } from '../notify/summary.js';
import { ExecutionStateError, InputValidationError } from '../errors.js';
import type { ParameterGroupResult } from '../elasticache/parameter-group.js';
import type { ReplicationGroupResult } from '../elasticache/replication-group.js';
import type { SubnetGroupResult } from '../elasticache/subnet-group.js';
import type { HalDeployResult } from '../halyard/deploy.js';
import type { HalyardPatchResult } from '../halyard/change.js';
import type { LockResult } from '../kubernetes/lock.js';
import type { Flavor, SpinnakerRestoreResult } from '../spinnaker/flavor.js';
import type { OperatorDeployRef } from '../spinnaker/operator.js';
import type { HelmPatchRef } from '../spinnaker/helm.js';
import type { RolloutResult } from '../kubernetes/rollout.js';
import type { ScaleDownResult } from '../kubernetes/scale.js';
import type { CopyState } from '../copy/bulk-slice.js';
import type { CatchUpState, FinalCatchUp } from '../copy/catch-up-slice.js';
import type { DrainResult } from '../copy/live.js';
import type { MirrorState } from '../copy/reconcile.js';
import type { ChangeCaptureResult } from '../redis/change-capture.js';
import type { PingResult } from '../redis/ping.js';
import type { VerifyState } from './verify-migration.js';
import type { SourceMark } from './endpoints.js';
import type { QuiesceCheck, QuiesceResult, ResumeResult } from '../spinnaker/quiesce.js';
import type { SeedResult, SeedRemoval } from './seed.js';

export interface ExecutionInfo {
  /** `$$.Execution.Id`: the lock owner and idempotency key. */
  arn: string;
  /** `$$.Execution.StartTime`, ISO 8601. */
  startedAt: string;
}

/** Result of ValidateInput (ResultPath `$`). */
export interface ValidatedState {
  config: MigrationConfig;
  execution: ExecutionInfo;
}

export interface MigrationState extends ValidatedState {
  /** With the install flavour AcquireMigrationLock found (lib/workflow/spinnaker-config.ts). */
  lock?: LockResult & { flavor?: Flavor };
  parameterGroup?: ParameterGroupResult;
  subnetGroup?: SubnetGroupResult;
  replicationGroup?: ReplicationGroupResult;
  ping?: PingResult;
  copy?: CopyState & SourceMark;
  capture?: ChangeCaptureResult;
  /** UploadSeedSnapshot (options.copyMethod s3-seed): the .rdb in S3 the group is created from. */
  seed?: SeedResult;
  /** DeleteSeedSnapshot (after the group loaded it, or in the rollback). */
  seedRemoval?: SeedRemoval;
  /** CatchUpLiveWrites, before the pause. */
  catchUp?: CatchUpState;
  /** QuiesceSpinnaker: the services scaled to 0 and their replicas before. */
  quiesce?: QuiesceResult;
  quiesceCheck?: QuiesceCheck;
  /** ReconcileFinal: the final catch-up inside the pause. */
  reconcile?: FinalCatchUp & SourceMark;
  /** VerifyCopy, slice by slice (lib/workflow/verify-migration.ts). */
  verify?: VerifyState & SourceMark;
  /** BeginSwitch: from here on Spinnaker may run on ElastiCache, and a failure rolls back through the mirror copy-back. */
  switch?: { switched: true };
  halyard?: HalyardPatchResult & { flavor?: Flavor; operator?: OperatorDeployRef; helm?: HelmPatchRef };
  /** HalDeployApply; for the operator, what the rollout check waits for (it has no hal to run). */
  deploy?: HalDeployResult & { flavor?: Flavor; operator?: OperatorDeployRef };
  /** RestoreHalyardConfig (rollback). */
  restore?: SpinnakerRestoreResult;
  /** ResumeSpinnaker (also after a failure inside the pause). */
  resume?: ResumeResult;
  rollout?: RolloutResult;
  drain?: DrainResult;
  scaleDown?: ScaleDownResult;
  /** The rollback after the switch: its own pause. */
  rollbackQuiesce?: QuiesceResult;
  rollbackQuiesceCheck?: QuiesceCheck;
  /** RollbackCopyBackWrites, slice by slice. */
  copyBack?: (MirrorState & SourceMark) | { skipped: string; done: true };
  /** RollbackHalDeployApply: what the rollback's resume and rollout check wait for. */
  rollbackDeploy?: HalDeployResult & { flavor?: Flavor; operator?: OperatorDeployRef };
  rollbackResume?: ResumeResult;
  /** Set by a Catch: `{ Error, Cause }`. */
  error?: { Error: string; Cause: string };
}

/** The step results a state may carry (each written by one Task at its ResultPath). */
const STEP_RESULTS = [
  'lock',
  'parameterGroup',
  'subnetGroup',
  'replicationGroup',
  'ping',
  'copy',
  'capture',
  'catchUp',
  'seed',
  'seedRemoval',
  'drain',
  'verify',
  'reconcile',
  'copyBack',
  'halyard',
  'deploy',
  'rollout',
  'scaleDown',
  'quiesce',
  'quiesceCheck',
  'resume',
  'switch',
  'restore',
  'rollbackQuiesce',
  'rollbackQuiesceCheck',
  'rollbackDeploy',
  'rollbackResume',
  'error',
] as const;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const describeValue = (value: unknown) => (value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value);

/**
 * Check the state a handler was given before any step reads it, so a malformed one fails
 * with a name and the field instead of a TypeError somewhere in lib/.
 * @throws ExecutionStateError naming the first field that is wrong
 */
export function parseState(event: unknown, step: string): MigrationState {
  const wrong = (what: string) => new ExecutionStateError(`${step} was given an execution state it cannot read: ${what}. The state machine passes the whole state ($) to each Task.`);
  if (!isObject(event)) throw wrong(`the state is ${describeValue(event)}, not an object`);
  if (!isObject(event.config)) throw wrong(`$.config is ${describeValue(event.config)}, not the validated input`);
  // $.config is ValidateInput's output: the input plus the derived parameterGroupFamily.
  const { parameterGroupFamily: _derived, ...target } = isObject(event.config.target) ? event.config.target : {};
  let config: MigrationConfig;
  try {
    // The parsed config, defaults filled: a hand-made or redriven state may carry only the input's own fields.
    config = parseMigrationInput({ ...event.config, target: isObject(event.config.target) ? target : event.config.target });
  } catch (error) {
    if (error instanceof InputValidationError) throw wrong(`$.config does not validate (${error.message.replace(/\n/g, ' ')})`);
    throw error;
  }
  const execution = event.execution;
  if (!isObject(execution) || typeof execution.arn !== 'string' || typeof execution.startedAt !== 'string') throw wrong('$.execution must be { arn, startedAt } (strings)');
  for (const key of STEP_RESULTS) {
    if (event[key] !== undefined && !isObject(event[key])) throw wrong(`$.${key} is ${describeValue(event[key])}, not a step result`);
  }
  // The inner fields more than one step reads as a structure (a wrong type would be a TypeError in lib/).
  const endpoint = (event.replicationGroup as Record<string, unknown> | undefined)?.primaryEndpoint;
  if (endpoint !== undefined && !(isObject(endpoint) && typeof endpoint.address === 'string' && Number.isInteger(endpoint.port))) {
    throw wrong('$.replicationGroup.primaryEndpoint must be { address: string, port: integer }');
  }
  for (const key of ['quiesce', 'rollbackQuiesce'] as const) {
    const services = (event[key] as Record<string, unknown> | undefined)?.services;
    if (event[key] !== undefined && !Array.isArray(services)) throw wrong(`$.${key}.services is ${describeValue(services)}, not a list`);
  }
  return { ...event, config } as unknown as MigrationState;
}

const OUTCOMES: readonly Outcome[] = ['SUCCEEDED', 'FAILED', 'ROLLED_BACK', 'ROLLBACK_FAILED'];

/**
 * NotifyOutcome's input, `{ state, outcome }`.
 * @throws ExecutionStateError when the state is malformed or the outcome is not one of ours
 */
export function parseOutcomeEvent(event: unknown): { state: MigrationState & { rollbackError?: { Error: string; Cause: string } }; outcome: Outcome } {
  const outcome = isObject(event) ? event.outcome : undefined;
  if (!OUTCOMES.includes(outcome as Outcome)) throw new ExecutionStateError(`NotifyOutcome was given outcome ${JSON.stringify(outcome) ?? 'undefined'}; expected one of ${OUTCOMES.join(', ')}`);
  const state = parseState(isObject(event) ? event.state : event, 'NotifyOutcome');
  return { state, outcome: outcome as Outcome };
}

/**
 * ValidateInput's event: `{ input: $, execution: { arn, startedAt } }` from the ASL.
 * @throws InputValidationError for the input; ExecutionStateError without the execution facts
 */
export function parseValidateEvent(event: unknown): ValidatedState {
  const config = parseMigrationInput(isObject(event) ? event.input : undefined);
  const execution = isObject(event) ? event.execution : undefined;
  if (!isObject(execution) || typeof execution.arn !== 'string' || typeof execution.startedAt !== 'string') {
    throw new ExecutionStateError('ValidateInput needs execution: { arn: $$.Execution.Id, startedAt: $$.Execution.StartTime } beside the input');
  }
  return { config, execution: { arn: execution.arn, startedAt: execution.startedAt } };
}
