/**
 * The Spinnaker side of the migration, composed across areas: the install flavour and the
 * pre-flight (AcquireMigrationLock), the URL secret and the config patch (PatchHalyardConfig),
 * and the restore (RestoreHalyardConfig). Each step goes through the flavour's module
 * (lib/spinnaker/flavor.ts), so the dry run, the patch and the rollback agree.
 */
import type { IAMClient } from '@aws-sdk/client-iam';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ExecutionStatus } from '../aws/executions.js';
import type { MigrationConfig } from '../config/schema.js';
import { redisTarget, redisUrl } from '../halyard/patch.js';
import type { ClusterApi } from '../kubernetes/api.js';
import { acquireLock, type AcquireResult } from '../kubernetes/lock.js';
import { getAuthToken } from '../secrets/auth-token.js';
import { ensureRedisUrlSecret, type RedisUrlSecretResult } from '../secrets/redis-url.js';
import { detectFlavor, type Flavor, flavorOf, spinnakerConfigFlavor, type SpinnakerPatchResult } from '../spinnaker/flavor.js';
import { checkSpinnakerSecretAccess, podsReadUrlSecret, type SecretAccessCheck } from '../spinnaker/secret-access.js';
import { primaryEndpointOf } from './resolve.js';
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
  spinnakerConfigFlavor(detection.flavor);
  const secretAccess = await checkSpinnakerSecretAccess(deps.api, deps.iam, deps.secrets, config);
  const lock = await acquireLock(deps.api, config, executionArn, deps.executionStatus);
  return { ...lock, flavor: detection.flavor, flavorEvidence: [`${detection.source === 'input' ? 'from spinnaker.flavor' : 'detected'}: ${detection.flavor}`, ...detection.evidence], secretAccess };
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
export async function restoreSpinnakerConfig(api: ClusterApi, state: MigrationState): Promise<{ restored: boolean; podFilesWritten: string[] }> {
  return spinnakerConfigFlavor(flavorOf(state)).restore(api, state.config);
}
