/**
 * One migration per Spinnaker: a lock annotation on the Halyard ConfigMap, written with the
 * resourceVersion precondition so that two executions racing cannot both win. The same
 * write stores the backup of the ConfigMap's data that the rollback restores byte for
 * byte. A lock whose execution is no longer RUNNING is stale and taken over; the backup
 * is never overwritten while it exists (a re-run after a failed rollback keeps the original).
 */
import type { ExecutionStatus } from '../aws/executions.js';
import type { MigrationConfig } from '../config/schema.js';
import { MigrationLockedError } from '../errors.js';
import type { ClusterApi, ConfigMap } from './api.js';

/** `$.lock` */
export interface LockResult {
  owner: string;
  acquiredAt: string;
  /** The ConfigMap's content before this execution changed anything (backup for rollback). */
  configMapBackupAnnotation: string;
}

export const LOCK_ANNOTATION = 'spin-elasticache.io/lock';
export const BACKUP_ANNOTATION = 'spin-elasticache.io/backup';

export interface LockHolder {
  owner: string;
  acquiredAt: string;
}

export function lockHolder(cm: ConfigMap): LockHolder | undefined {
  const raw = cm.metadata?.annotations?.[LOCK_ANNOTATION];
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as LockHolder;
  } catch {
    return { owner: raw, acquiredAt: '' };
  }
}

export function backupOf(cm: ConfigMap): Record<string, string> | undefined {
  const raw = cm.metadata?.annotations?.[BACKUP_ANNOTATION];
  return raw === undefined ? undefined : (JSON.parse(raw) as Record<string, string>);
}

export interface AcquireResult extends LockResult {
  tookOverFrom?: string;
  alreadyHeld: boolean;
}

/**
 * Who may take the lock, wherever it lives (the Halyard ConfigMap, a SpinnakerService): this
 * execution already holds it; or nobody does, or the holder's execution has ended (taken over);
 * else MigrationLockedError.
 */
export async function lockDecision(
  holder: { owner: string; acquiredAt: string } | undefined,
  executionArn: string,
  executionStatus: (arn: string) => Promise<ExecutionStatus>,
): Promise<AcquireResult | { tookOverFrom?: string }> {
  if (holder && holder.owner === executionArn) return { owner: executionArn, acquiredAt: holder.acquiredAt, configMapBackupAnnotation: BACKUP_ANNOTATION, alreadyHeld: true };
  if (!holder) return {};
  const status = await executionStatus(holder.owner);
  if (status === 'RUNNING' || status === 'PENDING_REDRIVE') {
    throw new MigrationLockedError(`Another migration of this Spinnaker is running: ${holder.owner} (since ${holder.acquiredAt}). Wait for it, or stop it; its lock is released when it ends.`);
  }
  return { tookOverFrom: holder.owner };
}

export async function acquireLock(
  api: Pick<ClusterApi, 'readConfigMap' | 'replaceConfigMap'>,
  config: MigrationConfig,
  executionArn: string,
  executionStatus: (arn: string) => Promise<ExecutionStatus>,
  now: () => Date = () => new Date(),
): Promise<AcquireResult> {
  const { namespace } = config.spinnaker;
  const name = config.spinnaker.halyard.configMap;
  const cm = await api.readConfigMap(namespace, name);
  const holder = lockHolder(cm);
  const decision = await lockDecision(holder, executionArn, executionStatus);
  if ('alreadyHeld' in decision) return decision;
  const { tookOverFrom } = decision;
  const acquiredAt = now().toISOString();
  const annotations = { ...(cm.metadata?.annotations ?? {}) };
  annotations[LOCK_ANNOTATION] = JSON.stringify({ owner: executionArn, acquiredAt });
  if (annotations[BACKUP_ANNOTATION] === undefined) annotations[BACKUP_ANNOTATION] = JSON.stringify(cm.data ?? {});
  // resourceVersion from our read is the precondition: a concurrent writer makes this a 409, retried on fresh data.
  await api.replaceConfigMap(namespace, { ...cm, metadata: { ...cm.metadata, annotations } });
  return { owner: executionArn, acquiredAt, configMapBackupAnnotation: BACKUP_ANNOTATION, alreadyHeld: false, ...(tookOverFrom ? { tookOverFrom } : {}) };
}

export async function releaseLock(api: Pick<ClusterApi, 'readConfigMap' | 'replaceConfigMap'>, config: MigrationConfig, executionArn: string): Promise<{ released: boolean; reason?: string }> {
  const { namespace } = config.spinnaker;
  const cm = await api.readConfigMap(namespace, config.spinnaker.halyard.configMap);
  const holder = lockHolder(cm);
  if (!holder) return { released: false, reason: 'no lock was held' };
  if (holder.owner !== executionArn) return { released: false, reason: `the lock belongs to ${holder.owner}` };
  const annotations = { ...(cm.metadata?.annotations ?? {}) };
  delete annotations[LOCK_ANNOTATION];
  // The ConfigMap is either fully patched (success) or back to the backup: the backup has done its job.
  delete annotations[BACKUP_ANNOTATION];
  await api.replaceConfigMap(namespace, { ...cm, metadata: { ...cm.metadata, annotations } });
  return { released: true };
}

export function assertLockOwner(cm: ConfigMap, executionArn: string): void {
  const holder = lockHolder(cm);
  if (holder?.owner !== executionArn) {
    throw new MigrationLockedError(`The migration lock on the Halyard ConfigMap is held by ${holder?.owner ?? 'nobody'}, not this execution`);
  }
}
