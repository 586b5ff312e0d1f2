/**
 * `npm start` / `spin-elasticache rehearse`: bring the sandbox up, run the real state
 * machine over the real handlers against it, show progress, print a summary, and
 * optionally write a JSON report or keep the sandbox running for a look around.
 */
import { accessSync, constants, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { distance } from 'fastest-levenshtein';
import { formatHealth } from '../lib/health/format.js';
import type { HealthReport } from '../lib/health/check.js';
import type { Redis } from 'ioredis';
import { connectRedis } from '../lib/redis/connect.js';
import { runMigration, type ExecutionResult, type HistoryEvent, type TaskHandler } from './runner.js';
import { SANDBOX_SEED_BUCKET, spinnakerConfigAsInstalled, startWorld, type SandboxWorld, type WorldSnapshot } from './world.js';
import { InjectedFaultError } from './faults.js';
import { loadDefinition, readAsl } from '../statemachine/load.js';
import type { MigrationPlan } from '../lib/workflow/plan.js';
import { type AppParity, COPIES, dumpFits, EXPANSION, historyParity } from './rdb-seed.js';
import { type AppHistory, type OrcaHistory, orcaHistory } from '../lib/spinnaker/audit.js';

const USAGE = `Usage: npm start -- [--keys N] [--auth] [--flavor F] [--report FILE] [--keep] [--fail-at STATE] [--quiet]
                 [--spin-redis-server PATH] [--spin-redis-memory-limit QUANTITY] [--rdb FILE] [--copy-method M]
                 [--spin-redis sentinel]

  --keys N         Seed spin-redis with about N Spinnaker-shaped keys (default 50000).
  --auth           Give the new group an AUTH token (from Secrets Manager): the services then
                   connect through redis.connection, a kork-secrets reference to the URL secret.
  --flavor F       How the simulated Spinnaker is installed: halyard (default), halyard-ha
                   (HA clouddriver: spin-clouddriver-rw/-ro/-ro-deck/-caching), operator
                   (a SpinnakerService reconciled by a simulated Spinnaker Operator),
                   helm-stable or helm-opsmx (the charts' ConfigMaps and Halyard StatefulSet,
                   spin-redis as the Bitnami StatefulSet with a password).
  --report FILE    Write a JSON report (status, steps, history, key counts, endpoints).
  --keep           Leave the sandbox running after the migration, until Ctrl-C / SIGTERM.
  --fail-at STATE  Inject a fatal failure when STATE runs (e.g. HalDeployApply), to watch
                   the failure path or the rollback.
  --quiet          No line per step while the migration runs: the summary only.
  --dry-run        options.dryRun: what /spin-elasticache plan <preset> and a dry-run execution
                   do. Prints the plan (what would be created, the config diff, what would be
                   paused and scaled) and checks that nothing was created or changed.
  --spin-redis-server PATH
                   Play spin-redis with this redis-server binary (an old Redis such as
                   3.2.13, as Halyard up to 1.45 deployed; any version).
  --rdb FILE       Rehearse on your own data: seed spin-redis from this dump of your
                   spin-redis (redis-cli --rdb FILE) instead of synthetic keys; the summary
                   reports the audit parity of your pipeline history. Refused before anything
                   starts if FILE × ${EXPANSION} (in memory) × ${COPIES} (spin-redis, the ElastiCache
                   primary and replica) + 1 GiB exceeds the machine's available memory.
  --spin-redis sentinel
                   spin-redis is Sentinel-managed (a replica and three sentinels watch it as
                   mymaster); the input names the sentinels, every step asks them for the
                   master, and spin-redis is left running at the end as a RedisFailover would be.
                   Halyard flavours only.
  --spin-redis-memory-limit QUANTITY
                   Give spin-redis's container a memory limit (e.g. 16Mi): the copy then
                   forks it only if the worst case fits (docs/COPY.md, "Fork safety").
  --copy-method M  options.copyMethod: auto (default), replication, scan, or s3-seed (Spinnaker
                   frozen, spin-redis's RDB uploaded to the emulated S3, the group created from it
                   with SnapshotArns); the summary reports the write freeze.

Exit status: 0 when the migration SUCCEEDED and every invariant holds (with --dry-run: the plan
was made and nothing changed); with --fail-at, 0 when
the fault was injected and the run ended as the workflow means it to (rolled back, failed
before the cutover, or succeeded with a late step's failure reported) with every invariant
true; 1 otherwise (2 for bad options).
`;

export interface RehearsalReport {
  status: 'SUCCEEDED' | 'FAILED';
  error?: string;
  cause?: string;
  executionArn: string;
  durationMs: number;
  steps: { name: string; status: string; durationMs: number; attempts: number; error?: string }[];
  history: HistoryEvent[];
  keys: { seeded: number; source: number; target: number; orcaExecutionsWritten: number; orcaExecutionsMissing: number };
  spinnaker: WorldSnapshot;
  endpoints: SandboxWorld['endpoints'];
  output?: unknown;
  /** The pause and the cutover window, from the execution output (see cutoverFigures). */
  cutover?: CutoverFigures;
  /** The scheduled HealthCheck, run once after a successful migration. */
  health?: HealthReport;
  /** The outcome's notification (SNS), as the team subscribed to the topic receives it. */
  notification?: { subject?: string; message: string };
  /** What a person running Spinnaker cares about, from the write ledger (sandbox/spinnaker/ledger.ts); all must be true. */
  invariants: WorldSnapshot['invariants'] & { orcaWritesPresent: boolean };
  /** The cutover window, messages processed twice, keys resurrected, stale values, the orca queue's longest pause. */
  figures: WorldSnapshot['figures'];
  examples: WorldSnapshot['examples'];
  /** `--rdb`: the user's dump spin-redis was seeded from (its history per application is in `yourHistory`). */
  seededFrom?: Omit<NonNullable<SandboxWorld['seededFrom']>, 'history'>;
  /** `--rdb`: the dump's pipeline history per application, and on ElastiCache at the end. */
  yourHistory?: AppParity[];
}

/** `onWorld` lets a test see the world's secrets, to check that none is printed. */
export async function runRehearsal(argv: string[], hooks: { onWorld?: (world: SandboxWorld) => void } = {}): Promise<number> {
  let values: {
    keys?: string;
    auth?: boolean;
    flavor?: string;
    report?: string;
    keep?: boolean;
    'fail-at'?: string;
    quiet?: boolean;
    help?: boolean;
    'spin-redis-server'?: string;
    'spin-redis-memory-limit'?: string;
    'spin-redis'?: string;
    rdb?: string;
    'copy-method'?: string;
    'dry-run'?: boolean;
  };
  const options = {
    keys: { type: 'string' },
    auth: { type: 'boolean' },
    flavor: { type: 'string' },
    report: { type: 'string' },
    keep: { type: 'boolean' },
    'fail-at': { type: 'string' },
    quiet: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
    'spin-redis-server': { type: 'string' },
    'spin-redis-memory-limit': { type: 'string' },
    'spin-redis': { type: 'string' },
    rdb: { type: 'string' },
    'copy-method': { type: 'string' },
    'dry-run': { type: 'boolean' },
  } as const;
  // `npm start --auth` (no `--`): npm takes the option as its own config (npm_config_auth) and
  // passes nothing, or only the value (`npm start --keys 1000` passes `1000`). Say so, once.
  // (npm expands an abbreviation of its own options first: `--auth` becomes `--auth-type=true`.)
  const tookByNpm = Object.keys(options).filter((name) => process.env[`npm_config_${name.replace(/-/g, '_')}`] !== undefined || (name === 'auth' && process.env.npm_config_auth_type === 'true'));
  const npmHint = 'npm passes options on only after `--`: npm start -- --keys 1000';
  try {
    ({ values } = parseArgs({ args: argv, options }));
  } catch (error) {
    const message = (error as Error).message;
    // A near miss (`--flavour`, `--key`): the option meant.
    const unknown = /^Unknown option '--([^']+)'/.exec(message)?.[1];
    const meant = unknown === undefined ? undefined : Object.keys(options).find((name) => name.startsWith(unknown) || distance(name, unknown) <= 2);
    const hint = meant ? `Did you mean --${meant}?\n` : /^Unexpected argument/.test(message) || tookByNpm.length > 0 ? `${npmHint}\n` : '';
    process.stderr.write(`${message}\n${hint}${USAGE}`);
    return 2;
  }
  if (tookByNpm.length > 0) {
    process.stderr.write(`npm took ${tookByNpm.map((n) => `--${n}`).join(', ')} as its own option, so the rehearsal did not get it: ${npmHint}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const keys = values.keys === undefined ? 50_000 : Number(values.keys);
  if (!Number.isInteger(keys) || keys < 0) {
    process.stderr.write(`--keys must be a whole number (got ${values.keys})\n`);
    return 2;
  }
  const flavor = values.flavor ?? 'halyard';
  if (flavor !== 'halyard' && flavor !== 'halyard-ha' && flavor !== 'operator' && flavor !== 'helm-stable' && flavor !== 'helm-opsmx') {
    process.stderr.write(`--flavor: the sandbox installs halyard, halyard-ha, operator, helm-stable or helm-opsmx (got ${flavor})\n`);
    return 2;
  }
  const copyMethod = values['copy-method'];
  if (copyMethod !== undefined && copyMethod !== 'auto' && copyMethod !== 'replication' && copyMethod !== 'scan' && copyMethod !== 's3-seed') {
    process.stderr.write(`--copy-method: auto, replication, scan or s3-seed (got ${copyMethod})\n`);
    return 2;
  }
  const spinRedisKind = values['spin-redis'];
  if (spinRedisKind !== undefined && (spinRedisKind !== 'sentinel' || (flavor !== 'halyard' && flavor !== 'halyard-ha'))) {
    process.stderr.write(`--spin-redis: only 'sentinel', with --flavor halyard or halyard-ha (got ${spinRedisKind}, flavor ${flavor})\n`);
    return 2;
  }
  const failAt = values['fail-at'];
  if (failAt !== undefined) {
    const tasks = loadDefinition().tasks.map((t) => t.stateName);
    const onPath = tasksOnPath(readAsl(), { dryRun: values['dry-run'] ?? false, copyMethod: values['copy-method'] ?? 'auto' });
    if (!tasks.includes(failAt) || !onPath.includes(failAt)) {
      const why = !tasks.includes(failAt)
        ? 'is not a Task state of statemachine/migrate.asl.yaml'
        : 'never runs in this rehearsal (it runs only after a failure, in a dry run, or with another --copy-method), so no fault could be injected';
      process.stderr.write(`--fail-at: ${failAt} ${why}; one of: ${onPath.join(', ')}\n`);
      return 2;
    }
  }
  if (values.rdb !== undefined) {
    if (values.keys !== undefined) {
      process.stderr.write('--rdb and --keys: the dump is the data; give one or the other\n');
      return 2;
    }
    // Before anything starts: a dump this machine cannot hold three times is refused here.
    const check = dumpFits(values.rdb);
    if (!check.ok) {
      process.stderr.write(`${check.reason}\n`);
      return 2;
    }
  }
  if (values.report) {
    // Found unwritable only at the end, the whole run would be lost.
    try {
      accessSync(dirname(resolve(values.report)), constants.W_OK);
    } catch {
      process.stderr.write(`--report ${values.report}: its directory does not exist or is not writable\n`);
      return 2;
    }
  }
  // Ctrl-C (SIGINT), a terminal closed (SIGHUP), a kill (SIGTERM), or the output piped into a
  // reader that left (`npm start | head`: EPIPE, nobody reads the rest) before the end: the
  // rehearsal stops and its servers and files go too, with the shell's exit code. Caught from the
  // first line on and acted on once the world is up (until then there is nothing to tear down
  // but what startWorld is starting); uncaught, each once left spin-redis or .sandbox/<id> behind.
  let endRequested: { why: string; code: number } | undefined;
  let end: ((why: string, code: number) => void) | undefined;
  const requestEnd = (why: string, code: number) => {
    if (end) end(why, code);
    else endRequested ??= { why, code };
  };
  const abort = (signal: NodeJS.Signals) => requestEnd(`stopped by ${signal}`, 128 + (signal === 'SIGHUP' ? 1 : signal === 'SIGINT' ? 2 : 15));
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGHUP', 'SIGTERM'];
  for (const signal of signals) process.on(signal, abort); // `on`: a second signal (tsx relays Ctrl-C) must not cut the teardown short
  const onOutputError = (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') requestEnd('its output was closed (EPIPE)', 141);
  };
  process.stdout.on('error', onOutputError);
  const unlisten = () => {
    for (const signal of signals) process.off(signal, abort);
    process.stdout.off('error', onOutputError);
  };
  const out = new Progress(process.stdout, values.quiet ?? false);
  out.line(`spin-elasticache sandbox: starting (${values.rdb ? `seeding from ${values.rdb}` : `seeding ~${keys.toLocaleString('en-US')} keys`})…`);
  let world: SandboxWorld;
  try {
    world = await startWorld({
      keys,
      auth: values.auth ?? false,
      flavor,
      log: (m: string) => out.line(`  ${m}`),
      ...(values['spin-redis-server'] ? { spinRedisServer: values['spin-redis-server'] } : {}),
      ...(values['spin-redis-memory-limit'] ? { spinRedisMemoryLimit: values['spin-redis-memory-limit'] } : {}),
      ...(spinRedisKind === 'sentinel' ? { spinRedisSentinel: true } : {}),
      ...(values.rdb ? { rdb: values.rdb } : {}),
      ...(copyMethod ? { copyMethod } : {}),
      ...(values['dry-run'] ? { input: { options: { maxWaitMinutes: 10, rolloutTimeoutMinutes: 2, drainTimeoutMinutes: 2, copySliceSeconds: 20, dryRun: true } } } : {}),
    });
  } catch (error) {
    unlisten();
    // Stopped while starting (Ctrl-C reaches the servers too, so start-up fails): startWorld tore down what it had started.
    if (endRequested) {
      process.stderr.write(`spin-elasticache sandbox: ${endRequested.why} while starting; the sandbox's servers and files are gone\n`);
      return endRequested.code;
    }
    throw error;
  }
  hooks.onWorld?.(world);
  let exitCode = 1;
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      out.close();
      await world.close();
    })();
    return stopped;
  };
  let ending = false;
  end = (why: string, code: number) => {
    if (ending) return;
    ending = true;
    void stop()
      .catch(() => undefined)
      .finally(() => {
        process.stderr.write(`spin-elasticache sandbox: ${why}; the sandbox's servers and files are gone\n`);
        process.exit(code);
      });
  };
  if (endRequested) end(endRequested.why, endRequested.code);
  try {
    out.line(`  spin-redis ${world.endpoints.sourceRedis}  ElastiCache API ${world.endpoints.elasticache}  Kubernetes API ${world.endpoints.kubernetes}`);
    const injected = { count: 0 };
    const result = await runMigration(world.input, {
      executionName: `rehearsal-${Date.now()}`,
      waitMs: 200,
      retryMs: 100,
      wrapTask: failAt ? injectFailure(failAt, injected) : undefined,
      onExecutionStatus: (arn, status) => world.setExecutionStatus(arn, status),
      onEvent: (event) => out.event(event, world),
    });
    out.close();
    /** The migration's report, the health check after a success, the summary: 0 when it ended as it should with every invariant true. */
    const summarise = async (): Promise<number> => {
      const report = await buildReport(world, result);
      if (report.status === 'SUCCEEDED') {
        // What the EventBridge schedule runs every 5 minutes from now on (metrics stay local).
        process.env.POWERTOOLS_METRICS_DISABLED = 'true';
        const { handler: healthCheck } = await import('../handlers/health-check.js');
        report.health = await healthCheck(world.input);
      }
      printSummary(out, report, failAt && injected.count > 0 ? failAt : undefined);
      if (values.report) {
        writeFileSync(values.report, `${JSON.stringify(report, null, 2)}\n`);
        out.line(`Report written to ${values.report}`);
      }
      const invariantsHold = Object.values(report.invariants).every(Boolean);
      // With --fail-at: the fault must have been injected (the state ran), and the run must end as the workflow means it to: rolled back or
      // failed before the cutover, or, for a step after Spinnaker moved (DisableChangeCapture, ScaleDownSpinRedis), succeeded with it reported.
      const fine = failAt ? injected.count > 0 && (report.status === 'FAILED' || report.status === 'SUCCEEDED') : report.status === 'SUCCEEDED';
      if (failAt && injected.count === 0) out.line(`  --fail-at ${failAt}: that state never ran in this execution, so no fault was injected`);
      return invariantsHold && fine ? 0 : 1;
    };
    if (values['dry-run']) {
      exitCode = await printDryRun(out, world, result);
      if (values.report) {
        // The execution as it ended: its output carries the plan.
        writeFileSync(values.report, `${JSON.stringify({ status: result.status, output: result.output, error: result.error, cause: result.cause }, null, 2)}\n`);
        out.line(`Report written to ${values.report}`);
      }
    } else exitCode = await summarise();
    if (values.keep) {
      printKeepHelp(out, world);
      unlisten();
      await new Promise<void>((done) => {
        // `on`, not `once`: a second signal (tsx relays it, or an impatient Ctrl-C) must not
        // kill the process before the sandbox's servers and files are cleaned up.
        for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => done());
        // `kill <npm's pid>`: npm does not pass SIGTERM on, and tsx (our parent) is left to init.
        const launcherGone = setInterval(() => orphaned() && (clearInterval(launcherGone), done()), 1000);
        launcherGone.unref();
      });
    }
  } finally {
    unlisten();
    await stop();
  }
  return exitCode;
}

/**
 * The pause of "quiesce, switch, resume" as the execution recorded it: Spinnaker's Redis users
 * scaled to 0 (quiesceStartedAt), all gone (quiescedAt), the Halyard patch (switchedAt), every
 * service Ready again (resumedAt). pauseMs is how long orca's queue was not processed;
 * cutoverWindowMs runs from the patch to the last pod Ready on the new Redis. A rollback after
 * the switch has a pause of its own (rollbackPauseMs).
 */
export interface CutoverFigures {
  quiesceStartedAt?: string;
  quiescedAt?: string;
  switchedAt?: string;
  resumedAt?: string;
  quiesceMs?: number;
  pauseMs?: number;
  cutoverWindowMs?: number;
  rollbackPauseMs?: number;
  /** s3-seed: the write freeze is the pause; of it, the snapshot and its upload took this long (the rest: the group's creation from the seed, the verification, the switch). */
  seed?: { snapshotUploadMs: number; bytes: number; parts: number; rdbVersion?: number; reused: boolean };
}

export function cutoverFigures(output: unknown): CutoverFigures | undefined {
  type Out = {
    quiesce?: { startedAt?: string };
    quiesceCheck?: { quiescedAt?: string };
    halyard?: { patchedAt?: string };
    rollout?: { readyAt?: string; pauseMs?: number; cutoverWindowMs?: number };
    rollbackRollout?: { pauseMs?: number };
    seed?: { ms: number; bytes: number; parts: number; rdbVersion?: number; reused: boolean };
  };
  const o = output as Out | undefined;
  if (!o?.quiesce?.startedAt) return undefined;
  const figures: CutoverFigures = { quiesceStartedAt: o.quiesce.startedAt };
  if (o.quiesceCheck?.quiescedAt) Object.assign(figures, { quiescedAt: o.quiesceCheck.quiescedAt, quiesceMs: Date.parse(o.quiesceCheck.quiescedAt) - Date.parse(o.quiesce.startedAt) });
  if (o.halyard?.patchedAt) figures.switchedAt = o.halyard.patchedAt;
  if (o.rollout?.readyAt) figures.resumedAt = o.rollout.readyAt;
  if (o.rollout?.pauseMs !== undefined) figures.pauseMs = o.rollout.pauseMs;
  if (o.rollout?.cutoverWindowMs !== undefined) figures.cutoverWindowMs = o.rollout.cutoverWindowMs;
  if (o.rollbackRollout?.pauseMs !== undefined) figures.rollbackPauseMs = o.rollbackRollout.pauseMs;
  if (o.seed)
    figures.seed = { snapshotUploadMs: o.seed.ms, bytes: o.seed.bytes, parts: o.seed.parts, reused: o.seed.reused, ...(o.seed.rdbVersion === undefined ? {} : { rdbVersion: o.seed.rdbVersion }) };
  return figures;
}

function injectFailure(stateName: string, injected: { count: number }) {
  return (name: string, handler: TaskHandler): TaskHandler =>
    name === stateName
      ? async () => {
          injected.count++;
          throw new InjectedFaultError(`fault injected at ${stateName} by --fail-at`);
        }
      : handler;
}

async function buildReport(world: SandboxWorld, result: ExecutionResult): Promise<RehearsalReport> {
  const snapshot = await world.snapshot();
  return {
    status: result.status,
    ...(result.error ? { error: result.error, cause: result.cause } : {}),
    executionArn: result.executionArn,
    durationMs: result.durationMs,
    steps: result.steps.map(({ name, status, durationMs, attempts, error }) => ({ name, status, durationMs, attempts, ...(error ? { error } : {}) })),
    history: result.history,
    keys: snapshot.keys,
    ...(world.sns.messages.length > 0 ? { notification: (({ subject, message }) => ({ ...(subject ? { subject } : {}), message }))(world.sns.messages.at(-1)!) } : {}),
    invariants: { ...snapshot.invariants, orcaWritesPresent: snapshot.keys.orcaExecutionsMissing === 0 },
    figures: snapshot.figures,
    examples: snapshot.examples,
    spinnaker: snapshot,
    endpoints: world.endpoints,
    output: result.output,
    ...(cutoverFigures(result.output) ? { cutover: cutoverFigures(result.output) } : {}),
    ...(world.seededFrom ? { seededFrom: (({ history: _h, ...rest }) => rest)(world.seededFrom) } : {}),
    ...(world.seededFrom ? { yourHistory: await yourHistory(world, world.seededFrom.history) } : {}),
  };
}

/** The dump's history per application against what ElastiCache holds now (nothing when the group is gone). */
async function yourHistory(world: SandboxWorld, dump: OrcaHistory): Promise<AppParity[]> {
  const target = await world.targetClient();
  return historyParity(dump, target ? await orcaHistory(target) : {});
}

/**
 * A dry run's outcome: the plan as the execution output carries it (lib/workflow/plan.ts,
 * MigrationPlan), printed for a person, and what must not have moved: no ElastiCache resource,
 * Spinnaker's config byte for byte, spin-redis's replicas. 0 when the plan was made and nothing
 * changed.
 */
async function printDryRun(out: Progress, world: SandboxWorld, result: ExecutionResult): Promise<number> {
  const plan = (result.output as { plan?: MigrationPlan } | undefined)?.plan;
  out.line('');
  if (result.status !== 'SUCCEEDED' || !plan) {
    out.line(`Dry run ${result.status}${result.error ? ` (${result.error})` : ''}: no plan${result.cause ? `: ${result.cause}` : ''}`);
    return 1;
  }
  out.line(`Dry run SUCCEEDED: the plan (execution output \`plan\`), nothing created or changed`);
  out.line(`  Spinnaker: ${plan.spinnaker.flavor}, its Redis config in ${plan.spinnaker.holder}; services reach Redis by ${plan.spinnaker.redisConnection}`);
  const source = plan.source;
  if ('unreachable' in source) out.line(`  spin-redis: not read (${source.unreachable})`);
  else {
    const facts = source as unknown as {
      server?: { engine?: string; version?: string; rdbVersion?: number };
      keys?: number;
      memory?: { usedMemory?: number };
      writes?: { commandsPerSec?: number };
      fork?: { fork?: boolean; reason?: string };
      copyMethod?: string;
      s3Seed?: { chosen?: boolean; reason?: string };
    };
    const mb = (n?: number) => (n === undefined ? '?' : `${(n / 1048576).toFixed(1)} MiB`);
    out.line(
      `  spin-redis: ${facts.server?.engine ?? 'redis'} ${facts.server?.version ?? '?'} (RDB v${facts.server?.rdbVersion ?? '?'}), ${facts.keys?.toLocaleString('en-US') ?? '?'} keys, ${mb(facts.memory?.usedMemory)} used, ${facts.writes?.commandsPerSec ?? '?'} writes/s`,
    );
    out.line(`  the copy: ${facts.copyMethod ?? '?'}; ${facts.fork?.fork ? 'may fork spin-redis' : 'will not fork spin-redis'}: ${facts.fork?.reason ?? ''}`);
    if (facts.s3Seed?.reason) out.line(`  S3 seed ${facts.s3Seed.chosen ? 'chosen' : 'not chosen'}: ${facts.s3Seed.reason}`);
  }
  out.line(`  target: ${plan.target.engine} ${plan.target.engineVersion}${plan.target.rdbVersion !== undefined ? ` (RDB v${plan.target.rdbVersion})` : ''}`);
  out.line('  would create:');
  for (const c of plan.create) out.line(`    ${c.exists ? '(exists) ' : ''}${c.resource} ${c.name}`);
  out.line('  config change:');
  for (const [file, diff] of Object.entries(plan.configMapDiff)) {
    out.line(`    ${file}:`);
    for (const line of diff.split('\n')) out.line(`      ${line}`);
  }
  out.line(`  paused for the switch (scaled to 0, then back): ${plan.quiesce.map((q) => `${q.deployment} (${q.replicas})`).join(', ') || 'none'}`);
  out.line(`  rolled out on the new Redis: ${plan.rollout.join(', ') || 'none'}`);
  out.line(`  then: ${plan.scale.kind} ${plan.scale.deployment} scaled from ${plan.scale.from} to ${plan.scale.to}`);
  for (const note of [...plan.spinnaker.notes, ...plan.notes]) out.line(`  note: ${note}`);
  const snapshot = await world.snapshot();
  const checks: [string, boolean][] = [
    ['nothing created in ElastiCache', world.elastiCache.groupIds().length === 0],
    [`Spinnaker's config byte for byte as it was (${plan.spinnaker.holder})`, spinnakerConfigAsInstalled(world, snapshot)],
    ['every Spinnaker service still on spin-redis', snapshot.services.filter((s) => s.redis !== undefined).every((s) => s.redis === world.endpoints.sourceRedis)],
    ['spin-redis running at its replicas', snapshot.spinRedis.replicas >= 1 && snapshot.spinRedis.running],
  ];
  out.line('');
  for (const [what, ok] of checks) out.line(`  ${ok ? '✔' : '✖'} ${what}`);
  return checks.every(([, ok]) => ok) ? 0 : 1;
}

/**
 * The Task states a rehearsal can run without a failure, in the order first reached: the
 * definition walked from StartAt along Next, Default and every Choice rule, except those that
 * test the input's options (`$.config.options.*`), which are decided by `options`; Catch
 * transitions are not followed (a failure's path: one injected fault cannot reach a state that
 * runs only after another).
 */
export function tasksOnPath(asl: { StartAt: string; States: Record<string, unknown> }, options: Record<string, unknown>): string[] {
  type Rule = { Variable?: string; BooleanEquals?: boolean; StringEquals?: string; Next?: string };
  type State = { Type?: string; Next?: string; Default?: string; Choices?: Rule[] };
  const tasks: string[] = [];
  const seen = new Set<string>();
  const queue = [asl.StartAt];
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const state = asl.States[name] as State | undefined;
    if (!state) continue;
    if (state.Type === 'Task') tasks.push(name);
    if (state.Next) queue.push(state.Next);
    if (state.Type !== 'Choice') continue;
    let decided = false;
    for (const rule of state.Choices ?? []) {
      const option = /^\$\.config\.options\.(\w+)$/.exec(rule.Variable ?? '')?.[1];
      if (option === undefined) {
        if (rule.Next) queue.push(rule.Next);
        continue;
      }
      const value = options[option];
      const matches = rule.BooleanEquals !== undefined ? value === rule.BooleanEquals : rule.StringEquals !== undefined ? value === rule.StringEquals : false;
      if (matches && rule.Next) {
        queue.push(rule.Next);
        decided = true;
        break;
      }
    }
    if (!decided && state.Default) queue.push(state.Default);
  }
  return tasks;
}

function printSummary(out: Progress, report: RehearsalReport, failAt?: string): void {
  out.line('');
  out.line(report.status === 'SUCCEEDED' ? `Migration SUCCEEDED in ${(report.durationMs / 1000).toFixed(1)} s` : `Migration FAILED (${report.error}) after ${(report.durationMs / 1000).toFixed(1)} s`);
  if (report.cause) out.line(`  ${readableCause(report.cause)}`);
  if (failAt) out.line(`  (a fault was injected at ${failAt})`);
  out.line('');
  out.line('Steps (loops folded: total time, runs x and the longest run):');
  for (const step of foldSteps(report.steps)) {
    const runs = step.runs > 1 ? `  x${step.runs}, longest ${step.longestMs} ms` : '';
    const retries = step.attempts > step.runs ? `  (${step.attempts - step.runs} retried)` : '';
    out.line(`  ${step.status.padEnd(9)} ${step.name.padEnd(34)} ${String(step.durationMs).padStart(7)} ms${runs}${retries}${step.error ? `  ${step.error}` : ''}`);
  }
  const s = report.spinnaker;
  out.line('');
  out.line('Spinnaker now:');
  for (const service of s.services) {
    const redis = service.redisEnabled === false ? '(redis.enabled false: Pub/Sub refused)' : (service.redis ?? '(no Redis client)');
    out.line(`  ${service.name.padEnd(22)} -> ${redis}${service.authenticated ? '  (AUTH from the URL user-info)' : ''}`);
  }
  // Where the Redis URL lives and what the switch patched, by install (lib/spinnaker/flavor.ts).
  const install = s.spinnakerService ? 'operator' : s.spinRedisWorkload.kind === 'StatefulSet' ? 'helm' : 'halyard';
  const where = { operator: "SpinnakerService's service-settings.redis", helm: "the chart's redis.yml", halyard: "Halyard's redis.yml" }[install];
  const patched = { operator: 'SpinnakerService patched', helm: "the chart's ConfigMaps patched", halyard: 'Halyard ConfigMap patched' }[install];
  out.line(`  ${where} overrideBaseUrl: ${s.halyard.overrideBaseUrl ?? '(not set: Spinnaker uses spin-redis)'}`);
  if (s.spinnakerService) {
    const st = s.spinnakerService.status as { status?: string; lastDeployed?: { config?: { hash?: string } } };
    out.line(`  SpinnakerService spinnaker: status ${st.status ?? '?'}, config hash ${st.lastDeployed?.config?.hash ?? '?'}`);
  }
  out.line(`  spin-redis (${s.spinRedisWorkload.kind} ${s.spinRedisWorkload.name}) replicas: ${s.spinRedis.replicas}${s.spinRedis.replicas === 0 ? ' (scaled down)' : ''}`);
  out.line('');
  if (report.seededFrom)
    out.line(
      `Your data: ${report.seededFrom.rdb} (RDB v${report.seededFrom.rdbVersion}), ${report.seededFrom.restored} keys restored into spin-redis, ${report.seededFrom.expiredSkipped} already expired in the dump skipped`,
    );
  out.line(
    `Keys: seeded ${report.keys.seeded}, on spin-redis ${report.keys.source}${s.spinRedis.replicas === 0 ? (s.helm ? ' (scaled down: the pod is gone, its PersistentVolumeClaim and data stay)' : ' (scaled down: its data went with the pod)') : ''}, on ElastiCache ${report.keys.target}`,
  );
  if (report.yourHistory) {
    const executions = (h?: AppHistory) => (h ? h.pipelines + h.orchestrations : 0);
    out.line(`Your pipeline history, ${report.yourHistory.length} applications (the dump, then ElastiCache at the end; the simulated orca ran and cleaned up executions meanwhile):`);
    for (const a of report.yourHistory.slice(0, 20))
      out.line(
        `  ${a.application.padEnd(24)} ${String(executions(a.dump)).padStart(6)} executions (avg ${(a.dump.averageDurationMs / 1000).toFixed(1)} s) -> ${String(executions(a.elastiCache)).padStart(6)} (avg ${((a.elastiCache?.averageDurationMs ?? 0) / 1000).toFixed(1)} s)`,
      );
    if (report.yourHistory.length > 20) out.line(`  … and ${report.yourHistory.length - 20} more (the report has them all)`);
  }
  out.line(`orca executions written during the run: ${report.keys.orcaExecutionsWritten}, missing where Spinnaker points: ${report.keys.orcaExecutionsMissing}`);
  const copy = (
    report.output as
      | { copy?: { method?: string; slices: number; lastSlice: { keys: number; ms: number }; fallbackReason?: string; fork?: { fork: boolean; reason: string; notes: string[] } } }
      | undefined
  )?.copy;
  if (copy?.fork) out.line(`Fork safety: ${copy.fork.fork ? 'spin-redis may fork' : 'spin-redis is not forked'}: ${copy.fork.reason}${copy.fork.notes.map((n) => `; ${n}`).join('')}`);
  if (copy?.method === 'replication') out.line(`Bulk copy: read as a replica of spin-redis (PSYNC), ${copy.lastSlice.keys} keys in ${copy.lastSlice.ms} ms, one pass`);
  else if (copy) out.line(`Bulk copy: by SCAN in ${copy.slices} slice(s)${copy.fallbackReason ? ` (replication not possible: ${copy.fallbackReason})` : ''}`);
  const output = report.output as
    | {
        catchUp?: { slices: number; events: number; copied: number; deleted: number; stream?: unknown; streamLost?: string };
        reconcile?: { method: 'stream' | 'mirror'; commands?: number; copied?: number; deleted?: number; slices?: number; streamLost?: string };
      }
    | undefined;
  const catchUp = output?.catchUp;
  if (catchUp) {
    const how = catchUp.stream
      ? "followed spin-redis's replication stream from where the copy stopped"
      : `from keyspace notifications${catchUp.streamLost ? ` (the stream was lost: ${catchUp.streamLost})` : ''}`;
    out.line(`Live catch-up before the pause: ${how}; ${catchUp.events} writes, ${catchUp.copied} keys copied, ${catchUp.deleted} deleted, ${catchUp.slices} slice(s)`);
  }
  const final = output?.reconcile;
  if (final)
    out.line(
      final.method === 'stream'
        ? `Final catch-up inside the pause: the stream to spin-redis's last byte, ${final.commands} write(s)`
        : `Final catch-up inside the pause: mirror of spin-redis, ${final.copied} key(s) replaced, ${final.deleted} deleted, ${final.slices ?? 1} slice(s)${final.streamLost ? ` (the stream was lost: ${final.streamLost})` : ''}`,
    );
  const c = report.cutover;
  if (c) {
    const s = (ms?: number) => (ms === undefined ? '?' : `${(ms / 1000).toFixed(2)} s`);
    out.line(
      `Pause (Spinnaker's Redis users at 0 until all Ready again; orca's queue not processed): ${s(c.pauseMs)}; stopping took ${s(c.quiesceMs)}; cutover window (${patched} to the last pod Ready on ElastiCache): ${s(c.cutoverWindowMs)}${c.rollbackPauseMs !== undefined ? `; the rollback's pause: ${s(c.rollbackPauseMs)}` : ''}`,
    );
    if (c.seed)
      out.line(
        `Write freeze (s3-seed: from before the snapshot until Spinnaker is Ready on ElastiCache): ${s(c.pauseMs)}, of which the snapshot and its upload ${s(c.seed.snapshotUploadMs)} (${c.seed.bytes} bytes, RDB v${c.seed.rdbVersion ?? '?'}, ${c.seed.parts} part(s)${c.seed.reused ? ', reused from an earlier attempt' : ''}); the rest is the group's creation from the seed, the strict verification and the switch`,
      );
  }
  const verify = (
    report.output as
      | { verify?: { ok: boolean; compared: number; targetNewer: number; slices?: number; audit?: { ok: boolean; applications: number; executions: { source: number; target: number } } } }
      | undefined
  )?.verify;
  if (verify) {
    out.line(
      `Verification: ${verify.ok ? 'clean' : 'FAILED'}, ${verify.compared} keys compared in ${verify.slices ?? 1} slice(s), ${verify.targetNewer} newer on ElastiCache (written after the cutover)`,
    );
    if (verify.audit)
      out.line(
        `orca history (audit parity): ${verify.audit.executions.source} executions in ${verify.audit.applications} applications on spin-redis, ${verify.audit.executions.target} on ElastiCache: ${verify.audit.ok ? 'all there' : 'MISSING EXECUTIONS'}`,
      );
  }
  const f = report.figures;
  out.line('');
  out.line('What Spinnaker saw (the write ledger of every simulated service instance):');
  const window =
    f.cutoverWindowMs === undefined
      ? 'n/a (Spinnaker does not end on a new Redis)'
      : `${(f.cutoverWindowMs / 1000).toFixed(1)} s (${patched} ${f.cutoverWindow?.patchAt.slice(11, 23)}, the last service instance connected to the new Redis ${f.cutoverWindow?.allOnTargetAt.slice(11, 23)}; the execution's figure above ends when its rollout check sees every pod Ready)`;
  // The services' own view: from the patch to the last instance connected to the new Redis (the
  // execution's figure above ends when its rollout check sees every pod Ready, a poll later or earlier).
  out.line(`  cutover window: ${window}`);
  // Over the whole run, not only the pause: on a loaded machine the longest gap may fall elsewhere.
  out.line(
    `  orca queue not processed for at most ${(f.longestOrcaPollGapMs / 1000).toFixed(1)} s${f.longestOrcaPollGap ? ` (${f.longestOrcaPollGap.from.slice(11, 23)} to ${f.longestOrcaPollGap.to.slice(11, 23)}; the longest gap between orca's polls in the whole run)` : ''}`,
  );
  out.line(`  keiko messages: ${f.messagesPushed} pushed, ${f.messagesAcked} acked, ${f.messagesProcessedTwice} processed twice, ${f.messagesLost} lost`);
  out.line(`  keys: ${f.keysTracked} written by ${f.instancesStarted} instances (${f.writes} writes), ${f.keysResurrected} resurrected after a delete, ${f.staleValues} stale values`);
  for (const [name, ok] of Object.entries(report.invariants)) out.line(`  ${ok ? '✔' : '✖'} ${name}`);
  for (const v of [...report.examples.resurrected.slice(0, 3), ...report.examples.stale.slice(0, 3)]) out.line(`    e.g. ${v.key}${v.field ? ` [${v.field}]` : ''}: ${v.detail}`);
  for (const m of report.examples.processedTwice.slice(0, 3)) out.line(`    e.g. message ${m}`);
  if (report.notification) {
    // What the team is told, and what is left to do by hand (a late step's failure included).
    out.line('');
    out.line(`Notification (SNS): ${report.notification.subject ?? ''}`);
    for (const line of report.notification.message.split('\n')) out.line(`  ${line}`);
  }
  if (report.health) {
    out.line('');
    out.line('Health check (the Lambda an EventBridge schedule runs every 5 minutes after the migration):');
    for (const line of formatHealth(report.health).trimEnd().split('\n')) out.line(`  ${line}`);
  }
}

/** Task and Wait states only, loops folded into one line each, in first-run order. */
function foldSteps(steps: RehearsalReport['steps']) {
  const folded = new Map<string, { name: string; status: string; durationMs: number; longestMs: number; attempts: number; runs: number; error?: string }>();
  for (const s of steps) {
    // Choices and the polling checks are noise when they pass; a check that failed or was caught is shown.
    if ((/^(Is[A-Z]|Check[A-Z])/.test(s.name) || /Complete$|^DryRunComplete$/.test(s.name)) && s.status === 'SUCCEEDED') continue;
    const f = folded.get(s.name) ?? { name: s.name, status: s.status, durationMs: 0, longestMs: 0, attempts: 0, runs: 0 };
    f.durationMs += s.durationMs;
    f.longestMs = Math.max(f.longestMs, s.durationMs);
    f.attempts += s.attempts;
    f.runs += 1;
    f.status = s.status;
    if (s.error) f.error = s.error;
    folded.set(s.name, f);
  }
  return [...folded.values()];
}

/** A Lambda error's `{ errorType, errorMessage, trace }` as one line, also after a Fail state's prefix ("Rolled back after X: {…}"). */
function readableCause(cause: string): string {
  const start = cause.indexOf('{');
  if (start < 0) return cause;
  // The JSON may be followed by the Fail state's own text: try each closing brace from the last.
  for (let end = cause.lastIndexOf('}'); end > start; end = cause.lastIndexOf('}', end - 1)) {
    try {
      const parsed = JSON.parse(cause.slice(start, end + 1)) as { errorType?: string; errorMessage?: string };
      if (parsed.errorMessage) return start === 0 ? `${parsed.errorType}: ${parsed.errorMessage}${cause.slice(end + 1)}` : `${cause.slice(0, start)}${parsed.errorMessage}${cause.slice(end + 1)}`;
      break;
    } catch {
      // not this brace
    }
  }
  return cause;
}

function printKeepHelp(out: Progress, world: SandboxWorld): void {
  const e = world.endpoints;
  out.line('');
  out.line('The sandbox stays up until Ctrl-C. Try:');
  out.line(`  export AWS_ACCESS_KEY_ID=${world.credentials.accessKeyId} AWS_SECRET_ACCESS_KEY=${world.credentials.secretAccessKey} AWS_DEFAULT_REGION=${world.region}   # sandbox-only credentials`);
  out.line(`  aws --endpoint-url ${e.elasticache} elasticache describe-replication-groups`);
  out.line(`  aws --endpoint-url ${e.eks} eks describe-cluster --name ${world.clusterName}`);
  out.line(`  aws --endpoint-url ${e.s3} s3 ls s3://${SANDBOX_SEED_BUCKET}/ --recursive   # the s3-seed bucket (empty once the seed is loaded)`);
  if (world.spinnaker.operator) out.line(`  kubectl --kubeconfig ${e.kubeconfig} -n spinnaker get spinsvc -o yaml`);
  if (world.spinnaker.chart) out.line(`  kubectl --kubeconfig ${e.kubeconfig} -n spinnaker get configmap,statefulset`);
  out.line(`  kubectl --kubeconfig ${e.kubeconfig} -n spinnaker get ${world.spinnaker.operator ? 'spinsvc' : 'configmap'},deploy,pods`);
  if (world.spinnaker.spinRedis)
    out.line(
      `  redis-cli -u ${e.sourceRedis} ${world.spinnaker.spinRedisPassword ? '--askpass ' : ''}dbsize${world.spinnaker.spinRedisPassword ? "   # password: kubectl get secret spinnaker-redis -o jsonpath='{.data.redis-password}' | base64 -d" : ''}`,
    );
  if (e.targetRedis) out.line(`  redis-cli -u ${e.targetRedis} --tls --cacert ${e.caFile} ${world.secretHint ? '--askpass ' : ''}dbsize${world.secretHint ? `   # token: ${world.secretHint}` : ''}`);
  // The health check's CLI as an operator runs it: the migration's input, and the environment
  // the handlers had (the SDK's AWS_ENDPOINT_URL_<SERVICE> variables, the sandbox CA).
  const dir = dirname(e.kubeconfig);
  const envFile = join(dir, 'sandbox.env');
  const inputFile = join(dir, 'input.json');
  const names = Object.keys(process.env).filter((k) => /^AWS_(ENDPOINT_URL_\w+|REGION|DEFAULT_REGION|ACCESS_KEY_ID|SECRET_ACCESS_KEY)$|^REDIS_TLS_CA_FILE$/.test(k));
  writeFileSync(envFile, `${names.map((k) => `export ${k}='${process.env[k]}'`).join('\n')}\n`);
  writeFileSync(inputFile, `${JSON.stringify(world.input, null, 2)}\n`);
  out.line(`  . ${envFile} && npx spin-elasticache health --input ${inputFile}   # the health check, as the CLI runs it`);
}

/** Progress on a terminal: each state as it starts and ends, and keys on the target as they move. */
class Progress {
  private ticker?: NodeJS.Timeout;
  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly quiet: boolean,
  ) {}

  line(text: string): void {
    this.clearTickerLine();
    this.stream.write(`${text}\n`);
  }

  private readonly entered = new Map<string, number>();
  private readonly caught = new Set<string>();
  private lastFailure = new Map<string, string>();

  event(event: HistoryEvent, world: SandboxWorld): void {
    if (this.quiet || !event.state) return;
    const interesting = event.stateType === 'Task' || event.stateType === 'Parallel' || event.stateType === 'Fail';
    if (!interesting) return;
    const at = Date.parse(event.timestamp);
    if (event.type === 'StateEntered') {
      this.entered.set(event.state, at);
      this.caught.delete(event.state);
      if (event.stateType === 'Fail') this.line(`✖ ${event.state}`);
      else if (this.stream.isTTY) this.stream.write(`\r\x1b[2K▶ ${event.state}…`);
      if (/^(CopyBulk|CatchUpLiveWrites|ReconcileFinal)$/.test(event.state)) this.startTicker(world.targetClient(), event.state, 'on ElastiCache');
      // The copy-back writes into spin-redis: count there.
      if (event.state === 'RollbackCopyBackWrites') this.startTicker(this.spinRedisClient(world), event.state, 'on spin-redis');
    } else if (event.type === 'StateExited') {
      if (this.caught.has(event.state)) return;
      if (/^(CopyBulk|CatchUpLiveWrites|ReconcileFinal|RollbackCopyBackWrites)$/.test(event.state)) this.stopTicker();
      this.line(`✔ ${event.state.padEnd(34)} ${String(at - (this.entered.get(event.state) ?? at)).padStart(6)} ms`);
    } else if (event.type === 'StateRetried') {
      this.line(`↻ ${event.state} retried after ${event.error ?? 'an error'}`);
    } else if (event.type === 'StateCaught') {
      this.stopTicker();
      this.caught.add(event.state);
      const moved = /^(DisableChangeCapture|ScaleDownSpinRedis)$/.test(event.state) && event.error !== 'SpinnakerConfigRevertedError';
      const path = moved
        ? ': reported with the success (Spinnaker already runs on ElastiCache and nothing uses spin-redis; the summary says what to do by hand)'
        : /^(PatchHalyardConfig|HalDeployApply|ResumeSpinnaker|CheckSpinnakerRollout|VerifySpinRedisDrained|DisableChangeCapture|ScaleDownSpinRedis)$/.test(event.state)
          ? ': rolling back (Spinnaker may have written to ElastiCache: quiesce, copy back, restore)'
          : /^(QuiesceSpinnaker|CheckSpinnakerQuiesced|ReconcileFinal|VerifyCopy)$/.test(event.state)
            ? ': nothing switched; resuming Spinnaker on spin-redis'
            : /^(Ensure|Describe|Ping|CopyBulk|EnableChange|CatchUpLiveWrites)/.test(event.state)
              ? ': Spinnaker was not touched; stopping'
              : '';
      this.line(`✖ ${event.state} failed${path}`);
    } else if (event.type === 'StateFailed' && event.stateType === 'Task') {
      const text = readableCause(event.cause ?? '').slice(0, 200);
      if (this.lastFailure.get(event.state) !== text) this.line(`  ${event.state}: ${text}`);
      this.lastFailure.set(event.state, text);
    }
  }

  private spinRedis?: Promise<Redis | undefined>;
  /** A connection to spin-redis for the copy-back's ticker (closed with the world's processes). */
  private spinRedisClient(world: SandboxWorld): Promise<Redis | undefined> {
    this.spinRedis ??= connectRedis(world.spinRedisEndpoint, { connectionName: 'spin-elasticache-sandbox-admin' }).catch(() => undefined);
    return this.spinRedis;
  }

  private startTicker(target: Promise<Redis | undefined>, state: string, where: string): void {
    this.stopTicker();
    // The first sample is the baseline: a rate needs two samples of this step, at least 200 ms apart, none overlapping.
    let last: { keys: number; at: number } | undefined;
    let sampling = false;
    this.ticker = setInterval(() => {
      if (sampling) return;
      sampling = true;
      void target
        .then(async (redis) => {
          if (!redis) return;
          const keys = await redis.dbsize().catch(() => undefined);
          if (keys === undefined) return;
          const now = Date.now();
          const rate = last && now - last.at >= 200 ? ((keys - last.keys) * 1000) / (now - last.at) : undefined;
          last = { keys, at: now };
          if (rate === undefined) return;
          // The mirrors (ReconcileFinal, the copy-back) mostly compare: their DBSIZE hardly moves, and a rate of it would read as a stall.
          const mirror = state === 'ReconcileFinal' || state === 'RollbackCopyBackWrites';
          const text = `  ${state}: ${keys.toLocaleString('en-US')} keys ${where}${mirror ? ' (comparing both sides; the count moves only where a key is added or deleted)' : ` (${Math.max(0, Math.round(rate)).toLocaleString('en-US')} keys/s)`}`;
          if (this.stream.isTTY) this.stream.write(`\r\x1b[2K${text}`);
          else this.stream.write(`${text}\n`);
        })
        .finally(() => void (sampling = false));
    }, 500);
  }

  close(): void {
    this.stopTicker();
    void this.spinRedis?.then((r) => r?.disconnect());
  }

  stopTicker(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    this.clearTickerLine();
  }

  private clearTickerLine(): void {
    if (this.stream.isTTY) this.stream.write('\r\x1b[2K');
  }
}

/** The parent of a process (Linux: field 4 of /proc/<pid>/stat), undefined where unknown. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Our ancestors when we started, nearest first, up to init or 6 of them: npm, sh, tsx… */
const ancestors = ((): number[] => {
  const chain: number[] = [process.ppid];
  for (let pid = parentOf(process.ppid); pid !== undefined && pid > 1 && chain.length < 6; pid = parentOf(pid)) chain.push(pid);
  return chain;
})();
/**
 * Whether whoever started us is gone: one of our ancestors (npm, which does not pass a SIGTERM
 * on, then the sh it ran) has died, and the next one was handed to init. Where /proc is not
 * there, only our own parent is looked at.
 */
function orphaned(): boolean {
  if (process.ppid !== ancestors[0]) return true;
  for (let i = 0; i + 1 < ancestors.length; i++) if (parentOf(ancestors[i]!) !== ancestors[i + 1]) return true;
  return false;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  // `npm start` passes `rehearse` first (the same verb as the CLI).
  runRehearsal(args[0] === 'rehearse' ? args.slice(1) : args).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`sandbox failed: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
