/**
 * Each Lambda function bundled as it ships: the handlers of serverless.yml with the options of
 * `custom.esbuild` (bundle, minify, ESM, node22, the createRequire banner), one bundle per
 * function as `package.individually` does. Shared by `npm run bench:lambda` and the test that
 * keeps bundles small (test/unit/architecture/lambda-bundles.test.ts).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
import { parse } from 'yaml';

export const root = resolve(import.meta.dirname, '..');

export interface EsbuildConfig {
  bundle?: boolean;
  minify?: boolean;
  sourcemap?: boolean;
  /** false: the source map holds mappings and names only, not the sources (a smaller map to parse at each cold start). */
  sourcesContent?: boolean;
  target?: string;
  platform?: 'node';
  format?: 'esm' | 'cjs';
  outputFileExtension?: string;
  banner?: Record<string, string>;
  exclude?: string[];
  /** A CommonJS file (relative to the repository) exporting esbuild plugins, as serverless-esbuild reads it. */
  plugins?: string;
  define?: Record<string, string>;
}

export interface Serverless {
  provider: { environment?: Record<string, unknown> };
  custom: { esbuild: EsbuildConfig };
  functions: Record<string, { handler: string }>;
}

/** serverless.yml, parsed; tags such as !Ref and !Sub come back as plain strings. */
export function readServerless(): Serverless {
  return parse(readFileSync(join(root, 'serverless.yml'), 'utf8'), { logLevel: 'error' }) as Serverless;
}

/** The handler's source file, as serverless-esbuild finds it (`handlers/x.handler` -> `handlers/x.ts`). */
export const entryOf = (handler: string) => `${handler.replace(/\.[^.]+$/, '')}.ts`;

/** What marks a bundle as carrying a Kubernetes client: ours, or the library it replaced. */
export const KUBERNETES_CLIENT_INPUTS = ['lib/kubernetes/api.ts', 'node_modules/@kubernetes/client-node/'];

export interface FunctionBundle {
  /** The .mjs path (absolute), when written. */
  bundle: string;
  bytes: number;
  inputs: string[];
  kubernetesClient: boolean;
  metafile: Metafile;
}

/** The options serverless-esbuild passes on besides the ones named above: plugins (loaded from their file) and define. */
function extraOptions(config: EsbuildConfig): Pick<BuildOptions, 'plugins' | 'define'> {
  return {
    ...(config.plugins ? { plugins: createRequire(import.meta.url)(join(root, config.plugins)) as Plugin[] } : {}),
    ...(config.define ? { define: config.define } : {}),
  };
}

/** Bundle one function's entry into `outdir`; `write: false` keeps it in memory (sizes still exact). */
export async function bundleFunction(entry: string, outdir: string, config: EsbuildConfig, write = true): Promise<FunctionBundle> {
  const options: BuildOptions = {
    absWorkingDir: root,
    entryPoints: [entry],
    outdir,
    outbase: root,
    bundle: config.bundle ?? true,
    minify: config.minify ?? false,
    sourcemap: config.sourcemap ?? false,
    ...(config.sourcesContent === undefined ? {} : { sourcesContent: config.sourcesContent }),
    target: config.target ?? 'node22',
    platform: config.platform ?? 'node',
    format: config.format ?? 'esm',
    outExtension: { '.js': config.outputFileExtension ?? '.js' },
    external: config.exclude ?? [],
    ...(config.banner ? { banner: config.banner } : {}),
    ...extraOptions(config),
    metafile: true,
    write,
    logLevel: 'error',
  };
  const { metafile } = await build(options);
  if (!metafile) throw new Error(`esbuild gave no metafile for ${entry}`);
  const output = Object.entries(metafile.outputs).find(([path]) => !path.endsWith('.map'));
  if (!output) throw new Error(`esbuild wrote no bundle for ${entry}`);
  const inputs = Object.keys(output[1].inputs);
  return {
    bundle: join(root, output[0]),
    bytes: output[1].bytes,
    inputs,
    kubernetesClient: inputs.some((input) => KUBERNETES_CLIENT_INPUTS.some((k) => input.includes(k))),
    metafile,
  };
}

/**
 * All the functions in one esbuild run (each entry still bundled alone, as without splitting;
 * the parsing is shared, so this is several times faster than one build per function). Source
 * maps off: they change no byte of the .mjs.
 */
export async function bundleAll(
  functions: Record<string, { handler: string }>,
  config: EsbuildConfig,
): Promise<Record<string, Omit<FunctionBundle, 'bundle' | 'metafile'> & { evaluatedAtImport: string[] }>> {
  const entries = Object.entries(functions).map(([name, fn]) => ({ in: entryOf(fn.handler), out: name }));
  const { metafile } = await build({
    absWorkingDir: root,
    entryPoints: entries,
    outdir: '/lambda-bundles',
    bundle: config.bundle ?? true,
    minify: config.minify ?? false,
    target: config.target ?? 'node22',
    platform: config.platform ?? 'node',
    format: config.format ?? 'esm',
    external: config.exclude ?? [],
    ...(config.banner ? { banner: config.banner } : {}),
    ...extraOptions(config),
    metafile: true,
    write: false,
    logLevel: 'error',
  });
  const out: Record<string, Omit<FunctionBundle, 'bundle' | 'metafile'> & { evaluatedAtImport: string[] }> = {};
  for (const [path, output] of Object.entries(metafile.outputs)) {
    const name = path.replace(/^.*\//, '').replace(/\.js$/, '');
    const inputs = Object.keys(output.inputs);
    out[name] = {
      bytes: output.bytes,
      inputs,
      kubernetesClient: inputs.some((input) => KUBERNETES_CLIENT_INPUTS.some((k) => input.includes(k))),
      evaluatedAtImport: output.entryPoint ? staticClosure(metafile, output.entryPoint).filter((input) => input in output.inputs) : [],
    };
  }
  return out;
}

/**
 * The inputs an entry reaches by `import` statements and `require()` calls: what a cold start
 * evaluates before the handler runs. Modules reached only through `import()` are left out (esbuild
 * wraps them, so they run on the first call). A `require()` inside a function counts too: an
 * over-estimate, never an under-estimate.
 */
export function staticClosure(metafile: Metafile, entry: string): string[] {
  const seen = new Set([entry]);
  const queue = [entry];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    for (const { path, kind, external } of metafile.inputs[next]?.imports ?? []) {
      if (external || kind === 'dynamic-import' || seen.has(path)) continue;
      seen.add(path);
      queue.push(path);
    }
  }
  return [...seen].sort();
}
