/**
 * `npm run bench:copy -- [--json FILE] [--keys N] [--trials 3] [--method auto|replication|scan] [--rtt-ms 2]`:
 * the copy engine against Redis's own server-side MIGRATE and a naive client loop, on
 * loopback, same dataset, one run. Each method copies into a fresh redis-server; our copy
 * is then verified structurally. `ours` is what `spin-elasticache copy` does by default
 * (the replication copy, as spin-redis allows PSYNC); `oursScan` is the scan copy that
 * works against any source (ElastiCache included) and that the state machine's slices use.
 *
 * `--rtt-ms N` adds `latency.{loopback,rtt}`: the same steps (copy, scan copy, strict
 * verification, reconciliation, MIGRATE) measured again with a delaying proxy
 * (bench/delay-proxy.ts, N/2 ms each way, each proxy in a process of its own) in front of every server, as a Lambda in a VPC
 * sees ElastiCache and the spin-redis pod. MIGRATE goes through the proxies too: the client
 * reaches the source through one, and the source reaches the target through the target's.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Redis } from 'ioredis';
import { connectRedis } from '../lib/redis/connect.js';
import { copySlice } from '../lib/copy/bulk.js';
import { verifyCopy } from '../lib/copy/verify.js';
import { reconcile } from '../lib/copy/reconcile.js';
import { spawnDelayProxy } from './delay-proxy.js';
import type { SeedSummary } from '../sandbox/seed.js';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { startRedis, type RedisProcess } from '../sandbox/redis/redis-process.js';

interface Figures {
  keys: number;
  seconds: number;
  keysPerSec: number;
  mbPerSec: number;
  note?: string;
  /** keys/s of each trial, where the figure is their median. */
  trials?: number[];
}

interface LatencySteps {
  copy: Figures;
  copyScan?: Figures;
  verify: Figures;
  reconcile: Figures;
  migrate: Figures;
}

interface LatencyReport {
  rttMs: number;
  /** Median PING through the source's proxy: what the steps actually saw. */
  measuredRttMs: number;
  loopback: LatencySteps;
  rtt: LatencySteps;
  ratios: Record<'loopback' | 'rtt', { verifyVsCopy: number; reconcileVsCopy: number; copyVsMigrate: number }>;
}

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    json: { type: 'string' },
    keys: { type: 'string' },
    'naive-sample': { type: 'string' },
    'big-keys': { type: 'string' },
    connections: { type: 'string' },
    inflight: { type: 'string' },
    'scan-count': { type: 'string' },
    method: { type: 'string' },
    'rtt-ms': { type: 'string' },
    'skip-scan': { type: 'boolean' },
    trials: { type: 'string' },
  },
});
const KEYS = Number(values.keys ?? 200_000);
const NAIVE_SAMPLE = Number(values['naive-sample'] ?? 20_000);
const TRIALS = Number(values.trials ?? 3);
const RTT_MS = values['rtt-ms'] === undefined ? undefined : Number(values['rtt-ms']);
if (RTT_MS !== undefined && !(RTT_MS >= 0)) throw new Error(`--rtt-ms must be a number of milliseconds, got ${values['rtt-ms']}`);
const dir = mkdtempSync(join(tmpdir(), 'bench-copy-'));
const servers: RedisProcess[] = [];
const fresh = async (name: string) => {
  const server = await startRedis({ dir: join(dir, name) });
  servers.push(server);
  return server;
};
const execFileAsync = promisify(execFile);
const log = (m: string) => process.stderr.write(`${m}\n`);

async function datasetBytes(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory_dataset:(\d+)/.exec(info)?.[1] ?? 0);
}

async function main() {
  const source = await fresh('source');
  const src = await connectRedis({ url: source.url });
  log(`seeding ~${KEYS} Spinnaker-shaped keys plus big keys…`);
  const seeded = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'seed-process.ts'), source.url, String(KEYS), values['big-keys'] ?? 'small'], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (seeded.status !== 0) throw new Error(`seeding failed: ${seeded.stderr}`);
  const seed = JSON.parse(seeded.stdout) as SeedSummary;
  const keys = await src.dbsize();
  const bytes = await datasetBytes(src);
  log(`dataset: ${keys} keys, ${(bytes / 1e6).toFixed(1)} MB (${seed.pipelines} pipelines, big keys: ${[...seed.bigKeys, 'bench:big-string'].join(', ')})`);
  const figures = (n: number, seconds: number, b = bytes, note?: string): Figures => ({
    keys: n,
    seconds: Math.round(seconds * 1000) / 1000,
    keysPerSec: Math.round(n / seconds),
    mbPerSec: Math.round((b / 1e6 / seconds) * 10) / 10,
    ...(note ? { note } : {}),
  });

  // Each step as a function of the endpoints, so the latency mode runs the very same code
  // through the proxies.
  type OursRun = { method: string; keys: number; seconds: number; baselineRss: number; peakRss: number; phasesMs?: unknown; snapshotBytes?: number };
  // Asynchronous, not spawnSync: the delay proxies live in this process's event loop.
  const runOurs = async (sourceUrl: string, targetUrl: string): Promise<OursRun> => {
    const args = ['--expose-gc', '--import', 'tsx', join(import.meta.dirname, 'copy-process.ts'), sourceUrl, targetUrl, values.method ?? 'auto', values.connections ?? ''];
    const run = await execFileAsync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 20 }).catch((error: { stderr?: string }) => {
      throw new Error(`our copy failed: ${error.stderr ?? String(error)}`);
    });
    return JSON.parse(run.stdout) as OursRun;
  };
  // Redis's own MIGRATE … COPY REPLACE KEYS, in batches, server to server.
  const runMigrate = async (client: Redis, targetPort: number): Promise<Figures> => {
    const started = performance.now();
    let cursor = '0';
    let migrated = 0;
    do {
      const [next, batch] = await client.scan(cursor, 'COUNT', 1000);
      cursor = next;
      if (batch.length === 0) continue;
      await client.call('MIGRATE', '127.0.0.1', String(targetPort), '', '0', '60000', 'COPY', 'REPLACE', 'KEYS', ...batch);
      migrated += batch.length;
    } while (cursor !== '0');
    return figures(migrated, (performance.now() - started) / 1000);
  };
  const runScan = async (sourceUrl: string, targetUrl: string): Promise<Figures> => {
    const started = performance.now();
    const scan = await copySlice(
      { url: sourceUrl },
      { url: targetUrl },
      {
        ...(values.connections ? { connections: Number(values.connections) } : {}),
        ...(values.inflight ? { inflight: Number(values.inflight) } : {}),
        ...(values['scan-count'] ? { scanCount: Number(values['scan-count']) } : {}),
      },
    );
    return figures(scan.checkpoint.stats.keys, (performance.now() - started) / 1000);
  };
  const runVerify = async (sourceUrl: string, targetUrl: string) => {
    const started = performance.now();
    const report = await verifyCopy({ url: sourceUrl }, { url: targetUrl }, { mode: 'strict', maxExamples: 5 });
    return { report, figures: figures(report.compared, (performance.now() - started) / 1000) };
  };
  const runReconcile = async (sourceUrl: string, targetUrl: string) => {
    const started = performance.now();
    const stats = await reconcile({ url: sourceUrl }, { url: targetUrl });
    return { stats, figures: figures(stats.scanned, (performance.now() - started) / 1000) };
  };

  // Each method runs `trials` times into its own server (flushed in between, outside the
  // timing), interleaved ours/MIGRATE/scan so a slow spell on this shared machine hits all
  // of them alike; the figure per method is its median trial.
  const oursTarget = await fresh('ours');
  const migrateTarget = await fresh('migrate');
  const scanTarget = values['skip-scan'] ? undefined : await fresh('ours-scan');
  const flush = async (server: RedisProcess) => {
    const c = await connectRedis({ url: server.url });
    await c.flushall('SYNC');
    c.disconnect();
  };
  const oursTrials: (Figures & { method: string; phasesMs?: unknown; snapshotBytes?: number })[] = [];
  const migrateTrials: Figures[] = [];
  const scanTrials: Figures[] = [];
  let peakRss = 0;
  let baselineRss = 0;
  for (let trial = 0; trial < TRIALS; trial++) {
    // 1. Ours, in its own process (timed inside it), so its memory figure is its own.
    await flush(oursTarget);
    const one = await runOurs(source.url, oursTarget.url);
    peakRss = Math.max(peakRss, one.peakRss);
    baselineRss = Math.max(baselineRss, one.baselineRss);
    oursTrials.push({ method: one.method, ...figures(one.keys, one.seconds), ...(one.phasesMs ? { phasesMs: one.phasesMs, snapshotBytes: one.snapshotBytes } : {}) });
    log(`trial ${trial + 1}/${TRIALS} ours (${one.method}): ${oursTrials.at(-1)!.keysPerSec} keys/s, peak RSS ${(one.peakRss / 1e6).toFixed(0)} MB`);
    // 2. Redis's own MIGRATE … COPY REPLACE KEYS, in batches, server to server.
    await flush(migrateTarget);
    migrateTrials.push(await runMigrate(src, migrateTarget.port));
    log(`trial ${trial + 1}/${TRIALS} MIGRATE: ${migrateTrials.at(-1)!.keysPerSec} keys/s`);

    // 1b. The scan copy, for sources that refuse PSYNC (and the state machine's slices).
    if (scanTarget && oursTrials.at(-1)!.method !== 'scan') {
      await flush(scanTarget);
      scanTrials.push(await runScan(source.url, scanTarget.url));
      log(`trial ${trial + 1}/${TRIALS} ours (scan): ${scanTrials.at(-1)!.keysPerSec} keys/s`);
    }
  }
  const median = <T extends Figures>(trials: T[]): T => [...trials].sort((a, b) => a.keysPerSec - b.keysPerSec)[Math.floor(trials.length / 2)]!;
  const ours = { ...median(oursTrials), trials: oursTrials.map((t) => t.keysPerSec) };
  const migrate = { ...median(migrateTrials), trials: migrateTrials.map((t) => t.keysPerSec) };
  const oursScan = scanTrials.length > 0 ? { ...median(scanTrials), trials: scanTrials.map((t) => t.keysPerSec) } : undefined;
  log(`median: ours ${ours.keysPerSec} keys/s, MIGRATE ${migrate.keysPerSec} keys/s${oursScan ? `, scan ${oursScan.keysPerSec} keys/s` : ''}`);

  // 3. The naive loop most hand-written scripts use: one key at a time, no pipelining.
  const naiveTarget = await fresh('naive');
  const dst = await connectRedis({ url: naiveTarget.url });
  let started = performance.now();
  let cursor = '0';
  let naiveKeys = 0;
  do {
    const [next, batch] = await src.scan(cursor, 'COUNT', 100);
    cursor = next;
    for (const key of batch) {
      const dump = await src.dumpBuffer(key);
      const ttl = await src.pttl(key);
      if (dump) await dst.restore(key, ttl > 0 ? ttl : 0, dump, 'REPLACE');
      naiveKeys++;
    }
  } while (cursor !== '0' && naiveKeys < NAIVE_SAMPLE);
  const naiveSeconds = (performance.now() - started) / 1000;
  const naive = figures(naiveKeys, naiveSeconds, (bytes * naiveKeys) / keys, naiveKeys < keys ? `measured on the first ${naiveKeys} keys; the rate is extrapolated` : undefined);
  log(`naive: ${naive.keysPerSec} keys/s`);
  dst.disconnect();

  // Verification and reconciliation read only (every key already equal): `trials` runs each
  // too, their median the figure, as for the copies.
  log('verifying our copy…');
  const verifyRuns: Awaited<ReturnType<typeof runVerify>>[] = [];
  for (let trial = 0; trial < TRIALS; trial++) verifyRuns.push(await runVerify(source.url, oursTarget.url));
  const verified = [...verifyRuns].sort((a, b) => a.figures.keysPerSec - b.figures.keysPerSec)[Math.floor(verifyRuns.length / 2)]!;
  const verify = verified.report;
  // Whether each trial counted the target or walked it (lib/copy/target-count.ts): a walk reads every key once more.
  log(`verify (strict): ${verified.figures.keysPerSec} keys/s (median of ${verifyRuns.map((r) => `${r.figures.keysPerSec}${r.report.targetWalksCounted ? '' : ' (target walked)'}`).join(', ')})`);

  // The latency mode: loopback's figures are the ones above (medians for the copies), plus a
  // reconciliation of the verified copy (every key equal: the steady-state cost, no writes);
  // then every step once more through the proxies, on the same servers and dataset.
  let latency: LatencyReport | undefined;
  if (RTT_MS !== undefined) {
    const reconcileRuns: Awaited<ReturnType<typeof runReconcile>>[] = [];
    for (let trial = 0; trial < TRIALS; trial++) reconcileRuns.push(await runReconcile(source.url, oursTarget.url));
    const loopbackReconcile = [...reconcileRuns].sort((a, b) => a.figures.keysPerSec - b.figures.keysPerSec)[Math.floor(reconcileRuns.length / 2)]!;
    log(`reconcile: ${loopbackReconcile.figures.keysPerSec} keys/s (median of ${reconcileRuns.map((r) => r.figures.keysPerSec).join(', ')})`);
    const loopback: LatencySteps = {
      copy: ours,
      ...(oursScan ? { copyScan: oursScan } : {}),
      verify: { ...verified.figures, trials: verifyRuns.map((r) => r.figures.keysPerSec) },
      reconcile: { ...loopbackReconcile.figures, trials: reconcileRuns.map((r) => r.figures.keysPerSec) },
      migrate,
    };
    const proxies: Awaited<ReturnType<typeof spawnDelayProxy>>[] = [];
    // Each proxy in its own process: it stands for the network, not for work of the client.
    const delayed = async (server: RedisProcess) => {
      const proxy = await spawnDelayProxy({ targetPort: server.port, oneWayDelayMs: RTT_MS / 2 });
      proxies.push(proxy);
      return { url: `redis://127.0.0.1:${proxy.port}`, port: proxy.port };
    };
    try {
      const [sourceRtt, oursRtt, migrateRtt] = [await delayed(source), await delayed(oursTarget), await delayed(migrateTarget)];
      const probe = await connectRedis({ url: sourceRtt.url });
      const pings: number[] = [];
      for (let i = 0; i < 21; i++) {
        const t = performance.now();
        await probe.ping();
        pings.push(performance.now() - t);
      }
      const measuredRttMs = Math.round([...pings].sort((a, b) => a - b)[10]! * 100) / 100;
      log(`through the proxies (${RTT_MS} ms asked, PING median ${measuredRttMs} ms):`);

      await flush(oursTarget);
      const one = await runOurs(sourceRtt.url, oursRtt.url);
      const copy = { method: one.method, ...figures(one.keys, one.seconds) };
      log(`  ours (${one.method}): ${copy.keysPerSec} keys/s`);
      let copyScan: Figures | undefined;
      if (scanTarget && one.method !== 'scan') {
        const scanRtt = await delayed(scanTarget);
        await flush(scanTarget);
        copyScan = await runScan(sourceRtt.url, scanRtt.url);
        log(`  ours (scan): ${copyScan.keysPerSec} keys/s`);
      }
      const rttVerify = await runVerify(sourceRtt.url, oursRtt.url);
      if (!rttVerify.report.ok) throw new Error(`the copy made through the proxies does not verify: ${JSON.stringify(rttVerify.report.examples)}`);
      log(`  verify (strict): ${rttVerify.figures.keysPerSec} keys/s`);
      const rttReconcile = await runReconcile(sourceRtt.url, oursRtt.url);
      log(`  reconcile: ${rttReconcile.figures.keysPerSec} keys/s`);
      await flush(migrateTarget);
      const rttMigrate = await runMigrate(probe, migrateRtt.port);
      log(`  MIGRATE: ${rttMigrate.keysPerSec} keys/s`);
      probe.disconnect();
      const rtt: LatencySteps = { copy, ...(copyScan ? { copyScan } : {}), verify: rttVerify.figures, reconcile: rttReconcile.figures, migrate: rttMigrate };
      const ratio = (a: Figures, b: Figures) => Math.round((a.keysPerSec / b.keysPerSec) * 100) / 100;
      latency = {
        rttMs: RTT_MS,
        measuredRttMs,
        loopback,
        rtt,
        // The goals of issue 13: verify and reconcile ≥ 0.5× the replication copy at both
        // latencies; the replication copy ≥ 1× MIGRATE at the round trip.
        ratios: {
          loopback: { verifyVsCopy: ratio(loopback.verify, loopback.copy), reconcileVsCopy: ratio(loopback.reconcile, loopback.copy), copyVsMigrate: ratio(loopback.copy, loopback.migrate) },
          rtt: { verifyVsCopy: ratio(rtt.verify, rtt.copy), reconcileVsCopy: ratio(rtt.reconcile, rtt.copy), copyVsMigrate: ratio(rtt.copy, rtt.migrate) },
        },
      };
    } finally {
      await Promise.all(proxies.map((p) => p.close()));
    }
  }
  const report = {
    when: new Date().toISOString(),
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version, redis: /redis_version:(\S+)/.exec(await src.info('server'))?.[1] },
    dataset: { keys, bytes, bigKeys: [...seed.bigKeys, 'bench:big-string'] },
    ours,
    ...(oursScan ? { oursScan } : {}),
    migrate,
    naive,
    ratios: {
      vsMigrate: Math.round((ours.keysPerSec / migrate.keysPerSec) * 100) / 100,
      vsNaive: Math.round((ours.keysPerSec / naive.keysPerSec) * 100) / 100,
      ...(oursScan ? { scanVsMigrate: Math.round((oursScan.keysPerSec / migrate.keysPerSec) * 100) / 100 } : {}),
    },
    trials: TRIALS,
    peakRssMB: Math.round(peakRss / 1e6),
    baselineRssMB: Math.round(baselineRss / 1e6),
    verify: {
      ok: verify.ok,
      compared: verify.compared,
      missing: verify.missing,
      extra: verify.extra,
      valueMismatches: verify.valueMismatches,
      ttlMismatches: verify.ttlMismatches,
      seconds: verify.ms / 1000,
      examples: verify.examples,
    },
    ...(latency ? { latency } : {}),
  };
  src.disconnect();
  const text = `${JSON.stringify(report, null, 2)}\n`;
  if (values.json) writeFileSync(values.json, text);
  process.stdout.write(text);
  return report.verify.ok ? 0 : 1;
}

main()
  .then(async (code) => {
    await Promise.all(servers.map((s) => s.stop()));
    process.exit(code);
  })
  .catch(async (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    await Promise.all(servers.map((s) => s.stop()));
    process.exit(1);
  });
