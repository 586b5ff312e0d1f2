/**
 * Every error that may leave a Lambda handler. Step Functions routes on `name`, so each
 * name is a string literal (bundlers rename classes) and ends in `Error`.
 * Transient errors are retried by the state machine; fatal ones are caught and routed
 * to the failure or rollback path. `TRANSIENT_ERROR_NAMES` feeds the ASL retriers and
 * is checked against the ASL by a test.
 */
export abstract class MigrationError extends Error {
  abstract override readonly name: string;
  abstract readonly retryable: boolean;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

abstract class TransientError extends MigrationError {
  readonly retryable = true;
}
abstract class FatalError extends MigrationError {
  readonly retryable = false;
}

// ---- transient: the same call may succeed if tried again ----
export class AwsThrottlingError extends TransientError {
  readonly name = 'AwsThrottlingError';
}
export class AwsServiceUnavailableError extends TransientError {
  readonly name = 'AwsServiceUnavailableError';
}
/** The resource is in a state that forbids the call now (e.g. `modifying`); try later. */
export class AwsResourceBusyError extends TransientError {
  readonly name = 'AwsResourceBusyError';
}
export class RedisConnectionError extends TransientError {
  readonly name = 'RedisConnectionError';
}
/**
 * The server answered READONLY: an ElastiCache Multi-AZ failover is promoting a replica
 * (about a second), so the same write succeeds once the endpoint points at the new primary.
 */
export class RedisFailoverError extends TransientError {
  readonly name = 'RedisFailoverError';
}
export class KubernetesUnavailableError extends TransientError {
  readonly name = 'KubernetesUnavailableError';
}
/** HTTP 409: someone else changed the object; the step re-reads and tries again. */
export class KubernetesConflictError extends TransientError {
  readonly name = 'KubernetesConflictError';
}
/** Clients other than ours are still connected to spin-redis; wait and check again. */
export class SpinRedisStillInUseError extends TransientError {
  readonly name = 'SpinRedisStillInUseError';
}

// ---- fatal: retrying will not help; a human or the rollback path must act ----
export class InputValidationError extends FatalError {
  readonly name = 'InputValidationError';
  constructor(
    message: string,
    readonly issues: readonly { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}
/** An existing AWS resource with our name has a different configuration. */
export class ResourceConflictError extends FatalError {
  readonly name = 'ResourceConflictError';
  constructor(
    message: string,
    readonly differences: readonly string[] = [],
  ) {
    super(message);
  }
}
export class AwsInvalidParameterError extends FatalError {
  readonly name = 'AwsInvalidParameterError';
}
/** No AWS credentials could be found or loaded (the SDK's CredentialsProviderError): not a bad parameter, and waiting does not fix it. */
export class AwsCredentialsError extends FatalError {
  readonly name = 'AwsCredentialsError';
}
export class AwsAccessDeniedError extends FatalError {
  readonly name = 'AwsAccessDeniedError';
}
export class AwsQuotaExceededError extends FatalError {
  readonly name = 'AwsQuotaExceededError';
}
export class AwsResourceNotFoundError extends FatalError {
  readonly name = 'AwsResourceNotFoundError';
}
/** AWS answered, but not with anything we can use (missing endpoint, unknown status...). */
export class InvalidAwsResponseError extends FatalError {
  readonly name = 'InvalidAwsResponseError';
}
export class ReplicationGroupCreateFailedError extends FatalError {
  readonly name = 'ReplicationGroupCreateFailedError';
}
export class ReplicationGroupTimeoutError extends FatalError {
  readonly name = 'ReplicationGroupTimeoutError';
}
export class SecretUnavailableError extends FatalError {
  readonly name = 'SecretUnavailableError';
}
export class RedisAuthError extends FatalError {
  readonly name = 'RedisAuthError';
}
export class RedisTlsError extends FatalError {
  readonly name = 'RedisTlsError';
}
/** Redis refused a write: out of memory, a persistence failure (MISCONF), or no permission (NOPERM). */
export class RedisWriteRefusedError extends FatalError {
  readonly name = 'RedisWriteRefusedError';
}
/**
 * The server does not know a command or an argument we sent (`unknown command`, `ERR syntax
 * error`, `wrong number of arguments`): it is too old for it, or the command is renamed.
 * Retrying sends the same command again, so this is fatal; the message names both.
 */
export class RedisCommandUnsupportedError extends FatalError {
  readonly name = 'RedisCommandUnsupportedError';
}
export class RedisUnreachableError extends FatalError {
  readonly name = 'RedisUnreachableError';
}
export class KeyspaceNotificationsError extends FatalError {
  readonly name = 'KeyspaceNotificationsError';
}
export class KubernetesForbiddenError extends FatalError {
  readonly name = 'KubernetesForbiddenError';
}
export class KubernetesNotFoundError extends FatalError {
  readonly name = 'KubernetesNotFoundError';
}
export class KubernetesRequestError extends FatalError {
  readonly name = 'KubernetesRequestError';
}
/**
 * A Halyard file whose YAML we cannot patch without changing what Halyard or Spring reads:
 * not YAML, a top level that is not a mapping, a key on our path that holds a value (not a
 * mapping), or several documents where Halyard reads one. The message names the file, the
 * problem and the fix; nothing has been written.
 */
export class HalyardFileShapeError extends FatalError {
  readonly name = 'HalyardFileShapeError';
}
/**
 * A handler was given an execution state it cannot read: not an object, no valid `config`
 * or `execution`, or a step result of the wrong type. The state machine never builds such a
 * state; a hand-made invocation or an edited redrive does. The message names the field.
 */
export class ExecutionStateError extends FatalError {
  readonly name = 'ExecutionStateError';
}
export class HalyardPodNotFoundError extends FatalError {
  readonly name = 'HalyardPodNotFoundError';
}
export class PodExecError extends FatalError {
  readonly name = 'PodExecError';
}
export class HalDeployFailedError extends FatalError {
  readonly name = 'HalDeployFailedError';
}
export class RolloutTimeoutError extends FatalError {
  readonly name = 'RolloutTimeoutError';
}
/**
 * The quiesce did not finish within options.drainTimeoutMinutes: a Spinnaker pod did not
 * terminate, or a client other than ours stayed on spin-redis. The message names them.
 */
export class SpinnakerQuiesceTimeoutError extends FatalError {
  readonly name = 'SpinnakerQuiesceTimeoutError';
}
export class MigrationLockedError extends FatalError {
  readonly name = 'MigrationLockedError';
}
export class CopyFailedError extends FatalError {
  readonly name: string = 'CopyFailedError';
}
/** options.copyMethod s3-seed, but the function has no seed bucket (SEED_BUCKET, the stack's SeedBucket). */
export class SeedBucketNotConfiguredError extends FatalError {
  readonly name: string = 'SeedBucketNotConfiguredError';
}
/** The source will not replicate to us (PSYNC refused, or it dropped the link); the scan copy still works. */
export class ReplicationUnavailableError extends FatalError {
  readonly name: string = 'ReplicationUnavailableError';
}
/** A Slack request whose signature, age or sender does not check out (answered 401/403, never run). */
export class SlackRequestRejectedError extends FatalError {
  readonly name = 'SlackRequestRejectedError';
}
export class VerificationFailedError extends FatalError {
  readonly name = 'VerificationFailedError';
}
/** The Spinnaker pods' IAM role may not read the Redis URL secret (or decrypt it): they would all fail with it. */
export class SpinnakerSecretAccessDeniedError extends FatalError {
  readonly name = 'SpinnakerSecretAccessDeniedError';
}
/** The Spinnaker pods' IAM role cannot be found (no IRSA annotation on their service account), so their access cannot be checked. */
export class SpinnakerRoleUnknownError extends FatalError {
  readonly name = 'SpinnakerRoleUnknownError';
}
/** An install flavour (lib/spinnaker/flavor.ts) that cannot be patched yet, or that contradicts spinnaker.flavor. */
export class SpinnakerFlavorUnsupportedError extends FatalError {
  readonly name = 'SpinnakerFlavorUnsupportedError';
}
/**
 * The object that holds Spinnaker's config (the Halyard ConfigMap or the SpinnakerService) is
 * managed by Argo CD or Flux: our change would be reverted by their next sync. Refused before
 * anything is created; the message carries the change to commit to the repository instead.
 */
export class SpinnakerConfigGitOpsManagedError extends FatalError {
  readonly name = 'SpinnakerConfigGitOpsManagedError';
}
/** The API server refused the config change for good: the SpinnakerService validating webhook denied it, or the object has no usable spinnakerConfig. */
export class SpinnakerConfigRejectedError extends FatalError {
  readonly name = 'SpinnakerConfigRejectedError';
}
/**
 * Helm installs: the chart's ConfigMaps no longer hold our change between the patch and the
 * scale-down of spin-redis (a `helm upgrade` re-rendered them, and its hook re-runs hal deploy
 * apply): the migration rolls back instead of fighting it.
 */
export class SpinnakerConfigRevertedError extends FatalError {
  readonly name = 'SpinnakerConfigRevertedError';
}
/** The Spinnaker Operator reported `status.status: Failure` (or a DeployFailed/DeployError Event) for the changed config. */
export class SpinnakerOperatorDeployFailedError extends FatalError {
  readonly name = 'SpinnakerOperatorDeployFailedError';
}

/**
 * The transient classes, and from them the names the ASL's transient retrier lists. A test
 * (test/unit/statemachine/asl.test.ts) fails when a class with `retryable = true` is missing
 * here or from the retrier, so a new transient error cannot go unretried.
 */
export const TRANSIENT_ERRORS = [
  AwsThrottlingError,
  AwsServiceUnavailableError,
  AwsResourceBusyError,
  RedisConnectionError,
  RedisFailoverError,
  KubernetesUnavailableError,
  KubernetesConflictError,
  SpinRedisStillInUseError,
] as const;
export const TRANSIENT_ERROR_NAMES: readonly string[] = TRANSIENT_ERRORS.map((TransientClass) => new TransientClass('').name);

/** Wrap anything that is not already one of ours, so no bare `Error` reaches Step Functions. */
export class UnexpectedError extends FatalError {
  readonly name = 'UnexpectedError';
}

export function asMigrationError(error: unknown): MigrationError {
  if (error instanceof MigrationError) return error;
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new UnexpectedError(message, { cause: error });
}

// The copy engine's own refinements: still caught as their parents, named for themselves.

/** The target refused a payload (older RDB version); `auto` copies by scan instead, with type-based fallback. */
export class TargetRefusedPayloadError extends CopyFailedError {
  override readonly name = 'TargetRefusedPayloadError';
}
/**
 * Something in the snapshot the RDB splitter cannot handle (a type newer than Redis 7.2, a
 * huge stream): the replication copy is not possible, the scan copy still is.
 */
export class SnapshotFormatError extends ReplicationUnavailableError {
  override readonly name = 'SnapshotFormatError';
}
/**
 * spin-redis must not fork (its memory limit leaves no room for a snapshot's copy-on-write,
 * or it could not be read): the replication copy is not tried, the scan copy still is.
 */
export class ForkUnsafeError extends ReplicationUnavailableError {
  override readonly name = 'ForkUnsafeError';
}
/** No seed of a `redis-cluster://` source told us the cluster's masters (CLUSTER SHARDS, CLUSTER SLOTS), or the topology would not settle. */
export class ClusterTopologyError extends FatalError {
  readonly name = 'ClusterTopologyError';
}
/** The CLI's verification of a copy from an RDB file has no redis-server to load the dump into. */
export class ReferenceServerError extends FatalError {
  readonly name = 'ReferenceServerError';
}
