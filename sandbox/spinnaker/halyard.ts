/**
 * The Halyard pod of the sandbox: its own copy of the Halyard files (copied from the ConfigMap at
 * start, as the Helm chart's init container does: later ConfigMap changes do not reach them by
 * themselves), and the commands the workflow runs in it over exec (`cat`, `mkdir -p`, `rm -f`,
 * `sh -c "cat > FILE"`, `hal config generate`, `hal deploy apply`).
 *
 * `hal deploy apply` follows halyard-deploy's KubernetesV2 deployer
 * (halyard-deploy/.../deployment/v1/KubectlDeployer.java): it validates overrideBaseUrl as
 * ServiceSettings.buildBaseUri does, never re-applies or scales an existing spin-redis, and
 * re-applies a service Deployment only when that service's generated config changed (a new
 * template, so a new generation and a rollout). Each service's config is what it would read
 * (connection.ts): its profiles' `redis.connection`, else `services.redis.baseUrl` from
 * spinnaker.yml or, for HA clouddriver, its `<canonical>-overrides.yml`.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ObjectStore } from '../kubernetes/store.js';
import type { ExecHandler } from '../kubernetes/server.js';
import type { ClouddriverRole, RedisTargetConfig, ServiceName } from './services.js';
import { korkConnection, type PropertySource, redisProperties } from './connection.js';

/** What the service reads as `redis.connection` (after Spring's precedence; before kork-secrets resolves it in the pod). */
export const REDIS_URL_ANNOTATION = 'sandbox.spinnaker.io/redis-connection';
/** echo's `redis.enabled` (Pub/Sub needs it). */
export const REDIS_ENABLED_ANNOTATION = 'sandbox.spinnaker.io/redis-enabled';
export const GATE_SECURE_ANNOTATION = 'sandbox.spinnaker.io/gate-secure';
/** The Spinnaker service the pod runs (its canonical name, e.g. clouddriver-ro). */
export const SERVICE_ANNOTATION = 'sandbox.spinnaker.io/service';
const CONFIG_HASH_ANNOTATION = 'spinnaker.io/config-hash';

export const INITIAL_FILES = {
  'redis.yml': '# Halyard service settings for redis (managed by the platform team)\n',
  'gate-local.yml': '# Gate profile\nserver:\n  tomcat:\n    protocolHeader: X-Forwarded-Proto\n    remoteIpHeader: X-Forwarded-For\ncors:\n  allowedOriginsPattern: https://spinnaker.example.com\n',
  'spinnaker-local.yml': '# Settings every service reads\nservices:\n  deck:\n    baseUrl: https://spinnaker.example.com\n',
};
export const FILE_PATHS: Record<string, string> = {
  'redis.yml': 'service-settings/redis.yml',
  'gate-local.yml': 'profiles/gate-local.yml',
  'spinnaker-local.yml': 'profiles/spinnaker-local.yml',
};

/** A Deployment Halyard makes: `spin-<canonical>`; `base` is the service type whose `<base>-local.yml` it loads. */
export interface SpinService {
  name: string;
  canonical: string;
  base: string;
  /** The simulated writer (./services/<redis>.ts) each of its pods runs; a service that connects without one only probes. */
  redis?: ServiceName;
  /** clouddriver's part in HA: `caching` runs the CATS agents, `tasks` the task repository (default: both). */
  role?: ClouddriverRole;
  /** Opens a Redis connection at start (the jar maps redis.connection). */
  connects: boolean;
  /** HA clouddriver sub-service, and the ~/.hal/config endpoint it takes (ClouddriverHaService). */
  ha?: { endpoint: 'redisMasterEndpoint' | 'redisSlaveEndpoint' | 'redisSlaveDeckEndpoint' };
}

const svc = (canonical: string, extra: Partial<SpinService> = {}): SpinService => ({ name: `spin-${canonical}`, canonical, base: canonical, connects: false, ...extra });

/**
 * The Spinnaker services Halyard deploys. With HA clouddriver (`hal config deploy ha clouddriver`),
 * spin-clouddriver becomes rw/ro/ro-deck/caching (KubernetesV2Clouddriver{Rw,Ro,RoDeck,Caching}Service).
 */
export function servicesFor(haClouddriver: boolean): SpinService[] {
  const clouddriver = haClouddriver
    ? [
        // The mapping of the writers: orca's operations go to clouddriver-rw (the task
        // repository); only clouddriver-caching runs caching agents (halyard's ro/rw profiles
        // set caching.writeEnabled false); ro and ro-deck only read, so they only connect.
        svc('clouddriver-rw', { base: 'clouddriver', redis: 'clouddriver', role: 'tasks', connects: true, ha: { endpoint: 'redisMasterEndpoint' } }),
        svc('clouddriver-ro', { base: 'clouddriver', connects: true, ha: { endpoint: 'redisSlaveEndpoint' } }),
        svc('clouddriver-ro-deck', { base: 'clouddriver', connects: true, ha: { endpoint: 'redisSlaveDeckEndpoint' } }),
        svc('clouddriver-caching', { base: 'clouddriver', redis: 'clouddriver', role: 'caching', connects: true, ha: { endpoint: 'redisMasterEndpoint' } }),
      ]
    : [svc('clouddriver', { redis: 'clouddriver', connects: true })];
  return [
    svc('orca', { redis: 'orca', connects: true }),
    svc('gate', { redis: 'gate', connects: true }),
    svc('igor', { redis: 'igor', connects: true }),
    svc('front50'),
    ...clouddriver,
    svc('echo', { redis: 'echo', connects: true }),
    svc('fiat', { redis: 'fiat', connects: true }),
    svc('rosco', { redis: 'rosco', connects: true }),
    svc('deck'),
  ];
}

/** The plain install's services (index.ts picks servicesFor(ha) per simulation). */
export const SERVICES = servicesFor(false);

/** ~/.hal/config: with HA clouddriver, its three endpoints point at spin-redis, as `hal config deploy ha clouddriver edit` would. */
export function halconfig(haClouddriver: boolean, spinRedisUrl: string): string {
  const ha = haClouddriver
    ? `  deploymentEnvironment:\n    haServices:\n      clouddriver:\n        enabled: true\n        redisMasterEndpoint: ${spinRedisUrl}\n        redisSlaveEndpoint: ${spinRedisUrl}\n        redisSlaveDeckEndpoint: ${spinRedisUrl}\n        disableClouddriverRoDeck: false\n`
    : '';
  return `currentDeployment: default\ndeploymentConfigurations:\n- name: default\n  version: 1.35.0\n${ha}`;
}

export interface HalyardConfig {
  /** services.redis.baseUrl as Halyard writes it into spinnaker.yml. */
  url: string;
  /** services.redis.enabled */
  enabled: boolean;
  error?: string;
}

export interface HalyardPodOptions {
  namespace: string;
  halHome: string;
  store: () => ObjectStore;
  spinRedisUrl: () => string;
  faults: { halFailures?: number };
  /** The services deployed (servicesFor). */
  services?: SpinService[];
  haClouddriver?: boolean;
}

/** What a pod of the service connects with: the seam's result. */
export type PodRedisTarget = RedisTargetConfig & { service?: string; redisEnabled: boolean };

/**
 * The Redis a service's pod connects to, from what `hal deploy apply` put in its pod template:
 * the one seam between the Halyard side (what config each service gets) and the simulated
 * services (who connect with it). The value is resolved in the pod as kork-secrets does (a
 * whole `encrypted:` value only), then parsed as kork-jedis does: the password comes only
 * from the URL's user-info. Rejects when the pod would crash-loop (a secret it may not read,
 * a malformed URL).
 */
export async function podRedisTarget(annotations: Record<string, string>, resolveSecret: (reference: string) => Promise<string>): Promise<PodRedisTarget> {
  const raw = annotations[REDIS_URL_ANNOTATION] ?? '';
  const redisEnabled = annotations[REDIS_ENABLED_ANNOTATION] !== 'false';
  const service = annotations[SERVICE_ANNOTATION];
  const base = { gateSecure: annotations[GATE_SECURE_ANNOTATION] === 'true', redisEnabled, ...(service ? { service } : {}) };
  if (!raw) return { url: '', ...base };
  const value = /^encrypted:/i.test(raw) ? await resolveSecret(raw) : raw;
  return { ...korkConnection(value), ...base };
}

const parse = (content: string | undefined): PropertySource => {
  try {
    const value = parseYaml(content ?? '') as unknown;
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

export function createHalyardPod(options: HalyardPodOptions) {
  const { namespace: ns, halHome, faults } = options;
  const services = options.services ?? SERVICES;
  const files = new Map<string, string>();
  const dirs = new Set<string>(['/', '/home', '/home/spinnaker', halHome, `${halHome}/default`]);
  const deploymentDir = `${halHome}/default`;

  /** services.redis.* as Halyard generates spinnaker.yml (ServiceSettings.getBaseUrl: overrideBaseUrl, else baseUrl). */
  function config(): HalyardConfig {
    const redis = (parse(files.get(`${deploymentDir}/service-settings/redis.yml`)) ?? {}) as { overrideBaseUrl?: unknown; baseUrl?: unknown; enabled?: unknown };
    const enabled = redis.enabled !== false;
    let url = options.spinRedisUrl();
    const override = redis.overrideBaseUrl ?? redis.baseUrl;
    if (override !== undefined) {
      const value = String(override);
      // ServiceSettings.buildBaseUri: Apache URIBuilder; an unparseable string fails the whole deploy.
      const m = /^(rediss?):\/\/(?:[^@/]*@)?([A-Za-z0-9.-]+):(\d{1,5})(\/\d*)?$/.exec(value);
      if (!m || Number(m[3]) > 65535) return { url, enabled, error: `! ERROR Illegal override baseURL: ${value.replace(/:\/\/[^@]*@/, '://****@')}` };
      url = value;
    }
    return { url, enabled };
  }

  /**
   * The Redis properties each service ends up with (connection.ts redisProperties over its
   * property sources), as pod-template annotations: what `hal deploy apply` changes in a
   * Deployment when that service's generated files change.
   */
  function serviceAnnotations(service: SpinService, cfg: HalyardConfig = config()): Record<string, string> {
    const profile = (name: string) => parse(files.get(`${deploymentDir}/profiles/${name}`));
    const hal = (parse(files.get(`${halHome}/config`)) ?? {}) as { deploymentConfigurations?: { name?: string; deploymentEnvironment?: { haServices?: { clouddriver?: Record<string, unknown> } } }[] };
    const haSettings = hal.deploymentConfigurations?.find((d) => d.name === 'default')?.deploymentEnvironment?.haServices?.clouddriver;
    const endpoint = service.ha && options.haClouddriver ? haSettings?.[service.ha.endpoint] : undefined;
    const sources: PropertySource[] = [
      service.canonical !== service.base ? profile(`${service.canonical}-local.yml`) : undefined,
      profile(`${service.base}-local.yml`),
      profile('spinnaker-local.yml'),
      // ClouddriverHaService.getServiceOverrides -> <canonical>-overrides.yml
      endpoint !== undefined ? { services: { redis: { baseUrl: String(endpoint) } } } : undefined,
      { services: { redis: { baseUrl: cfg.url, enabled: cfg.enabled } } },
    ];
    const props = redisProperties(sources);
    if (!service.connects) return {};
    return {
      [SERVICE_ANNOTATION]: service.canonical,
      [REDIS_URL_ANNOTATION]: props.connection ?? '',
      [REDIS_ENABLED_ANNOTATION]: String(service.base === 'echo' ? props.redisEnabled : true),
      [GATE_SECURE_ANNOTATION]: String(props.gateSecure),
    };
  }

  async function deployApply(): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const store = options.store();
    const out: string[] = ['+ Get current deployment', '  Success', '+ Prep deployment', '  Success'];
    const cfg = config();
    if (cfg.error) return { stdout: `${out.join('\n')}\n`, stderr: `${cfg.error}\n- Failed to prep Spinnaker deployment\n`, exitCode: 1 };
    if ((faults.halFailures ?? 0) > 0) {
      faults.halFailures!--;
      return { stdout: `${out.join('\n')}\n`, stderr: '! ERROR Unexpected exception: the sandbox was told to fail this hal deploy apply\n', exitCode: 1 };
    }
    // KubectlDeployer: spin-redis is skipped with skipLifeCycleManagement, and even without it an
    // existing one is never re-applied ("Redis deployment already exists... not redeploying..."):
    // a scaled-down spin-redis stays down. Bringing it back is the rollback's own scale-up step.
    if (store.get('Deployment', ns, 'spin-redis')) out.push('- Redis deployment already exists... not redeploying...');
    for (const service of services) {
      const d = store.get('Deployment', ns, service.name);
      if (!d) continue;
      const template = (d.spec as { template: { metadata: { annotations?: Record<string, string> } } }).template;
      const wanted = serviceAnnotations(service, cfg);
      const annotations: Record<string, string> = { ...(template.metadata.annotations ?? {}), ...wanted };
      // spin-<svc>-files-<hash>: the Secret is renamed, and the Deployment rolls, only when its files change.
      annotations[CONFIG_HASH_ANNOTATION] = createHash('sha1').update(JSON.stringify(wanted)).digest('hex').slice(0, 12);
      if (JSON.stringify(annotations) === JSON.stringify(template.metadata.annotations ?? {})) {
        out.push(`+ Apply deployment ${service.name}`, '  Unchanged');
        continue;
      }
      store.update({ ...d, spec: { ...(d.spec as object), template: { ...template, metadata: { ...template.metadata, annotations } } } });
      out.push(`+ Apply deployment ${service.name}`, '  Success');
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
    if (cmd === 'hal' && args[0] === 'deploy' && args[1] === 'apply') return deployApply();
    if (cmd === 'hal' && args[0] === 'config' && args[1] === 'generate') {
      const cfg = config();
      return cfg.error ? { stdout: '', stderr: `${cfg.error}\n`, exitCode: 1 } : { stdout: `+ Generate config\n  Success\nservices.redis.baseUrl: ${cfg.url}\n`, stderr: '', exitCode: 0 };
    }
    return { stdout: '', stderr: `sh: 1: ${cmd}: not found\n`, exitCode: 127 };
  };

  /** Copy the initial files into the pod (the ConfigMap's, and ~/.hal/config), as the chart's init container does at start. */
  function installFiles(): void {
    for (const [key, content] of Object.entries(INITIAL_FILES)) {
      const path = `${halHome}/default/${FILE_PATHS[key]}`;
      files.set(path, content);
      dirs.add(posix.dirname(path));
    }
    files.set(`${halHome}/config`, halconfig(options.haClouddriver ?? false, options.spinRedisUrl()));
  }

  /**
   * A Helm chart's Halyard pod starting: its init container wipes service-settings/ and profiles/
   * and copies the chart's ConfigMaps there (./helm.ts initContainerFiles), ~/.hal/config as Halyard keeps it.
   */
  function startFromChart(copied: Map<string, string>): void {
    for (const path of [...files.keys()]) if (path.startsWith(`${deploymentDir}/service-settings/`) || path.startsWith(`${deploymentDir}/profiles/`)) files.delete(path);
    for (const [path, content] of copied) {
      files.set(path, content);
      dirs.add(posix.dirname(path));
    }
    dirs.add(`${deploymentDir}/service-settings`).add(`${deploymentDir}/profiles`);
    if (!files.has(`${halHome}/config`)) files.set(`${halHome}/config`, halconfig(false, options.spinRedisUrl()));
  }

  return { files, exec, config, installFiles, startFromChart, serviceAnnotations, services };
}

export type HalyardPod = ReturnType<typeof createHalyardPod>;
