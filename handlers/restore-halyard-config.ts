/**
 * RestoreHalyardConfig (`$.restore`, rollback): the ConfigMap's data back byte for byte from
 * the backup annotation, and the Halyard pod's files to match (files we added are removed).
 */
import type { MigrationConfig } from '../lib/config/schema.js';
import { KubernetesRequestError } from '../lib/errors.js';
import { filesFromData, syncPodFiles } from '../lib/halyard/files.js';
import type { ClusterApi } from '../lib/kubernetes/api.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { backupOf } from '../lib/kubernetes/lock.js';
import { defineHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { api: (config: MigrationConfig) => ClusterApi }) {
  return defineHandler('RestoreHalyardConfig', async (state: MigrationState) => {
    const { config } = state;
    const api = deps.api(config);
    const { namespace } = config.spinnaker;
    const cm = await api.readConfigMap(namespace, config.spinnaker.halyard.configMap);
    const backup = backupOf(cm);
    if (!backup) throw new KubernetesRequestError(`The Halyard ConfigMap has no backup annotation; nothing to restore from. Restore it by hand from your own copy.`);
    const unchanged = JSON.stringify(cm.data ?? {}) === JSON.stringify(backup);
    if (!unchanged) await api.replaceConfigMap(namespace, { ...cm, data: backup });
    const podFilesWritten = await syncPodFiles(api, config, filesFromData(config, backup));
    return { restored: !unchanged, podFilesWritten };
  });
}

export const handler = createHandler({ api: clusterApiFor });
