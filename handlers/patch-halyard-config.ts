/**
 * PatchHalyardConfig (`$.halyard`): merge the Redis settings into the Halyard files in the
 * ConfigMap (resourceVersion precondition; a 409 is retried on fresh data), then make the
 * Halyard pod's own files match.
 */
import type { MigrationConfig } from '../lib/config/schema.js';
import { InvalidAwsResponseError } from '../lib/errors.js';
import { filesFromData, managedFiles, syncPodFiles } from '../lib/halyard/files.js';
import { changedKeys, patchHalyardFiles, redisTarget } from '../lib/halyard/patch.js';
import type { ClusterApi } from '../lib/kubernetes/api.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { assertLockOwner } from '../lib/kubernetes/lock.js';
import { defineHandler } from '../lib/workflow/handler.js';
import type { HalyardPatchResult, MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { api: (config: MigrationConfig) => ClusterApi }) {
  return defineHandler('PatchHalyardConfig', async (state: MigrationState): Promise<HalyardPatchResult> => {
    const { config } = state;
    const endpoint = state.replicationGroup?.primaryEndpoint;
    if (!endpoint) throw new InvalidAwsResponseError('No primary endpoint in the state: the replication group is not available');
    const api = deps.api(config);
    const { namespace } = config.spinnaker;
    const cm = await api.readConfigMap(namespace, config.spinnaker.halyard.configMap);
    assertLockOwner(cm, state.execution.arn);
    const before = filesFromData(config, cm.data);
    const after = patchHalyardFiles(config, before, redisTarget(config, endpoint));
    const changed = changedKeys(before, after);
    let resourceVersion = cm.metadata?.resourceVersion ?? '';
    if (changed.length > 0) {
      const data = { ...(cm.data ?? {}) };
      for (const { key } of managedFiles(config)) if (after[key] !== undefined) data[key] = after[key]!;
      const updated = await api.replaceConfigMap(namespace, { ...cm, data });
      resourceVersion = updated.metadata?.resourceVersion ?? resourceVersion;
    }
    const podFilesWritten = await syncPodFiles(api, config, after);
    return { configMap: config.spinnaker.halyard.configMap, resourceVersion, changedKeys: changed, podFilesWritten };
  });
}

export const handler = createHandler({ api: clusterApiFor });
