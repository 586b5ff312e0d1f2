/**
 * esbuild plugins for the Lambda bundles (serverless.yml `custom.esbuild.plugins`, and
 * bench/lambda-bundle.ts, which bundles the same way): @kubernetes/client-node stays the client,
 * but only the parts our calls can reach are bundled. CommonJS: serverless-esbuild `require`s it.
 *
 * - The generated API classes we use (CoreV1Api, AppsV1Api, CustomObjectsApi: their request
 *   factory, response processor and the Observable, Promise and Object wrappers) keep only the
 *   operations lib/kubernetes/api.ts calls (`core.x(`, `apps.x(`, `custom.x(`): each class holds
 *   every operation of its API group (CoreV1Api alone is 0.38 MB minified), and esbuild cannot
 *   drop unused methods. test/unit/architecture/lambda-bundles.test.ts checks that api.ts reaches
 *   the clients no other way.
 * - undici: only the three things client-node imports of it (Agent, ProxyAgent, fetch), from
 *   undici's own files, not its index (mock agents, caches, WebSocket, EventSource, …).
 * - client-node's index: only the names lib/kubernetes/api.ts imports (slimIndex says why).
 * - client-node's ObjectSerializer: only the models the kept operations reach (modelsReached).
 * - the azure, gcp and oidc auth providers of kubeconfig users (authProviderStub).
 * - undici's experimental Milo HTTP parser: off unless `setMiloEnabled(true)` or a client's
 *   `useMilo` option, which client-node never sets; undici's own `esbuildDetection` switch (what
 *   Node's bundled undici uses) leaves it out. The llhttp parser it uses is kept.
 */
const { readFileSync } = require('node:fs');
const { dirname, join } = require('node:path');
const acorn = require('acorn');

/** The variable names lib/kubernetes/api.ts gives each client, and the client-node API class it is. */
const CLIENTS = { core: 'CoreV1Api', apps: 'AppsV1Api', custom: 'CustomObjectsApi' };

/** API class -> the operations lib/kubernetes/api.ts calls on it. */
function operationsUsed(root) {
  const source = readFileSync(join(root, 'lib/kubernetes/api.ts'), 'utf8');
  const used = {};
  for (const api of Object.values(CLIENTS)) used[api] = new Set();
  for (const [, client, operation] of source.matchAll(/\b(core|apps|custom)\.(\w+)\(/g)) used[CLIENTS[client]].add(operation);
  return used;
}

/** The values (not types) lib/kubernetes/api.ts imports from @kubernetes/client-node. */
function valuesImported(root) {
  const source = readFileSync(join(root, 'lib/kubernetes/api.ts'), 'utf8');
  const clause = /import \{([^}]*)\} from '@kubernetes\/client-node';/.exec(source);
  if (!clause) throw new Error('kubernetes-client-operations: lib/kubernetes/api.ts imports nothing from @kubernetes/client-node');
  return clause[1]
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name && !name.startsWith('type '));
}

/** The names `file` exports, each with the file it is declared in (following `export *`). */
function exportsOf(file, out = new Map()) {
  const ast = acorn.parse(readFileSync(file, 'utf8'), { ecmaVersion: 'latest', sourceType: 'module' });
  for (const node of ast.body) {
    if (node.type === 'ExportAllDeclaration') exportsOf(join(dirname(file), node.source.value), out);
    if (node.type !== 'ExportNamedDeclaration') continue;
    for (const spec of node.specifiers) if (!out.has(spec.exported.name)) out.set(spec.exported.name, file);
    const d = node.declaration;
    if (d?.id) out.set(d.id.name, file);
    if (d?.declarations) for (const v of d.declarations) if (v.id.type === 'Identifier') out.set(v.id.name, file);
  }
  return out;
}

/**
 * client-node's index (`export *` of every part) as named re-exports of `names` only. Our
 * Kubernetes code is loaded with import(), so esbuild evaluates the package lazily and turns each
 * `export *` into a copy of the whole namespace at run time, keeping every part (cp and tar-fs,
 * port-forward, the YAML loader, …). A name not found fails the build, not the run.
 */
function slimIndex(dist, names) {
  const where = exportsOf(join(dist, 'index.js'));
  const lines = ["import './polyfill.js';"];
  for (const name of names) {
    const file = where.get(name);
    if (!file) throw new Error(`kubernetes-client-operations: @kubernetes/client-node exports no ${name}`);
    lines.push(`export { ${name} } from ${JSON.stringify(`./${file.slice(dist.length + 1).replace(/\\/g, '/')}`)};`);
  }
  return lines.join('\n');
}

/** kubeconfig auth-provider plugins (file -> [class, provider name]): our kubeconfig's user has a token only (lib/kubernetes/api.ts). */
const AUTH_PROVIDERS = { 'azure_auth.js': ['AzureAuth', 'azure'], 'gcp_auth.js': ['GoogleCloudPlatformAuth', 'gcp'], 'oidc_auth.js': ['OpenIDConnectAuth', 'oidc'] };

/**
 * An auth provider that answers `isAuthProvider` as the real one does (a user whose
 * `authProvider.name` is its name) and refuses to authenticate: KubeConfig asks each provider
 * whether a user is its own, and a user with a token only is none of these (they bring
 * jsonpath-plus and openid-client).
 */
function authProviderStub([name, provider]) {
  return `export class ${name} {
  isAuthProvider(user) { return !!user?.authProvider && user.authProvider.name === ${JSON.stringify(provider)}; }
  async applyAuthentication() { throw new Error(${JSON.stringify(`the ${provider} auth provider is not in this bundle (deploy/esbuild-plugins.cjs)`)}); }
}`;
}

/** The classes client-node generates for one API group, by the file that holds them. */
function classesOf(api) {
  return {
    [`gen/apis/${api}.js`]: [`${api}RequestFactory`, `${api}ResponseProcessor`],
    'gen/types/ObservableAPI.js': [`Observable${api}`],
    'gen/types/PromiseAPI.js': [`Promise${api}`],
    'gen/types/ObjectParamAPI.js': [`Object${api}`],
  };
}

/** `source` without the methods of `classes` (name -> operations kept) that are not kept; the names removed per class. */
function pruneMethods(source, classes) {
  const ast = acorn.parse(source, { ecmaVersion: 'latest', sourceType: 'module' });
  const cuts = [];
  const removed = {};
  for (const statement of ast.body) {
    const declaration = statement.type === 'ExportNamedDeclaration' ? statement.declaration : statement;
    if (declaration?.type !== 'ClassDeclaration' || !classes[declaration.id.name]) continue;
    const keep = classes[declaration.id.name];
    for (const member of declaration.body.body) {
      if (member.type !== 'MethodDefinition' || member.key.type !== 'Identifier' || member.kind === 'constructor') continue;
      const name = member.key.name;
      if (member.static || keep.has(name) || keep.has(name.replace(/WithHttpInfo$/, ''))) continue;
      cuts.push([member.start, member.end]);
      (removed[declaration.id.name] ??= []).push(name);
    }
  }
  let out = '';
  let at = 0;
  for (const [start, end] of cuts.sort((a, b) => a[0] - b[0])) {
    out += source.slice(at, start);
    at = end;
  }
  return { source: out + source.slice(at), removed };
}

/**
 * The models the kept operations can read or write: every model named in the kept code of the
 * API classes (among them the types their bodies are serialised as and their responses
 * deserialised as), and every model their attributes name, transitively (ObjectSerializer walks
 * them so).
 */
function modelsReached(models, apiSources) {
  const known = new Set([...readFileSync(join(models, 'ObjectSerializer.js'), 'utf8').matchAll(/^ {4}"(\w+)": \w+,?$/gm)].map((m) => m[1]));
  const reached = new Set();
  const visit = (text) => {
    for (const [name] of text.matchAll(/\b[A-Z]\w*\b/g)) {
      if (!known.has(name) || reached.has(name)) continue;
      reached.add(name);
      const model = readFileSync(join(models, `${name}.js`), 'utf8');
      // Attribute types ("V1ObjectMeta", "Array<V1Container>", "{ [key: string]: V1X; }") and a discriminator's mapping.
      for (const [, type] of model.matchAll(/"type": "([^"]+)"/g)) visit(type);
      for (const [, mapping] of model.matchAll(/\.mapping = (\{[^}]*\})/g)) visit(mapping);
    }
  };
  // Every capitalised word of the kept code, comments included: more than needed at worst, never less.
  for (const source of apiSources) visit(source);
  return reached;
}

/** ObjectSerializer's typeMap with only `kept` models (one `"Name": Name,` line each); the rest is then unreferenced and left out by esbuild. */
function pruneTypeMap(source, kept) {
  const start = source.indexOf('let typeMap = {');
  const end = source.indexOf('\n};', start);
  if (start < 0 || end < 0) throw new Error('kubernetes-client-operations: ObjectSerializer.js has no typeMap where expected');
  const lines = source.slice(start, end).split('\n');
  const keptLines = lines.filter((line, i) => i === 0 || !/^ {4}"(\w+)": \w+,?$/.test(line) || kept.has(/"(\w+)"/.exec(line)[1]));
  // Without the models' re-exports too (`export * from '../models/X.js'`): nothing of ours imports a model's class.
  return source.slice(0, start).replace(/^export \* from '\.\.\/models\/\w+\.js';$/gm, '') + keptLines.join('\n').replace(/,\s*$/, '') + source.slice(end);
}

/** The client-node plugin; `root` is the repository (where lib/kubernetes/api.ts is). */
function kubernetesClientOperations(root = join(__dirname, '..')) {
  const used = operationsUsed(root);
  // file (relative to client-node's dist/) -> class name -> operations kept
  const files = {};
  for (const [api, operations] of Object.entries(used)) for (const [file, classes] of Object.entries(classesOf(api))) for (const name of classes) (files[file] ??= {})[name] = operations;
  const dist = join(require.resolve('@kubernetes/client-node', { paths: [root] }), '..');
  const apiSources = Object.keys(used).map((api) => pruneMethods(readFileSync(join(dist, `gen/apis/${api}.js`), 'utf8'), files[`gen/apis/${api}.js`]).source);
  const models = modelsReached(join(dist, 'gen/models'), apiSources);
  const undici = dirname(require.resolve('undici', { paths: [dist] }));
  return {
    name: 'kubernetes-client-operations',
    setup(build) {
      // A model file only declares its class and the class's static fields: nothing else happens on
      // import, so one no typeMap names is left out (esbuild keeps modules with top-level assignments otherwise).
      build.onResolve({ filter: /^\.\.?\/(models\/)?\w+\.js$/ }, (args) => {
        const path = join(args.resolveDir, args.path);
        if (!/[\\/]client-node[\\/]dist[\\/]gen[\\/]models[\\/]\w+\.js$/.test(path) || path.endsWith('ObjectSerializer.js') || path.endsWith('all.js')) return undefined;
        return { path, sideEffects: false };
      });
      // client-node imports three things of undici (config.js: Agent, ProxyAgent; the fetch library and
      // a few helpers: fetch); its index also loads the mock agents, caches, WebSocket, EventSource,
      // interceptors and request APIs. These three come from undici's own files, unchanged.
      build.onResolve({ filter: /^undici$/ }, (args) => (/[\\/]@kubernetes[\\/]client-node[\\/]/.test(args.importer) ? { path: 'undici', namespace: 'undici-used' } : undefined));
      build.onLoad({ filter: /.*/, namespace: 'undici-used' }, () => ({
        contents: [
          "module.exports.Agent = require('./lib/dispatcher/agent.js');",
          "module.exports.ProxyAgent = require('./lib/dispatcher/proxy-agent.js');",
          "module.exports.fetch = require('./lib/web/fetch/index.js').fetch;",
        ].join('\n'),
        loader: 'js',
        resolveDir: undici,
      }));
      build.onLoad({ filter: /@kubernetes[\\/]client-node[\\/]dist[\\/](gen[\\/]((apis|types|models)[\\/])?)?\w+\.js$/ }, (args) => {
        const file = args.path.replace(/\\/g, '/').replace(/^.*\/client-node\/dist\//, '');
        if (AUTH_PROVIDERS[file]) return { contents: authProviderStub(AUTH_PROVIDERS[file]), loader: 'js' };
        if (file === 'index.js') return { contents: slimIndex(dirname(args.path), valuesImported(root)), loader: 'js' };
        if (file === 'gen/models/ObjectSerializer.js') return { contents: pruneTypeMap(readFileSync(args.path, 'utf8'), models), loader: 'js' };
        // lib/kubernetes/api.ts is loaded with import(), so esbuild evaluates the package lazily and
        // turns each `export *` into a copy of the whole namespace at run time: every model would
        // stay. Our code imports model types only (erased); a client-node file importing a model
        // class from here would fail the build (no such export), not the run.
        if (file === 'gen/index.js') return { contents: readFileSync(args.path, 'utf8').replace(/^export \* from "\.\/models\/all\.js";$/m, ''), loader: 'js' };
        if (!files[file]) return undefined;
        return { contents: pruneMethods(readFileSync(args.path, 'utf8'), files[file]).source, loader: 'js' };
      });
    },
  };
}

module.exports = [kubernetesClientOperations()];
module.exports.kubernetesClientOperations = kubernetesClientOperations;
module.exports.pruneMethods = pruneMethods;
module.exports.operationsUsed = operationsUsed;
module.exports.modelsReached = modelsReached;
module.exports.slimIndex = slimIndex;
module.exports.valuesImported = valuesImported;
