/**
 * `npm run bench:lambda -- [--json FILE] [--runs 5] [--only fnA,fnB]`: each Lambda function as it
 * ships, and what its cold start pays to load it. Every handler in serverless.yml is bundled the
 * way serverless-esbuild does it (the options of `custom.esbuild`: bundle, minify, ESM, node22, the
 * createRequire banner), one bundle per function as `package.individually` does, into a temp dir.
 * Reported per function: the bundle's bytes (the .mjs, without its source map), whether a
 * Kubernetes client is inside (from esbuild's metafile), and the import time: the median of
 * `--runs` fresh Node 22 processes that import the bundle, with the environment the provider sets
 * (NODE_OPTIONS=--enable-source-maps included; also measured without it), dummy AWS credentials, and no network (a new
 * network namespace via `unshare -n` where the machine allows it).
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { bundleFunction, entryOf, readServerless } from './lambda-bundle.js';

const execFileAsync = promisify(execFile);
const { values } = parseArgs({ args: process.argv.slice(2), options: { json: { type: 'string' }, runs: { type: 'string' }, only: { type: 'string' } } });
const RUNS = Number(values.runs ?? 5);
const log = (m: string) => process.stderr.write(`${m}\n`);

interface FunctionFigures {
  function: string;
  entry: string;
  bundleBytes: number;
  sourceMapBytes: number;
  kubernetesClient: boolean;
  /** As deployed: with the provider's NODE_OPTIONS (--enable-source-maps parses the map at load). */
  importMs: number;
  importMsRuns: number[];
  /** CPU time (user + system) of the same imports, median: less sensitive to the machine's load. */
  importCpuMs: number;
  /** The same without NODE_OPTIONS: the cost of the code alone. */
  importMsWithoutSourceMaps: number;
}

const sls = readServerless();
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

// Timed inside the child, so Node's own start-up (the same for every function) is left out. The
// CPU time (user + system) beside the wall time: on this shared machine the wall time grows with
// the load average, the CPU time much less.
const IMPORT_SCRIPT =
  'const t = performance.now(); const c = process.cpuUsage(); await import(process.env.BENCH_BUNDLE_URL); const u = process.cpuUsage(c); process.stdout.write(JSON.stringify([performance.now() - t, (u.user + u.system) / 1000]));';
const noNetwork = spawnSync('unshare', ['-rn', 'true']).status === 0;

/** [wall ms, CPU ms] of one import in a fresh process. */
async function importMs(bundle: string, functionName: string, sourceMaps: boolean): Promise<[number, number]> {
  const env: NodeJS.ProcessEnv = { ...lambdaEnv(functionName), BENCH_BUNDLE_URL: pathToFileURL(bundle).href };
  if (!sourceMaps) delete env.NODE_OPTIONS;
  const node = [process.execPath, '--input-type=module', '-e', IMPORT_SCRIPT];
  const [command, ...args] = noNetwork ? ['unshare', '-rn', ...node] : node;
  const { stdout } = await execFileAsync(command!, args, { env, encoding: 'utf8', timeout: 60_000 });
  const [wall, cpu] = JSON.parse(stdout) as [number, number];
  return [Math.round(wall), Math.round(cpu)];
}

async function main() {
  const only = values.only?.split(',');
  const functions = Object.entries(sls.functions).filter(([name]) => !only || only.includes(name));
  const dir = mkdtempSync(join(tmpdir(), 'bench-lambda-'));
  const results: FunctionFigures[] = [];
  log(`Node ${process.version}; ${functions.length} functions; ${RUNS} fresh processes each; network ${noNetwork ? 'cut (unshare -n)' : 'NOT cut (unshare unavailable)'}`);
  try {
    for (const [name, fn] of functions) {
      const entry = entryOf(fn.handler);
      const { bundle, kubernetesClient } = await bundleFunction(entry, join(dir, name), esbuildConfig);
      const map = `${bundle}.map`;
      // Interleaved, so a slow spell on this shared machine hits both modes alike.
      const runs: number[] = [];
      const cpu: number[] = [];
      const bare: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const [wall, cpuMs] = await importMs(bundle, name, true);
        runs.push(wall);
        cpu.push(cpuMs);
        bare.push((await importMs(bundle, name, false))[0]);
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
        importCpuMs: median(cpu),
        importMsWithoutSourceMaps: median(bare),
      };
      results.push(figures);
      log(
        `${name}: ${(figures.bundleBytes / 1e6).toFixed(2)} MB, k8s ${kubernetesClient ? 'yes' : 'no'}, import ${figures.importMs} ms (${runs.join(', ')}), CPU ${figures.importCpuMs} ms, ${figures.importMsWithoutSourceMaps} ms without source maps`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const pad = (s: string, n: number) => s.padEnd(n);
  const lines = [
    `${pad('function', 26)} ${'bundle MB'.padStart(9)} ${'k8s'.padStart(4)} ${'import ms'.padStart(9)} ${'cpu ms'.padStart(7)} ${'no maps'.padStart(8)}`,
    ...results.map(
      (r) =>
        `${pad(r.function, 26)} ${(r.bundleBytes / 1e6).toFixed(2).padStart(9)} ${(r.kubernetesClient ? 'yes' : 'no').padStart(4)} ${String(r.importMs).padStart(9)} ${String(r.importCpuMs).padStart(7)} ${String(r.importMsWithoutSourceMaps).padStart(8)}`,
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
      maxImportCpuMs: Math.max(...results.map((r) => r.importCpuMs)),
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
