/**
 * The Halyard changes, as pure functions over file contents. YAML is merged with the
 * `yaml` package's document model so comments, ordering and unrelated keys survive.
 * Patching already-patched content returns it unchanged (idempotent).
 */
import { isMap, parseDocument, type Document } from 'yaml';
import type { MigrationConfig } from '../config/schema.js';

export interface HalyardFileSet {
  /** ConfigMap key -> content (undefined when the key is absent). */
  [configMapKey: string]: string | undefined;
}

/**
 * The services that open a Redis connection, each from `redis.connection` in its own profile
 * (kork's mapping `redis.connection: ${services.redis.baseUrl}` otherwise): docs/SPINNAKER-INSTALLS.md §1.
 * `clouddriver-local.yml` also reaches the HA sub-services (clouddriver-rw/-ro/-ro-deck/-caching)
 * and, loaded under profile `local`, wins over their `clouddriver-<mod>-overrides.yml` (§3.3).
 */
export const REDIS_CLIENT_SERVICES = ['orca', 'gate', 'clouddriver', 'igor', 'fiat', 'echo', 'rosco', 'kayenta'] as const;
export type RedisClientService = (typeof REDIS_CLIENT_SERVICES)[number];

export interface RedisTarget {
  /** `rediss://host:port`, never with credentials: `overrideBaseUrl` (services.redis.baseUrl). */
  baseUrl: string;
  /**
   * What every connecting service's profile gets as `redis.connection`: the base URL without AUTH;
   * with AUTH the kork-secrets reference to the URL secret, or (only with
   * options.plaintextTokenInSpinnakerConfig) the URL with the token in its user-info.
   */
  connection: string;
  /** True when `connection` holds the token in plain text (the files are then redacted in plans). */
  plaintext: boolean;
}

function setIn(content: string | undefined, path: string[], value: unknown): string {
  const doc: Document = parseDocument(content ?? '');
  if (doc.contents === null || !isMap(doc.contents)) {
    if (doc.contents !== null && !isMap(doc.contents)) throw new Error('not a YAML mapping');
    doc.contents = doc.createNode({}) as never;
  }
  const current = doc.getIn(path);
  if (current === value) return content ?? '';
  doc.setIn(path, value);
  return doc.toString();
}

/**
 * The kork-secrets reference to the URL secret (`encrypted:secrets-manager!r:<region>!s:<name>`,
 * no `!k`: the whole SecretString is the URL; kork-secrets-aws SecretsManagerSecretEngine), when AUTH is on.
 */
export function redisUrlReference(config: MigrationConfig): string | undefined {
  if (!config.target.authTokenSecretArn) return undefined;
  return `encrypted:secrets-manager!r:${config.cluster.region}!s:${config.spinnaker.redisUrlSecret.name}`;
}

/**
 * `redis[s]://[:<token>@]<host>:<port>` in the one form every Spinnaker parser accepts
 * (docs/SPINNAKER-INSTALLS.md §0.3): empty user name, explicit port, no path, and every
 * token character but letters, digits and `-` percent-encoded (`java.net.URI.getUserInfo()`
 * decodes them; `#`, `^`, `<` and `>` would otherwise break the URI).
 */
export function redisUrl(config: MigrationConfig, endpoint: { address: string; port: number }, token?: string): string {
  const scheme = config.target.transitEncryption ? 'rediss' : 'redis';
  const userInfo = token === undefined ? '' : `:${token.replace(/[^A-Za-z0-9-]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)}@`;
  return `${scheme}://${userInfo}${endpoint.address}:${endpoint.port}`;
}

/** What the files will say. `token` only matters with the plaintext consent; otherwise pass none. */
export function redisTarget(config: MigrationConfig, endpoint: { address: string; port: number }, token?: string): RedisTarget {
  const baseUrl = redisUrl(config, endpoint);
  const reference = redisUrlReference(config);
  if (!reference) return { baseUrl, connection: baseUrl, plaintext: false };
  if (config.options.plaintextTokenInSpinnakerConfig) {
    // The dry run has no token to show, and must not: a placeholder stands for it.
    return { baseUrl, connection: redisUrl(config, endpoint, token ?? 'AUTH-TOKEN'), plaintext: token !== undefined };
  }
  return { baseUrl, connection: reference, plaintext: false };
}

/** The ConfigMap key of a service's profile (gate's is configurable: spinnaker.halyard.files.gateProfile). */
export function profileKey(config: MigrationConfig, service: RedisClientService): { key: string; path: string } {
  if (service === 'gate') return config.spinnaker.halyard.files.gateProfile;
  return { key: `${service}-local.yml`, path: `profiles/${service}-local.yml` };
}

/**
 * The patched content of each Halyard file, keyed by ConfigMap key:
 * - `service-settings/redis.yml`: `overrideBaseUrl` (no credentials) and `skipLifeCycleManagement: true`,
 *   which alone keeps Halyard off spin-redis (KubectlDeployer). Never `enabled: false`: Halyard
 *   emits it as `services.redis.enabled`, which echo maps to `redis.enabled`, and its Pub/Sub
 *   handler then refuses every message (docs/SPINNAKER-INSTALLS.md §0.2).
 * - `profiles/<svc>-local.yml` of every service in REDIS_CLIENT_SERVICES: `redis.connection`
 *   (RedisTarget.connection). No service reads `redis.password` (§0.1).
 * - gate's profile: `redis.configuration.secure: true` (no CONFIG on ElastiCache).
 */
export function patchHalyardFiles(config: MigrationConfig, files: HalyardFileSet, target: RedisTarget): HalyardFileSet {
  const keys = config.spinnaker.halyard.files;
  const out: HalyardFileSet = { ...files };
  let redis = files[keys.redisServiceSettings.key];
  redis = setIn(redis, ['overrideBaseUrl'], target.baseUrl);
  redis = setIn(redis, ['skipLifeCycleManagement'], true);
  out[keys.redisServiceSettings.key] = redis;
  for (const service of REDIS_CLIENT_SERVICES) {
    const { key } = profileKey(config, service);
    out[key] = setIn(out[key], ['redis', 'connection'], target.connection);
  }
  out[keys.gateProfile.key] = setIn(out[keys.gateProfile.key], ['redis', 'configuration', 'secure'], true);
  return out;
}

export function changedKeys(before: HalyardFileSet, after: HalyardFileSet): string[] {
  return Object.keys(after)
    .filter((k) => (before[k] ?? undefined) !== after[k])
    .sort();
}

/** A unified-style diff per changed key, for the dry-run plan. */
export function diffFiles(before: HalyardFileSet, after: HalyardFileSet): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of changedKeys(before, after)) out[key] = unifiedDiff(before[key] ?? '', after[key] ?? '', key);
  return out;
}

export function unifiedDiff(a: string, b: string, name: string): string {
  const x = a === '' ? [] : a.replace(/\n$/, '').split('\n');
  const y = b === '' ? [] : b.replace(/\n$/, '').split('\n');
  // Longest common subsequence; Halyard files are small.
  const lcs = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0));
  for (let i = x.length - 1; i >= 0; i--) for (let j = y.length - 1; j >= 0; j--) lcs[i]![j] = x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const lines = [`--- a/${name}`, `+++ b/${name}`];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) {
      lines.push(` ${x[i]}`);
      i++;
      j++;
    } else if (j < y.length && (i >= x.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) lines.push(`+${y[j++]}`);
    else lines.push(`-${x[i++]}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Absolute path of a Halyard file inside the Halyard pod. */
export function podPath(config: MigrationConfig, relative: string): string {
  const h = config.spinnaker.halyard;
  return `${h.halHome.replace(/\/$/, '')}/${h.deployment}/${relative}`;
}
