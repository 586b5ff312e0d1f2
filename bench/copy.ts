/**
 * `npm run bench:copy -- [--json FILE] [--keys N] [--trials 3] [--method auto|replication|scan]`: the
 * copy engine against Redis's own server-side MIGRATE and a naive client loop, on
 * loopback, same dataset, one run. Each method copies into a fresh redis-server; our copy
 * is then verified structurally. `ours` is what `spin-elasticache copy` does by default
 * (the replication copy, as spin-redis allows PSYNC); `oursScan` is the scan copy that
 * works against any source (ElastiCache included) and that the state machine's slices use.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Redis } from 'ioredis';
import { connectRedis } from '../lib/redis/connect.js';
import { copySlice } from '../lib/copy/bulk.js';
import { verifyCopy } from '../lib/copy/verify.js';
import type { SeedSummary } from '../sandbox/seed.js';
import { spawnSync } from 'node:child_process';
import { startRedis, type RedisProcess } from '../sandbox/redis/redis-process.js';

interface Figures {
  keys: number;
  seconds: number;
  keysPerSec: number;
  mbPerSec: number;
  note?: string;
}

const { values } = parseArgs({ args: process.argv.slice(2), options: { json: { type: 'string' }, keys: { type: 'string' }, 'naive-sample': { type: 'string' }, 'big-keys': { type: 'string' }, connections: { type: 'string' }, inflight: { type: 'string' }, 'scan-count': { type: 'string' }, method: { type: 'string' }, 'skip-scan': { type: 'boolean' }, trials: { type: 'string' } } });
const KEYS = Number(values.keys ?? 200_000);
const NAIVE_SAMPLE = Number(values['naive-sample'] ?? 20_000);
const TRIALS = Number(values.trials ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'bench-copy-'));
const servers: RedisProcess[] = [];
const fresh = async (name: string) => {
  const server = await startRedis({ dir: join(dir, name) });
  servers.push(server);
  return server;
};
const log = (m: string) => process.stderr.write(`${m}\n`);

async function datasetBytes(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory_dataset:(\d+)/.exec(info)?.[1] ?? 0);
}

async function main() {
  const source = await fresh('source');
  const src = await connectRedis({ url: source.url });
  log(`seeding ~${KEYS} Spinnaker-shaped keys plus big keys…`);
  const seeded = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'seed-process.ts'), source.url, String(KEYS), values['big-keys'] ?? 'small'], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (seeded.status !== 0) throw new Error(`seeding failed: ${seeded.stderr}`);
  const seed = JSON.parse(seeded.stdout) as SeedSummary;
  const keys = await src.dbsize();
  const bytes = await datasetBytes(src);
  log(`dataset: ${keys} keys, ${(bytes / 1e6).toFixed(1)} MB (${seed.pipelines} pipelines, big keys: ${[...seed.bigKeys, 'bench:big-string'].join(', ')})`);
  const figures = (n: number, seconds: number, b = bytes, note?: string): Figures => ({ keys: n, seconds: Math.round(seconds * 1000) / 1000, keysPerSec: Math.round(n / seconds), mbPerSec: Math.round((b / 1e6 / seconds) * 10) / 10, ...(note ? { note } : {}) });

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
    const run = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(import.meta.dirname, 'copy-process.ts'), source.url, oursTarget.url, values.method ?? 'auto', values.connections ?? ''], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (run.status !== 0) throw new Error(`our copy failed: ${run.stderr}`);
    const one = JSON.parse(run.stdout) as { method: string; keys: number; seconds: number; baselineRss: number; peakRss: number; phasesMs?: unknown; snapshotBytes?: number };
    peakRss = Math.max(peakRss, one.peakRss);
    baselineRss = Math.max(baselineRss, one.baselineRss);
    oursTrials.push({ method: one.method, ...figures(one.keys, one.seconds), ...(one.phasesMs ? { phasesMs: one.phasesMs, snapshotBytes: one.snapshotBytes } : {}) });
    log(`trial ${trial + 1}/${TRIALS} ours (${one.method}): ${oursTrials.at(-1)!.keysPerSec} keys/s, peak RSS ${(one.peakRss / 1e6).toFixed(0)} MB`);
    // 2. Redis's own MIGRATE … COPY REPLACE KEYS, in batches, server to server.
    await flush(migrateTarget);
    let started = performance.now();
    let cursor = '0';
    let migrated = 0;
    do {
      const [next, batch] = await src.scan(cursor, 'COUNT', 1000);
      cursor = next;
      if (batch.length === 0) continue;
      await src.call('MIGRATE', '127.0.0.1', String(migrateTarget.port), '', '0', '60000', 'COPY', 'REPLACE', 'KEYS', ...batch);
      migrated += batch.length;
    } while (cursor !== '0');
    migrateTrials.push(figures(migrated, (performance.now() - started) / 1000));
    log(`trial ${trial + 1}/${TRIALS} MIGRATE: ${migrateTrials.at(-1)!.keysPerSec} keys/s`);

    // 1b. The scan copy, for sources that refuse PSYNC (and the state machine's slices).
    if (scanTarget && oursTrials.at(-1)!.method !== 'scan') {
      await flush(scanTarget);
      started = performance.now();
      const scan = await copySlice(
        { url: source.url },
        { url: scanTarget.url },
        {
          ...(values.connections ? { connections: Number(values.connections) } : {}),
          ...(values.inflight ? { inflight: Number(values.inflight) } : {}),
          ...(values['scan-count'] ? { scanCount: Number(values['scan-count']) } : {}),
        },
      );
      scanTrials.push(figures(scan.checkpoint.stats.keys, (performance.now() - started) / 1000));
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

  log('verifying our copy…');
  const verify = await verifyCopy({ url: source.url }, { url: oursTarget.url }, { mode: 'strict', maxExamples: 5 });
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
    verify: { ok: verify.ok, compared: verify.compared, missing: verify.missing, extra: verify.extra, valueMismatches: verify.valueMismatches, ttlMismatches: verify.ttlMismatches, seconds: verify.ms / 1000, examples: verify.examples },
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
