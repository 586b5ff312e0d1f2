/**
 * The Spinnaker side of the migration, composed across areas: the install flavour and the
 * pre-flight (AcquireMigrationLock), the URL secret and the config patch (PatchHalyardConfig),
 * the restore (RestoreHalyardConfig), and the check that the change still holds before spin-redis
 * is scaled down (ScaleDownSpinRedis). Each step goes through the flavour's module
 * (lib/spinnaker/flavor.ts), so the dry run, the patch and the rollback agree.
 */
import type { IAMClient } from '@aws-sdk/client-iam';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ExecutionStatus } from '../aws/executions.js';
import type { MigrationConfig } from '../config/schema.js';
import { SpinnakerConfigGitOpsManagedError } from '../errors.js';
import { type HalDeployResult, halDeployApply } from '../halyard/deploy.js';
import { redisTarget, redisUrl } from '../halyard/patch.js';
import type { ClusterApi } from '../kubernetes/api.js';
import type { AcquireResult } from '../kubernetes/lock.js';
import { checkRollout, type RolloutResult } from '../kubernetes/rollout.js';
import { type ScaleDownResult, scaleDownSpinRedis } from '../kubernetes/scale.js';
import { getAuthToken } from '../secrets/auth-token.js';
import { ensureRedisUrlSecret, type RedisUrlSecretResult } from '../secrets/redis-url.js';
import { detectFlavor, type Flavor, flavorOf, type SpinnakerConfigFlavor, spinnakerConfigFlavor, type SpinnakerPatchResult, type SpinnakerRestoreResult } from '../spinnaker/flavor.js';
import { describeGitOps } from '../spinnaker/gitops.js';
import { checkOperatorRollout, type OperatorDeployRef } from '../spinnaker/operator.js';
import { checkSpinnakerSecretAccess, podsReadUrlSecret, type SecretAccessCheck } from '../spinnaker/secret-access.js';
import { primaryEndpointOf } from './resolve.js';
import { resume } from './pause.js';
import type { ResumeResult } from '../spinnaker/quiesce.js';
import type { MigrationState } from './state.js';

/** `$.lock` */
export type MigrationLockResult = AcquireResult & { flavor: Flavor; flavorEvidence: string[]; secretAccess: SecretAccessCheck };

/**
 * AcquireMigrationLock: detect the flavour (refused if it cannot be patched), check that the
 * Spinnaker pods may read the URL secret, then take the lock. Every refusal comes before
 * anything is created or changed.
 */
export async function acquireMigration(
  deps: { api: ClusterApi; iam: Pick<IAMClient, 'send'>; secrets: Pick<SecretsManagerClient, 'send'>; executionStatus: (arn: string) => Promise<ExecutionStatus> },
  config: MigrationConfig,
  executionArn: string,
): Promise<MigrationLockResult> {
  const detection = await detectFlavor(deps.api, config);
  const flavor = spinnakerConfigFlavor(detection.flavor);
  await refuseGitOpsManaged(deps.api, flavor, config);
  await flavor.preflight?.(deps.api, config);
  const secretAccess = await checkSpinnakerSecretAccess(deps.api, deps.iam, deps.secrets, config);
  const lock = await flavor.acquire(deps.api, config, executionArn, deps.executionStatus);
  return { ...lock, flavor: detection.flavor, flavorEvidence: [`${detection.source === 'input' ? 'from spinnaker.flavor' : 'detected'}: ${detection.flavor}`, ...detection.evidence], secretAccess };
}

/**
 * Argo CD or Flux manage the object that holds the config: our patch would be reverted by the
 * next sync, after spin-redis was scaled down. Refused (SpinnakerConfigGitOpsManagedError) with
 * the change to commit, unless it is a dry run (the plan shows the same) or the input accepts the
 * risk (options.allowGitOpsManagedConfig).
 */
async function refuseGitOpsManaged(api: ClusterApi, flavor: SpinnakerConfigFlavor, config: MigrationConfig): Promise<void> {
  if (config.options.dryRun || config.options.allowGitOpsManagedConfig) return;
  const { holder, found } = await flavor.gitOps(api, config);
  if (found.length === 0) return;
  const target = redisTarget(config, { address: `<primary endpoint of ${config.target.replicationGroupId}>`, port: config.target.port });
  const change = await flavor.plan(api, config, target);
  throw new SpinnakerConfigGitOpsManagedError(
    `${describeGitOps(holder, found)} Nothing was created. Commit this change to the repository that owns it instead (the primary endpoint is known once the group exists; a dry run shows the same), or set options.allowGitOpsManagedConfig after turning that object's reconciliation off:\n${change.toCommit()}`,
  );
}

/** `$.halyard` */
export type SpinnakerPatchState = SpinnakerPatchResult & { redisUrlSecret?: RedisUrlSecretResult };

/**
 * PatchHalyardConfig: with AUTH, write the whole URL (token inside) into the URL secret first,
 * so that no pod can start on a reference to a secret that does not exist yet; then the
 * flavour's patch.
 */
export async function patchSpinnakerConfig(api: ClusterApi, secrets: Pick<SecretsManagerClient, 'send'>, state: MigrationState): Promise<SpinnakerPatchState> {
  const { config } = state;
  const endpoint = primaryEndpointOf(state);
  const token = await getAuthToken(secrets, config);
  let redisUrlSecret: RedisUrlSecretResult | undefined;
  if (token !== undefined && podsReadUrlSecret(config)) redisUrlSecret = await ensureRedisUrlSecret(secrets, config, redisUrl(config, endpoint, token));
  const result = await spinnakerConfigFlavor(flavorOf(state)).apply(api, config, state.execution.arn, redisTarget(config, endpoint, token));
  return { ...result, ...(redisUrlSecret ? { redisUrlSecret } : {}) };
}

/** RestoreHalyardConfig (rollback): the config back byte for byte. The URL secret stays (tagged; harmless without a reference to it). */
export async function restoreSpinnakerConfig(api: ClusterApi, state: MigrationState): Promise<SpinnakerRestoreResult> {
  return spinnakerConfigFlavor(flavorOf(state)).restore(api, state.config, state.halyard);
}

/**
 * ResumeSpinnaker (and its rollback twins): before the services start again after the switch,
 * the flavour's change must still hold (Helm: a `helm upgrade` since the patch would start some
 * of them on spin-redis and some on ElastiCache); in the rollback (`$.restore` set) or before the
 * switch (no `$.halyard`), nothing to check.
 */
export async function resumeAfterSwitch(api: ClusterApi, state: MigrationState, now?: () => Date): Promise<ResumeResult> {
  if (state.halyard && !state.restore) await spinnakerConfigFlavor(flavorOf(state)).assertChangeHolds?.(api, state.config, state.halyard);
  return resume(api, state, now);
}

/**
 * ScaleDownSpinRedis: the last step before spin-redis stops. The flavour's change must still
 * hold (Helm: no `helm upgrade` re-rendered the ConfigMaps since the patch), else
 * SpinnakerConfigRevertedError and the rollback, while spin-redis still runs.
 */
export async function scaleDownAfterSwitch(api: ClusterApi, state: MigrationState): Promise<ScaleDownResult> {
  await spinnakerConfigFlavor(flavorOf(state)).assertChangeHolds?.(api, state.config, state.halyard);
  return scaleDownSpinRedis(api, state.config);
}

/** `$.deploy` / `$.rollbackDeploy` */
export type SpinnakerDeployResult = HalDeployResult & { flavor: Flavor; operator?: OperatorDeployRef };

/**
 * HalDeployApply: `hal deploy apply` in the Halyard pod; for the operator nothing to run (it
 * redeploys on its own), only what the rollout check must wait for: the hash before the restore
 * (rollback) or before the patch.
 */
export async function deploySpinnakerConfig(api: ClusterApi, state: MigrationState, now: () => Date = () => new Date()): Promise<SpinnakerDeployResult> {
  const flavor = flavorOf(state);
  if (flavor === 'operator') {
    // Rollback: the restored config deploys as the hash from before the patch again (or, if the operator never deployed the patch, it already is).
    const prePatch = state.halyard?.operator?.waitPastHash;
    const operator = state.restore
      ? state.restore.operator && state.restore.restored && prePatch !== undefined
        ? { ...state.restore.operator, waitForHash: prePatch }
        : state.restore.operator
      : state.halyard?.operator;
    return {
      flavor,
      exitCode: 0,
      outputTail: 'The Spinnaker Operator deploys a changed spec.spinnakerConfig itself; nothing to run.',
      startedAt: now().toISOString(),
      ...(operator ? { operator } : {}),
    };
  }
  const halyardConfig = (await spinnakerConfigFlavor(flavor).halyardConfig?.(api, state.config)) ?? state.config;
  return { flavor, ...(await halDeployApply(api, halyardConfig, now)) };
}

/** CheckSpinnakerRollout: the Deployments; for the operator also its status and config hash. */
export async function checkSpinnakerRollout(api: ClusterApi, state: MigrationState, now?: () => Date, timing?: Parameters<typeof checkRollout>[4]): Promise<RolloutResult> {
  // After the switch (the rollback's check gets no $.halyard): a Helm upgrade meanwhile is a reason to roll back.
  await spinnakerConfigFlavor(flavorOf(state)).assertChangeHolds?.(api, state.config, state.halyard);
  if (flavorOf(state) === 'operator') return checkOperatorRollout(api, state.config, state.deploy?.operator, state.rollout, now, timing);
  return checkRollout(api, state.config, state.rollout, now, timing);
}

/** ReleaseMigrationLock: on the object that holds the config, only if this execution holds it. */
export async function releaseMigrationLock(api: ClusterApi, state: MigrationState): Promise<{ released: boolean; reason?: string }> {
  return spinnakerConfigFlavor(flavorOf(state)).release(api, state.config, state.execution.arn);
}
