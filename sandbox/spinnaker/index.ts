/**
 * The simulated Spinnaker of the sandbox, installed into the Kubernetes emulator's store:
 *   - the Halyard ConfigMap, and a Halyard pod (./halyard.ts: its files and `hal` over exec);
 *   - a Deployment controller with Kubernetes semantics (pkg/controller/deployment in
 *     kubernetes/kubernetes): one Pod per replica; scaling to 0 deletes the pods; a new
 *     template rolls out as RollingUpdate with the defaults maxSurge 25% (rounded up) and
 *     maxUnavailable 25% (rounded down), so with 1 replica the new pod starts, becomes Ready,
 *     and only then is the old one terminated: old and new run at once;
 *   - the services Halyard deploys for the flavour (halyard.ts servicesFor: with HA clouddriver,
 *     spin-clouddriver-rw/-ro/-ro-deck/-caching), their pods running as the `spinnaker`
 *     ServiceAccount (its IRSA role resolves kork-secrets references);
 *   - one simulated service instance (./services/<name>.ts) per Pod of each Redis-using
 *     Deployment, connected with the PodRedisTarget of its pod template (podRedisTarget: the
 *     URL, the password from its user-info, TLS with the sandbox CA). With HA clouddriver the
 *     CATS agents run in clouddriver-caching and the task repository in clouddriver-rw;
 *     clouddriver-ro/-ro-deck only read, so their pods only connect (probeRedis). echo with
 *     `redis.enabled` false opens no connection and refuses Pub/Sub messages, as the real one.
 *     A pod becomes Ready only once its instance started (NOAUTH, a refused connection, a
 *     secret its role may not read or gate's refused CONFIG keep it not Ready, as a
 *     crash-looping service); deleting the pod stops its instance at once (SIGTERM, no drain);
 *   - spin-redis as a real redis-server whose process follows the Deployment's replicas (Halyard,
 *     the operator: no volume, its data goes with the pod), or for the Helm flavours
 *     (./helm.ts) the Bitnami StatefulSet `spinnaker-redis-master` with a password (Secret
 *     `spinnaker-redis`), AOF on its PVC (the same data directory: the data survives a scale to 0
 *     and back) and FLUSHDB/FLUSHALL disabled, as the charts' `master.disableCommands`;
 *   - Helm flavours: the chart's ConfigMaps and Halyard StatefulSet pod (its init container
 *     copies the ConfigMaps into the pod at every start) and `helmUpgrade()`, the chart's upgrade
 *     with its post-upgrade hook running `hal deploy apply`;
 *   - the write ledger (./ledger.ts) every instance records into, and the Halyard ConfigMap's
 *     changes, for the invariants and the cutover window.
 *
 * API: `createSpinnakerSimulation(options)` → `{ install(store), exec, ledger, serviceList, spinRedis, pointsAt(), snapshot(), close() }`.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { freePort, startRedis, type RedisProcess } from '../redis/redis-process.js';
import type { ExecHandler } from '../kubernetes/server.js';
import type { ObjectStore, KubeObject, ChangeEvent } from '../kubernetes/store.js';
import type { InstanceOptions, ServiceInstance, ServiceName } from './services.js';
import { createHalyardPod, halconfig, INITIAL_FILES, type PodRedisTarget, podRedisTarget, REDIS_URL_ANNOTATION, type SpinService, servicesFor } from './halyard.js';
import { probeRedis } from './connection.js';
import { WriteLedger } from './ledger.js';
import { OrcaInstance, QUEUE } from './services/orca.js';
import { connectRedis } from '../../lib/redis/connect.js';
import { ClouddriverInstance } from './services/clouddriver.js';
import { GateInstance } from './services/gate.js';
import { IgorInstance } from './services/igor.js';
import { FiatInstance } from './services/fiat.js';
import { EchoInstance } from './services/echo.js';
import { RoscoInstance } from './services/rosco.js';

const INSTANCE: Record<ServiceName, new (options: InstanceOptions) => ServiceInstance> = {
  orca: OrcaInstance,
  clouddriver: ClouddriverInstance,
  gate: GateInstance,
  igor: IgorInstance,
  fiat: FiatInstance,
  echo: EchoInstance,
  rosco: RoscoInstance,
};
import { createSpinnakerOperator, type OperatorFaults } from './operator.js';
import {
  bitnamiPassword,
  type ChartFlavor,
  chartObjects,
  HALYARD_POD,
  HALYARD_STATEFULSET,
  helmUpgradeObjects,
  initContainerFiles,
  PROFILES,
  REDIS_MASTER,
  renderedData,
  SERVICE_SETTINGS,
} from './helm.js';

export interface SpinnakerSimulationOptions {
  dir: string;
  namespace?: string;
  halHome?: string;
  /** Resolves `encrypted:secrets-manager!…` references, as kork-secrets does in each service. */
  resolveSecret: (reference: string) => Promise<string>;
  /** CA for rediss:// (the sandbox CA). */
  caFile?: string;
  /** From a Pod's creation to its container running (image pull, JVM start). */
  podStartMs?: number;
  /** Multiplies every service's intervals (2 = half the traffic). */
  trafficSlowdown?: number;
  /** keiko's ack timeout for every orca (default 60 s, as RedisQueueProperties). */
  ackTimeoutMs?: number;
  /** Replicas per Deployment (default 1). */
  replicas?: Record<string, number>;
  /** Fault switches for the fault matrix. */
  faults?: SpinnakerFaults & OperatorFaults;
  /** `halyard-ha`: HA clouddriver (spin-clouddriver-rw/-ro/-ro-deck/-caching); `operator`: a SpinnakerService reconciled by ./operator.ts, no Halyard pod, no ConfigMap. */
  flavor?: 'halyard' | 'halyard-ha' | 'operator' | ChartFlavor;
  /** The IRSA role of the `spinnaker` service account the pods run as (annotation eks.amazonaws.com/role-arn). */
  podRoleArn?: string;
  /** spin-redis's container `resources` (e.g. `{ limits: { memory: '16Mi' } }`), as a Helm value or LimitRange would set them. */
  spinRedisResources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  /** The redis-server binary that plays spin-redis (any version). */
  spinRedisServer?: string;
}

export interface SpinnakerFaults {
  halFailures?: number;
  /** Deployments whose new pods never become Ready unless they point at spin-redis. */
  neverReady?: string[];
  /** Deployments whose pods hang in Terminating when scaled to 0, their process (and Redis client) still running. */
  neverTerminate?: string[];
}

export { INITIAL_FILES } from './halyard.js';

export interface SpinnakerSnapshot {
  /**
   * Per Deployment. For a service that connects: `redis`, where its Ready pods are connected
   * (undefined for echo with redis.enabled false); `authenticated`, with a password from the
   * URL's user-info; `redisEnabled`, echo's Pub/Sub works.
   */
  services: {
    name: string;
    redis?: string;
    authenticated?: boolean;
    redisEnabled?: boolean;
    ready: boolean;
    replicas: number;
    pods: { name: string; ready: boolean; redis?: string }[];
  }[];
  spinRedis: { replicas: number; running: boolean; url: string };
  halyard: { overrideBaseUrl?: string };
  orcaExecutionsWritten: number;
}

interface PodState {
  name: string;
  deployment: string;
  hash: string;
  ready: boolean;
  deleted: boolean;
  createdAt: number;
  url?: string;
  /** What the pod connected with (podRedisTarget of its template). */
  target?: PodRedisTarget;
  instance?: ServiceInstance;
  /** A connecting service without a writer: its start recorded in the ledger (for the cutover window). */
  probed?: boolean;
  /** Deleted but stuck in Terminating (fault neverTerminate): its process, and Redis client, still run. */
  terminating?: boolean;
}

/** What the redis, bitnami/redis and redis-cluster images have (Debian-based, coreutils) that our Lambdas exec. */
const SPIN_REDIS_IMAGE_COMMANDS = new Set(['sh', 'df', 'stat', 'rm', 'ls', 'cat']);

export function createSpinnakerSimulation(options: SpinnakerSimulationOptions) {
  const ns = options.namespace ?? 'spinnaker';
  const halHome = options.halHome ?? '/home/spinnaker/.hal';
  const podStartMs = options.podStartMs ?? 300;
  const faults = options.faults ?? {};
  const ledger = new WriteLedger();
  let store: ObjectStore | undefined;
  let spinRedis: RedisProcess | undefined;
  /** helm-opsmx: one real replica of the Bitnami master (`spinnaker-redis-replicas-0`), attached as the chart's replicas are. */
  let opsmxReplica: RedisProcess | undefined;
  let spinRedisPort = 0;
  let stopped = false;
  let traffic = false;
  const timers = new Set<NodeJS.Timeout>();
  const pods = new Map<string, PodState>();
  const instances: ServiceInstance[] = [];

  const spinRedisUrl = () => `redis://127.0.0.1:${spinRedisPort}`;
  const chart: ChartFlavor | undefined = options.flavor === 'helm-stable' || options.flavor === 'helm-opsmx' ? options.flavor : undefined;
  /** spin-redis: Halyard's Deployment, or the chart's Bitnami StatefulSet with its password. */
  const spinRedisKind = chart ? 'StatefulSet' : 'Deployment';
  const spinRedisName = chart ? REDIS_MASTER : 'spin-redis';
  const spinRedisPassword = chart ? bitnamiPassword() : undefined;
  const haClouddriver = options.flavor === 'halyard-ha';
  const SERVICES = servicesFor(haClouddriver);
  const halyard = createHalyardPod({ namespace: ns, halHome, store: () => store!, spinRedisUrl, faults, services: SERVICES, haClouddriver });
  /** The last target a pod of each Deployment started with (kept when it scales to 0). */
  const lastTargets = new Map<string, PodRedisTarget>();
  // Operator installs: the operator embeds Halyard (the same generator, fed from the SpinnakerService).
  const operator = options.flavor === 'operator' ? createSpinnakerOperator({ namespace: ns, halHome, halyard, store: () => store!, spinRedisUrl, faults }) : undefined;
  const managedBy: Record<string, string> = operator ? { 'app.kubernetes.io/managed-by': 'spinnaker-operator' } : {};
  const later = (ms: number, fn: () => void | Promise<void>) => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (!stopped) void Promise.resolve(fn()).catch(() => undefined);
    }, ms);
    timers.add(t);
  };

  const podObject = (deployment: KubeObject, hash: string, ready: boolean, extra: Partial<{ port: number; container: string; resources: object }> = {}): KubeObject => {
    const labels = (deployment.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `${deployment.metadata.name}-${hash.slice(0, 8)}-${Math.random().toString(36).slice(2, 7)}`, namespace: ns, labels: { ...labels, 'pod-template-hash': hash.slice(0, 8) } },
      spec: {
        containers: [
          {
            name: extra.container ?? deployment.metadata.name.replace(/^spin-/, ''),
            image: 'us-docker.pkg.dev/spinnaker-community/docker/sandbox',
            ...(extra.port ? { ports: [{ containerPort: extra.port, protocol: 'TCP' }] } : {}),
            ...(extra.resources ? { resources: extra.resources } : {}),
          },
        ],
      },
      status: { phase: ready ? 'Running' : 'Pending', podIP: '127.0.0.1', hostIP: '127.0.0.1', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }], startTime: new Date().toISOString() },
    };
  };

  const templateHash = (d: KubeObject) =>
    createHash('sha1')
      .update(JSON.stringify((d.spec as { template?: unknown }).template ?? {}))
      .digest('hex');
  const annotationsOf = (d: KubeObject) => ((d.spec as { template: { metadata: { annotations?: Record<string, string> } } }).template.metadata.annotations ?? {}) as Record<string, string>;
  const replicasOf = (d: KubeObject) => (d.spec as { replicas?: number }).replicas ?? 1;

  function deployment(name: string, labels: Record<string, string>, annotations: Record<string, string> = {}, replicas = 1): KubeObject {
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: ns, labels },
      spec: {
        replicas,
        selector: { matchLabels: labels },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
        template: { metadata: { labels, annotations }, spec: { serviceAccountName: 'spinnaker', containers: [{ name: name.replace(/^spin-/, ''), image: 'sandbox' }] } },
      },
      status: { observedGeneration: 1, replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas },
    };
  }

  // ---- spin-redis: a real process following the Deployment's replicas ----
  async function ensureSpinRedis(replicas: number) {
    if (!store) return;
    const d = store.get(spinRedisKind, ns, spinRedisName);
    if (!d) return;
    const selector = Object.entries((d.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    for (const pod of store.list('Pod', ns, selector)) store.delete('Pod', ns, pod.metadata.name);
    if (replicas > 0) {
      if (!spinRedis || spinRedis.process.exitCode !== null || spinRedis.process.signalCode !== null) {
        spinRedis = await startRedis({
          dir: posix.join(options.dir, 'spin-redis'),
          ...(spinRedisPort ? { port: spinRedisPort } : {}),
          ...(options.spinRedisServer ? { binary: options.spinRedisServer } : {}),
          // Bitnami: --requirepass from the Secret, appendonly yes on the PVC (the same directory again after a scale to 0), disableCommands.
          ...(spinRedisPassword ? { password: spinRedisPassword, renameCommands: { FLUSHDB: '', FLUSHALL: '' }, extraArgs: ['--appendonly', 'yes'] } : {}),
        });
        spinRedisPort = spinRedis.port;
      }
      if (chart === 'helm-opsmx' && !opsmxReplica) {
        // bitnami/redis 16 replicas/statefulset.yaml: --replicaof the master's Service, --masterauth and --requirepass the same password.
        opsmxReplica = await startRedis({
          dir: posix.join(options.dir, 'spin-redis-replicas-0'),
          ...(options.spinRedisServer ? { binary: options.spinRedisServer } : {}),
          password: spinRedisPassword!,
          primaryAuth: spinRedisPassword!,
          replicaOf: { host: '127.0.0.1', port: spinRedisPort },
          renameCommands: { FLUSHDB: '', FLUSHALL: '' },
        });
      }
      const pod = podObject(d, templateHash(d), true, { port: spinRedisPort, container: 'redis', ...(options.spinRedisResources ? { resources: options.spinRedisResources } : {}) });
      // A StatefulSet's pod is <name>-0.
      if (spinRedisKind === 'StatefulSet')
        pod.metadata = { ...pod.metadata, name: `${spinRedisName}-0`, labels: { ...pod.metadata.labels, 'statefulset.kubernetes.io/pod-name': `${spinRedisName}-0` } };
      store.create(pod);
    } else if (spinRedis) {
      // Halyard's spin-redis has no PVC: its data goes with the pod. The chart's keeps its AOF on the PVC.
      await spinRedis.stop();
      spinRedis = undefined;
    }
    const current = store.get(spinRedisKind, ns, spinRedisName)!;
    store.updateStatus(spinRedisKind, ns, spinRedisName, {
      observedGeneration: current.metadata.generation,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: replicas,
      ...(spinRedisKind === 'StatefulSet' ? { currentReplicas: replicas } : { availableReplicas: replicas }),
    });
  }

  // ---- pods and their service instances ----
  const specOf = (deploymentName: string): SpinService | undefined => SERVICES.find((s) => s.name === deploymentName);

  function createPod(d: KubeObject, hash: string): void {
    const obj = store!.create(podObject(d, hash, false));
    const pod: PodState = { name: obj.metadata.name, deployment: d.metadata.name, hash, ready: false, deleted: false, createdAt: Date.now() };
    pods.set(pod.name, pod);
    later(podStartMs, () => startPod(pod, 0));
  }

  function newInstance(spec: SpinService, pod: PodState, target: PodRedisTarget): ServiceInstance {
    return new INSTANCE[spec.redis!]({
      pod: pod.name,
      target,
      ledger,
      ...(options.caFile ? { caFile: options.caFile } : {}),
      slowdown: options.trafficSlowdown ?? 1,
      ...(options.ackTimeoutMs ? { ackTimeoutMs: options.ackTimeoutMs } : {}),
      ...(spec.role ? { role: spec.role } : {}),
    });
  }

  /**
   * The container starts: resolve its connection (kork-secrets with the pod's role), connect as
   * the service does; Ready only if that works, else crash-loop. Without traffic (before the run
   * starts, or in tests of the config alone) a writer's pod only connects and PINGs.
   */
  async function startPod(pod: PodState, restarts: number): Promise<void> {
    if (pod.deleted || stopped) return;
    const d = store!.get('Deployment', ns, pod.deployment);
    if (!d) return;
    const spec = specOf(pod.deployment);
    if (spec?.connects) {
      try {
        const target = await podRedisTarget(annotationsOf(d), options.resolveSecret);
        // neverReady: the service cannot start on the new Redis (it still starts on spin-redis, so a rollback can succeed).
        if (faults.neverReady?.includes(pod.deployment) && target.url !== spinRedisUrl()) throw new Error('the fault matrix keeps this pod from starting');
        pod.target = target;
        pod.url = target.redisEnabled ? target.url : undefined;
        if (spec.redis && traffic) {
          const instance = newInstance(spec, pod, target);
          pod.instance = instance;
          instances.push(instance);
          await instance.start();
          if (pod.deleted) instance.stop();
        } else if (target.redisEnabled) {
          await probeRedis(target, options.caFile, `spin-${spec.canonical}-${pod.name}`);
          if (traffic && !pod.deleted) {
            pod.probed = true;
            ledger.instance('start', spec.canonical, pod.name, target.url);
          }
        }
      } catch {
        pod.instance?.stop();
        pod.instance = undefined;
        pod.target = undefined;
        pod.url = undefined;
        // CrashLoopBackOff: restart with a growing delay, capped.
        later(Math.min(podStartMs * 2 ** Math.min(restarts, 4), 5000), () => startPod(pod, restarts + 1));
        return;
      }
    }
    if (pod.deleted) return;
    pod.ready = true;
    if (pod.target) lastTargets.set(pod.deployment, pod.target);
    const obj = store!.get('Pod', ns, pod.name);
    if (obj) store!.update({ ...obj, status: { ...(obj.status as object), phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } });
    reconcile(pod.deployment);
  }

  /** The pod is deleted but never goes (a finalizer, a lost node): deletionTimestamp set, its process still running. */
  function terminate(pod: PodState): void {
    pod.terminating = true;
    pod.ready = false;
    const obj = store!.get('Pod', ns, pod.name);
    if (obj) store!.update({ ...obj, metadata: { ...obj.metadata, deletionTimestamp: new Date().toISOString() } as KubeObject['metadata'] });
  }

  function deletePod(pod: PodState): void {
    pod.deleted = true;
    pod.ready = false;
    pod.instance?.stop();
    if (pod.probed && pod.url) ledger.instance('stop', specOf(pod.deployment)?.canonical ?? pod.deployment, pod.name, pod.url);
    pod.probed = false;
    pods.delete(pod.name);
    if (store!.get('Pod', ns, pod.name)) store!.delete('Pod', ns, pod.name);
  }

  // ---- the Deployment controller ----
  // One pass per Deployment at a time, after the change events of the current tick (several
  // updates in a row, e.g. a new template then a scale, are handled together, as a controller
  // working from its informer's latest state does).
  const scheduled = new Set<string>();
  function reconcile(name: string): void {
    if (scheduled.has(name)) return;
    scheduled.add(name);
    setImmediate(() => {
      scheduled.delete(name);
      step(name);
    });
  }

  /** One pass of the controller for a Deployment (synchronous against the store). */
  function step(name: string): void {
    if (stopped || !store) return;
    const d = store.get('Deployment', ns, name);
    if (!d) return;
    const desired = replicasOf(d);
    const hash = templateHash(d);
    const mine = [...pods.values()].filter((p) => p.deployment === name && !p.deleted && !p.terminating);
    const fresh = mine.filter((p) => p.hash === hash);
    const old = mine.filter((p) => p.hash !== hash);
    const maxSurge = Math.ceil(desired * 0.25);
    const maxUnavailable = Math.floor(desired * 0.25);
    // A pod deleted by this controller: gone, or stuck in Terminating (fault neverTerminate).
    const remove = (p: PodState) => (faults.neverTerminate?.includes(name) ? terminate(p) : deletePod(p));
    // Too many new pods (scale-down): not-ready ones go first.
    for (const p of fresh.sort((a, b) => Number(a.ready) - Number(b.ready)).slice(0, Math.max(0, fresh.length - desired))) remove(p);
    // Terminating pods are not the ReplicaSet's any more (controller.FilterActivePods).
    const current = () => [...pods.values()].filter((p) => p.deployment === name && !p.deleted && !p.terminating);
    if (desired === 0) for (const p of current()) remove(p);
    // Surge: start new pods while the total stays within desired + maxSurge.
    let total = current().length;
    let freshCount = current().filter((p) => p.hash === hash).length;
    while (freshCount < desired && (old.length === 0 || total < desired + maxSurge)) {
      createPod(d, hash);
      total++;
      freshCount++;
    }
    // Scale the old pods down as far as availability allows: not-ready ones at once, ready ones
    // while the ready count stays at desired - maxUnavailable.
    const minAvailable = desired - maxUnavailable;
    const before = current().length;
    for (const p of old.filter((o) => !o.ready && !o.deleted && !o.terminating)) remove(p);
    for (const p of old.filter((o) => o.ready && !o.deleted && !o.terminating)) {
      const ready = current().filter((x) => x.ready).length;
      if (ready - 1 < minAvailable) break;
      remove(p);
    }
    // A deleted pod makes room for a surge this pass did not allow (e.g. an old crash-looping
    // pod replaced by a new template): the controller syncs again on the pod's deletion.
    if (current().length < before && current().filter((p) => p.hash === hash).length < desired) reconcile(name);
    const now = current();
    const ready = now.filter((p) => p.ready).length;
    store.updateStatus('Deployment', ns, name, {
      observedGeneration: d.metadata.generation,
      replicas: now.length,
      updatedReplicas: now.filter((p) => p.hash === hash).length,
      readyReplicas: ready,
      availableReplicas: ready,
      ...(desired - ready > 0 ? { unavailableReplicas: desired - ready } : {}),
    });
  }

  /** The data of the ConfigMaps that hold the config, as last seen: a change of data is a config patch (annotations are not). */
  const configData = new Map<string, string>();
  const configMaps = chart ? [SERVICE_SETTINGS, PROFILES] : ['halyard-config'];
  let operatorConfig = '';
  function onChange(event: ChangeEvent) {
    const obj = event.object;
    if (stopped) return;
    // The operator flavour: the config is spec.spinnakerConfig of the SpinnakerService (metadata and status changes are not patches).
    if (obj.kind === 'SpinnakerService' && event.type === 'MODIFIED') {
      const data = JSON.stringify((obj.spec as { spinnakerConfig?: unknown } | undefined)?.spinnakerConfig ?? {});
      if (operatorConfig && data !== operatorConfig) ledger.configPatches.push(Date.now());
      operatorConfig = data;
      return;
    }
    if (obj.kind === 'ConfigMap' && configMaps.includes(obj.metadata.name) && event.type === 'MODIFIED') {
      const data = JSON.stringify(obj.data ?? {});
      const before = configData.get(obj.metadata.name);
      if (before && data !== before) ledger.configPatches.push(Date.now());
      configData.set(obj.metadata.name, data);
      return;
    }
    const isSpinRedis = obj.kind === spinRedisKind && obj.metadata.name === spinRedisName;
    if (event.type !== 'MODIFIED' || (obj.kind !== 'Deployment' && !isSpinRedis)) return;
    const status = (obj.status ?? {}) as Record<string, number>;
    if ((status.observedGeneration ?? 0) >= (obj.metadata.generation ?? 0)) return;
    if (isSpinRedis) {
      const replicas = replicasOf(obj);
      store!.updateStatus(spinRedisKind, ns, spinRedisName, { ...status, observedGeneration: obj.metadata.generation });
      later(podStartMs / 3, () => ensureSpinRedis(replicas));
      return;
    }
    reconcile(obj.metadata.name);
  }

  /** The Redis a Deployment's pod template points at (what `hal deploy apply` gave it), resolved as its pod would. */
  const templateUrl = async (name: string): Promise<string | undefined> => {
    const d = store?.get('Deployment', ns, name);
    if (!d || annotationsOf(d)[REDIS_URL_ANNOTATION] === undefined) return undefined;
    return (await podRedisTarget(annotationsOf(d), options.resolveSecret).catch(() => undefined))?.url;
  };

  /**
   * pods/exec into spin-redis: the redis image's shell and coreutils run in the container's
   * filesystem, where Redis's `dir` is. Here the host's own (SPIN_REDIS_IMAGE_COMMANDS) run in the directory
   * the real redis-server process was given as its `dir`, so a path CONFIG GET dir names is that file.
   */
  const spinRedisExec: ExecHandler = ({ command }) =>
    new Promise((resolve) => {
      const [cmd, ...args] = command;
      if (!cmd || !SPIN_REDIS_IMAGE_COMMANDS.has(cmd)) return resolve({ stdout: '', stderr: `${cmd}: not found in the sandbox's spin-redis container\n`, exitCode: 127 });
      execFile(cmd, args, { cwd: posix.join(options.dir, 'spin-redis'), timeout: 10_000 }, (error, stdout, stderr) =>
        resolve({ stdout, stderr, exitCode: error ? (typeof error.code === 'number' ? error.code : 1) : 0 }),
      );
    });

  return {
    exec: ((req) => (req.namespace === ns && req.pod.startsWith(`${spinRedisName}-`) ? spinRedisExec(req) : halyard.exec(req))) as ExecHandler,
    ledger,
    /** Every service instance started so far (old and new pods). */
    instances,
    get spinRedis() {
      return spinRedis;
    },
    get spinRedisUrl() {
      return spinRedisUrl();
    },
    /** The chart's Bitnami password (Helm flavours): for the sandbox's own connections only, never printed. */
    spinRedisPassword,
    /** How spin-redis runs: the workload the migration scales. */
    spinRedisWorkload: { kind: spinRedisKind, name: spinRedisName } as const,
    /** The replicas spin-redis's workload asks for now. */
    spinRedisReplicasWanted(): number {
      return ((store?.get(spinRedisKind, ns, spinRedisName)?.spec as { replicas?: number } | undefined)?.replicas ?? 0) as number;
    },
    /** Helm flavours: the chart (helm-stable or helm-opsmx). */
    chart,
    /** Helm flavours: the ConfigMaps' data as the chart renders it (what a restore must give back, byte for byte). */
    chartRendered(): Record<string, Record<string, string>> | undefined {
      return chart ? renderedData(`127.0.0.1:${spinRedisPort}`, spinRedisPassword!) : undefined;
    },
    /**
     * `helm upgrade` with the release's values (./helm.ts helmUpgradeObjects), then its
     * post-upgrade hook's `hal deploy apply` in the Halyard pod. `restartHalyard`: the upgrade also
     * changed the init script, so the Halyard pod restarted and its init container recopied the
     * ConfigMaps first. Resolves with the hook's hal output.
     */
    async helmUpgrade(upgrade: { restartHalyard?: boolean } = {}): Promise<{ exitCode: number; stdout: string; stderr: string }> {
      if (!chart || !store) throw new Error('helmUpgrade: not a Helm install');
      helmUpgradeObjects(store, chart, ns, `127.0.0.1:${spinRedisPort}`, spinRedisPassword!);
      if (upgrade.restartHalyard) halyard.startFromChart(initContainerFiles(store, ns, halHome));
      const result = await halyard.exec({ namespace: ns, pod: HALYARD_POD, container: 'halyard', command: ['hal', 'deploy', 'apply'] });
      return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
    },
    /** Files inside the Halyard pod (path -> content). */
    halyardFiles: halyard.files,
    /** The services deployed (servicesFor the flavour). */
    serviceList: SERVICES,
    /** Where Spinnaker points now: the Redis orca's pod template names. */
    async pointsAt(): Promise<string> {
      return (await templateUrl('spin-orca')) ?? spinRedisUrl();
    },
    /** The simulated Spinnaker Operator (flavor operator). */
    operator,

    async install(target: ObjectStore): Promise<void> {
      store = target;
      store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      store.create({
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'spinnaker', namespace: ns, ...(options.podRoleArn ? { annotations: { 'eks.amazonaws.com/role-arn': options.podRoleArn } } : {}) },
      });
      if (chart) {
        // The chart's objects (./helm.ts), rendered once spin-redis's address is known.
        spinRedisPort = await freePort();
        for (const o of chartObjects(chart, ns, `127.0.0.1:${spinRedisPort}`, spinRedisPassword!)) store.create(o);
        await ensureSpinRedis(1);
        const sts = store.get('StatefulSet', ns, HALYARD_STATEFULSET)!;
        const pod = podObject(sts, templateHash(sts), true, { container: 'halyard' });
        store.create({ ...pod, metadata: { ...pod.metadata, name: HALYARD_POD, labels: { ...(pod.metadata.labels ?? {}), 'statefulset.kubernetes.io/pod-name': HALYARD_POD } } });
        // Its init container: the ConfigMaps into ~/.hal/default.
        halyard.startFromChart(initContainerFiles(store, ns, halHome));
        for (const name of configMaps) configData.set(name, JSON.stringify(store.get('ConfigMap', ns, name)?.data ?? {}));
      } else if (!operator) {
        const halyardDeployment = store.create(deployment('spin-halyard', { app: 'halyard' }));
        store.create(podObject(halyardDeployment, templateHash(halyardDeployment), true, { container: 'halyard' }));
      }
      if (!chart) {
        store.create(deployment('spin-redis', { app: 'spin', cluster: 'spin-redis', ...managedBy }));
        await ensureSpinRedis(1);
      }
      if (operator) operator.install();
      else if (!chart) {
        // After spin-redis: with HA clouddriver, ~/.hal/config names it as the three endpoints.
        const cm = store.create({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'halyard-config', namespace: ns, labels: { app: 'halyard' } },
          data: { ...INITIAL_FILES, config: halconfig(haClouddriver, spinRedisUrl()) },
        });
        configData.set('halyard-config', JSON.stringify(cm.data ?? {}));
        halyard.installFiles();
      }
      for (const spec of SERVICES) {
        const { name } = spec;
        const replicas = options.replicas?.[name] ?? 1;
        const annotations = halyard.serviceAnnotations(spec);
        const d = store.create(deployment(name, { app: 'spin', cluster: name, ...managedBy }, annotations, replicas));
        const hash = templateHash(d);
        const podTarget = spec.connects ? await podRedisTarget(annotations, options.resolveSecret) : undefined;
        if (podTarget) lastTargets.set(name, podTarget);
        for (let i = 0; i < replicas; i++) {
          // Running from before the sandbox began: Ready, their instances start with the traffic.
          const obj = store.create(podObject(d, hash, true));
          pods.set(obj.metadata.name, {
            name: obj.metadata.name,
            deployment: name,
            hash,
            ready: true,
            deleted: false,
            createdAt: Date.now(),
            ...(podTarget ? { target: podTarget, ...(podTarget.redisEnabled ? { url: podTarget.url } : {}) } : {}),
          });
        }
      }
      store.on('change', onChange);
      operator?.start();
    },

    /** Start the services' instances on the pods that run (after seeding, so the seed is not raced). */
    async startTraffic(): Promise<void> {
      traffic = true;
      await registerQueuedMessages();
      for (const pod of pods.values()) {
        const spec = specOf(pod.deployment);
        if (!spec?.connects || pod.instance || pod.deleted || !pod.ready) continue;
        const d = store!.get('Deployment', ns, pod.deployment)!;
        const target = await podRedisTarget(annotationsOf(d), options.resolveSecret);
        pod.target = target;
        pod.url = target.redisEnabled ? target.url : undefined;
        if (spec.redis) {
          const instance = newInstance(spec, pod, target);
          pod.instance = instance;
          instances.push(instance);
          await instance.start();
        } else if (pod.url) {
          pod.probed = true;
          ledger.instance('start', spec.canonical, pod.name, pod.url);
        }
      }
    },

    snapshot(): SpinnakerSnapshot {
      const deploymentsNow = SERVICES.map(({ name, connects }) => {
        const d = store?.get('Deployment', ns, name);
        const s = (d?.status ?? {}) as Record<string, number>;
        const replicas = d ? replicasOf(d) : 0;
        const mine = [...pods.values()].filter((p) => p.deployment === name && !p.deleted && !p.terminating);
        const running = mine.filter((p) => p.ready && p.target).sort((a, b) => b.createdAt - a.createdAt);
        // One Redis for all Ready pods: that one; mid-rollout (two): the newest pod's; none Ready: the last one's.
        const target = running[0]?.target ?? lastTargets.get(name);
        const connection = connects ? { redis: target?.redisEnabled === false ? undefined : target?.url, authenticated: Boolean(target?.password), redisEnabled: target?.redisEnabled ?? true } : {};
        return {
          name,
          ...connection,
          ready: (s.availableReplicas ?? 0) === replicas && !s.unavailableReplicas && (s.replicas ?? 0) === replicas,
          replicas,
          pods: mine.map((p) => ({ name: p.name, ready: p.ready, ...(p.url ? { redis: p.url } : {}) })),
        };
      });
      const redisDeployment = store?.get(spinRedisKind, ns, spinRedisName);
      const cfg = halyard.config();
      // Without user-info: the Helm charts' own redis.yml carries spin-redis's password in it.
      const baseUrl = cfg.url.replace(/\/\/[^@/]*@/, '//');
      return {
        services: deploymentsNow,
        spinRedis: { replicas: (redisDeployment?.spec as { replicas?: number })?.replicas ?? 0, running: Boolean(spinRedis), url: spinRedisUrl() },
        halyard: baseUrl !== spinRedisUrl() ? { overrideBaseUrl: baseUrl } : {},
        orcaExecutionsWritten: orcaExecutions().size,
      };
    },

    /** Every execution key any orca instance stored during the run. */
    orcaExecutions,
    /** Execution key -> the Redis URL of the orca instance that first stored it. */
    orcaWrites(): Map<string, string> {
      const out = new Map<string, string>();
      for (const i of instances) if (i instanceof OrcaInstance) for (const k of i.executionsWritten) if (!out.has(k)) out.set(k, i.url);
      return out;
    },

    /** Stop every instance (the pods stay): the end of the run, before the final checks. */
    async stopTraffic(): Promise<number> {
      traffic = false;
      const at = Date.now();
      ledger.closePolls(at);
      for (const i of instances) i.stop();
      for (const p of pods.values()) p.probed = false;
      return at;
    },

    async close(): Promise<void> {
      stopped = true;
      operator?.stop();
      for (const t of timers) clearTimeout(t);
      store?.off('change', onChange);
      for (const i of instances) i.stop();
      await spinRedis?.stop();
      await opsmxReplica?.stop();
    },
  };

  /**
   * keiko messages already queued or unacked on spin-redis before the run (a dump of a live
   * orca, `--rdb`, seldom has an empty queue): each counts as pushed once, so orca's ack of it
   * is not taken for a second processing (the ledger counts acks against pushes).
   */
  async function registerQueuedMessages(): Promise<void> {
    const redis = await connectRedis({ url: spinRedisUrl(), ...(spinRedisPassword ? { password: spinRedisPassword } : {}) }, { connectionName: 'spinnaker-sandbox-ledger' });
    try {
      for (const zset of [`${QUEUE}.queue`, `${QUEUE}.unacked`]) for (const fp of await redis.zrange(zset, '0', '-1')) ledger.push(fp, true);
    } finally {
      redis.disconnect();
    }
  }

  function orcaExecutions(): Set<string> {
    const all = new Set<string>();
    for (const i of instances) if (i instanceof OrcaInstance) for (const k of i.executionsWritten) all.add(k);
    return all;
  }
}

export type SpinnakerSimulation = ReturnType<typeof createSpinnakerSimulation>;
