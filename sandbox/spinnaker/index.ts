/**
 * The simulated Spinnaker of the sandbox, installed into the Kubernetes emulator's store:
 *   - the Halyard ConfigMap, and a Halyard pod whose own files are copied from it at start
 *     (as the Helm chart does: later ConfigMap changes do not reach them by themselves);
 *   - `hal deploy apply` over exec, which reads those files, validates overrideBaseUrl as
 *     Halyard does, and re-points the service Deployments (a new generation each);
 *   - a rollout controller: new pods start after `podStartMs` and become Ready only if the
 *     service can really use its Redis (Gate fails on ElastiCache without `secure: true`);
 *   - spin-redis as a real redis-server whose process follows the Deployment's replicas;
 *   - orca, gate and igor clients connected to whatever Redis their Deployment points at.
 *
 * API: `createSpinnakerSimulation(options)` → `{ install(store), exec, services, spinRedis, snapshot(), close() }`.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { startRedis, type RedisProcess } from '../redis/redis-process.js';
import type { ObjectStore, KubeObject, ChangeEvent } from '../kubernetes/store.js';
import type { ExecHandler } from '../kubernetes/server.js';
import { SimulatedService, type RedisTargetConfig, type ServiceName } from './services.js';

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
  faults?: { halFailures?: number; neverReady?: string[] };
  /** spin-redis's container `resources` (e.g. `{ limits: { memory: '16Mi' } }`), as a Helm value or LimitRange would set them. */
  spinRedisResources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  /** The redis-server binary that plays spin-redis (any version). */
  spinRedisServer?: string;
}

const SERVICES: { name: string; redis?: ServiceName }[] = [
  { name: 'spin-orca', redis: 'orca' },
  { name: 'spin-gate', redis: 'gate' },
  { name: 'spin-igor', redis: 'igor' },
  { name: 'spin-front50' },
  { name: 'spin-clouddriver' },
  { name: 'spin-echo' },
  { name: 'spin-fiat' },
  { name: 'spin-deck' },
];
const REDIS_URL_ANNOTATION = 'sandbox.spinnaker.io/redis-url';
const PASSWORD_REF_ANNOTATION = 'sandbox.spinnaker.io/redis-password-ref';
const GATE_SECURE_ANNOTATION = 'sandbox.spinnaker.io/gate-secure';
const CONFIG_HASH_ANNOTATION = 'spinnaker.io/config-hash';

export const INITIAL_FILES = {
  'redis.yml': '# Halyard service settings for redis (managed by the platform team)\n',
  'gate-local.yml': '# Gate profile\nserver:\n  tomcat:\n    protocolHeader: X-Forwarded-Proto\n    remoteIpHeader: X-Forwarded-For\ncors:\n  allowedOriginsPattern: https://spinnaker.example.com\n',
  'spinnaker-local.yml': '# Settings every service reads\nservices:\n  deck:\n    baseUrl: https://spinnaker.example.com\n',
};
const FILE_PATHS: Record<string, string> = { 'redis.yml': 'service-settings/redis.yml', 'gate-local.yml': 'profiles/gate-local.yml', 'spinnaker-local.yml': 'profiles/spinnaker-local.yml' };

export interface SpinnakerSnapshot {
  services: { name: string; redis?: string; ready: boolean; replicas: number }[];
  spinRedis: { replicas: number; running: boolean; url: string };
  halyard: { overrideBaseUrl?: string };
  orcaExecutionsWritten: number;
}

export function createSpinnakerSimulation(options: SpinnakerSimulationOptions) {
  const ns = options.namespace ?? 'spinnaker';
  const halHome = options.halHome ?? '/home/spinnaker/.hal';
  const podStartMs = options.podStartMs ?? 300;
  const files = new Map<string, string>();
  const dirs = new Set<string>(['/', '/home', '/home/spinnaker', halHome, `${halHome}/default`]);
  const faults = options.faults ?? {};
  let store: ObjectStore | undefined;
  let spinRedis: RedisProcess | undefined;
  let spinRedisPort = 0;
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  const services = new Map<ServiceName, SimulatedService>();
  const serviceWriteIntervalMs = options.serviceWriteIntervalMs ?? 25;

  const spinRedisUrl = () => `redis://127.0.0.1:${spinRedisPort}`;
  const later = (ms: number, fn: () => void | Promise<void>) => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (!stopped) void Promise.resolve(fn()).catch(() => undefined);
    }, ms);
    timers.add(t);
  };

  const podFor = (deployment: KubeObject, hash: string, ready: boolean, extra: Partial<{ port: number; container: string; resources: object }> = {}): KubeObject => {
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
        template: { metadata: { labels, annotations }, spec: { containers: [{ name: name.replace(/^spin-/, ''), image: 'sandbox' }] } },
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
        spinRedis = await startRedis({
          dir: posix.join(options.dir, 'spin-redis'),
          ...(spinRedisPort ? { port: spinRedisPort } : {}),
          ...(options.spinRedisServer ? { binary: options.spinRedisServer } : {}),
        });
        spinRedisPort = spinRedis.port;
      }
      store.create(podFor(d, templateHash(d), true, { port: spinRedisPort, container: 'redis', ...(options.spinRedisResources ? { resources: options.spinRedisResources } : {}) }));
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
    if (ready && service && annotations[REDIS_URL_ANNOTATION]) {
      try {
        const ref = annotations[PASSWORD_REF_ANNOTATION];
        const target: RedisTargetConfig = {
          url: annotations[REDIS_URL_ANNOTATION]!,
          gateSecure: annotations[GATE_SECURE_ANNOTATION] === 'true',
          ...(ref ? { password: await options.resolveSecret(ref) } : {}),
        };
        await service.attach(await service.probe(target), target);
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

  // ---- Halyard ----
  function halConfig(): { url: string; passwordRef?: string; gateSecure: boolean; manageRedis: boolean; error?: string } {
    const read = (key: string) => files.get(`${halHome}/default/${FILE_PATHS[key]}`);
    const redis = (parseYaml(read('redis.yml') ?? '') ?? {}) as { overrideBaseUrl?: unknown; skipLifeCycleManagement?: boolean; enabled?: boolean };
    const gate = (parseYaml(read('gate-local.yml') ?? '') ?? {}) as { redis?: { configuration?: { secure?: boolean } } };
    const common = (parseYaml(read('spinnaker-local.yml') ?? '') ?? {}) as { redis?: { password?: string } };
    let url = spinRedisUrl();
    if (redis.overrideBaseUrl !== undefined) {
      const value = String(redis.overrideBaseUrl);
      const m = /^(rediss?):\/\/(?:[^@/]*@)?([A-Za-z0-9.-]+):(\d{1,5})(\/\d*)?$/.exec(value);
      if (!m || Number(m[3]) > 65535) return { url, gateSecure: false, manageRedis: true, error: `! ERROR Illegal override baseURL: ${value.replace(/:\/\/[^@]*@/, '://****@')}` };
      url = value;
    }
    return {
      url,
      ...(common.redis?.password ? { passwordRef: common.redis.password } : {}),
      gateSecure: gate.redis?.configuration?.secure === true,
      manageRedis: !(redis.skipLifeCycleManagement === true && redis.enabled === false) && redis.overrideBaseUrl === undefined,
    };
  }

  async function halDeployApply(): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const out: string[] = ['+ Get current deployment', '  Success', '+ Prep deployment', '  Success'];
    const cfg = halConfig();
    if (cfg.error) return { stdout: `${out.join('\n')}\n`, stderr: `${cfg.error}\n- Failed to prep Spinnaker deployment\n`, exitCode: 1 };
    if ((faults.halFailures ?? 0) > 0) {
      faults.halFailures!--;
      return { stdout: `${out.join('\n')}\n`, stderr: '! ERROR Unexpected exception: the sandbox was told to fail this hal deploy apply\n', exitCode: 1 };
    }
    if (cfg.manageRedis) {
      const redis = store!.get('Deployment', ns, 'spin-redis');
      if (redis && ((redis.spec as { replicas?: number }).replicas ?? 0) === 0) store!.update({ ...redis, spec: { ...(redis.spec as object), replicas: 1 } });
    }
    for (const { name, redis } of SERVICES) {
      const d = store!.get('Deployment', ns, name);
      if (!d) continue;
      const template = (d.spec as { template: { metadata: { annotations?: Record<string, string> } } }).template;
      const annotations: Record<string, string> = { ...(template.metadata.annotations ?? {}) };
      if (redis) {
        annotations[REDIS_URL_ANNOTATION] = cfg.url;
        if (cfg.passwordRef) annotations[PASSWORD_REF_ANNOTATION] = cfg.passwordRef;
        else delete annotations[PASSWORD_REF_ANNOTATION];
        annotations[GATE_SECURE_ANNOTATION] = String(cfg.gateSecure);
      }
      annotations[CONFIG_HASH_ANNOTATION] = createHash('sha1')
        .update(JSON.stringify({ url: cfg.url, ref: cfg.passwordRef ?? '', secure: cfg.gateSecure }))
        .digest('hex')
        .slice(0, 12);
      const next = { ...d, spec: { ...(d.spec as object), template: { ...template, metadata: { ...template.metadata, annotations } } } };
      store!.update(next);
      out.push(`+ Apply deployment ${name}`, '  Success');
    }
    out.push('+ Run `hal deploy connect` to connect to Spinnaker.');
    return { stdout: `${out.join('\n')}\n`, stderr: '', exitCode: 0 };
  }

  const exec: ExecHandler = async ({ command, stdin }) => {
    const [cmd, ...args] = command;
    if (cmd === 'cat' && args.length === 1) {
      const content = files.get(args[0]!);
      return content === undefined ? { stdout: '', stderr: `cat: ${args[0]}: No such file or directory\n`, exitCode: 1 } : { stdout: content, stderr: '', exitCode: 0 };
    }
    if (cmd === 'mkdir' && args[0] === '-p' && args[1]) {
      let dir = '';
      for (const part of args[1].split('/').filter(Boolean)) dirs.add((dir += `/${part}`));
      return { stdout: '', stderr: '', exitCode: 0 };
    }
    if (cmd === 'rm' && args[0] === '-f' && args[1]) {
      files.delete(args[1]);
      return { stdout: '', stderr: '', exitCode: 0 };
    }
    if (cmd === 'sh' && args[0] === '-c') {
      const m = /^cat > '((?:[^']|'\\'')+)'$/.exec(args[1] ?? '');
      if (!m) return { stdout: '', stderr: `sh: unsupported script in the sandbox: ${args[1]}\n`, exitCode: 2 };
      const path = m[1]!.replace(/'\\''/g, "'");
      if (!dirs.has(posix.dirname(path))) return { stdout: '', stderr: `sh: 1: cannot create ${path}: Directory nonexistent\n`, exitCode: 2 };
      files.set(path, stdin?.toString('utf8') ?? '');
      return { stdout: '', stderr: '', exitCode: 0 };
    }
    if (cmd === 'hal' && args[0] === 'deploy' && args[1] === 'apply') return halDeployApply();
    if (cmd === 'hal' && args[0] === 'config' && args[1] === 'generate') {
      const cfg = halConfig();
      return cfg.error ? { stdout: '', stderr: `${cfg.error}\n`, exitCode: 1 } : { stdout: `+ Generate config\n  Success\nservices.redis.baseUrl: ${cfg.url}\n`, stderr: '', exitCode: 0 };
    }
    return { stdout: '', stderr: `sh: 1: ${cmd}: not found\n`, exitCode: 127 };
  };

  return {
    exec,
    services,
    get spinRedis() {
      return spinRedis;
    },
    get spinRedisUrl() {
      return spinRedisUrl();
    },
    /** Files inside the Halyard pod (path -> content). */
    halyardFiles: files,

    async install(target: ObjectStore): Promise<void> {
      store = target;
      store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      store.create({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'halyard-config', namespace: ns, labels: { app: 'halyard' } },
        data: { ...INITIAL_FILES, config: 'currentDeployment: default\ndeploymentConfigurations:\n- name: default\n  version: 1.35.0\n' },
      });
      for (const [key, content] of Object.entries(INITIAL_FILES)) {
        const path = `${halHome}/default/${FILE_PATHS[key]}`;
        files.set(path, content);
        dirs.add(posix.dirname(path));
      }
      const halyard = store.create(deployment('spin-halyard', { app: 'halyard' }));
      store.create(podFor(halyard, templateHash(halyard), true, { container: 'halyard' }));
      store.create(deployment('spin-redis', { app: 'spin', cluster: 'spin-redis' }));
      await ensureSpinRedis(1);
      for (const { name, redis } of SERVICES) {
        const d = store.create(deployment(name, { app: 'spin', cluster: name }, redis ? { [REDIS_URL_ANNOTATION]: spinRedisUrl(), [GATE_SECURE_ANNOTATION]: 'false' } : {}));
        store.create(podFor(d, templateHash(d), true));
        if (redis) {
          const service = new SimulatedService(redis, `${name}-0`, options.caFile, serviceWriteIntervalMs);
          services.set(redis, service);
        }
      }
      store.on('change', onChange);
    },

    /** Start the services' traffic (after seeding, so the seed is not raced). */
    async startTraffic(): Promise<void> {
      for (const service of services.values()) {
        const target: RedisTargetConfig = { url: spinRedisUrl(), gateSecure: false };
        await service.attach(await service.probe(target), target);
      }
    },

    snapshot(): SpinnakerSnapshot {
      const deploymentsNow = SERVICES.map(({ name, redis }) => {
        const d = store?.get('Deployment', ns, name);
        const s = (d?.status ?? {}) as Record<string, number>;
        const replicas = (d?.spec as { replicas?: number })?.replicas ?? 0;
        return { name, ...(redis ? { redis: services.get(redis)?.target?.url } : {}), ready: (s.availableReplicas ?? 0) === replicas && !s.unavailableReplicas, replicas };
      });
      const redisDeployment = store?.get('Deployment', ns, 'spin-redis');
      const cfg = halConfig();
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
      for (const t of timers) clearTimeout(t);
      store?.off('change', onChange);
      await Promise.all([...services.values()].map((s) => s.stop()));
      await spinRedis?.stop();
    },
  };
}

export type SpinnakerSimulation = ReturnType<typeof createSpinnakerSimulation>;
