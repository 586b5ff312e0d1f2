/**
 * The execution state that flows between Task states. ValidateInput replaces the raw
 * input with `{ config, execution }`; every later Task receives the whole state and its
 * result lands at its own ResultPath (the key named next to each field). Nothing here
 * may hold a secret: execution history is readable by anyone who can read the execution.
 */
import type { MigrationConfig } from '../config/schema.js';
import type { CopyState } from '../copy/bulk-slice.js';
import type { CatchUpState } from '../copy/catch-up-slice.js';
import type { DrainResult } from '../copy/live.js';
import type { ReconcileStats } from '../copy/reconcile.js';
import type { VerifyReport } from '../copy/verify.js';
import type { ChangeCaptureResult } from '../redis/change-capture.js';
import type { AuditParity } from '../spinnaker/audit.js';

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

/** What an Ensure step did: `created` by this execution, or `existing` and matching. */
export type EnsureOutcome = 'created' | 'existing';

/** `$.lock` */
export interface LockResult {
  owner: string;
  acquiredAt: string;
  /** The ConfigMap's content before this execution changed anything (backup for rollback). */
  configMapBackupAnnotation: string;
}

/** `$.parameterGroup` */
export interface ParameterGroupResult {
  name: string;
  family: string;
  outcome: EnsureOutcome;
}

/** `$.subnetGroup` */
export interface SubnetGroupResult {
  name: string;
  subnetIds: string[];
  vpcId: string;
  outcome: EnsureOutcome;
}

/** `$.replicationGroup`, written by EnsureReplicationGroup and refreshed by DescribeReplicationGroup. */
export interface ReplicationGroupResult {
  id: string;
  outcome: EnsureOutcome;
  status: string;
  /** Primary endpoint, once `available`. */
  primaryEndpoint?: { address: string; port: number };
  /** Number of DescribeReplicationGroup polls so far. */
  polls: number;
  /** When EnsureReplicationGroup first saw the group (created or found), ISO 8601; bounds the wait. */
  waitingSince: string;
}

/** `$.ping` */
export interface PingResult {
  url: string;
  latencyMs: number;
  keyspaceNotifications: boolean;
  serverVersion: string;
}

/** `$.halyard`, written by PatchHalyardConfig. */
export interface HalyardPatchResult {
  configMap: string;
  /** resourceVersion after our update. */
  resourceVersion: string;
  changedKeys: string[];
  /** Files rewritten inside the Halyard pod because they differed from the ConfigMap. */
  podFilesWritten: string[];
}

/** `$.deploy` */
export interface HalDeployResult {
  exitCode: number;
  outputTail: string;
  startedAt: string;
}

/** `$.rollout` */
export interface RolloutResult {
  ready: boolean;
  deployments: { name: string; ready: boolean; generation: number; observedGeneration: number }[];
  polls: number;
  waitingSince: string;
}

/** `$.scaleDown` */
export interface ScaleDownResult {
  deployment: string;
  previousReplicas: number;
  replicas: number;
}

export interface MigrationState extends ValidatedState {
  lock?: LockResult;
  parameterGroup?: ParameterGroupResult;
  subnetGroup?: SubnetGroupResult;
  replicationGroup?: ReplicationGroupResult;
  ping?: PingResult;
  copy?: CopyState;
  capture?: ChangeCaptureResult;
  catchUp?: CatchUpState;
  drain?: DrainResult;
  verify?: VerifyReport & { audit: AuditParity };
  reconcile?: ReconcileStats;
  copyBack?: ReconcileStats | { skipped: string };
  halyard?: HalyardPatchResult;
  deploy?: HalDeployResult;
  rollout?: RolloutResult;
  scaleDown?: ScaleDownResult;
  /** Set by a Catch: `{ Error, Cause }`. */
  error?: { Error: string; Cause: string };
}
