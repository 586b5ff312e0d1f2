/**
 * One notion of how Spinnaker is installed (docs/SPINNAKER-INSTALLS.md), and one interface for
 * changing its Redis config per flavour, used by the patch (PatchHalyardConfig), the rollback
 * restore (RestoreHalyardConfig) and the dry run (PlanMigration):
 *
 * - `halyard`: Halyard's Kubernetes V2 deployer, files in the Halyard ConfigMap and pod;
 * - `halyard-ha`: the same with `hal config deploy ha clouddriver` (spin-clouddriver-rw/-ro/
 *   -ro-deck/-caching). The same module: `redis.connection` in `clouddriver-local.yml` reaches
 *   every sub-service and wins over their `clouddriver-<mod>-overrides.yml` (§3.3), so the HA
 *   endpoints in ~/.hal/config are left alone (and restored trivially);
 * - `helm-stable`, `helm-opsmx`: the charts' two ConfigMaps and their Halyard StatefulSet (pod
 *   label `component=halyard`): lib/spinnaker/helm.ts;
 * - `operator`: Deployments managed by the Spinnaker Operator (`app.kubernetes.io/managed-by=spinnaker-operator`).
 *
 * Detected from what is in the namespace; `spinnaker.flavor` in the input wins. The
 * operator flavour is lib/spinnaker/operator.ts. Each flavour also owns the lock (annotations on
 * the object that holds the config) and tells whether Argo CD or Flux manage that object.
 */
import type { ExecutionStatus } from '../aws/executions.js';
import type { Flavor, MigrationConfig } from '../config/schema.js';
import { applyHalyardChange, type HalyardChange, type HalyardPatchResult, planHalyardChange, restoreHalyardConfig } from '../halyard/change.js';
import { type RedisTarget, redisTarget } from '../halyard/patch.js';
import type { ClusterApi } from '../kubernetes/api.js';
import { type AcquireResult, acquireLock, releaseLock } from '../kubernetes/lock.js';
import { type GitOpsManagement, gitOpsManagement } from './gitops.js';
import {
  acquireHelmLock,
  applyHelmChange,
  assertHelmChangeHolds,
  chartValues,
  halyardGitOps,
  type HelmPatchRef,
  helmNotes,
  planHelmChange,
  preflightHelm,
  releaseHelmLock,
  resolveHelm,
  restoreHelmConfig,
} from './helm.js';
import {
  acquireOperatorLock,
  applyOperatorChange,
  findSpinnakerService,
  type OperatorDeployRef,
  planOperatorChange,
  preflightOperatorChange,
  releaseOperatorLock,
  restoreOperatorConfig,
} from './operator.js';

export type { Flavor } from '../config/schema.js';

export interface FlavorDetection {
  flavor: Flavor;
  /** `input` when spinnaker.flavor was given, else `detected`. */
  source: 'input' | 'detected';
  /** What was found in the namespace, in words. */
  evidence: string[];
}

const HA_CLOUDDRIVER = ['spin-clouddriver-rw', 'spin-clouddriver-ro', 'spin-clouddriver-ro-deck', 'spin-clouddriver-caching'];

export async function detectFlavor(api: Pick<ClusterApi, 'listDeployments' | 'listPods'>, config: MigrationConfig): Promise<FlavorDetection> {
  const { namespace } = config.spinnaker;
  const evidence: string[] = [];
  const deployments = await api.listDeployments(namespace);
  const names = deployments.map((d) => d.metadata?.name ?? '');
  let flavor: Flavor = 'halyard';
  const operated = deployments.filter((d) => d.metadata?.labels?.['app.kubernetes.io/managed-by'] === 'spinnaker-operator').map((d) => d.metadata?.name);
  const chartHalyard = await api.listPods(namespace, 'component=halyard');
  if (operated.length > 0) {
    flavor = 'operator';
    evidence.push(`Deployments managed by spinnaker-operator: ${operated.join(', ')}`);
  } else if (chartHalyard.length > 0) {
    // Both charts label their Redis pods; Bitnami 16 (OpsMx) uses the app.kubernetes.io labels, stable/redis 10 `app: redis`.
    const bitnami16 = await api.listPods(namespace, 'app.kubernetes.io/name=redis');
    flavor = bitnami16.length > 0 ? 'helm-opsmx' : 'helm-stable';
    evidence.push(
      `Halyard pod ${chartHalyard[0]?.metadata?.name} has the charts' label component=halyard`,
      bitnami16.length > 0 ? 'Redis pods labelled app.kubernetes.io/name=redis (Bitnami 16: OpsMx chart)' : 'no Bitnami 16 Redis pods (stable chart)',
    );
  } else {
    const ha = HA_CLOUDDRIVER.filter((n) => names.includes(n));
    if (ha.length > 0) {
      flavor = 'halyard-ha';
      evidence.push(`HA clouddriver Deployments: ${ha.join(', ')}`);
    } else evidence.push(`Halyard Deployments (${names.filter((n) => n.startsWith('spin-')).length} spin-*), no HA clouddriver`);
  }
  const given = config.spinnaker.flavor;
  if (given) return { flavor: given, source: 'input', evidence: given === flavor ? evidence : [...evidence, `detected ${flavor}, but spinnaker.flavor says ${given}: the input wins`] };
  return { flavor, source: 'detected', evidence };
}

/** `$.halyard` for every flavour (`configMap` names the object that holds the config; `operator` what the rollout waits for). */
export type SpinnakerPatchResult = HalyardPatchResult & { flavor: Flavor; operator?: OperatorDeployRef; helm?: HelmPatchRef };

/** `$.restore` for every flavour. */
export interface SpinnakerRestoreResult {
  restored: boolean;
  podFilesWritten: string[];
  operator?: OperatorDeployRef;
  /** Helm: keys a `helm upgrade` re-rendered during the migration, kept as the chart wrote them (`<ConfigMap>/<key>`). */
  keptFromHelmUpgrade?: string[];
}

/** What a flavour's change looks like before it is made (the dry run shows `diff()`). */
export interface SpinnakerConfigChange {
  flavor: Flavor;
  /** The object that holds the config (and the lock): `ConfigMap spinnaker/halyard-config`. */
  holder: string;
  changedKeys: string[];
  diff(): Record<string, string>;
  /** What the flavour changes beyond the files, and what the user must still do. */
  notes: string[];
  /** Argo CD / Flux markers on the holder (empty when it is not GitOps-managed). */
  gitOps: GitOpsManagement[];
  /** The change in the form to commit to the repository that owns the holder. */
  toCommit(): string;
}

export interface SpinnakerConfigFlavor {
  readonly flavor: Flavor;
  plan(api: ClusterApi, config: MigrationConfig, target: RedisTarget, options?: { lockOwner?: string }): Promise<SpinnakerConfigChange>;
  /** Write the change with a precondition (resourceVersion), owned by `executionArn`'s lock. */
  apply(api: ClusterApi, config: MigrationConfig, executionArn: string, target: RedisTarget): Promise<SpinnakerPatchResult>;
  /** The config back byte for byte from the backup written with the lock (`patched`: what PatchHalyardConfig recorded, if it ran). */
  restore(api: ClusterApi, config: MigrationConfig, patched?: { helm?: HelmPatchRef } | null): Promise<SpinnakerRestoreResult>;
  /** Between the patch and the scale-down: our change still holds (Helm: no `helm upgrade` re-rendered it), else SpinnakerConfigRevertedError. */
  assertChangeHolds?(api: ClusterApi, config: MigrationConfig, patched: { helm?: HelmPatchRef } | null | undefined): Promise<void>;
  /** The config `hal deploy apply` and the pod-file steps work with (Helm: the chart's Halyard pod). */
  halyardConfig?(api: ClusterApi, config: MigrationConfig): Promise<MigrationConfig>;
  /** One migration per Spinnaker: the lock and the backup, on the holder. */
  acquire(api: ClusterApi, config: MigrationConfig, executionArn: string, executionStatus: (arn: string) => Promise<ExecutionStatus>): Promise<AcquireResult>;
  release(api: ClusterApi, config: MigrationConfig, executionArn: string): Promise<{ released: boolean; reason?: string }>;
  /** The holder's GitOps markers, read before anything is created. */
  gitOps(api: ClusterApi, config: MigrationConfig): Promise<{ holder: string; found: GitOpsManagement[] }>;
  /** Checks the holder's own validation can make before anything is created (the operator: a server-side dry run of the patch). */
  preflight?(api: ClusterApi, config: MigrationConfig): Promise<void>;
}

function halyardFlavor(flavor: 'halyard' | 'halyard-ha'): SpinnakerConfigFlavor {
  const notes =
    flavor === 'halyard-ha'
      ? [
          'HA clouddriver: clouddriver-local.yml gets redis.connection, which spin-clouddriver-rw/-ro/-ro-deck/-caching all load after their clouddriver-<mod>-overrides.yml, so it wins over deploymentEnvironment.haServices.clouddriver.redis*Endpoint; those endpoints in ~/.hal/config are left as they are (edit them with `hal config deploy ha clouddriver edit` if you want them to say the same).',
        ]
      : [];
  const holder = (config: MigrationConfig) => `ConfigMap ${config.spinnaker.namespace}/${config.spinnaker.halyard.configMap}`;
  const describe = (change: HalyardChange, config: MigrationConfig): SpinnakerConfigChange => ({
    flavor,
    holder: holder(config),
    changedKeys: change.changedKeys,
    diff: change.diff,
    notes,
    gitOps: gitOpsManagement(change.configMap.metadata),
    // The ConfigMap's keys, as a unified diff per key of the manifest in the repository.
    toCommit: () => Object.values(change.diff()).join(''),
  });
  return {
    flavor,
    async plan(api, config, target, options = {}) {
      return describe(await planHalyardChange(api, config, target, options), config);
    },
    async apply(api, config, executionArn, target) {
      return { flavor, ...(await applyHalyardChange(api, config, executionArn, target)) };
    },
    restore: (api, config) => restoreHalyardConfig(api, config),
    acquire: (api, config, executionArn, executionStatus) => acquireLock(api, config, executionArn, executionStatus),
    release: (api, config, executionArn) => releaseLock(api, config, executionArn),
    async gitOps(api, config) {
      const cm = await api.readConfigMap(config.spinnaker.namespace, config.spinnaker.halyard.configMap);
      return { holder: holder(config), found: gitOpsManagement(cm.metadata) };
    },
  };
}

const OPERATOR_NOTES = [
  'The Spinnaker Operator redeploys the services itself when spec.spinnakerConfig changes (no hal deploy apply); the rollout waits for status.lastDeployed.config.hash to change and status.status to be OK.',
  'skipLifeCycleManagement: true keeps the operator from re-applying spin-redis; the original config (restored on rollback) would re-apply it at 1 replica.',
];

function operatorFlavor(): SpinnakerConfigFlavor {
  return {
    flavor: 'operator',
    async plan(api, config, target, options = {}) {
      const change = await planOperatorChange(api, config, target, options);
      const manifest = change.found.cr;
      return {
        flavor: 'operator',
        holder: `SpinnakerService ${config.spinnaker.namespace}/${change.found.name} (${change.found.group})`,
        changedKeys: change.changedKeys,
        diff: change.diff,
        notes: OPERATOR_NOTES,
        gitOps: gitOpsManagement(manifest.metadata),
        toCommit: () => `# merge into spec.spinnakerConfig of ${manifest.kind ?? 'SpinnakerService'} ${change.found.name} (${change.found.group}/v1alpha2)\n${Object.values(change.diff()).join('')}`,
      };
    },
    async apply(api, config, executionArn, target) {
      const result = await applyOperatorChange(api, config, executionArn, target);
      return {
        flavor: 'operator',
        configMap: result.holder,
        resourceVersion: result.resourceVersion,
        changedKeys: result.changedKeys,
        podFilesWritten: [],
        operator: result.operator,
        patchedAt: new Date().toISOString(),
      };
    },
    restore: (api, config) => restoreOperatorConfig(api, config),
    acquire: (api, config, executionArn, executionStatus) => acquireOperatorLock(api, config, executionArn, executionStatus),
    release: (api, config, executionArn) => releaseOperatorLock(api, config, executionArn),
    async preflight(api, config) {
      // The primary endpoint is not known yet: a well-formed stand-in, so that Halyard's URL validation passes on the form.
      const target = redisTarget(config, { address: `master.${config.target.replicationGroupId}.preflight.invalid`, port: config.target.port });
      await preflightOperatorChange(api, config, target);
    },
    async gitOps(api, config) {
      const { cr, name, group } = await findSpinnakerService(api, config);
      return { holder: `SpinnakerService ${config.spinnaker.namespace}/${name} (${group})`, found: gitOpsManagement(cr.metadata) };
    },
  };
}

/**
 * The Helm charts (lib/spinnaker/helm.ts): the Halyard patch split over the chart's two
 * ConfigMaps and the chart's Halyard pod; the notes carry the chart values that keep the change
 * across the next `helm upgrade`.
 */
function helmFlavor(flavor: 'helm-stable' | 'helm-opsmx'): SpinnakerConfigFlavor {
  const holder = (config: MigrationConfig, maps: { serviceSettings: string; profiles: string }) =>
    `ConfigMaps ${config.spinnaker.namespace}/${maps.serviceSettings} and ${maps.profiles} (and the chart's Halyard pod)`;
  return {
    flavor,
    async plan(api, config, target, options = {}) {
      const change = await planHelmChange(api, config, target, options);
      const endpoint = /^rediss?:\/\/([^:/]+):(\d+)/.exec(target.baseUrl);
      const values = chartValues(config, target, { address: endpoint?.[1] ?? '<primary endpoint>', port: Number(endpoint?.[2] ?? config.target.port) });
      return {
        flavor,
        holder: holder(config, change.maps),
        changedKeys: change.changedKeys,
        diff: change.diff,
        notes: helmNotes(flavor, values),
        gitOps: [
          ...gitOpsManagement(change.configMaps[change.maps.serviceSettings]?.metadata),
          ...gitOpsManagement(change.configMaps[change.maps.profiles]?.metadata),
          ...(await halyardGitOps(api, change.halyardConfig)),
        ],
        // Under GitOps the chart values are what the repository holds.
        toCommit: () => `# merge into the chart values of the release (helm upgrade), not into the rendered ConfigMaps\n${values}`,
      };
    },
    async apply(api, config, executionArn, target) {
      const result = await applyHelmChange(api, config, executionArn, target);
      return { flavor, ...result, patchedAt: new Date().toISOString() };
    },
    async restore(api, config, patched) {
      const result = await restoreHelmConfig(api, config, patched?.helm);
      return { restored: result.restored, podFilesWritten: result.podFilesWritten, ...(result.keptFromHelmUpgrade.length ? { keptFromHelmUpgrade: result.keptFromHelmUpgrade } : {}) };
    },
    assertChangeHolds: (api, config, patched) => assertHelmChangeHolds(api, config, patched?.helm),
    // An explicit spinRedis.url (an external Redis, chart value redis.enabled false) needs no StatefulSet.
    preflight: (api, config) => (config.spinnaker.spinRedis.url && !config.spinnaker.spinRedis.statefulSet ? Promise.resolve() : preflightHelm(api, config)),
    halyardConfig: async (api, config) => (await resolveHelm(api, config)).halyardConfig,
    acquire: (api, config, executionArn, executionStatus) => acquireHelmLock(api, config, executionArn, executionStatus),
    release: (api, config, executionArn) => releaseHelmLock(api, config, executionArn),
    async gitOps(api, config) {
      const { maps, halyardConfig } = await resolveHelm(api, config);
      const found: GitOpsManagement[] = [];
      for (const name of [maps.serviceSettings, maps.profiles]) found.push(...gitOpsManagement((await api.readConfigMap(config.spinnaker.namespace, name)).metadata));
      found.push(...(await halyardGitOps(api, halyardConfig)));
      return { holder: holder(config, maps), found };
    },
  };
}

/** The module for a flavour. */
export function spinnakerConfigFlavor(flavor: Flavor): SpinnakerConfigFlavor {
  if (flavor === 'halyard' || flavor === 'halyard-ha') return halyardFlavor(flavor);
  if (flavor === 'operator') return operatorFlavor();
  return helmFlavor(flavor);
}

/**
 * The flavour a step works on: what AcquireMigrationLock found (`$.lock.flavor`), else what the
 * deploy step recorded (`deploy.flavor`: the rollback's rollout check gets only that), else the
 * input's, else plain Halyard.
 */
export function flavorOf(state: { config: MigrationConfig; lock?: { flavor?: Flavor } | null; deploy?: { flavor?: Flavor } | null }): Flavor {
  return state.lock?.flavor ?? state.deploy?.flavor ?? state.config.spinnaker.flavor ?? 'halyard';
}
