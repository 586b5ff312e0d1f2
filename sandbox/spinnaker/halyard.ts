/**
 * The Halyard pod of the sandbox: its own copy of the Halyard files (copied from the ConfigMap at
 * start, as the Helm chart's init container does: later ConfigMap changes do not reach them by
 * themselves), and the commands the workflow runs in it over exec (`cat`, `mkdir -p`, `rm -f`,
 * `sh -c "cat > FILE"`, `hal config generate`, `hal deploy apply`).
 *
 * `hal deploy apply` follows halyard-deploy's KubernetesV2 deployer
 * (halyard-deploy/.../v2/KubectlDeployer.java): it validates overrideBaseUrl as
 * halyard-config's RedisService does, then re-applies every service Deployment with the new
 * config (a new template, so a new generation and a rollout).
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ObjectStore } from '../kubernetes/store.js';
import type { ExecHandler } from '../kubernetes/server.js';
import type { RedisTargetConfig, ServiceName } from './services.js';

export const REDIS_URL_ANNOTATION = 'sandbox.spinnaker.io/redis-url';
export const PASSWORD_REF_ANNOTATION = 'sandbox.spinnaker.io/redis-password-ref';
export const GATE_SECURE_ANNOTATION = 'sandbox.spinnaker.io/gate-secure';
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

/** The Spinnaker services Halyard deploys; `redis` names the simulated client of those that use Redis. */
export const SERVICES: { name: string; redis?: ServiceName }[] = [
  { name: 'spin-orca', redis: 'orca' },
  { name: 'spin-clouddriver', redis: 'clouddriver' },
  { name: 'spin-gate', redis: 'gate' },
  { name: 'spin-igor', redis: 'igor' },
  { name: 'spin-fiat', redis: 'fiat' },
  { name: 'spin-echo', redis: 'echo' },
  { name: 'spin-rosco', redis: 'rosco' },
  { name: 'spin-front50' },
  { name: 'spin-deck' },
];

export interface HalyardConfig {
  url: string;
  passwordRef?: string;
  gateSecure: boolean;
  manageRedis: boolean;
  error?: string;
}

export interface HalyardPodOptions {
  namespace: string;
  halHome: string;
  store: () => ObjectStore;
  spinRedisUrl: () => string;
  faults: { halFailures?: number };
}

/**
 * The Redis a service's pod connects to, from what `hal deploy apply` put in its pod template:
 * the one seam between the Halyard side (what config each service gets) and the simulated
 * services (who connect with it). Secrets are resolved in the pod, as kork-secrets does.
 */
export async function podRedisTarget(annotations: Record<string, string>, resolveSecret: (reference: string) => Promise<string>): Promise<RedisTargetConfig> {
  const ref = annotations[PASSWORD_REF_ANNOTATION];
  return {
    url: annotations[REDIS_URL_ANNOTATION] ?? '',
    gateSecure: annotations[GATE_SECURE_ANNOTATION] === 'true',
    ...(ref ? { password: await resolveSecret(ref) } : {}),
  };
}

export function createHalyardPod(options: HalyardPodOptions) {
  const { namespace: ns, halHome, faults } = options;
  const files = new Map<string, string>();
  const dirs = new Set<string>(['/', '/home', '/home/spinnaker', halHome, `${halHome}/default`]);

  function config(): HalyardConfig {
    const read = (key: string) => files.get(`${halHome}/default/${FILE_PATHS[key]}`);
    const redis = (parseYaml(read('redis.yml') ?? '') ?? {}) as { overrideBaseUrl?: unknown; skipLifeCycleManagement?: boolean; enabled?: boolean };
    const gate = (parseYaml(read('gate-local.yml') ?? '') ?? {}) as { redis?: { configuration?: { secure?: boolean } } };
    const common = (parseYaml(read('spinnaker-local.yml') ?? '') ?? {}) as { redis?: { password?: string } };
    let url = options.spinRedisUrl();
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

  async function deployApply(): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const store = options.store();
    const out: string[] = ['+ Get current deployment', '  Success', '+ Prep deployment', '  Success'];
    const cfg = config();
    if (cfg.error) return { stdout: `${out.join('\n')}\n`, stderr: `${cfg.error}\n- Failed to prep Spinnaker deployment\n`, exitCode: 1 };
    if ((faults.halFailures ?? 0) > 0) {
      faults.halFailures!--;
      return { stdout: `${out.join('\n')}\n`, stderr: '! ERROR Unexpected exception: the sandbox was told to fail this hal deploy apply\n', exitCode: 1 };
    }
    if (cfg.manageRedis) {
      const redis = store.get('Deployment', ns, 'spin-redis');
      if (redis && ((redis.spec as { replicas?: number }).replicas ?? 0) === 0) store.update({ ...redis, spec: { ...(redis.spec as object), replicas: 1 } });
    }
    for (const { name, redis } of SERVICES) {
      const d = store.get('Deployment', ns, name);
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
      store.update(next);
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
    if (cmd === 'hal' && args[0] === 'deploy' && args[1] === 'apply') return deployApply();
    if (cmd === 'hal' && args[0] === 'config' && args[1] === 'generate') {
      const cfg = config();
      return cfg.error ? { stdout: '', stderr: `${cfg.error}\n`, exitCode: 1 } : { stdout: `+ Generate config\n  Success\nservices.redis.baseUrl: ${cfg.url}\n`, stderr: '', exitCode: 0 };
    }
    return { stdout: '', stderr: `sh: 1: ${cmd}: not found\n`, exitCode: 127 };
  };

  /** Copy the initial files into the pod, as the chart's init container does at start. */
  function installFiles(): void {
    for (const [key, content] of Object.entries(INITIAL_FILES)) {
      const path = `${halHome}/default/${FILE_PATHS[key]}`;
      files.set(path, content);
      dirs.add(posix.dirname(path));
    }
  }

  return { files, exec, config, installFiles };
}

export type HalyardPod = ReturnType<typeof createHalyardPod>;
