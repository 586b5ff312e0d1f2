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

export interface RedisTarget {
  url: string;
  /** `encrypted:secrets-manager!…` reference to the AUTH token, when AUTH is on. */
  passwordReference?: string;
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

/** kork-secrets reference to the token (resolved by every Spinnaker service, never the value). */
export function secretReference(config: MigrationConfig): string | undefined {
  const arn = config.target.authTokenSecretArn;
  if (!arn) return undefined;
  const region = arn.split(':')[3] ?? config.cluster.region;
  return `encrypted:secrets-manager!r:${region}!s:${arn}${config.target.authTokenSecretKey ? `!k:${config.target.authTokenSecretKey}` : ''}`;
}

export function redisTarget(config: MigrationConfig, endpoint: { address: string; port: number }): RedisTarget {
  const reference = secretReference(config);
  return { url: `${config.target.transitEncryption ? 'rediss' : 'redis'}://${endpoint.address}:${endpoint.port}`, ...(reference ? { passwordReference: reference } : {}) };
}

/** The patched content of each Halyard file, keyed by ConfigMap key. */
export function patchHalyardFiles(config: MigrationConfig, files: HalyardFileSet, target: RedisTarget): HalyardFileSet {
  const keys = config.spinnaker.halyard.files;
  const out: HalyardFileSet = { ...files };
  let redis = files[keys.redisServiceSettings.key];
  redis = setIn(redis, ['overrideBaseUrl'], target.url);
  redis = setIn(redis, ['skipLifeCycleManagement'], true);
  redis = setIn(redis, ['enabled'], false);
  out[keys.redisServiceSettings.key] = redis;
  out[keys.gateProfile.key] = setIn(files[keys.gateProfile.key], ['redis', 'configuration', 'secure'], true);
  if (target.passwordReference) out[keys.spinnakerProfile.key] = setIn(files[keys.spinnakerProfile.key], ['redis', 'password'], target.passwordReference);
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
