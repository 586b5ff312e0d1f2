/**
 * The Spinnaker Operator of the sandbox: a `SpinnakerService` (spinnaker.io/v1alpha2) instead of a
 * Halyard pod and ConfigMap, reconciled as armory/spinnaker-operator does (docs/SPINNAKER-INSTALLS.md §0.7, §4):
 *
 * - pkg/controller/spinnakerservice/spinnakerservice_controller.go: Reconcile on every change of
 *   the resource (and of what it owns), one at a time;
 * - pkg/deploy/spindeploy/changedetector/config.go (IsSpinnakerUpToDate): redeploy when the md5
 *   of spec.spinnakerConfig differs from status.lastDeployed.config.hash;
 * - pkg/deploy/spindeploy/spindeploy.go (Deploy): `service-settings.<svc>` become
 *   `service-settings/<svc>.yml`, `profiles.<key>` become `profiles/<key>-local.yml`, `config` the
 *   deployment configuration; Halyard generates the manifests (here: ./halyard.ts deployApply,
 *   so each service gets its config through the same pod-template annotations and
 *   podRedisTarget seam as a Halyard install) and the operator applies them itself, without
 *   KubectlDeployer's "Redis … not redeploying" protection: without skipLifeCycleManagement it
 *   re-applies spin-redis's manifest (1 replica);
 * - pkg/controller/spinnakerservice/status.go: status.status `Updating` while a Deployment rolls,
 *   `OK` when all are ready, `Failure` when a deploy fails (Event `DeployFailed`), with
 *   lastDeployed.config.{hash,lastUpdatedAt}, version and serviceCount;
 * - pkg/controller/webhook/webhook.go: the validating webhook
 *   `webhook-spinnakerservices-v1alpha2.spinnaker.io` on CREATE/UPDATE runs Halyard's validation
 *   (here: overrideBaseUrl must parse, as ServiceSettings.buildBaseUri demands).
 *
 * Fault switches: `webhookDenials` (the next N config changes are denied, after `webhookAllowFirst`), `failNewRedis` (every
 * deploy of a config that points Spinnaker away from spin-redis fails: status Failure, Event
 * DeployFailed; the original config deploys fine, so a rollback can succeed).
 */
import { createHash } from 'node:crypto';
import { parse as parseYaml, stringify } from 'yaml';
import type { AdmissionHook } from '../kubernetes/server.js';
import type { KubeObject, ObjectStore } from '../kubernetes/store.js';
import { type HalyardPod, INITIAL_FILES } from './halyard.js';

export const OPERATOR_WEBHOOK = 'webhook-spinnakerservices-v1alpha2.spinnaker.io';
export const SPINNAKER_SERVICE_NAME = 'spinnaker';
const VERSION = '1.35.0';

export interface OperatorFaults {
  /** Deny the next N updates that change spec.spinnakerConfig (a validating-webhook denial), dry runs included... */
  webhookDenials?: number;
  /** ...after letting this many through (1: the workflow's server-side dry run passes, its real patch is denied). */
  webhookAllowFirst?: number;
  /** Fail every deploy of a config whose Redis is not spin-redis (status Failure, Event DeployFailed). */
  failNewRedis?: boolean;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Go's encoding/json writes map keys sorted: the hash is over that canonical form. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (isObject(value))
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical(value[k])]),
    );
  return value;
}
export const configHash = (spinnakerConfig: unknown): string =>
  createHash('md5')
    .update(JSON.stringify(canonical(spinnakerConfig ?? {})))
    .digest('hex');

/** The SpinnakerService a `kubectl apply` of the operator's examples would create, with the sandbox's Halyard profiles. */
export function initialSpinnakerService(namespace: string): KubeObject {
  const profile = (key: keyof typeof INITIAL_FILES) => (parseYaml(INITIAL_FILES[key]) ?? {}) as Json;
  return {
    apiVersion: 'spinnaker.io/v1alpha2',
    kind: 'SpinnakerService',
    metadata: { name: SPINNAKER_SERVICE_NAME, namespace },
    spec: {
      spinnakerConfig: {
        config: { version: VERSION, persistentStorage: { persistentStoreType: 's3', s3: { bucket: 'spinnaker-sandbox', rootFolder: 'front50' } } },
        profiles: { gate: profile('gate-local.yml'), spinnaker: profile('spinnaker-local.yml') },
        'service-settings': {},
      },
      expose: { type: 'service', service: { type: 'ClusterIP' } },
    },
  };
}

export function createSpinnakerOperator(options: { namespace: string; halHome: string; halyard: HalyardPod; store: () => ObjectStore; spinRedisUrl: () => string; faults: OperatorFaults }) {
  const { namespace: ns, halHome, halyard, faults } = options;
  let running = false;
  let again = false;
  let failedHash: string | undefined;
  let stopped = false;

  const get = () => options.store().get('SpinnakerService', ns, SPINNAKER_SERVICE_NAME);

  /** spindeploy: the files Halyard reads, from spec.spinnakerConfig (profiles.<key> -> profiles/<key>-local.yml). */
  function writeFiles(cfg: Json): void {
    const dir = `${halHome}/default`;
    for (const path of [...halyard.files.keys()]) if (path.startsWith(`${dir}/profiles/`) || path.startsWith(`${dir}/service-settings/`)) halyard.files.delete(path);
    const text = (v: unknown) => (typeof v === 'string' ? v : stringify(v));
    for (const [svc, v] of Object.entries(isObject(cfg['service-settings']) ? cfg['service-settings'] : {})) halyard.files.set(`${dir}/service-settings/${svc}.yml`, text(v));
    for (const [key, v] of Object.entries(isObject(cfg.profiles) ? cfg.profiles : {})) halyard.files.set(`${dir}/profiles/${key}-local.yml`, text(v));
    halyard.files.set(`${halHome}/config`, stringify({ currentDeployment: 'default', deploymentConfigurations: [{ name: 'default', ...(isObject(cfg.config) ? cfg.config : {}) }] }));
  }

  /** record.EventRecorder: about the object as the reconcile read it (its resourceVersion then). */
  function event(cr: KubeObject, reason: string, message: string, type: 'Normal' | 'Warning'): void {
    const now = new Date().toISOString();
    options.store().create({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${SPINNAKER_SERVICE_NAME}.${Date.now().toString(16)}${Math.random().toString(16).slice(2, 6)}`, namespace: ns },
      involvedObject: {
        apiVersion: 'spinnaker.io/v1alpha2',
        kind: 'SpinnakerService',
        name: SPINNAKER_SERVICE_NAME,
        namespace: ns,
        uid: cr.metadata.uid,
        resourceVersion: cr.metadata.resourceVersion,
      },
      reason,
      message,
      type,
      source: { component: 'spinnaker-operator' },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    });
  }

  /** status.go: OK when every service Deployment is ready, Updating while one rolls. */
  function servicesStatus(): { status: 'OK' | 'Updating'; serviceCount: number } {
    const deployments = halyard.services.map((s) => options.store().get('Deployment', ns, s.name)).filter((d): d is KubeObject => d !== undefined);
    const ready = deployments.every((d) => {
      const st = (d.status ?? {}) as Record<string, number>;
      const wanted = (d.spec as { replicas?: number }).replicas ?? 1;
      return (st.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) && (st.availableReplicas ?? 0) === wanted && (st.updatedReplicas ?? 0) === wanted && !st.unavailableReplicas;
    });
    return { status: ready ? 'OK' : 'Updating', serviceCount: deployments.length };
  }

  function writeStatus(status: Json): void {
    const cr = get();
    if (!cr || JSON.stringify(cr.status ?? {}) === JSON.stringify(status)) return;
    options.store().updateStatus('SpinnakerService', ns, SPINNAKER_SERVICE_NAME, status);
  }

  async function reconcileOnce(): Promise<void> {
    const cr = get();
    if (!cr) return;
    const cfg = ((cr.spec as Json | undefined)?.spinnakerConfig ?? {}) as Json;
    const hash = configHash(cfg);
    const status = (cr.status ?? {}) as Json & { lastDeployed?: Record<string, { hash?: string }> };
    if (status.lastDeployed?.config?.hash === hash) {
      failedHash = undefined;
      writeStatus({ ...status, ...servicesStatus() });
      return;
    }
    if (failedHash === hash) return; // the same config keeps failing; requeued on its next change
    event(cr, 'ConfigChanged', 'Spinnaker config changed; deploying', 'Normal');
    writeFiles(cfg);
    const redis = halyard.config();
    let failure: string | undefined;
    if (faults.failNewRedis && redis.url !== options.spinRedisUrl())
      failure = `error deploying Spinnaker: clouddriver manifest apply failed (the sandbox was told to fail deploys to ${redis.url.replace(/:\/\/[^@]*@/, '://****@')})`;
    if (!failure) {
      const result = await halyard.exec({ namespace: ns, pod: 'spinnaker-operator', container: 'halyard', command: ['hal', 'deploy', 'apply'] });
      if (result.exitCode !== 0) failure = `error deploying Spinnaker: ${String(result.stderr).trim().split('\n')[0]}`;
    }
    if (failure) {
      failedHash = hash;
      writeStatus({ ...status, status: 'Failure' });
      event(cr, 'DeployFailed', failure, 'Warning');
      return;
    }
    // No KubectlDeployer here: without skipLifeCycleManagement the operator applies spin-redis's manifest (1 replica).
    const skip = (parseYaml(halyard.files.get(`${halHome}/default/service-settings/redis.yml`) ?? '') as Json | null)?.skipLifeCycleManagement === true;
    const spinRedis = options.store().get('Deployment', ns, 'spin-redis');
    if (!skip && spinRedis && (spinRedis.spec as { replicas?: number }).replicas !== 1) options.store().update({ ...spinRedis, spec: { ...(spinRedis.spec as object), replicas: 1 } });
    writeStatus({
      ...status,
      lastDeployed: { ...(status.lastDeployed ?? {}), config: { hash, lastUpdatedAt: new Date().toISOString() } },
      version: String((cfg.config as Json | undefined)?.version ?? VERSION),
      ...servicesStatus(),
    });
    event(cr, 'DeploySuccess', 'Spinnaker deployment applied', 'Normal');
  }

  async function reconcile(): Promise<void> {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await reconcileOnce();
      } while (again && !stopped);
    } finally {
      running = false;
    }
  }

  /** webhook.go: Halyard's validation of the new config, plus the denial fault. */
  const webhook: AdmissionHook = ({ object, oldObject }) => {
    const cfg = ((object.spec as Json | undefined)?.spinnakerConfig ?? {}) as Json;
    const changed = JSON.stringify(cfg) !== JSON.stringify((oldObject?.spec as Json | undefined)?.spinnakerConfig ?? {});
    if (!changed) return undefined;
    const redis = (isObject(cfg['service-settings']) ? cfg['service-settings'].redis : undefined) as Json | undefined;
    const override = redis?.overrideBaseUrl;
    if (override !== undefined && !/^(rediss?):\/\/(?:[^@/]*@)?([A-Za-z0-9.-]+):(\d{1,5})(\/\d*)?$/.test(String(override)))
      return `SpinnakerService validation failed:\nIllegal override baseURL for redis`;
    if ((faults.webhookAllowFirst ?? 0) > 0) {
      faults.webhookAllowFirst!--;
      return undefined;
    }
    if ((faults.webhookDenials ?? 0) > 0) {
      faults.webhookDenials!--;
      return 'SpinnakerService validation failed:\nerror validating spinnakerConfig: the sandbox was told to deny this change';
    }
    return undefined;
  };

  const onChange = (e: { type: string; object: KubeObject }) => {
    if (e.object.metadata.namespace !== ns) return;
    if (e.object.kind === 'SpinnakerService' || (e.object.kind === 'Deployment' && e.type === 'MODIFIED')) void reconcile().catch(() => undefined);
  };

  return {
    webhook,
    /** Create the SpinnakerService and give the embedded Halyard its files, as `kubectl apply` and the operator's first reconcile would (the caller creates the Deployments). */
    install(): void {
      const cr = options.store().create(initialSpinnakerService(ns));
      const cfg = (cr.spec as Json).spinnakerConfig as Json;
      writeFiles(cfg);
      options.store().updateStatus('SpinnakerService', ns, SPINNAKER_SERVICE_NAME, {
        lastDeployed: { config: { hash: configHash(cfg), lastUpdatedAt: new Date().toISOString() } },
        status: 'OK',
        version: VERSION,
        serviceCount: halyard.services.length,
      });
    },
    start(): void {
      options.store().on('change', onChange);
    },
    stop(): void {
      stopped = true;
      options.store().off('change', onChange);
    },
    /** The original spec.spinnakerConfig (the fault matrix compares byte for byte). */
    initialConfig: (): string => JSON.stringify((initialSpinnakerService(ns).spec as Json).spinnakerConfig),
  };
}

export type SpinnakerOperator = ReturnType<typeof createSpinnakerOperator>;
