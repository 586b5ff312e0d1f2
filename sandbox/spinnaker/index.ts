/**
 * The simulated Spinnaker of the sandbox, installed into the Kubernetes emulator's store:
 *   - the Halyard ConfigMap, and a Halyard pod (./halyard.ts: its files and `hal` over exec);
 *   - a rollout controller: new pods start after `podStartMs` and become Ready only if the
 *     service can really use its Redis (Gate fails on ElastiCache without `secure: true`);
 *   - spin-redis as a real redis-server whose process follows the Deployment's replicas;
 *   - orca, gate and igor clients connected to whatever Redis their Deployment points at.
 *
 * API: `createSpinnakerSimulation(options)` → `{ install(store), exec, services, spinRedis, snapshot(), close() }`.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { startRedis, type RedisProcess } from '../redis/redis-process.js';
import type { ObjectStore, KubeObject, ChangeEvent } from '../kubernetes/store.js';
import { SimulatedService, type RedisTargetConfig, type ServiceName } from './services.js';
import { createHalyardPod, halconfig, INITIAL_FILES, type PodRedisTarget, podRedisTarget, REDIS_URL_ANNOTATION, servicesFor } from './halyard.js';
import { probeRedis } from './connection.js';
import { createSpinnakerOperator, type OperatorFaults } from './operator.js';

export interface SpinnakerSimulationOptions {
  dir: string;
  namespace?: string;
  halHome?: string;
  /** Resolves `encrypted:secrets-manager!…` references, as kork-secrets does in each service. */
  resolveSecret: (reference: string) => Promise<string>;
  /** CA for rediss:// (the sandbox CA). */
  caFile?: string;
  podStartMs?: number;
  serviceWriteIntervalMs?: number;
  /** Fault switches for the fault matrix. */
  faults?: { halFailures?: number; neverReady?: string[] } & OperatorFaults;
  /** `halyard-ha`: HA clouddriver (spin-clouddriver-rw/-ro/-ro-deck/-caching); `operator`: a SpinnakerService reconciled by ./operator.ts, no Halyard pod, no ConfigMap. */
  flavor?: 'halyard' | 'halyard-ha' | 'operator';
  /** The IRSA role of the `spinnaker` service account the pods run as (annotation eks.amazonaws.com/role-arn). */
  podRoleArn?: string;
}

export { INITIAL_FILES } from './halyard.js';

export interface SpinnakerSnapshot {
  /** `redis`: where the service's pods are connected; `authenticated`: with a password from the URL's user-info; `redisEnabled`: echo's Pub/Sub works. */
  services: { name: string; redis?: string; authenticated?: boolean; redisEnabled?: boolean; ready: boolean; replicas: number }[];
  spinRedis: { replicas: number; running: boolean; url: string };
  halyard: { overrideBaseUrl?: string };
  orcaExecutionsWritten: number;
}

export function createSpinnakerSimulation(options: SpinnakerSimulationOptions) {
  const ns = options.namespace ?? 'spinnaker';
  const halHome = options.halHome ?? '/home/spinnaker/.hal';
  const podStartMs = options.podStartMs ?? 300;
  const faults = options.faults ?? {};
  let store: ObjectStore | undefined;
  let spinRedis: RedisProcess | undefined;
  let spinRedisPort = 0;
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  const services = new Map<ServiceName, SimulatedService>();
  const serviceWriteIntervalMs = options.serviceWriteIntervalMs ?? 25;

  const spinRedisUrl = () => `redis://127.0.0.1:${spinRedisPort}`;
  const haClouddriver = options.flavor === 'halyard-ha';
  const SERVICES = servicesFor(haClouddriver);
  const halyard = createHalyardPod({ namespace: ns, halHome, store: () => store!, spinRedisUrl, faults, services: SERVICES, haClouddriver });
  // Operator installs: the operator embeds Halyard (the same generator, fed from the SpinnakerService).
  const operator = options.flavor === 'operator' ? createSpinnakerOperator({ namespace: ns, halHome, halyard, store: () => store!, spinRedisUrl, faults }) : undefined;
  const managedBy: Record<string, string> = operator ? { 'app.kubernetes.io/managed-by': 'spinnaker-operator' } : {};
  /** What each connecting service's current pods connected with (services.ts plays only some of them). */
  const podTargets = new Map<string, PodRedisTarget>();
  const later = (ms: number, fn: () => void | Promise<void>) => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (!stopped) void Promise.resolve(fn()).catch(() => undefined);
    }, ms);
    timers.add(t);
  };

  const podFor = (deployment: KubeObject, hash: string, ready: boolean, extra: Partial<{ port: number; container: string }> = {}): KubeObject => {
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
          },
        ],
      },
      status: { phase: 'Running', podIP: '127.0.0.1', hostIP: '127.0.0.1', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }], startTime: new Date().toISOString() },
    };
  };

  const templateHash = (d: KubeObject) =>
    createHash('sha1')
      .update(JSON.stringify((d.spec as { template?: unknown }).template ?? {}))
      .digest('hex');

  function deployment(name: string, labels: Record<string, string>, annotations: Record<string, string> = {}, replicas = 1): KubeObject {
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: ns, labels },
      spec: {
        replicas,
        selector: { matchLabels: labels },
        strategy: { type: 'RollingUpdate' },
        template: { metadata: { labels, annotations }, spec: { serviceAccountName: 'spinnaker', containers: [{ name: name.replace(/^spin-/, ''), image: 'sandbox' }] } },
      },
      status: { observedGeneration: 1, replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas },
    };
  }

  // ---- spin-redis: a real process following the Deployment's replicas ----
  async function ensureSpinRedis(replicas: number) {
    if (!store) return;
    const d = store.get('Deployment', ns, 'spin-redis');
    if (!d) return;
    for (const pod of store.list('Pod', ns, 'cluster=spin-redis')) store.delete('Pod', ns, pod.metadata.name);
    if (replicas > 0) {
      if (!spinRedis || spinRedis.process.exitCode !== null || spinRedis.process.signalCode !== null) {
        spinRedis = await startRedis({ dir: posix.join(options.dir, 'spin-redis'), ...(spinRedisPort ? { port: spinRedisPort } : {}) });
        spinRedisPort = spinRedis.port;
      }
      store.create(podFor(d, templateHash(d), true, { port: spinRedisPort, container: 'redis' }));
    } else if (spinRedis) {
      // No PVC, like the stock spin-redis: its data goes with the pod.
      await spinRedis.stop();
      spinRedis = undefined;
    }
    const current = store.get('Deployment', ns, 'spin-redis')!;
    store.updateStatus('Deployment', ns, 'spin-redis', { observedGeneration: current.metadata.generation, replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas });
  }

  // ---- the rollout controller ----
  const observed = new Map<string, string>();
  function onChange(event: ChangeEvent) {
    const d = event.object;
    if (event.type !== 'MODIFIED' || d.kind !== 'Deployment' || stopped) return;
    const key = `${d.metadata.generation}`;
    if (observed.get(d.metadata.name) === key) return;
    observed.set(d.metadata.name, key);
    const status = (d.status ?? {}) as Record<string, number>;
    if ((status.observedGeneration ?? 0) >= (d.metadata.generation ?? 0)) return;
    const replicas = (d.spec as { replicas?: number }).replicas ?? 1;
    if (d.metadata.name === 'spin-redis') {
      later(podStartMs / 3, () => ensureSpinRedis(replicas));
      return;
    }
    store!.updateStatus('Deployment', ns, d.metadata.name, { ...status, observedGeneration: d.metadata.generation, updatedReplicas: 0, unavailableReplicas: replicas });
    later(podStartMs, () => rollOut(d.metadata.name));
  }

  async function rollOut(name: string) {
    const d = store!.get('Deployment', ns, name);
    if (!d) return;
    const replicas = (d.spec as { replicas?: number }).replicas ?? 1;
    const annotations = ((d.spec as { template: { metadata: { annotations?: Record<string, string> } } }).template.metadata.annotations ?? {}) as Record<string, string>;
    const spec = SERVICES.find((s) => s.name === name);
    const hash = templateHash(d);
    // neverReady: the service cannot start on the new Redis (it still starts on spin-redis, so a rollback can succeed).
    let ready = replicas > 0 && !(faults.neverReady?.includes(name) && annotations[REDIS_URL_ANNOTATION] !== spinRedisUrl());
    const service = spec?.redis ? services.get(spec.redis) : undefined;
    if (ready && spec?.connects && annotations[REDIS_URL_ANNOTATION] !== undefined) {
      try {
        const target = await podRedisTarget(annotations, options.resolveSecret);
        if (service) await service.attach(await service.probe(target), target);
        else if (target.redisEnabled) await probeRedis(target, options.caFile, `${name}-probe`);
        podTargets.set(name, target);
      } catch {
        ready = false; // the new pod crash-loops; the old one keeps serving
      }
    }
    const oldPods = store!.list('Pod', ns, `cluster=${name}`);
    if (ready) {
      for (const p of oldPods) store!.delete('Pod', ns, p.metadata.name);
      for (let i = 0; i < replicas; i++) store!.create(podFor(d, hash, true));
      store!.updateStatus('Deployment', ns, name, { observedGeneration: d.metadata.generation, replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas });
    } else {
      if (!oldPods.some((p) => p.metadata.labels?.['pod-template-hash'] === hash.slice(0, 8))) store!.create(podFor(d, hash, false));
      const available = oldPods.filter((p) => p.metadata.labels?.['pod-template-hash'] !== hash.slice(0, 8)).length;
      store!.updateStatus('Deployment', ns, name, {
        observedGeneration: d.metadata.generation,
        replicas: available + 1,
        updatedReplicas: 1,
        readyReplicas: available,
        availableReplicas: available,
        unavailableReplicas: 1,
      });
    }
  }

  return {
    exec: halyard.exec,
    services,
    get spinRedis() {
      return spinRedis;
    },
    get spinRedisUrl() {
      return spinRedisUrl();
    },
    /** Files inside the Halyard pod (path -> content). */
    halyardFiles: halyard.files,
    /** The services deployed (servicesFor the flavour). */
    serviceList: SERVICES,
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
      if (!operator) {
        const halyardDeployment = store.create(deployment('spin-halyard', { app: 'halyard' }));
        store.create(podFor(halyardDeployment, templateHash(halyardDeployment), true, { container: 'halyard' }));
      }
      store.create(deployment('spin-redis', { app: 'spin', cluster: 'spin-redis', ...managedBy }));
      await ensureSpinRedis(1);
      if (operator) operator.install();
      else {
        // After spin-redis: with HA clouddriver, ~/.hal/config names it as the three endpoints.
        store.create({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'halyard-config', namespace: ns, labels: { app: 'halyard' } },
          data: { ...INITIAL_FILES, config: halconfig(haClouddriver, spinRedisUrl()) },
        });
        halyard.installFiles();
      }
      for (const spec of SERVICES) {
        const { name, redis } = spec;
        const d = store.create(deployment(name, { app: 'spin', cluster: name, ...managedBy }, halyard.serviceAnnotations(spec)));
        store.create(podFor(d, templateHash(d), true));
        if (spec.connects) podTargets.set(name, await podRedisTarget(halyard.serviceAnnotations(spec), options.resolveSecret));
        if (redis) {
          const service = new SimulatedService(redis, `${name}-0`, options.caFile, serviceWriteIntervalMs);
          services.set(redis, service);
        }
      }
      store.on('change', onChange);
      operator?.start();
    },

    /** Start the services' traffic (after seeding, so the seed is not raced). */
    async startTraffic(): Promise<void> {
      for (const service of services.values()) {
        const target: RedisTargetConfig = { url: spinRedisUrl(), gateSecure: false };
        await service.attach(await service.probe(target), target);
      }
    },

    snapshot(): SpinnakerSnapshot {
      const deploymentsNow = SERVICES.map(({ name, redis, connects }) => {
        const d = store?.get('Deployment', ns, name);
        const s = (d?.status ?? {}) as Record<string, number>;
        const replicas = (d?.spec as { replicas?: number })?.replicas ?? 0;
        const pod = podTargets.get(name);
        const target = (redis ? services.get(redis)?.target : undefined) ?? pod;
        const connection = connects ? { redis: pod?.redisEnabled === false ? undefined : target?.url, authenticated: Boolean(target?.password), redisEnabled: pod?.redisEnabled ?? true } : {};
        return { name, ...connection, ready: (s.availableReplicas ?? 0) === replicas && !s.unavailableReplicas, replicas };
      });
      const redisDeployment = store?.get('Deployment', ns, 'spin-redis');
      const cfg = halyard.config();
      return {
        services: deploymentsNow,
        spinRedis: { replicas: (redisDeployment?.spec as { replicas?: number })?.replicas ?? 0, running: Boolean(spinRedis), url: spinRedisUrl() },
        halyard: cfg.url !== spinRedisUrl() ? { overrideBaseUrl: cfg.url } : {},
        orcaExecutionsWritten: services.get('orca')?.written.size ?? 0,
      };
    },

    async stopTraffic(): Promise<void> {
      await Promise.all([...services.values()].map((s) => s.stop()));
    },

    async close(): Promise<void> {
      stopped = true;
      operator?.stop();
      for (const t of timers) clearTimeout(t);
      store?.off('change', onChange);
      await Promise.all([...services.values()].map((s) => s.stop()));
      await spinRedis?.stop();
    },
  };
}

export type SpinnakerSimulation = ReturnType<typeof createSpinnakerSimulation>;
