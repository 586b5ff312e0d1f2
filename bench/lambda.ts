/**
 * `npm run bench:lambda -- [--json FILE] [--runs 5] [--only fnA,fnB]`: each Lambda function as it
 * ships, and what its cold start pays to load it. Every handler in serverless.yml is bundled the
 * way serverless-esbuild does it (the options of `custom.esbuild`: bundle, minify, ESM, node22, the
 * createRequire banner), one bundle per function as `package.individually` does, into a temp dir.
 * Reported per function: the bundle's bytes (the .mjs, without its source map), whether
 * @kubernetes/client-node is inside (from esbuild's metafile), and the import time: the median of
 * `--runs` fresh Node 22 processes that import the bundle, with the environment the provider sets
 * (NODE_OPTIONS=--enable-source-maps included; also measured without it), dummy AWS credentials, and no network (a new
 * network namespace via `unshare -n` where the machine allows it).
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { build, type BuildOptions } from 'esbuild';
import { parse } from 'yaml';

const execFileAsync = promisify(execFile);
const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({ args: process.argv.slice(2), options: { json: { type: 'string' }, runs: { type: 'string' }, only: { type: 'string' } } });
const RUNS = Number(values.runs ?? 5);
const log = (m: string) => process.stderr.write(`${m}\n`);

interface EsbuildConfig {
  bundle?: boolean;
  minify?: boolean;
  sourcemap?: boolean;
  target?: string;
  platform?: 'node';
  format?: 'esm' | 'cjs';
  outputFileExtension?: string;
  banner?: Record<string, string>;
  exclude?: string[];
}

interface Serverless {
  provider: { environment?: Record<string, unknown> };
  custom: { esbuild: EsbuildConfig };
  functions: Record<string, { handler: string }>;
}

interface FunctionFigures {
  function: string;
  entry: string;
  bundleBytes: number;
  sourceMapBytes: number;
  kubernetesClient: boolean;
  /** As deployed: with the provider's NODE_OPTIONS (--enable-source-maps parses the map at load). */
  importMs: number;
  importMsRuns: number[];
  /** The same without NODE_OPTIONS: the cost of the code alone. */
  importMsWithoutSourceMaps: number;
}

// Tags such as !Ref and !Sub come back as plain strings (with a warning we do not need).
const sls = parse(readFileSync(join(root, 'serverless.yml'), 'utf8'), { logLevel: 'error' }) as Serverless;
const esbuildConfig = sls.custom.esbuild;

// What a cold start sees: the provider's environment (its CloudFormation references replaced by
// dummies), Lambda's own variables, and credentials that can reach nothing.
const lambdaEnv = (functionName: string): NodeJS.ProcessEnv => {
  const fromProvider = Object.fromEntries(
    Object.entries(sls.provider.environment ?? {}).map(([k, v]) => [k, typeof v === 'string' && !v.startsWith('!') ? v : `arn:aws:dummy:us-east-1:000000000000:${k.toLowerCase()}`]),
  );
  return {
    PATH: process.env.PATH,
    HOME: tmpdir(),
    ...fromProvider,
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIADUMMYDUMMYDUMMY0',
    AWS_SECRET_ACCESS_KEY: 'dummy-secret-access-key',
    AWS_SESSION_TOKEN: 'dummy-session-token',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_LAMBDA_FUNCTION_NAME: `spin-elasticache-dev-${functionName}`,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
    STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:spin-elasticache-dev',
    SLACK_SIGNING_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:dummy',
    SLACK_ALLOWED_USER_IDS: '',
  };
};

// Timed inside the child, so Node's own start-up (the same for every function) is left out.
const IMPORT_SCRIPT = 'const t = performance.now(); await import(process.env.BENCH_BUNDLE_URL); process.stdout.write(String(performance.now() - t));';
const noNetwork = spawnSync('unshare', ['-rn', 'true']).status === 0;

async function importMs(bundle: string, functionName: string, sourceMaps: boolean): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...lambdaEnv(functionName), BENCH_BUNDLE_URL: pathToFileURL(bundle).href };
  if (!sourceMaps) delete env.NODE_OPTIONS;
  const node = [process.execPath, '--input-type=module', '-e', IMPORT_SCRIPT];
  const [command, ...args] = noNetwork ? ['unshare', '-rn', ...node] : node;
  const { stdout } = await execFileAsync(command!, args, { env, encoding: 'utf8', timeout: 60_000 });
  return Number(stdout);
}

async function main() {
  const only = values.only?.split(',');
  const functions = Object.entries(sls.functions).filter(([name]) => !only || only.includes(name));
  const dir = mkdtempSync(join(tmpdir(), 'bench-lambda-'));
  const results: FunctionFigures[] = [];
  log(`Node ${process.version}; ${functions.length} functions; ${RUNS} fresh processes each; network ${noNetwork ? 'cut (unshare -n)' : 'NOT cut (unshare unavailable)'}`);
  try {
    for (const [name, fn] of functions) {
      const entry = `${fn.handler.replace(/\.[^.]+$/, '')}.ts`;
      const outdir = join(dir, name);
      const options: BuildOptions = {
        absWorkingDir: root,
        entryPoints: [entry],
        outdir,
        outbase: root,
        bundle: esbuildConfig.bundle ?? true,
        minify: esbuildConfig.minify ?? false,
        sourcemap: esbuildConfig.sourcemap ?? false,
        target: esbuildConfig.target ?? 'node22',
        platform: esbuildConfig.platform ?? 'node',
        format: esbuildConfig.format ?? 'esm',
        outExtension: { '.js': esbuildConfig.outputFileExtension ?? '.js' },
        external: esbuildConfig.exclude ?? [],
        ...(esbuildConfig.banner ? { banner: esbuildConfig.banner } : {}),
        metafile: true,
        logLevel: 'error',
      };
      const { metafile } = await build(options);
      if (!metafile) throw new Error(`esbuild gave no metafile for ${name}`);
      const output = Object.entries(metafile.outputs).find(([path]) => !path.endsWith('.map'));
      if (!output) throw new Error(`esbuild wrote no bundle for ${name}`);
      const bundle = join(root, output[0]);
      const map = `${bundle}.map`;
      const kubernetesClient = Object.keys(metafile.inputs).some((input) => input.includes('node_modules/@kubernetes/client-node/'));
      // Interleaved, so a slow spell on this shared machine hits both modes alike.
      const runs: number[] = [];
      const bare: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        runs.push(Math.round(await importMs(bundle, name, true)));
        bare.push(Math.round(await importMs(bundle, name, false)));
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const figures: FunctionFigures = {
        function: name,
        entry,
        bundleBytes: statSync(bundle).size,
        sourceMapBytes: esbuildConfig.sourcemap ? statSync(map).size : 0,
        kubernetesClient,
        importMs: median(runs),
        importMsRuns: runs,
        importMsWithoutSourceMaps: median(bare),
      };
      results.push(figures);
      log(
        `${name}: ${(figures.bundleBytes / 1e6).toFixed(2)} MB, k8s ${kubernetesClient ? 'yes' : 'no'}, import ${figures.importMs} ms (${runs.join(', ')}), ${figures.importMsWithoutSourceMaps} ms without source maps`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const pad = (s: string, n: number) => s.padEnd(n);
  const lines = [
    `${pad('function', 26)} ${'bundle MB'.padStart(9)} ${'k8s'.padStart(4)} ${'import ms'.padStart(9)} ${'no maps'.padStart(8)}`,
    ...results.map(
      (r) =>
        `${pad(r.function, 26)} ${(r.bundleBytes / 1e6).toFixed(2).padStart(9)} ${(r.kubernetesClient ? 'yes' : 'no').padStart(4)} ${String(r.importMs).padStart(9)} ${String(r.importMsWithoutSourceMaps).padStart(8)}`,
    ),
  ];
  process.stderr.write(`\n${lines.join('\n')}\n\n`);
  const report = {
    when: new Date().toISOString(),
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version, networkCut: noNetwork },
    esbuild: esbuildConfig,
    runs: RUNS,
    functions: results,
    summary: {
      maxBundleBytes: Math.max(...results.map((r) => r.bundleBytes)),
      maxBundleBytesWithoutKubernetes: Math.max(0, ...results.filter((r) => !r.kubernetesClient).map((r) => r.bundleBytes)),
      withKubernetesClient: results.filter((r) => r.kubernetesClient).map((r) => r.function),
      maxImportMs: Math.max(...results.map((r) => r.importMs)),
      medianImportMs: [...results.map((r) => r.importMs)].sort((a, b) => a - b)[Math.floor(results.length / 2)],
      maxImportMsWithoutSourceMaps: Math.max(...results.map((r) => r.importMsWithoutSourceMaps)),
    },
  };
  const text = `${JSON.stringify(report, null, 2)}\n`;
  if (values.json) writeFileSync(values.json, text);
  process.stdout.write(text);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
