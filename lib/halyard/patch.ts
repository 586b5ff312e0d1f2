/**
 * The Halyard changes, as pure functions over file contents. YAML is merged with the
 * `yaml` package's document model so comments, ordering and unrelated keys survive.
 * Patching already-patched content returns it unchanged (idempotent).
 */
import { type Document, isAlias, isMap, isScalar, isSeq, type Node, type Pair, parseAllDocuments, parseDocument, Scalar, visit, YAMLMap } from 'yaml';
import { HalyardFileShapeError } from '../errors.js';
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

/**
 * Who reads a file decides which YAML documents count. Halyard reads a service-settings file
 * with SnakeYAML's `Yaml.load` (halyard-deploy/.../SpinnakerService.java,
 * `getDefaultServiceSettings`), which refuses a stream of several documents; Spring Boot
 * reads every document of a profile file, later ones overriding earlier ones, some only
 * under a profile (`spring.config.activate.on-profile`).
 */
export type YamlReader = 'halyard' | 'spring';

interface Edit {
  path: string[];
  value: string | boolean;
}

type Kind = 'a mapping' | 'a list' | 'a scalar value' | 'an alias' | 'empty';

function kindOf(node: unknown): Kind {
  if (node === null || node === undefined || (isScalar(node) && node.value === null)) return 'empty';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isAlias(node)) return 'an alias';
  return 'a scalar value';
}

function keyText(key: unknown): unknown {
  return isScalar(key) ? key.value : key;
}

/** A copy of a node with no anchors of its own (a copied anchor would be defined twice). */
function detached<T extends Node>(node: T): T {
  const copy = node.clone() as T;
  visit(copy, {
    Node(_key, n) {
      if ('anchor' in n) delete (n as { anchor?: string }).anchor;
    },
  });
  return copy;
}

/** The value `key` gets from the map's `<<` merge keys (SnakeYAML, and so Spring, applies them), if any. */
function mergedValue(doc: Document, map: YAMLMap, key: string): Node | undefined {
  for (const pair of map.items) {
    if (keyText(pair.key) !== '<<') continue;
    const sources = isSeq(pair.value) ? pair.value.items : [pair.value];
    for (const source of sources) {
      const resolved = isAlias(source) ? source.resolve(doc) : source;
      if (!isMap(resolved)) continue;
      const found = resolved.items.find((p) => keyText(p.key) === key);
      if (found) return (isAlias(found.value) ? found.value.resolve(doc) : found.value) as Node | undefined;
      const deeper = mergedValue(doc, resolved, key);
      if (deeper) return deeper;
    }
  }
  return undefined;
}

/**
 * The mapping at `key` in `parent`, made one if the key is absent or empty (`redis:` whose
 * children are all commented out is a null value). An alias there is replaced by a copy of
 * what it points to, so the anchor and its other users are left as they were; a key inherited
 * through `<<` is copied in first, so adding ours does not hide the inherited children.
 */
function childMap(file: string, doc: Document, parent: YAMLMap, key: string, where: string): YAMLMap {
  const pair = parent.items.find((p) => keyText(p.key) === key);
  if (!pair) {
    const inherited = mergedValue(doc, parent, key);
    if (inherited !== undefined && kindOf(inherited) !== 'empty') {
      if (!isMap(inherited)) throw notAMapping(file, where, kindOf(inherited));
      const copy = detached(inherited);
      parent.add(doc.createPair(key, copy));
      return copy;
    }
    const created = new YAMLMap();
    parent.add(doc.createPair(key, created));
    return created;
  }
  if (isAlias(pair.value)) pair.value = detached(pair.value.resolve(doc) as Node);
  const value = pair.value;
  if (isMap(value)) return value;
  if (kindOf(value) === 'empty') {
    const created = new YAMLMap();
    if (isScalar(value)) {
      if (value.commentBefore) created.commentBefore = value.commentBefore;
      if (value.comment) created.comment = value.comment;
    }
    pair.value = created;
    return created;
  }
  throw notAMapping(file, where, kindOf(value));
}

function notAMapping(file: string, where: string, kind: Kind): HalyardFileShapeError {
  return new HalyardFileShapeError(`${file}: '${where}' is ${kind}, not a mapping, so the Redis settings cannot be merged under it. Make it a mapping (or remove it) and run again.`);
}

function topLevelError(file: string, doc: Document): HalyardFileShapeError {
  return new HalyardFileShapeError(`${file}: the top level is ${kindOf(doc.contents)}, not a mapping; neither Halyard nor Spring reads settings from it. Make it a mapping and run again.`);
}

/**
 * The pairs that spell `path` with at least one dotted key (`redis.connection: x` at the top, or
 * `configuration.secure` under `redis:`). Spring flattens YAML by joining nested keys with '.'
 * (OriginTrackedYamlLoader, YamlProcessor.getFlattenedMap), so such a pair is the same property
 * as the nested one, and whichever comes later in the document wins.
 */
function dottedSpellings(doc: Document, map: YAMLMap, path: string[], dotted = false): Pair[] {
  const found: Pair[] = [];
  for (const pair of map.items) {
    const key = keyText(pair.key);
    if (typeof key !== 'string' || key === '<<') continue;
    const segments = key.split('.');
    if (segments.length > path.length || !segments.every((s, i) => s === path[i])) continue;
    const rest = path.slice(segments.length);
    const isDotted = dotted || segments.length > 1;
    if (rest.length === 0) {
      if (isDotted) found.push(pair);
      continue;
    }
    const value = isAlias(pair.value) ? pair.value.resolve(doc) : pair.value;
    if (isMap(value)) found.push(...dottedSpellings(doc, value, rest, isDotted));
  }
  return found;
}

/** Set `value` at `path` in one document; true when something changed. */
function setInDocument(file: string, doc: Document, edit: Edit, reader: YamlReader): boolean {
  const nested = setNested(file, doc, edit);
  if (reader !== 'spring' || !isMap(doc.contents)) return nested;
  // A dotted spelling of the same property must say the same, or it may win over ours.
  let changed = nested;
  for (const pair of dottedSpellings(doc, doc.contents, edit.path)) {
    const where = `${String(keyText(pair.key))}`;
    const current = isAlias(pair.value) ? pair.value.resolve(doc) : pair.value;
    if (isMap(current) || isSeq(current)) {
      throw new HalyardFileShapeError(`${file}: '${where}' (Spring reads it as ${edit.path.join('.')}) is ${kindOf(current)} where a single value belongs. Remove it and run again.`);
    }
    if (isScalar(current) && current.value === edit.value) continue;
    if (isScalar(pair.value)) {
      pair.value.value = edit.value;
      pair.value.type = Scalar.PLAIN;
    } else pair.value = doc.createNode(edit.value);
    changed = true;
  }
  return changed;
}

function setNested(file: string, doc: Document, edit: Edit): boolean {
  if (kindOf(doc.contents) === 'empty') {
    const created = new YAMLMap();
    const old = doc.contents;
    if (isScalar(old)) {
      // `---\n# comment\n~`: the comments belong to the null being replaced.
      if (old.commentBefore) created.commentBefore = old.commentBefore;
      if (old.comment) created.comment = old.comment;
    }
    doc.contents = created as never;
  }
  if (!isMap(doc.contents)) throw topLevelError(file, doc);
  let map: YAMLMap = doc.contents;
  const leaf = edit.path[edit.path.length - 1]!;
  edit.path.slice(0, -1).forEach((key, i) => {
    map = childMap(file, doc, map, key, edit.path.slice(0, i + 1).join('.'));
  });
  const pair = map.items.find((p) => keyText(p.key) === leaf);
  if (pair) {
    const current = isAlias(pair.value) ? pair.value.resolve(doc) : pair.value;
    if (isScalar(current) && current.value === edit.value) return false;
    if (isScalar(pair.value)) {
      // Keeps the comment on the line; the style goes back to plain (a quoted "true" would be a string).
      pair.value.value = edit.value;
      pair.value.type = Scalar.PLAIN;
      return true;
    }
    if (isMap(pair.value) || isSeq(pair.value)) {
      throw new HalyardFileShapeError(`${file}: '${edit.path.join('.')}' is ${kindOf(pair.value)} where a single value belongs. Remove it and run again.`);
    }
    pair.value = doc.createNode(edit.value);
    return true;
  }
  const inherited = mergedValue(doc, map, leaf);
  if (isScalar(inherited) && inherited.value === edit.value) return false;
  map.add(doc.createPair(leaf, edit.value));
  return true;
}

/**
 * Apply `edits` to one Halyard file's content, keeping comments, key order, anchors, flow
 * style, a leading byte-order mark and CRLF line endings. Content that already holds every
 * value is returned byte for byte (the patch is idempotent). A `halyard` file must be a
 * single document; in a `spring` file every document that is a mapping gets the values (so
 * whichever documents are active, ours win), or the first one when none is.
 * @throws HalyardFileShapeError not YAML, a top level or a key on the path that is not a
 *   mapping, or several documents in a file Halyard reads
 */
export function patchYaml(file: string, content: string | undefined, edits: Edit[], reader: YamlReader): string {
  const source = content ?? '';
  const bom = source.startsWith('\uFEFF');
  const text = bom ? source.slice(1) : source;
  const crlf = text.includes('\r\n');
  const parsed = parseAllDocuments(text);
  // No document at all (empty, or only comments): one empty document keeps the comments.
  const docs: Document[] = parsed.length === 0 ? [parseDocument(text)] : Array.from(parsed as Document[]);
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) throw new HalyardFileShapeError(`${file} is not valid YAML (${error.message.split('\n')[0]}); fix it and run again.`);
  }
  if (reader === 'halyard' && docs.length > 1) {
    throw new HalyardFileShapeError(
      `${file} holds ${docs.length} YAML documents ('---'), but Halyard reads a service-settings file as one document (SnakeYAML Yaml.load) and would refuse it. Merge them into one document and run again.`,
    );
  }
  const maps = docs.filter((d) => isMap(d.contents));
  const targets = maps.length > 0 ? maps : docs.slice(0, 1);
  const notMap = docs.find((d) => !isMap(d.contents) && kindOf(d.contents) !== 'empty');
  if (notMap) throw topLevelError(file, notMap);
  let changed = false;
  for (const doc of targets) for (const edit of edits) changed = setInDocument(file, doc, edit, reader) || changed;
  if (!changed) return source;
  let out = docs.map((d) => d.toString({ lineWidth: 0 })).join('');
  if (crlf) out = out.replace(/\r?\n/g, '\r\n');
  return bom ? `\uFEFF${out}` : out;
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
  const redis = keys.redisServiceSettings.key;
  out[redis] = patchYaml(
    redis,
    files[redis],
    [
      { path: ['overrideBaseUrl'], value: target.baseUrl },
      { path: ['skipLifeCycleManagement'], value: true },
    ],
    'halyard',
  );
  for (const service of REDIS_CLIENT_SERVICES) {
    const { key } = profileKey(config, service);
    out[key] = patchYaml(key, out[key], [{ path: ['redis', 'connection'], value: target.connection }], 'spring');
  }
  const gate = keys.gateProfile.key;
  out[gate] = patchYaml(gate, out[gate], [{ path: ['redis', 'configuration', 'secure'], value: true }], 'spring');
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
