/**
 * The execution state that flows between Task states. ValidateInput replaces the raw
 * input with `{ config, execution }`; every later Task receives the whole state and its
 * result lands at its own ResultPath (the key named next to each field). Nothing here
 * may hold a secret: execution history is readable by anyone who can read the execution.
 */
import type { MigrationConfig } from '../config/schema.js';
import type { ParameterGroupResult } from '../elasticache/parameter-group.js';
import type { ReplicationGroupResult } from '../elasticache/replication-group.js';
import type { SubnetGroupResult } from '../elasticache/subnet-group.js';
import type { HalDeployResult } from '../halyard/deploy.js';
import type { HalyardPatchResult } from '../halyard/change.js';
import type { LockResult } from '../kubernetes/lock.js';
import type { Flavor, SpinnakerRestoreResult } from '../spinnaker/flavor.js';
import type { OperatorDeployRef } from '../spinnaker/operator.js';
import type { RolloutResult } from '../kubernetes/rollout.js';
import type { ScaleDownResult } from '../kubernetes/scale.js';
import type { CopyState } from '../copy/bulk-slice.js';
import type { CatchUpState } from '../copy/catch-up-slice.js';
import type { DrainResult } from '../copy/live.js';
import type { ReconcileStats } from '../copy/reconcile.js';
import type { VerifyReport } from '../copy/verify.js';
import type { ChangeCaptureResult } from '../redis/change-capture.js';
import type { PingResult } from '../redis/ping.js';
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

export interface MigrationState extends ValidatedState {
  /** With the install flavour AcquireMigrationLock found (lib/workflow/spinnaker-config.ts). */
  lock?: LockResult & { flavor?: Flavor };
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
  halyard?: HalyardPatchResult & { flavor?: Flavor; operator?: OperatorDeployRef };
  /** HalDeployApply; for the operator, what the rollout check waits for (it has no hal to run). */
  deploy?: HalDeployResult & { flavor?: Flavor; operator?: OperatorDeployRef };
  /** RestoreHalyardConfig (rollback). */
  restore?: SpinnakerRestoreResult;
  rollout?: RolloutResult;
  scaleDown?: ScaleDownResult;
  /** Set by a Catch: `{ Error, Cause }`. */
  error?: { Error: string; Cause: string };
}
