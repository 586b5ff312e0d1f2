/**
 * Every legal YAML shape of the Halyard files, through the patch (PatchHalyardConfig), the dry
 * run (PlanMigration) and the rollback (RestoreHalyardConfig), against an in-memory ConfigMap
 * and Halyard pod. Shapes neither Halyard nor Spring could read are refused with a named error
 * before anything is written.
 */
import { describe, expect, it } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { parseMigrationInput } from '../../../lib/config/schema.js';
import { KubernetesNotFoundError } from '../../../lib/errors.js';
import { applyHalyardChange, restoreHalyardConfig } from '../../../lib/halyard/change.js';
import { diffFiles, patchHalyardFiles, redisTarget } from '../../../lib/halyard/patch.js';
import type { ClusterApi, ConfigMap } from '../../../lib/kubernetes/api.js';
import { BACKUP_ANNOTATION, LOCK_ANNOTATION } from '../../../lib/kubernetes/lock.js';
import { planMigration } from '../../../lib/workflow/plan.js';

const secretArn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:spinnaker/redis-auth-AbCdEf';
const config = parseMigrationInput({ cluster: { name: 'prod', region: 'us-east-1' }, target: { replicationGroupId: 'spin-redis', authTokenSecretArn: secretArn } });
const ME = 'arn:aws:states:us-east-1:1:execution:sm:me';
const endpoint = { address: 'master.spin-redis.x.cache.amazonaws.com', port: 6379 };
const HAL = '/home/spinnaker/.hal/default';
const PATHS: Record<string, string> = {
  'redis.yml': 'service-settings/redis.yml',
  'gate-local.yml': 'profiles/gate-local.yml',
  'spinnaker-local.yml': 'profiles/spinnaker-local.yml',
  'orca-local.yml': 'profiles/orca-local.yml',
};
const URL = 'rediss://master.spin-redis.x.cache.amazonaws.com:6379';
/** redis.connection with AUTH: a kork-secrets reference to the secret holding the whole URL. */
const REF = 'encrypted:secrets-manager!r:us-east-1!s:spin-elasticache/spin-redis/redis-url';

/** A ConfigMap locked by us with its backup, and a Halyard pod whose files are a Map holding the same bytes. */
class FakeHalyard {
  cm: ConfigMap;
  podFiles: Map<string, string>;
  readonly original: Record<string, string>;
  constructor(data: Record<string, string>) {
    this.original = { ...data, 'unrelated.yml': 'x: 1\n' };
    const annotations = { [LOCK_ANNOTATION]: JSON.stringify({ owner: ME, acquiredAt: '2026-11-22T10:00:00Z' }), [BACKUP_ANNOTATION]: JSON.stringify(this.original) };
    this.cm = { metadata: { name: 'halyard-config', namespace: 'spinnaker', resourceVersion: '1', annotations }, data: { ...this.original } };
    this.podFiles = new Map(Object.entries(data).map(([key, content]) => [`${HAL}/${PATHS[key]}`, content]));
  }
  api(): ClusterApi {
    const api: Pick<ClusterApi, 'readConfigMap' | 'replaceConfigMap' | 'listPods' | 'exec' | 'readScale' | 'listDeployments' | 'readWorkload'> = {
      readConfigMap: async () => structuredClone(this.cm),
      replaceConfigMap: async (_ns, body) => {
        this.cm = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(Number(this.cm.metadata!.resourceVersion) + 1) } };
        return this.cm;
      },
      listPods: async () => [{ metadata: { name: 'halyard-0' }, spec: { containers: [{ name: 'halyard' }] }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }],
      exec: async (_ns, _pod, _container, command, stdin) => {
        const [cmd, ...args] = command;
        if (cmd === 'cat') {
          const content = this.podFiles.get(args[0]!);
          return content === undefined ? { exitCode: 1, stdout: '', stderr: 'No such file' } : { exitCode: 0, stdout: content, stderr: '' };
        }
        if (cmd === 'sh') this.podFiles.set(/cat > '(.*)'/.exec(args[1]!)![1]!, stdin ?? '');
        if (cmd === 'rm') this.podFiles.delete(args[1]!);
        return { exitCode: 0, stdout: '', stderr: '' };
      },
      readScale: async () => 1,
      listDeployments: async () => [{ metadata: { name: 'spin-gate' } }],
      // No spin-redis here: the plan reports it unreachable and still shows the diff.
      readWorkload: async () => {
        throw new KubernetesNotFoundError('deployments.apps "spin-redis" not found');
      },
    };
    return api as ClusterApi;
  }
}

/** DescribeX answering "none yet": the dry run then shows a placeholder endpoint. */
const noElastiCache = { send: async () => ({}) } as never;

/** Every document of a file, as plain data (a file with no document reads as one empty mapping). */
function documents(content: string): Record<string, unknown>[] {
  const docs = parseAllDocuments(content.replace(/^\uFEFF/, ''));
  return docs.length === 0 ? [{}] : Array.from(docs, (d) => (d.toJS() ?? {}) as Record<string, unknown>);
}
const comments = (content: string) => [...content.matchAll(/#[^\r\n]*/g)].map((m) => m[0]).sort();

interface Shape {
  name: string;
  file: 'redis.yml' | 'gate-local.yml' | 'orca-local.yml';
  content: string;
  /** What each document must read as after the patch, in order. */
  expect: Record<string, unknown>[];
}

const gate = { redis: { configuration: { secure: true }, connection: REF } };
const shapes: Shape[] = [
  {
    name: 'a redis: key whose children are all commented out',
    file: 'gate-local.yml',
    content: 'server:\n  port: 8084\nredis:\n  # configuration:\n  #   secure: false\n# end\n',
    expect: [{ server: { port: 8084 }, ...gate }],
  },
  { name: 'a commented-out redis: followed by other keys', file: 'gate-local.yml', content: 'redis:\n  # timeout: 3000\nserver:\n  port: 8084 # p\n', expect: [{ ...gate, server: { port: 8084 } }] },
  { name: 'redis: ~ (explicit null)', file: 'gate-local.yml', content: 'redis: ~\n', expect: [gate] },
  { name: 'an empty mapping in flow style', file: 'gate-local.yml', content: '{}\n', expect: [gate] },
  { name: 'an empty flow mapping under redis:', file: 'gate-local.yml', content: 'redis: {}\nother: 1\n', expect: [{ ...gate, other: 1 }] },
  {
    name: 'flow style with values',
    file: 'gate-local.yml',
    content: 'redis: {timeout: 3000, configuration: {secure: false}}\n',
    expect: [{ redis: { timeout: 3000, configuration: { secure: true }, connection: REF } }],
  },
  {
    name: 'two documents (Spring reads both: each gets the value)',
    file: 'gate-local.yml',
    content: 'server:\n  port: 8084\n---\nredis:\n  timeout: 3000\n',
    expect: [{ server: { port: 8084 }, ...gate }, { redis: { timeout: 3000, configuration: { secure: true }, connection: REF } }],
  },
  {
    name: 'a profile-specific document that says secure: false',
    file: 'gate-local.yml',
    content: 'redis:\n  timeout: 1\n---\nspring:\n  config:\n    activate:\n      on-profile: prod\nredis:\n  configuration:\n    secure: false # old\n',
    expect: [{ redis: { timeout: 1, configuration: { secure: true }, connection: REF } }, { spring: { config: { activate: { 'on-profile': 'prod' } } }, ...gate }],
  },
  { name: 'an explicit document start', file: 'gate-local.yml', content: '---\nredis:\n  timeout: 1\n', expect: [{ redis: { timeout: 1, configuration: { secure: true }, connection: REF } }] },
  {
    name: 'an anchor and an alias (the anchor and its other users unchanged)',
    file: 'gate-local.yml',
    content: 'defaults: &d\n  timeout: 3000\nredis: *d\nother: *d\n',
    expect: [{ defaults: { timeout: 3000 }, redis: { timeout: 3000, configuration: { secure: true }, connection: REF }, other: { timeout: 3000 } }],
  },
  {
    name: 'redis inherited through a << merge key',
    file: 'gate-local.yml',
    content: 'base: &b\n  redis:\n    timeout: 3000\n<<: *b\nserver:\n  port: 8084\n',
    expect: [{ base: { redis: { timeout: 3000 } }, '<<': { redis: { timeout: 3000 } }, server: { port: 8084 }, redis: { timeout: 3000, configuration: { secure: true }, connection: REF } }],
  },
  {
    name: 'comments everywhere',
    file: 'gate-local.yml',
    content: '# head\nredis: # r\n  # before\n  timeout: 3000 # t\n# tail\n',
    expect: [{ redis: { timeout: 3000, configuration: { secure: true }, connection: REF } }],
  },
  { name: 'CRLF line endings', file: 'gate-local.yml', content: 'redis:\r\n  timeout: 3000 # t\r\n', expect: [{ redis: { timeout: 3000, configuration: { secure: true }, connection: REF } }] },
  {
    name: 'a leading byte-order mark',
    file: 'gate-local.yml',
    content: '\uFEFF# bom\nredis:\n  timeout: 3000\n',
    expect: [{ redis: { timeout: 3000, configuration: { secure: true }, connection: REF } }],
  },
  { name: 'an empty file', file: 'gate-local.yml', content: '', expect: [gate] },
  { name: 'a file that is only comments', file: 'gate-local.yml', content: '# nothing yet\n# really\n', expect: [gate] },
  { name: 'a quoted "false" already there', file: 'gate-local.yml', content: 'redis:\n  configuration:\n    secure: "false" # keep\n', expect: [gate] },
  {
    name: 'service settings: only comments',
    file: 'redis.yml',
    content: '# managed by platform\n',
    expect: [{ overrideBaseUrl: URL, skipLifeCycleManagement: true }],
  },
  {
    name: 'service settings: CRLF, BOM, flow style and an alias',
    file: 'redis.yml',
    content: '\uFEFFx: &e false\r\nenabled: *e\r\nenv: {A: 1}\r\n',
    expect: [{ x: false, enabled: false, env: { A: 1 }, overrideBaseUrl: URL, skipLifeCycleManagement: true }],
  },
  { name: 'orca profile: redis: with commented-out children', file: 'orca-local.yml', content: 'redis:\n  # connection: old\n', expect: [{ redis: { connection: REF } }] },
  {
    name: 'orca profile: two documents',
    file: 'orca-local.yml',
    content: 'a: 1\n---\nredis:\n  connection: old\n',
    expect: [{ a: 1, redis: { connection: REF } }, { redis: { connection: REF } }],
  },
];

const GATE_PATCHED = `redis:\n  connection: ${REF}\n  configuration:\n    secure: true\n`;
const REDIS_PATCHED = `overrideBaseUrl: ${URL}\nskipLifeCycleManagement: true\n`;
/** The other managed files, plain, so each case isolates one file's shape. */
function filesWith(shape: Pick<Shape, 'file' | 'content'>): Record<string, string> {
  return { 'redis.yml': '# ours\n', 'gate-local.yml': 'redis:\n  timeout: 1\n', 'spinnaker-local.yml': 'x: 1\n', [shape.file]: shape.content };
}

describe.each(shapes)('$file with $name', (shape) => {
  const before = filesWith(shape);
  // Inside each test, so a shape that throws fails its own case.
  const patch = () => patchHalyardFiles(config, before, redisTarget(config, endpoint));

  it('the patch sets our values in what Halyard or Spring reads, keeps the rest, comments, BOM and line endings, and is idempotent', () => {
    const after = patch();
    const patched = after[shape.file]!;
    expect(documents(patched)).toEqual(shape.expect);
    expect(comments(patched)).toEqual(expect.arrayContaining(comments(shape.content)));
    expect(patched.startsWith('\uFEFF')).toBe(shape.content.startsWith('\uFEFF'));
    if (shape.content.includes('\r\n')) expect(patched.replace(/\r\n/g, '')).not.toContain('\n');
    expect(patchHalyardFiles(config, after, redisTarget(config, endpoint))).toEqual(after);
  });

  it('the dry run shows exactly what the patch writes, the patch writes it to the ConfigMap and the pod, and the rollback restores every byte', async () => {
    const halyard = new FakeHalyard(before);
    const plan = await planMigration(halyard.api(), noElastiCache, config);
    // The dry run cannot know the endpoint yet: compare with the patch for its placeholder.
    const placeholder = { address: `<primary endpoint of ${config.target.replicationGroupId}>`, port: config.target.port };
    expect(plan.configMapDiff).toEqual(diffFiles(before, patchHalyardFiles(config, before, redisTarget(config, placeholder))));
    expect(plan.configMapDiff[shape.file]).toBeDefined();

    await applyHalyardChange(halyard.api(), config, ME, redisTarget(config, endpoint));
    const patched = patch()[shape.file]!;
    expect(halyard.cm.data![shape.file]).toBe(patched);
    expect(halyard.podFiles.get(`${HAL}/${PATHS[shape.file]}`)).toBe(patched);

    await restoreHalyardConfig(halyard.api(), config);
    expect(halyard.cm.data).toStrictEqual(halyard.original);
    for (const [key, content] of Object.entries(before)) expect(halyard.podFiles.get(`${HAL}/${PATHS[key]}`)).toBe(content);
  });
});

describe('shapes that neither Halyard nor Spring can read are refused, by name, before anything is written', () => {
  const refused: (Pick<Shape, 'file' | 'content'> & { name: string; message: RegExp })[] = [
    {
      name: 'service settings with two documents',
      file: 'redis.yml',
      content: 'enabled: true\n---\nfoo: 1\n',
      message: /2 YAML documents.*Halyard reads a service-settings file as one document.*Merge them/,
    },
    { name: 'service settings with a trailing empty document', file: 'redis.yml', content: 'enabled: true\n---\n', message: /2 YAML documents/ },
    { name: 'a scalar top level', file: 'gate-local.yml', content: 'just a string\n', message: /top level is a scalar value, not a mapping/ },
    { name: 'a list top level', file: 'redis.yml', content: '- enabled\n', message: /top level is a list, not a mapping/ },
    { name: 'a scalar document among mappings', file: 'gate-local.yml', content: 'a: 1\n---\nhello\n', message: /top level is a scalar value/ },
    { name: 'redis: holding a string', file: 'gate-local.yml', content: 'redis: localhost\n', message: /'redis' is a scalar value, not a mapping/ },
    { name: 'redis.configuration holding a list', file: 'gate-local.yml', content: 'redis:\n  configuration: [a]\n', message: /'redis.configuration' is a list, not a mapping/ },
    { name: 'not YAML', file: 'gate-local.yml', content: 'redis: [\n', message: /is not valid YAML/ },
  ];
  it.each(refused)('$name', async ({ file, content, message }) => {
    const before = filesWith({ file, content });
    expect(() => patchHalyardFiles(config, before, redisTarget(config, endpoint))).toThrow(expect.objectContaining({ name: 'HalyardFileShapeError', message: expect.stringMatching(message) }));
    const halyard = new FakeHalyard(before);
    await expect(planMigration(halyard.api(), noElastiCache, config)).rejects.toMatchObject({ name: 'HalyardFileShapeError', message: expect.stringContaining(file) });
    await expect(applyHalyardChange(halyard.api(), config, ME, redisTarget(config, endpoint))).rejects.toMatchObject({ name: 'HalyardFileShapeError' });
    expect(halyard.cm.data).toStrictEqual(halyard.original);
    expect(halyard.podFiles.get(`${HAL}/${PATHS[file]}`)).toBe(content);
  });
});

it('the plain shapes the other files take in these cases are patched as expected', () => {
  const after = patchHalyardFiles(config, { 'redis.yml': '', 'gate-local.yml': '' }, redisTarget(config, endpoint));
  expect(after['gate-local.yml']).toBe(GATE_PATCHED);
  expect(after['redis.yml']).toBe(REDIS_PATCHED);
});

describe('shapes a new user brought (issue 9, item 8)', () => {
  const more: Shape[] = [
    {
      // Spring flattens YAML by joining keys with '.', so this is redis.connection too, and the later one wins.
      name: 'a dotted redis.connection after the redis: mapping',
      file: 'gate-local.yml',
      content: 'redis:\n  timeout: 1\nredis.connection: redis://spin-redis:6379 # old\n',
      expect: [{ redis: { timeout: 1, connection: REF, configuration: { secure: true } }, 'redis.connection': REF }],
    },
    {
      name: 'a dotted key under redis: (configuration.secure: false)',
      file: 'gate-local.yml',
      content: 'redis:\n  configuration.secure: false\n',
      expect: [{ redis: { 'configuration.secure': true, configuration: { secure: true }, connection: REF } }],
    },
    { name: 'only a dotted key, quoted', file: 'orca-local.yml', content: '"redis.connection": "redis://old:6379"\n', expect: [{ 'redis.connection': REF, redis: { connection: REF } }] },
    { name: 'quoted keys', file: 'gate-local.yml', content: '"redis":\n  \'configuration\': {}\n', expect: [gate] },
    { name: 'a document end marker (...)', file: 'gate-local.yml', content: 'redis:\n  timeout: 1\n...\n', expect: [{ redis: { timeout: 1, configuration: { secure: true }, connection: REF } }] },
    { name: 'whitespace only', file: 'gate-local.yml', content: '   \n\t\n', expect: [gate] },
    { name: 'a null top level (~)', file: 'orca-local.yml', content: '~\n', expect: [{ redis: { connection: REF } }] },
    { name: 'redis: null', file: 'orca-local.yml', content: 'redis: null\n', expect: [{ redis: { connection: REF } }] },
    { name: 'tabs in comments and unicode', file: 'gate-local.yml', content: '# ünïcødé 🚀\t# tab\nключ: значение\t# tab\nredis: # r\n', expect: [{ ключ: 'значение', ...gate }] },
    {
      name: 'a merge key with a list of aliases',
      file: 'gate-local.yml',
      content: 'a: &a {timeout: 1}\nb: &b {x: 2}\nredis:\n  <<: [*a, *b]\n',
      expect: [{ a: { timeout: 1 }, b: { x: 2 }, redis: { '<<': [{ timeout: 1 }, { x: 2 }], configuration: { secure: true }, connection: REF } }],
    },
  ];
  it.each(more)('$file with $name: patched, idempotent, the plan shows it, the restore gives every byte back', async (shape) => {
    const before = filesWith(shape);
    const after = patchHalyardFiles(config, before, redisTarget(config, endpoint));
    expect(documents(after[shape.file]!)).toEqual(shape.expect);
    expect(comments(after[shape.file]!)).toEqual(expect.arrayContaining(comments(shape.content)));
    expect(patchHalyardFiles(config, after, redisTarget(config, endpoint))).toEqual(after);
    const halyard = new FakeHalyard(before);
    await planMigration(halyard.api(), noElastiCache, config);
    await applyHalyardChange(halyard.api(), config, ME, redisTarget(config, endpoint));
    expect(halyard.cm.data![shape.file]).toBe(after[shape.file]);
    await restoreHalyardConfig(halyard.api(), config);
    expect(halyard.cm.data).toStrictEqual(halyard.original);
  });

  it('a long line the patch does not touch keeps its bytes (the yaml package folded it at 80 columns)', () => {
    const long = `jvmArgs: ${'-Dsome.long.option=value '.repeat(8).trim()}\n`;
    const after = patchHalyardFiles(config, filesWith({ file: 'gate-local.yml', content: `${long}redis: {}\n` }), redisTarget(config, endpoint));
    expect(after['gate-local.yml']!.startsWith(long)).toBe(true);
  });

  it('a dotted spelling holding a mapping is refused, naming the file and the key', () => {
    const before = filesWith({ file: 'gate-local.yml', content: 'redis.connection:\n  host: x\n' });
    expect(() => patchHalyardFiles(config, before, redisTarget(config, endpoint))).toThrow(
      expect.objectContaining({ name: 'HalyardFileShapeError', message: expect.stringMatching(/gate-local\.yml: 'redis\.connection'.*Remove it/) }),
    );
  });
});

/**
 * Generated shapes (seeded, so every run tries the same ones): a body × decorations (BOM, CRLF,
 * comments with tabs and unicode, a document start or end marker, a long line) for each file the
 * patch writes. Each is either refused up front with HalyardFileShapeError naming the file, or
 * patched so that what Spring (every document, flattened with '.', later wins; `<<` merged) or
 * Halyard reads holds our values, every other property reads as before, and the patch is
 * idempotent, shown by the dry run and undone byte for byte by the restore.
 */
describe('generated shapes (seeded)', () => {
  const SPRING_BODIES = [
    '',
    '   \n\t\n',
    '~\n',
    '{}\n',
    'redis:\n',
    'redis:\n  # timeout: 1\n',
    'redis: {}\n',
    'redis: null\n',
    'redis: {connection: redis://x:6379}\n',
    'redis:\n  connection: redis://spin-redis:6379 # old\n  timeout: 3000\n',
    'base: &b\n  timeout: 3000\nredis:\n  <<: *b\n',
    'base: &b\n  redis:\n    timeout: 3000\n<<: *b\n',
    '"redis":\n  "connection": \'redis://x\'\n',
    'redis.connection: redis://old:6379\n',
    'redis:\n  timeout: 1\nredis.connection: redis://old\n',
    'redis:\n  configuration.secure: false\n',
    'redis:\n  configuration: {secure: "false"}\n',
    'a: 1\n---\nredis:\n  timeout: 2\n',
    'server:\n  port: 8084\n...\n',
    'ключ: "значение 🚀"\nredis: ~\n',
    'redis: localhost\n',
    'redis: [a]\n',
    '- x\n',
    'redis:\n  connection:\n    host: x\n',
    'redis: [\n',
  ];
  const HALYARD_BODIES = [
    '',
    '# only\n',
    '{}\n',
    'enabled: true\n',
    'overrideBaseUrl: redis://x\nskipLifeCycleManagement: "false"\n',
    '{overrideBaseUrl: x, env: {A: 1}}\n',
    'x: &e false\nenabled: *e\n',
    '~\n',
    'a: 1\n---\nb: 2\n',
    '- a\n',
    'overrideBaseUrl: [a]\n',
  ];
  type Decoration = (s: string) => string;
  const DECORATIONS: Decoration[] = [
    (s) => `\uFEFF${s}`,
    (s) => s.replace(/\n/g, '\r\n'),
    (s) => `# head\t# tab ünï 🚀\n${s}`,
    (s) => `${s}# tail\n`,
    (s) => (s.startsWith('---') ? s : `---\n${s}`),
    (s) => `long: ${'word '.repeat(40).trim()}\n${s}`,
  ];
  /** mulberry32: the same shapes on every run. */
  function random(seed: number): () => number {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const next = random(9);
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
  const generated: { file: Shape['file']; content: string }[] = [];
  for (let i = 0; i < 120; i++) {
    const file = pick(['gate-local.yml', 'orca-local.yml', 'redis.yml'] as const);
    let content = pick(file === 'redis.yml' ? HALYARD_BODIES : SPRING_BODIES);
    // Decorations in a fixed order, each with probability 1/3 (a BOM goes on last, CRLF after every text).
    const chosen = DECORATIONS.map((d, j) => [j, d, next() < 1 / 3] as const).filter(([, , on]) => on);
    for (const j of [2, 3, 5, 4, 1, 0]) {
      const d = chosen.find(([k]) => k === j);
      if (d) content = d[1](content);
    }
    generated.push({ file, content });
  }

  /** What Spring reads from a profile: every document flattened into one map, later keys winning. */
  function springView(content: string): Map<string, unknown> {
    const out = new Map<string, unknown>();
    const flatten = (value: unknown, prefix: string) => {
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        const entries = Object.entries(value);
        if (entries.length === 0 && prefix) out.set(prefix, {});
        for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k);
      } else if (Array.isArray(value)) {
        for (const [i, v] of value.entries()) flatten(v, `${prefix}[${i}]`);
      } else if (prefix) out.set(prefix, value);
    };
    for (const doc of parseAllDocuments(content.replace(/^\uFEFF/, ''), { merge: true })) flatten(doc.toJS({ maxAliasCount: -1 }), '');
    return out;
  }
  const ours = (file: string): Record<string, unknown> =>
    file === 'redis.yml'
      ? { overrideBaseUrl: URL, skipLifeCycleManagement: true }
      : file === 'gate-local.yml'
        ? { 'redis.connection': REF, 'redis.configuration.secure': true }
        : { 'redis.connection': REF };

  it.each(generated.map((g, i) => [i, JSON.stringify(g.content).slice(0, 60), g] as const))('#%d %s', async (_i, _text, { file, content }) => {
    const before = filesWith({ file, content });
    let after: Record<string, string | undefined>;
    try {
      after = patchHalyardFiles(config, before, redisTarget(config, endpoint));
    } catch (error) {
      // Refused: by name, naming the file, and nothing written by the change either.
      expect({ name: (error as Error).name, namesFile: (error as Error).message.includes(file) }).toEqual({ name: 'HalyardFileShapeError', namesFile: true });
      const halyard = new FakeHalyard(before);
      await expect(applyHalyardChange(halyard.api(), config, ME, redisTarget(config, endpoint))).rejects.toMatchObject({ name: 'HalyardFileShapeError' });
      expect(halyard.cm.data).toStrictEqual(halyard.original);
      return;
    }
    const patched = after[file]!;
    const read = springView(patched);
    const was = springView(content);
    if (file === 'redis.yml') {
      expect(documents(patched)).toHaveLength(1);
      expect(documents(patched)[0]).toMatchObject(ours(file));
    } else for (const [k, v] of Object.entries(ours(file))) expect([k, read.get(k)]).toEqual([k, v]);
    // Every other property reads as before (a null or empty `redis` becomes the mapping we fill).
    for (const [k, v] of was) {
      if (k in ours(file) || ((k === 'redis' || k === 'redis.configuration') && (v === null || JSON.stringify(v) === '{}'))) continue;
      if (file !== 'redis.yml' && (k === 'redis.connection' || k === 'redis.configuration.secure')) continue;
      expect([k, read.get(k)]).toEqual([k, v]);
    }
    expect(comments(patched)).toEqual(expect.arrayContaining(comments(content)));
    expect(patched.startsWith('\uFEFF')).toBe(content.startsWith('\uFEFF'));
    if (content.includes('\r\n')) expect(patched.replace(/\r\n/g, '')).not.toContain('\n');
    expect(patchHalyardFiles(config, after, redisTarget(config, endpoint))).toEqual(after);
    const halyard = new FakeHalyard(before);
    const plan = await planMigration(halyard.api(), noElastiCache, config);
    const placeholder = { address: `<primary endpoint of ${config.target.replicationGroupId}>`, port: config.target.port };
    expect(plan.configMapDiff).toEqual(diffFiles(before, patchHalyardFiles(config, before, redisTarget(config, placeholder))));
    await applyHalyardChange(halyard.api(), config, ME, redisTarget(config, endpoint));
    expect(halyard.cm.data![file]).toBe(patched);
    await restoreHalyardConfig(halyard.api(), config);
    expect(halyard.cm.data).toStrictEqual(halyard.original);
    for (const [key, text] of Object.entries(before)) expect(halyard.podFiles.get(`${HAL}/${PATHS[key]}`)).toBe(text);
  });
});
