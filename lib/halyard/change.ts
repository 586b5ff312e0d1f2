/**
 * The Halyard change, planned once: read the ConfigMap, take the managed files out of it,
 * patch them for the new Redis and diff. The patch (PatchHalyardConfig), the dry run
 * (PlanMigration) and the rollback (RestoreHalyardConfig) all start from here, so what the
 * dry run shows is what the patch writes.
 */
import type { MigrationConfig } from '../config/schema.js';
import { KubernetesRequestError } from '../errors.js';
import type { ClusterApi, ConfigMap } from '../kubernetes/api.js';
import { assertLockOwner, backupOf } from '../kubernetes/lock.js';
import { filesFromData, managedFiles, syncPodFiles } from './files.js';
import { redactOutput } from './deploy.js';
import { changedKeys, diffFiles, patchHalyardFiles, type HalyardFileSet, type RedisTarget } from './patch.js';

/** `$.halyard`, written by PatchHalyardConfig. */
export interface HalyardPatchResult {
  configMap: string;
  /** resourceVersion after our update. */
  resourceVersion: string;
  changedKeys: string[];
  /** Files rewritten inside the Halyard pod because they differed from the ConfigMap. */
  podFilesWritten: string[];
  /** When the patch was written (ISO 8601): the switch, where the cutover window starts. */
  patchedAt: string;
}

export interface HalyardChange {
  /** The ConfigMap as read; its resourceVersion is the precondition of the write. */
  configMap: ConfigMap;
  before: HalyardFileSet;
  after: HalyardFileSet;
  changedKeys: string[];
  /** A unified-style diff per changed key. */
  diff: () => Record<string, string>;
}

export async function planHalyardChange(api: Pick<ClusterApi, 'readConfigMap'>, config: MigrationConfig, target: RedisTarget, options: { lockOwner?: string } = {}): Promise<HalyardChange> {
  const cm = await api.readConfigMap(config.spinnaker.namespace, config.spinnaker.halyard.configMap);
  // Before patching: a foreign lock is the error to report, whatever the files hold.
  if (options.lockOwner !== undefined) assertLockOwner(cm, options.lockOwner);
  const before = filesFromData(config, cm.data);
  const after = patchHalyardFiles(config, before, target);
  // With the plaintext consent the files hold the token: the diff (execution output) never does.
  const diff = () => Object.fromEntries(Object.entries(diffFiles(before, after)).map(([k, v]) => [k, target.plaintext ? redactOutput(v) : v]));
  return { configMap: cm, before, after, changedKeys: changedKeys(before, after), diff };
}

/**
 * Merge the Redis settings into the Halyard files in the ConfigMap (resourceVersion
 * precondition; a 409 is retried on fresh data), then make the Halyard pod's own files match.
 */
export async function applyHalyardChange(
  api: Pick<ClusterApi, 'readConfigMap' | 'replaceConfigMap' | 'listPods' | 'exec'>,
  config: MigrationConfig,
  executionArn: string,
  target: RedisTarget,
): Promise<HalyardPatchResult> {
  const change = await planHalyardChange(api, config, target, { lockOwner: executionArn });
  const cm = change.configMap;
  let resourceVersion = cm.metadata?.resourceVersion ?? '';
  if (change.changedKeys.length > 0) {
    const data = { ...(cm.data ?? {}) };
    for (const { key } of managedFiles(config)) if (change.after[key] !== undefined) data[key] = change.after[key]!;
    const updated = await api.replaceConfigMap(config.spinnaker.namespace, { ...cm, data });
    resourceVersion = updated.metadata?.resourceVersion ?? resourceVersion;
  }
  const podFilesWritten = await syncPodFiles(api, config, change.after);
  return { configMap: config.spinnaker.halyard.configMap, resourceVersion, changedKeys: change.changedKeys, podFilesWritten, patchedAt: new Date().toISOString() };
}

/**
 * The rollback: the ConfigMap's data back byte for byte from the backup annotation, and the
 * Halyard pod's files to match (files we added are removed).
 */
export async function restoreHalyardConfig(
  api: Pick<ClusterApi, 'readConfigMap' | 'replaceConfigMap' | 'listPods' | 'exec'>,
  config: MigrationConfig,
): Promise<{ restored: boolean; podFilesWritten: string[] }> {
  const { namespace } = config.spinnaker;
  const cm = await api.readConfigMap(namespace, config.spinnaker.halyard.configMap);
  const backup = backupOf(cm);
  if (!backup) throw new KubernetesRequestError(`The Halyard ConfigMap has no backup annotation; nothing to restore from. Restore it by hand from your own copy.`);
  const unchanged = JSON.stringify(cm.data ?? {}) === JSON.stringify(backup);
  if (!unchanged) await api.replaceConfigMap(namespace, { ...cm, data: backup });
  const podFilesWritten = await syncPodFiles(api, config, filesFromData(config, backup));
  return { restored: !unchanged, podFilesWritten };
}
