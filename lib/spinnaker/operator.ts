/**
 * The `operator` flavour: Spinnaker installed by the Spinnaker Operator, its config in a
 * `SpinnakerService` (spinnaker.io/v1alpha2, or Armory's spinnaker.armory.io/v1alpha2; plural
 * spinnakerservices, namespaced, status subresource). docs/SPINNAKER-INSTALLS.md §0.7, §4:
 *
 * - `spec.spinnakerConfig.service-settings.redis` becomes `service-settings/redis.yml` and
 *   `spec.spinnakerConfig.profiles.<svc>` becomes `profiles/<svc>-local.yml`: the same settings as
 *   the Halyard patch (lib/halyard/patch.ts), as objects.
 * - The change is one JSON merge patch (custom resources refuse strategic merge, 415) with
 *   `metadata.resourceVersion` as the precondition (409 -> KubernetesConflictError, retried on
 *   fresh data). A validating webhook may deny it: SpinnakerConfigRejectedError.
 * - The operator redeploys when md5(spec.spinnakerConfig) differs from
 *   `status.lastDeployed.config.hash` (changedetector/config.go). We do not recompute its hash
 *   (Go's JSON encoding of its struct is not ours to copy): we record the hash before our write
 *   and wait until it has changed and `status.status` is `OK`; `Failure` is read with the
 *   resource's DeployFailed/DeployError Events.
 * - The lock and the backup (the original `spec.spinnakerConfig`, JSON, and the operator's hash
 *   of it then, which the rollback waits for again) are annotations on the SpinnakerService, written with the same precondition; metadata is not part of the hash, so
 *   they do not redeploy anything. The restore replaces `spec.spinnakerConfig` with the backup
 *   (JSON patch with a `test` of resourceVersion), byte for byte.
 */
import { stringify } from 'yaml';
import type { ExecutionStatus } from '../aws/executions.js';
import type { MigrationConfig } from '../config/schema.js';
import {
  KubernetesNotFoundError,
  MigrationError,
  MigrationLockedError,
  RolloutTimeoutError,
  SpinnakerConfigRejectedError,
  SpinnakerFlavorUnsupportedError,
  SpinnakerOperatorDeployFailedError,
} from '../errors.js';
import { redactOutput } from '../halyard/deploy.js';
import { REDIS_CLIENT_SERVICES, type RedisTarget, unifiedDiff } from '../halyard/patch.js';
import type { ClusterApi, ConfigMap, SpinnakerService, SpinnakerServiceGroup } from '../kubernetes/api.js';
import { BACKUP_ANNOTATION, LOCK_ANNOTATION, lockDecision, lockHolder, type AcquireResult } from '../kubernetes/lock.js';
import { checkRollout, type PauseMarks, type RolloutResult } from '../kubernetes/rollout.js';

/** The detector key of the config hash in `status.lastDeployed` (changedetector/config.go SpinnakerConfigHashKey). */
export const CONFIG_HASH_KEY = 'config';
/** With the backup: the operator's config hash when it was taken, which the restored config deploys as again. */
export const BACKUP_HASH_ANNOTATION = 'spin-elasticache.io/backup-config-hash';

/** Where the Operator's SpinnakerService may live: the open-source operator's group, then Armory's. */
const SPINNAKER_SERVICE_GROUPS: readonly SpinnakerServiceGroup[] = ['spinnaker.io', 'spinnaker.armory.io'];

type Json = Record<string, unknown>;

export interface FoundSpinnakerService {
  cr: SpinnakerService;
  name: string;
  group: SpinnakerServiceGroup;
}

/** What the wait needs to know about a write to the SpinnakerService. */
export interface OperatorDeployRef {
  name: string;
  group: SpinnakerServiceGroup;
  /** `status.lastDeployed.config.hash` before our write: picked up once it differs. Absent when nothing was written (then only `OK` is awaited). */
  waitPastHash?: string;
  /** Rollback: the hash from before the patch, which the restored config deploys as again (picked up once equal, e.g. when the patched config never deployed). */
  waitForHash?: string;
  /** When we wrote, and the resourceVersion we wrote: a Failure counts only with a DeployFailed/DeployError Event about our write. */
  writtenAt?: string;
  resourceVersion?: string;
}

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The SpinnakerService of the namespace (spinnaker.operator.name when there are several). */
export async function findSpinnakerService(api: Pick<ClusterApi, 'listSpinnakerServices'>, config: MigrationConfig): Promise<FoundSpinnakerService> {
  const { namespace } = config.spinnaker;
  const wanted = config.spinnaker.operator.name;
  const groups = config.spinnaker.operator.apiGroup ? [config.spinnaker.operator.apiGroup] : SPINNAKER_SERVICE_GROUPS;
  const found: FoundSpinnakerService[] = [];
  for (const group of groups) {
    for (const cr of await api.listSpinnakerServices(namespace, group)) {
      const name = cr.metadata?.name ?? '';
      if (!wanted || name === wanted) found.push({ cr, name, group });
    }
  }
  if (found.length === 0) {
    throw new KubernetesNotFoundError(
      `No SpinnakerService${wanted ? ` named ${wanted}` : ''} in ${namespace} (looked in ${groups.map((g) => `spinnakerservices.${g}`).join(' and ')}). Check spinnaker.namespace and spinnaker.operator.`,
    );
  }
  if (found.length > 1) {
    throw new SpinnakerFlavorUnsupportedError(
      `${found.length} SpinnakerServices in ${namespace} (${found.map((f) => `${f.group}/${f.name}`).join(', ')}): set spinnaker.operator.name (and apiGroup). Nothing was created.`,
    );
  }
  return found[0]!;
}

/** The object at `path`, made where absent or null. */
function objectAt(root: Json, path: string[], where: string): Json {
  let node = root;
  for (const key of path) {
    const next = node[key];
    if (next === undefined || next === null) node[key] = {};
    else if (!isObject(next)) throw new SpinnakerConfigRejectedError(`${where}.${key} is not an object in the SpinnakerService; cannot set ${path.join('.')} in it`);
    node = node[key] as Json;
  }
  return node;
}

function setIn(root: Json, path: string[], value: unknown, where: string): void {
  objectAt(root, path.slice(0, -1), where)[path.at(-1)!] = value;
}

/**
 * A profile property set nested (`redis: {connection: …}`) and, where the profile also spells it
 * with dotted keys (`redis.connection: …`, or `configuration.secure` under `redis`), there too:
 * Spring flattens the generated `<svc>-local.yml` by joining keys with '.', so a dotted spelling
 * is the same property, and Go's YAML marshalling sorts `redis.connection` after `redis`: it would win.
 */
function setInProfile(profile: Json, path: string[], value: unknown, where: string): void {
  setIn(profile, path, value, where);
  const visit = (node: Json, rest: string[], prefix: string, dotted: boolean) => {
    for (const key of Object.keys(node)) {
      const segments = key.split('.');
      if (segments.length > rest.length || !segments.every((s, i) => s === rest[i])) continue;
      const remaining = rest.slice(segments.length);
      const isDotted = dotted || segments.length > 1;
      const child = node[key];
      if (remaining.length === 0) {
        if (!isDotted) continue;
        if (isObject(child) || Array.isArray(child))
          throw new SpinnakerConfigRejectedError(`${prefix}.${key} (Spring reads it as ${path.join('.')}) is not a single value in the SpinnakerService; remove it and run again`);
        node[key] = value;
      } else if (isObject(child)) visit(child, remaining, `${prefix}.${key}`, isDotted);
    }
  };
  visit(profile, path, where, false);
}

/** spec.spinnakerConfig with the Redis settings of lib/halyard/patch.ts patchHalyardFiles, as objects. */
export function patchSpinnakerConfig(before: Json, target: RedisTarget): Json {
  const after = structuredClone(before);
  setIn(after, ['service-settings', 'redis', 'overrideBaseUrl'], target.baseUrl, 'spec.spinnakerConfig');
  setIn(after, ['service-settings', 'redis', 'skipLifeCycleManagement'], true, 'spec.spinnakerConfig');
  const profile = (service: string): Json => objectAt(after, ['profiles', service], 'spec.spinnakerConfig');
  for (const service of REDIS_CLIENT_SERVICES) setInProfile(profile(service), ['redis', 'connection'], target.connection, `spec.spinnakerConfig.profiles.${service}`);
  setInProfile(profile('gate'), ['redis', 'configuration', 'secure'], true, 'spec.spinnakerConfig.profiles.gate');
  return after;
}

/** RFC 7386 patch from `before` to `after` (our change only adds or replaces values). */
export function mergePatchBetween(before: unknown, after: unknown): unknown {
  if (!isObject(before) || !isObject(after)) return after;
  const out: Json = {};
  for (const [k, v] of Object.entries(after)) {
    if (JSON.stringify(before[k]) === JSON.stringify(v)) continue;
    out[k] = before[k] !== undefined && isObject(before[k]) && isObject(v) ? mergePatchBetween(before[k], v) : v;
  }
  for (const k of Object.keys(before)) if (!(k in after)) out[k] = null;
  return out;
}

/** The objects the operator turns into files, by the field path of each. */
function sections(cfg: Json): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const ss = cfg['service-settings'];
  if (isObject(ss) && ss.redis !== undefined) out['spec.spinnakerConfig.service-settings.redis'] = ss.redis;
  const profiles = cfg.profiles;
  if (isObject(profiles)) for (const [svc, v] of Object.entries(profiles)) out[`spec.spinnakerConfig.profiles.${svc}`] = v;
  return out;
}

export interface OperatorChange {
  found: FoundSpinnakerService;
  before: Json;
  after: Json;
  changedKeys: string[];
  /** The merge patch of spec.spinnakerConfig (what to commit when a GitOps tool owns the resource). */
  patch: unknown;
  diff: () => Record<string, string>;
}

export async function planOperatorChange(api: Pick<ClusterApi, 'listSpinnakerServices'>, config: MigrationConfig, target: RedisTarget, options: { lockOwner?: string } = {}): Promise<OperatorChange> {
  const found = await findSpinnakerService(api, config);
  if (options.lockOwner !== undefined) assertOperatorLockOwner(found.cr, options.lockOwner);
  const raw = found.cr.spec?.spinnakerConfig ?? {};
  if (!isObject(raw)) throw new SpinnakerConfigRejectedError(`spec.spinnakerConfig of SpinnakerService ${found.name} is not an object`);
  const before = raw;
  const after = patchSpinnakerConfig(before, target);
  const a = sections(before);
  const b = sections(after);
  const changedKeys = Object.keys(b)
    .filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
    .sort();
  const yaml = (v: unknown) => (v === undefined ? '' : stringify(v));
  const diff = () => Object.fromEntries(changedKeys.map((k) => [k, ((d: string) => (target.plaintext ? redactOutput(d) : d))(unifiedDiff(yaml(a[k]), yaml(b[k]), k))]));
  return { found, before, after, changedKeys, patch: mergePatchBetween(before, after), diff };
}

/** A denial by the SpinnakerService validating webhook, as the API server words it, becomes SpinnakerConfigRejectedError. */
function webhookDenial(error: unknown, name: string, dryRun = false): never {
  const message = error instanceof Error ? error.message : String(error);
  if (/admission webhook .* denied the request/i.test(message)) {
    throw new SpinnakerConfigRejectedError(
      `The SpinnakerService validating webhook denied the change to ${name} (the operator runs Halyard's validation on every update)${dryRun ? ' in a server-side dry run, before anything was created' : ''}: ${message}. The SpinnakerService is unchanged.`,
      { cause: error },
    );
  }
  throw error;
}

/**
 * The patch as a server-side dry run (`?dryRun=All`; the operator's webhook declares
 * sideEffects None, so it runs), with a stand-in for the endpoint that is not known yet: a
 * denial comes before anything is created. Nothing is stored.
 */
export async function preflightOperatorChange(api: Pick<ClusterApi, 'listSpinnakerServices' | 'patchSpinnakerService'>, config: MigrationConfig, target: RedisTarget): Promise<void> {
  const change = await planOperatorChange(api, config, target);
  if (change.changedKeys.length === 0) return;
  const { cr, name, group } = change.found;
  await api
    .patchSpinnakerService(config.spinnaker.namespace, name, group, { metadata: { resourceVersion: cr.metadata?.resourceVersion }, spec: { spinnakerConfig: change.patch } }, 'merge', { dryRun: true })
    .catch((error: unknown) => webhookDenial(error, name, true));
}

export function operatorLockHolderOf(cr: SpinnakerService) {
  return lockHolder({ metadata: cr.metadata } as ConfigMap);
}

export function assertOperatorLockOwner(cr: SpinnakerService, executionArn: string): void {
  const holder = operatorLockHolderOf(cr);
  if (holder?.owner !== executionArn) {
    throw new MigrationLockedError(`The migration lock on the SpinnakerService ${cr.metadata?.name} is held by ${holder?.owner ?? 'nobody'}, not this execution`);
  }
}

const lastHash = (cr: SpinnakerService): string | undefined => cr.status?.lastDeployed?.[CONFIG_HASH_KEY]?.hash;

/** The merge patch of spec.spinnakerConfig, with the resourceVersion read as precondition. */
export async function applyOperatorChange(
  api: Pick<ClusterApi, 'listSpinnakerServices' | 'patchSpinnakerService'>,
  config: MigrationConfig,
  executionArn: string,
  target: RedisTarget,
  now: () => Date = () => new Date(),
): Promise<{ holder: string; resourceVersion: string; changedKeys: string[]; operator: OperatorDeployRef }> {
  const change = await planOperatorChange(api, config, target, { lockOwner: executionArn });
  const { cr, name, group } = change.found;
  const holder = `SpinnakerService ${config.spinnaker.namespace}/${name}`;
  let resourceVersion = cr.metadata?.resourceVersion ?? '';
  if (change.changedKeys.length === 0) return { holder, resourceVersion, changedKeys: [], operator: { name, group } };
  const waitPastHash = lastHash(cr);
  const writtenAt = now().toISOString();
  const updated = await api
    .patchSpinnakerService(config.spinnaker.namespace, name, group, { metadata: { resourceVersion }, spec: { spinnakerConfig: change.patch } }, 'merge')
    .catch((error: unknown) => webhookDenial(error, name));
  resourceVersion = updated.metadata?.resourceVersion ?? resourceVersion;
  return { holder, resourceVersion, changedKeys: change.changedKeys, operator: { name, group, writtenAt, resourceVersion, ...(waitPastHash !== undefined ? { waitPastHash } : {}) } };
}

/** The rollback: spec.spinnakerConfig back byte for byte from the backup annotation. */
export async function restoreOperatorConfig(
  api: Pick<ClusterApi, 'listSpinnakerServices' | 'patchSpinnakerService'>,
  config: MigrationConfig,
  now: () => Date = () => new Date(),
): Promise<{ restored: boolean; podFilesWritten: string[]; operator: OperatorDeployRef }> {
  const { cr, name, group } = await findSpinnakerService(api, config);
  const backup = cr.metadata?.annotations?.[BACKUP_ANNOTATION];
  if (backup === undefined)
    throw new SpinnakerConfigRejectedError(`The SpinnakerService ${name} has no backup annotation (${BACKUP_ANNOTATION}); nothing to restore from. Restore it by hand from your own copy.`);
  if (JSON.stringify(cr.spec?.spinnakerConfig ?? {}) === backup) return { restored: false, podFilesWritten: [], operator: { name, group } };
  const waitPastHash = lastHash(cr);
  const waitForHash = cr.metadata?.annotations?.[BACKUP_HASH_ANNOTATION];
  const writtenAt = now().toISOString();
  const updated = await api
    .patchSpinnakerService(
      config.spinnaker.namespace,
      name,
      group,
      [
        // The resourceVersion in the patched object is the precondition (409 when someone wrote since our read).
        { op: 'replace', path: '/metadata/resourceVersion', value: cr.metadata?.resourceVersion },
        { op: cr.spec?.spinnakerConfig === undefined ? 'add' : 'replace', path: '/spec/spinnakerConfig', value: JSON.parse(backup) as unknown },
      ],
      'json',
    )
    .catch((error: unknown) => webhookDenial(error, name));
  const resourceVersion = updated.metadata?.resourceVersion;
  return {
    restored: true,
    podFilesWritten: [],
    operator: { name, group, writtenAt, ...(resourceVersion ? { resourceVersion } : {}), ...(waitPastHash !== undefined ? { waitPastHash } : {}), ...(waitForHash ? { waitForHash } : {}) },
  };
}

/** The lock and the backup of spec.spinnakerConfig, on the SpinnakerService (as lib/kubernetes/lock.ts does on the ConfigMap). */
export async function acquireOperatorLock(
  api: Pick<ClusterApi, 'listSpinnakerServices' | 'patchSpinnakerService'>,
  config: MigrationConfig,
  executionArn: string,
  executionStatus: (arn: string) => Promise<ExecutionStatus>,
  now: () => Date = () => new Date(),
): Promise<AcquireResult> {
  const { cr, name, group } = await findSpinnakerService(api, config);
  const holder = operatorLockHolderOf(cr);
  const decision = await lockDecision(holder, executionArn, executionStatus);
  if ('alreadyHeld' in decision) return decision;
  const { tookOverFrom } = decision;
  const acquiredAt = now().toISOString();
  const annotations: Record<string, string> = { [LOCK_ANNOTATION]: JSON.stringify({ owner: executionArn, acquiredAt }) };
  if (cr.metadata?.annotations?.[BACKUP_ANNOTATION] === undefined) {
    annotations[BACKUP_ANNOTATION] = JSON.stringify(cr.spec?.spinnakerConfig ?? {});
    const hash = lastHash(cr);
    if (hash !== undefined) annotations[BACKUP_HASH_ANNOTATION] = hash;
  }
  await api
    .patchSpinnakerService(config.spinnaker.namespace, name, group, { metadata: { resourceVersion: cr.metadata?.resourceVersion, annotations } }, 'merge')
    .catch((error: unknown) => webhookDenial(error, name));
  return { owner: executionArn, acquiredAt, configMapBackupAnnotation: BACKUP_ANNOTATION, alreadyHeld: false, ...(tookOverFrom ? { tookOverFrom } : {}) };
}

export async function releaseOperatorLock(
  api: Pick<ClusterApi, 'listSpinnakerServices' | 'patchSpinnakerService'>,
  config: MigrationConfig,
  executionArn: string,
): Promise<{ released: boolean; reason?: string }> {
  const { cr, name, group } = await findSpinnakerService(api, config);
  const holder = operatorLockHolderOf(cr);
  if (!holder) return { released: false, reason: 'no lock was held' };
  if (holder.owner !== executionArn) return { released: false, reason: `the lock belongs to ${holder.owner}` };
  await api.patchSpinnakerService(
    config.spinnaker.namespace,
    name,
    group,
    { metadata: { resourceVersion: cr.metadata?.resourceVersion, annotations: { [LOCK_ANNOTATION]: null, [BACKUP_ANNOTATION]: null, [BACKUP_HASH_ANNOTATION]: null } } },
    'merge',
  );
  return { released: true };
}

/** `$.rollout` for the operator: the Deployments' readiness plus what the operator reports. */
export type OperatorRolloutResult = RolloutResult & { operator: { status?: string; hash?: string; pickedUp: boolean } };

/** What the operator reports about the write `ref` points at. */
export interface OperatorDeployState {
  status?: string;
  hash?: string;
  /** `status.lastDeployed.config.hash` shows the write deployed (past `waitPastHash`, or equal to `waitForHash`). */
  pickedUp: boolean;
}

/**
 * Read the SpinnakerService's status for the write `ref` describes. `Failure` throws
 * SpinnakerOperatorDeployFailedError with the DeployFailed/DeployError Events of the resource
 * (only Events about our write count: one left from before, e.g. the failed patch seen again
 * during the rollback until the operator reconciles the restore, is waited out).
 */
export async function operatorDeployState(
  api: Pick<ClusterApi, 'listSpinnakerServices' | 'listEvents'>,
  config: MigrationConfig,
  ref: OperatorDeployRef | undefined,
): Promise<OperatorDeployState & { name: string }> {
  const { cr, name } = await findSpinnakerService(api, config);
  const hash = lastHash(cr);
  const status = cr.status?.status;
  const pickedUp =
    (ref?.waitPastHash === undefined && ref?.waitForHash === undefined) || (ref.waitForHash !== undefined && hash === ref.waitForHash) || (ref.waitPastHash !== undefined && hash !== ref.waitPastHash);
  const events =
    status === 'Failure'
      ? (await api.listEvents(config.spinnaker.namespace, `involvedObject.kind=SpinnakerService,involvedObject.name=${name}`).catch(() => [])).filter(
          (e) =>
            (e.reason === 'DeployFailed' || e.reason === 'DeployError') &&
            (ref?.writtenAt === undefined ||
              (ref.resourceVersion !== undefined && e.involvedObject?.resourceVersion === ref.resourceVersion) ||
              new Date(e.lastTimestamp ?? e.eventTime ?? 0).getTime() >= Date.parse(ref.writtenAt)),
        )
      : [];
  if (status === 'Failure' && events.length > 0) {
    const failures = events
      .sort((a, b) => String(a.lastTimestamp ?? a.eventTime ?? '').localeCompare(String(b.lastTimestamp ?? b.eventTime ?? '')))
      .slice(-3)
      .map((e) => `${e.reason}: ${redactOutput(e.message ?? '')}`);
    throw new SpinnakerOperatorDeployFailedError(
      `The Spinnaker Operator reports status Failure for SpinnakerService ${name}${failures.length ? `. Events: ${failures.join(' | ')}` : ' (no DeployFailed/DeployError Event found)'}. Look at the operator's logs (kubectl logs deploy/spinnaker-operator -c spinnaker-operator).`,
    );
  }
  return { name, pickedUp, ...(status !== undefined ? { status } : {}), ...(hash !== undefined ? { hash } : {}) };
}

/**
 * One check: the operator has picked the change up (`status.lastDeployed.config.hash` differs
 * from the one before our write), says `OK`, and every Spinnaker Deployment is ready.
 * `Failure` fails at once (operatorDeployState).
 */
export async function checkOperatorRollout(
  api: Pick<ClusterApi, 'listSpinnakerServices' | 'listDeployments' | 'listEvents'>,
  config: MigrationConfig,
  ref: OperatorDeployRef | undefined,
  previous: Partial<RolloutResult> | undefined | null,
  now: () => Date = () => new Date(),
  marks: PauseMarks = {},
): Promise<OperatorRolloutResult> {
  const { name, status, hash, pickedUp } = await operatorDeployState(api, config, ref);
  const deployments = await checkRollout(api, config, previous, now, marks).catch((error: unknown) => {
    // The Deployments' timeout message is the better one only once the operator has deployed.
    if (error instanceof MigrationError && error.name === 'RolloutTimeoutError' && !(pickedUp && status === 'OK')) return undefined;
    throw error;
  });
  const operatorReady = pickedUp && status === 'OK';
  const waitingSince = deployments?.waitingSince ?? previous?.waitingSince ?? now().toISOString();
  if (!deployments || !operatorReady) {
    const waitedMinutes = (now().getTime() - Date.parse(waitingSince)) / 60_000;
    if (waitedMinutes > config.options.rolloutTimeoutMinutes) {
      throw new RolloutTimeoutError(
        `The Spinnaker Operator did not deploy the change to SpinnakerService ${name} within ${config.options.rolloutTimeoutMinutes} minutes: status ${status ?? 'none'}, ${pickedUp ? 'the new config hash recorded' : `status.lastDeployed.config.hash still ${hash ?? 'absent'} (not picked up)`}. Look at the operator's logs and the resource's Events.`,
      );
    }
  }
  const base: RolloutResult = deployments ?? { ready: false, deployments: [], polls: (previous?.polls ?? 0) + 1, waitingSince };
  return { ...base, ready: base.ready && operatorReady, operator: { ...(status !== undefined ? { status } : {}), ...(hash !== undefined ? { hash } : {}), pickedUp } };
}
