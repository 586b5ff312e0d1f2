/**
 * The Helm flavours: `helm-stable` (helm/charts stable/spinnaker 2.2.x) and `helm-opsmx`
 * (OpsMx/spinnaker-helm charts/spinnaker). Both charts (docs/SPINNAKER-INSTALLS.md §5) keep
 * the Halyard files in two ConfigMaps whose keys are the file names:
 *
 * - `<fullname>-service-settings` (templates/configmap/service-settings.yaml): `redis.yml`
 *   (`{skipLifeCycleManagement: true, overrideBaseUrl: redis://:<password>@<release>-redis-master:6379}`),
 *   `deck.yml`, and `halyard.additionalServiceSettings` merged over them;
 * - `<fullname>-additional-profile-config-maps` (templates/configmap/additional-profile-configmaps.yaml):
 *   `gate-local.yml` and `halyard.additionalProfileConfigMaps.data`;
 *
 * and run Halyard as the StatefulSet `<fullname>-halyard` (pod label `component=halyard`,
 * templates/statefulsets/halyard.yaml) whose init container (templates/configmap/halyard-init-script.yaml)
 * wipes ~/.hal/default/service-settings and profiles and copies the two ConfigMaps there on
 * every start. `hal deploy apply` is re-run by the post-install/post-upgrade hook Job
 * `<release>-install-using-hal` (templates/hooks/install-using-hal.yaml) against those files.
 *
 * So the change is the Halyard patch (lib/halyard/patch.ts, the same keys and content), split
 * over the two ConfigMaps by the file's directory, each written with its resourceVersion as the
 * precondition, then the same files in the running Halyard pod (the init container will not copy
 * them until the pod restarts), then `hal deploy apply` there. The lock and the backup of the
 * service-settings ConfigMap live on it; the profiles ConfigMap carries its own backup. What we
 * wrote is recorded as a SHA-256 per key (`$.halyard.helm.written`), so that a `helm upgrade`
 * during the migration (it re-renders the chart's keys; Helm 3's three-way merge keeps the keys
 * we added) is noticed: SpinnakerConfigRevertedError, and the rollback (docs/SPINNAKER-INSTALLS.md §5.4).
 *
 * The chart's own redis.yml holds the Bitnami password in its URL's user-info: every diff and
 * message is passed through redactOutput.
 */
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import type { ExecutionStatus } from '../aws/executions.js';
import type { MigrationConfig } from '../config/schema.js';
import { HalyardPodNotFoundError, InputValidationError, KubernetesRequestError, SpinnakerConfigRevertedError } from '../errors.js';
import { redactOutput } from '../halyard/deploy.js';
import { managedFiles, syncPodFiles } from '../halyard/files.js';
import { changedKeys, diffFiles, type HalyardFileSet, patchHalyardFiles, profileKey, REDIS_CLIENT_SERVICES, type RedisTarget } from '../halyard/patch.js';
import type { ClusterApi, ConfigMap, Pod } from '../kubernetes/api.js';
import { type AcquireResult, acquireLock, assertLockOwner, BACKUP_ANNOTATION, backupOf, releaseLock } from '../kubernetes/lock.js';
import type { GitOpsManagement } from './gitops.js';

/** The Halyard pod's label in both charts (templates/statefulsets/halyard.yaml). */
export const CHART_HALYARD_SELECTOR = 'component=halyard';

/** What PatchHalyardConfig records for a Helm install (`$.halyard.helm`). */
export interface HelmPatchRef {
  fullname: string;
  /** ConfigMap name -> key -> SHA-256 (hex) of the content we wrote; no content, so no secret. */
  written: Record<string, Record<string, string>>;
}

export interface HelmConfigMaps {
  fullname: string;
  serviceSettings: string;
  profiles: string;
}

export function helmConfigMapNames(fullname: string): HelmConfigMaps {
  return { fullname, serviceSettings: `${fullname}-service-settings`, profiles: `${fullname}-additional-profile-config-maps` };
}

/**
 * The input as the Halyard code sees a chart install: the Halyard pod found by the charts' label
 * (unless the input names another selector), the lock on the service-settings ConfigMap.
 * The file keys (`redis.yml`, `<svc>-local.yml`) and paths under ~/.hal/default are the charts' already.
 */
export function chartHalyardConfig(config: MigrationConfig, maps: HelmConfigMaps): MigrationConfig {
  const halyard = config.spinnaker.halyard;
  const podSelector = halyard.podSelector === 'app=halyard' ? `${CHART_HALYARD_SELECTOR},app=${maps.fullname}` : halyard.podSelector;
  return { ...config, spinnaker: { ...config.spinnaker, halyard: { ...halyard, podSelector, configMap: maps.serviceSettings } } };
}

/** `spinnaker.helm.fullname`, else the `app` label the charts put on the Halyard pod (spinnaker.standard-labels: `app: <fullname>`). */
export async function chartFullname(api: Pick<ClusterApi, 'listPods'>, config: MigrationConfig): Promise<string> {
  if (config.spinnaker.helm.fullname) return config.spinnaker.helm.fullname;
  const pods = await api.listPods(config.spinnaker.namespace, CHART_HALYARD_SELECTOR);
  const names = [...new Set(pods.map((p) => p.metadata?.labels?.app).filter((v): v is string => Boolean(v)))];
  if (names.length !== 1) {
    throw new HalyardPodNotFoundError(
      `${names.length === 0 ? 'No Halyard pod' : `Halyard pods of ${names.length} releases (${names.join(', ')})`} labelled ${CHART_HALYARD_SELECTOR} with an app label in ${config.spinnaker.namespace}: set spinnaker.helm.fullname (the chart's <release>-spinnaker).`,
    );
  }
  return names[0]!;
}

export async function resolveHelm(api: Pick<ClusterApi, 'listPods'>, config: MigrationConfig): Promise<{ maps: HelmConfigMaps; halyardConfig: MigrationConfig }> {
  const maps = helmConfigMapNames(await chartFullname(api, config));
  return { maps, halyardConfig: chartHalyardConfig(config, maps) };
}

/** The ConfigMap a Halyard file lives in: service-settings/* in one, profiles/* in the other. */
function holderOf(maps: HelmConfigMaps, path: string): string {
  return path.startsWith('service-settings/') ? maps.serviceSettings : maps.profiles;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export interface HelmChange {
  maps: HelmConfigMaps;
  halyardConfig: MigrationConfig;
  configMaps: Record<string, ConfigMap>;
  before: HalyardFileSet;
  after: HalyardFileSet;
  /** `<ConfigMap>/<key>` */
  changedKeys: string[];
  diff: () => Record<string, string>;
}

function filesOf(config: MigrationConfig, maps: HelmConfigMaps, data: (configMap: string) => Record<string, string> | undefined): HalyardFileSet {
  return Object.fromEntries(managedFiles(config).map(({ key, path }) => [key, data(holderOf(maps, path))?.[key]]));
}

export async function planHelmChange(api: Pick<ClusterApi, 'listPods' | 'readConfigMap'>, config: MigrationConfig, target: RedisTarget, options: { lockOwner?: string } = {}): Promise<HelmChange> {
  const { maps, halyardConfig } = await resolveHelm(api, config);
  const { namespace } = config.spinnaker;
  const configMaps = {
    [maps.serviceSettings]: await api.readConfigMap(namespace, maps.serviceSettings),
    [maps.profiles]: await api.readConfigMap(namespace, maps.profiles),
  };
  if (options.lockOwner !== undefined) assertLockOwner(configMaps[maps.serviceSettings]!, options.lockOwner);
  const before = filesOf(halyardConfig, maps, (name) => configMaps[name]?.data);
  const after = patchHalyardFiles(halyardConfig, before, target);
  const where = (key: string) => holderOf(maps, managedFiles(halyardConfig).find((f) => f.key === key)?.path ?? '');
  const changed = changedKeys(before, after);
  // The chart's redis.yml carries the Bitnami password in its URL: always redacted.
  const diff = () => Object.fromEntries(Object.entries(diffFiles(before, after)).map(([k, v]) => [`${where(k)}/${k}`, redactOutput(v)]));
  return { maps, halyardConfig, configMaps, before, after, changedKeys: changed.map((k) => `${where(k)}/${k}`), diff };
}

/**
 * Write both ConfigMaps (resourceVersion precondition each; a 409 is retried on fresh data by
 * the step), then the same files in the Halyard pod.
 */
export async function applyHelmChange(
  api: Pick<ClusterApi, 'listPods' | 'readConfigMap' | 'replaceConfigMap' | 'exec'>,
  config: MigrationConfig,
  executionArn: string,
  target: RedisTarget,
): Promise<{ configMap: string; resourceVersion: string; changedKeys: string[]; podFilesWritten: string[]; helm: HelmPatchRef }> {
  const change = await planHelmChange(api, config, target, { lockOwner: executionArn });
  const { maps, halyardConfig } = change;
  const written: HelmPatchRef['written'] = {};
  let resourceVersion = '';
  for (const name of [maps.serviceSettings, maps.profiles]) {
    const cm = change.configMaps[name]!;
    const data = { ...(cm.data ?? {}) };
    // Against the backup, not this read: a retry after a partial write must still record every key we changed.
    const original = backupOf(cm) ?? cm.data ?? {};
    const mine: Record<string, string> = {};
    let differs = false;
    for (const { key, path } of managedFiles(halyardConfig)) {
      if (holderOf(maps, path) !== name || change.after[key] === undefined) continue;
      data[key] = change.after[key]!;
      if (change.after[key] !== original[key]) mine[key] = sha256(change.after[key]!);
      if (change.after[key] !== change.before[key]) differs = true;
    }
    written[name] = mine;
    if (!differs) continue;
    const updated = await api.replaceConfigMap(config.spinnaker.namespace, { ...cm, data });
    if (name === maps.serviceSettings) resourceVersion = updated.metadata?.resourceVersion ?? '';
  }
  const podFilesWritten = await syncPodFiles(api, halyardConfig, change.after);
  return { configMap: `${maps.serviceSettings}, ${maps.profiles}`, resourceVersion, changedKeys: change.changedKeys, podFilesWritten, helm: { fullname: maps.fullname, written } };
}

/** Keys whose content is no longer what we wrote (a `helm upgrade` re-rendered them, or someone edited them). */
export async function revertedKeys(api: Pick<ClusterApi, 'readConfigMap'>, config: MigrationConfig, ref: HelmPatchRef): Promise<string[]> {
  const out: string[] = [];
  for (const [name, keys] of Object.entries(ref.written)) {
    if (Object.keys(keys).length === 0) continue;
    const cm = await api.readConfigMap(config.spinnaker.namespace, name);
    for (const [key, digest] of Object.entries(keys)) {
      const value = cm.data?.[key];
      if (value === undefined || sha256(value) !== digest) out.push(`${name}/${key}`);
    }
  }
  return out;
}

/**
 * Between the patch and the scale-down of spin-redis: our change must still be in the
 * ConfigMaps. A `helm upgrade` re-renders the chart's keys (redis.yml, gate-local.yml) from its
 * values and keeps the keys we added (Helm 3's three-way merge), and its hook runs hal deploy apply:
 * the next Halyard start (or the hook, if the upgrade restarted it) would split Spinnaker
 * between spin-redis and ElastiCache. We do not fight the upgrade (re-applying would race its
 * hook and undo whatever else it changed): SpinnakerConfigRevertedError, and the rollback moves
 * everything back to spin-redis while it still runs.
 */
export async function assertHelmChangeHolds(api: Pick<ClusterApi, 'readConfigMap'>, config: MigrationConfig, ref: HelmPatchRef | undefined): Promise<void> {
  if (!ref) return;
  const reverted = await revertedKeys(api, config, ref);
  if (reverted.length === 0) return;
  throw new SpinnakerConfigRevertedError(
    `The chart's ConfigMaps changed after our patch (${reverted.join(', ')}): a helm upgrade (or someone) re-rendered them from the chart values, which still point at spin-redis, and its hook re-runs hal deploy apply. Rolling back to spin-redis before it is scaled down. Set the chart values shown in the plan (README, "Helm installs") and run the migration again.`,
  );
}

/**
 * The rollback: each ConfigMap back byte for byte from its backup annotation, unless its content
 * is no longer what we wrote (a `helm upgrade` re-rendered it: the chart's newer content is kept,
 * and it points at spin-redis already); then the Halyard pod's files equal to what the
 * ConfigMaps now say, which is what its init container would copy on the next start.
 */
export async function restoreHelmConfig(
  api: Pick<ClusterApi, 'listPods' | 'readConfigMap' | 'replaceConfigMap' | 'exec'>,
  config: MigrationConfig,
  patched?: HelmPatchRef,
): Promise<{ restored: boolean; podFilesWritten: string[]; keptFromHelmUpgrade: string[] }> {
  const { maps, halyardConfig } = await resolveHelm(api, config);
  const { namespace } = config.spinnaker;
  const reverted = patched ? await revertedKeys(api, config, patched) : [];
  const final: Record<string, Record<string, string>> = {};
  let restored = false;
  const kept: string[] = [];
  for (const name of [maps.serviceSettings, maps.profiles]) {
    const cm = await api.readConfigMap(namespace, name);
    const backup = backupOf(cm);
    if (!backup)
      throw new KubernetesRequestError(
        `The ConfigMap ${namespace}/${name} has no backup annotation; nothing to restore from. Restore it by hand from your own copy (or helm upgrade with your values).`,
      );
    const foreign = reverted.filter((k) => k.startsWith(`${name}/`));
    if (foreign.length > 0) {
      // Someone else's newer content: keep it (their keys), but take out what we added.
      kept.push(...foreign);
      const data = { ...(cm.data ?? {}) };
      for (const key of Object.keys(patched?.written[name] ?? {})) {
        if (foreign.includes(`${name}/${key}`)) continue;
        if (backup[key] === undefined) delete data[key];
        else data[key] = backup[key];
      }
      if (JSON.stringify(data) !== JSON.stringify(cm.data ?? {})) {
        await api.replaceConfigMap(namespace, { ...cm, data });
        restored = true;
      }
      final[name] = data;
      continue;
    }
    if (JSON.stringify(cm.data ?? {}) !== JSON.stringify(backup)) {
      await api.replaceConfigMap(namespace, { ...cm, data: backup });
      restored = true;
    }
    final[name] = backup;
  }
  const podFilesWritten = await syncPodFiles(
    api,
    halyardConfig,
    filesOf(halyardConfig, maps, (name) => final[name]),
  );
  return { restored, podFilesWritten, keptFromHelmUpgrade: kept };
}

/** The lock and the service-settings backup on that ConfigMap (lib/kubernetes/lock.ts), then the profiles ConfigMap's own backup. */
export async function acquireHelmLock(
  api: Pick<ClusterApi, 'listPods' | 'readConfigMap' | 'replaceConfigMap'>,
  config: MigrationConfig,
  executionArn: string,
  executionStatus: (arn: string) => Promise<ExecutionStatus>,
): Promise<AcquireResult> {
  const { maps, halyardConfig } = await resolveHelm(api, config);
  const lock = await acquireLock(api, halyardConfig, executionArn, executionStatus);
  const cm = await api.readConfigMap(config.spinnaker.namespace, maps.profiles);
  if (cm.metadata?.annotations?.[BACKUP_ANNOTATION] === undefined) {
    await api.replaceConfigMap(config.spinnaker.namespace, {
      ...cm,
      metadata: { ...cm.metadata, annotations: { ...(cm.metadata?.annotations ?? {}), [BACKUP_ANNOTATION]: JSON.stringify(cm.data ?? {}) } },
    });
  }
  return lock;
}

export async function releaseHelmLock(
  api: Pick<ClusterApi, 'listPods' | 'readConfigMap' | 'replaceConfigMap'>,
  config: MigrationConfig,
  executionArn: string,
): Promise<{ released: boolean; reason?: string }> {
  const { maps, halyardConfig } = await resolveHelm(api, config);
  const result = await releaseLock(api, halyardConfig, executionArn);
  if (!result.released) return result;
  const cm = await api.readConfigMap(config.spinnaker.namespace, maps.profiles);
  const annotations = { ...(cm.metadata?.annotations ?? {}) };
  if (annotations[BACKUP_ANNOTATION] !== undefined) {
    delete annotations[BACKUP_ANNOTATION];
    await api.replaceConfigMap(config.spinnaker.namespace, { ...cm, metadata: { ...cm.metadata, annotations } });
  }
  return result;
}

/**
 * OpsMx's GitOps mode (`halyard.gitops.enabled`, OpsMx/spinnaker-helm
 * templates/statefulsets/halyard.yaml and configmap/halyard-init-script.yaml): the init container
 * `create-halyard-local` wipes ~/.hal and clones it from git (env GIT_CLONE_PARAM) or copies it
 * from S3 (env S3_BUCKET), an init container `halyardconfig-update` follows, and the Halyard
 * container's postStart runs `hal deploy apply`. The ConfigMaps are then not the source: a
 * change made in the cluster is gone at the next Halyard start, and deployed by it.
 */
export function opsmxGitOpsMode(pod: Pod): GitOpsManagement | undefined {
  const markers: string[] = [];
  for (const c of pod.spec?.initContainers ?? []) {
    if (c.name === 'halyardconfig-update') markers.push('init container halyardconfig-update');
    for (const e of c.env ?? []) if (e.name === 'GIT_CLONE_PARAM' || e.name === 'S3_BUCKET') markers.push(`init container ${c.name} env ${e.name}`);
  }
  const postStart = pod.spec?.containers.find((c) => c.name === 'halyard')?.lifecycle?.postStart?.exec?.command?.join(' ') ?? '';
  if (/hal deploy apply/.test(postStart)) markers.push('halyard postStart runs hal deploy apply');
  return markers.length > 0 ? { tool: 'OpsMx Halyard GitOps', markers } : undefined;
}

/** OpsMx's GitOps mode, read from the chart's Halyard pod(s). */
export async function halyardGitOps(api: Pick<ClusterApi, 'listPods'>, halyardConfig: MigrationConfig): Promise<GitOpsManagement[]> {
  const pods = await api.listPods(halyardConfig.spinnaker.namespace, halyardConfig.spinnaker.halyard.podSelector);
  return pods
    .map(opsmxGitOpsMode)
    .filter((g): g is GitOpsManagement => g !== undefined)
    .slice(0, 1);
}

/**
 * Before anything is created: on a chart install spin-redis is the Bitnami StatefulSet
 * `<release>-redis-master` with a password, not Halyard's `spin-redis` Deployment. An input that
 * still says the latter would fail at the copy, after the group was created: refused here with
 * the values to set (the release from the Halyard pod's `release` label).
 */
export async function preflightHelm(api: Pick<ClusterApi, 'listPods'>, config: MigrationConfig): Promise<void> {
  const { spinRedis, namespace } = config.spinnaker;
  if (spinRedis.statefulSet && spinRedis.passwordSecret) return;
  const pods = await api.listPods(namespace, CHART_HALYARD_SELECTOR);
  const release = pods.map((p) => p.metadata?.labels?.release).find(Boolean) ?? '<release>';
  const issues = [
    ...(spinRedis.statefulSet
      ? []
      : [
          {
            path: 'spinnaker.spinRedis.statefulSet',
            message: `a Helm install runs spin-redis as the Bitnami StatefulSet ${release}-redis-master: set it (unless redis.enabled is false in the chart values: then migrate from that external Redis with spinRedis.url)`,
          },
        ]),
    ...(spinRedis.passwordSecret ? [] : [{ path: 'spinnaker.spinRedis.passwordSecret', message: `the Bitnami Redis has a password: set { "name": "${release}-redis", "key": "redis-password" }` }]),
  ];
  throw new InputValidationError(
    `This is a Helm install (a Halyard pod labelled ${CHART_HALYARD_SELECTOR}). Nothing was created.\n${issues.map((i) => `- ${i.path}: ${i.message}`).join('\n')}`,
    issues,
  );
}

/**
 * The chart values that keep Spinnaker on ElastiCache across `helm upgrade` (both charts:
 * service-settings.yaml and additional-profile-configmaps.yaml merge these over their defaults
 * with mergeOverwrite), as YAML to merge into the user's values file. `redis.enabled: false`
 * drops the Bitnami subchart on that upgrade (its PVC stays); while it is true, the upgrade
 * re-applies `<release>-redis-master` at 1 replica.
 */
export function chartValues(config: MigrationConfig, target: RedisTarget, endpoint: { address: string; port: number }): string {
  const profiles: Record<string, unknown> = {};
  for (const service of REDIS_CLIENT_SERVICES) {
    const key = profileKey(config, service).key;
    profiles[key] = { redis: { connection: target.connection, ...(service === 'gate' ? { configuration: { secure: true } } : {}) } };
  }
  const values = {
    redis: { enabled: false, external: { host: endpoint.address, port: endpoint.port } },
    halyard: {
      additionalServiceSettings: { 'redis.yml': { overrideBaseUrl: target.baseUrl, skipLifeCycleManagement: true } },
      additionalProfileConfigMaps: { data: profiles },
    },
  };
  return redactOutput(stringify(values));
}

export function helmNotes(flavor: 'helm-stable' | 'helm-opsmx', values: string): string[] {
  const chart = flavor === 'helm-stable' ? 'stable/spinnaker' : "OpsMx's spinnaker-helm";
  return [
    `${chart}: the migration patches the two ConfigMaps and the files in the running Halyard pod, and runs hal deploy apply there. The next \`helm upgrade\` re-renders those ConfigMaps from your chart values and its hook re-runs hal deploy apply: before it, merge these values into your values file (into any gate-local.yml or other profile you already set there), so that it keeps Spinnaker on ElastiCache:\n${values}`,
    'redis.enabled: false removes the Bitnami Redis StatefulSet and its Secret on that upgrade; its PVC (redis-data-<release>-redis-master-0) stays, with the data as it was at the switch. Leave redis.enabled true until you no longer want the way back: the upgrade then runs it again at 1 replica, unused.',
    'The pods read the Redis URL secret with their own IAM role: the chart does not set one. Annotate the service account the Spinnaker pods run as with eks.amazonaws.com/role-arn (IRSA) or grant the node role secretsmanager:GetSecretValue on it.',
    ...(flavor === 'helm-opsmx'
      ? [
          'OpsMx GitOps mode (halyard.gitops.enabled): the Halyard pod takes ~/.hal from git or S3 on every start, not from these ConfigMaps. Commit the same change there; the migration does not detect that mode.',
        ]
      : []),
  ];
}
