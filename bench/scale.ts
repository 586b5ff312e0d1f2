/**
 * `npm run bench:scale -- [--keys 1000000] [--slice-seconds 60] [--final mirror|stream] [--json FILE]`:
 * the keyspace walks of the migration at scale, through the state machine's own slicing. Two
 * fresh redis-servers; the source gets Spinnaker-shaped keys with big keys (sandbox/seed.ts)
 * and then small keys of every type, some with TTLs, written by the server itself (a Lua loop)
 * until it holds `--keys`. Then, as statemachine/migrate.asl.yaml runs them (the Task's lib
 * function called again with the state it returned until `done`, each with the deadline
 * `sliceDeadline` gives a Lambda):
 *
 *   CopyBulk        copyBulkSlice (replication first, scan when the snapshot does not fit a slice)
 *   ReconcileFinal  finalCatchUp: `mirror` (default) as when spin-redis's stream was lost, the
 *                   walk that grows with the keyspace; `stream` continues the copy's stream
 *   VerifyCopy      verifyMigration (strict, both directions, then orca's history)
 *
 * Prints JSON: per step the slices, the longest slice and keys/s; the process's peak RSS (each
 * step's own and the whole run's). Exits 1 if a slice ran longer than `--slice-seconds`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { copyBulkSlice, type CopyState } from '../lib/copy/bulk-slice.js';
import { type FinalCatchUp, finalCatchUp } from '../lib/copy/catch-up-slice.js';
import { connectRedis } from '../lib/redis/connect.js';
import { keyCount } from '../lib/redis/keyspace.js';
import { type VerifyState, verifyMigration } from '../lib/workflow/verify-migration.js';
import { seedSpinnakerData } from '../sandbox/seed.js';
import { startRedis, type RedisProcess } from '../sandbox/redis/redis-process.js';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    keys: { type: 'string' },
    'slice-seconds': { type: 'string' },
    final: { type: 'string' },
    'spinnaker-keys': { type: 'string' },
    json: { type: 'string' },
  },
});
const KEYS = Number(values.keys ?? 1_000_000);
const SLICE_SECONDS = Number(values['slice-seconds'] ?? 60);
const FINAL = values.final ?? 'mirror';
const SPINNAKER_KEYS = Math.min(KEYS, Number(values['spinnaker-keys'] ?? 50_000));
if (!(KEYS > 0) || !(SLICE_SECONDS >= 5) || !['mirror', 'stream'].includes(FINAL)) throw new Error('usage: --keys N (>0) --slice-seconds S (>=5) --final mirror|stream');
const log = (m: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${m}\n`);

// Small keys of every type, ~1 in 10 with a TTL, `n` per call, named scale:<i>. The server writes
// them itself: the benchmark measures the walks, not how fast a client can load 10M keys.
const FILL = `
local from, n = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = from, from + n - 1 do
  local k = 'scale:' .. i
  local t = i % 10
  if t < 5 then redis.call('SET', k, 'value-' .. i .. string.rep('x', i % 64))
  elseif t == 5 then redis.call('HSET', k, 'application', 'app' .. (i % 97), 'status', 'SUCCEEDED', 'n', i)
  elseif t == 6 then redis.call('SADD', k, 'a', 'b', i)
  elseif t == 7 then redis.call('ZADD', k, i, 'm' .. i, i / 3, 'n' .. i)
  elseif t == 8 then redis.call('RPUSH', k, 'x', 'y', i)
  else redis.call('SET', k, i, 'EX', 86400 + i % 3600) end
end
return n`;

interface StepFigures {
  slices: number;
  longestSliceSeconds: number;
  seconds: number;
  keys: number;
  keysPerSec: number;
  peakRssMB: number;
  detail?: Record<string, unknown>;
}

let peakRss = process.memoryUsage().rss;
let stepPeak = peakRss;
setInterval(() => {
  const rss = process.memoryUsage().rss;
  peakRss = Math.max(peakRss, rss);
  stepPeak = Math.max(stepPeak, rss);
}, 50).unref();

/** The state machine's loop: the Task again with its last result until `done`, each slice timed. */
async function loop<T extends { done: boolean }>(name: string, slice: (previous: T | undefined, deadline: number) => Promise<T>): Promise<{ result: T; slices: number[] }> {
  (globalThis as { gc?: () => void }).gc?.();
  stepPeak = process.memoryUsage().rss;
  const slices: number[] = [];
  let result: T | undefined;
  do {
    const started = performance.now();
    result = await slice(result, Date.now() + SLICE_SECONDS * 1000);
    slices.push((performance.now() - started) / 1000);
    log(`${name} slice ${slices.length}: ${slices.at(-1)!.toFixed(1)} s${result.done ? ', done' : ''}`);
  } while (!result.done);
  return { result, slices };
}

function figures(slices: number[], keys: number, detail?: Record<string, unknown>): StepFigures {
  const seconds = slices.reduce((a, b) => a + b, 0);
  return {
    slices: slices.length,
    longestSliceSeconds: Math.round(Math.max(...slices) * 10) / 10,
    seconds: Math.round(seconds * 10) / 10,
    keys,
    keysPerSec: Math.round(keys / seconds),
    peakRssMB: Math.round(stepPeak / 1e6),
    ...(detail ? { detail } : {}),
  };
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-scale-'));
  const servers: RedisProcess[] = [];
  try {
    const [source, target] = await Promise.all([startRedis({ dir: join(dir, 'source') }), startRedis({ dir: join(dir, 'target') })]);
    servers.push(source, target);
    const src = await connectRedis({ url: source.url });
    const seedStarted = performance.now();
    const seed = await seedSpinnakerData(src, { keys: SPINNAKER_KEYS });
    const have = await src.dbsize();
    for (let i = 0; i < KEYS - have; i += 20_000) await src.eval(FILL, 0, String(i), String(Math.min(20_000, KEYS - have - i)));
    const keys = keyCount(await src.info('keyspace'));
    const usedMemory = Number(/used_memory:(\d+)/.exec(await src.info('memory'))?.[1] ?? 0);
    log(
      `seeded ${keys} keys (${SPINNAKER_KEYS} Spinnaker-shaped, big keys ${seed.bigKeys.join(', ')}), ${(usedMemory / 1e6).toFixed(0)} MB, in ${((performance.now() - seedStarted) / 1000).toFixed(0)} s`,
    );
    src.disconnect();
    const from = { url: source.url };
    const to = { url: target.url };

    const copy = await loop<CopyState>('CopyBulk', (previous, deadline) => copyBulkSlice(from, to, previous, { method: 'auto', deadline, progressId: 'bench-scale' }));
    const catchUp = undefined; // no live writes in this run: CatchUpLiveWrites has nothing to follow
    const reconcile = await loop<FinalCatchUp>('ReconcileFinal', (previous, deadline) =>
      finalCatchUp(from, to, catchUp, {
        ...(FINAL === 'stream' && copy.result.replication ? { copiedAt: copy.result.replication } : {}),
        ...(previous ? { previous } : {}),
        withinMs: SLICE_SECONDS * 1000,
        deadline,
      }),
    );
    const verify = await loop<VerifyState>('VerifyCopy', (previous, deadline) => verifyMigration(from, to, previous, { deadline }));
    const final = reconcile.result;
    const steps = {
      CopyBulk: figures(copy.slices, copy.result.checkpoint.stats.keys, { method: copy.result.method, ...(copy.result.fallbackReason ? { fallbackReason: copy.result.fallbackReason } : {}) }),
      ReconcileFinal: figures(
        reconcile.slices,
        final.method === 'mirror' ? final.scanned : keys,
        final.method === 'mirror' ? { method: 'mirror', copied: final.copied, deleted: final.deleted, equal: final.equal } : { method: 'stream', commands: final.commands },
      ),
      VerifyCopy: figures(verify.slices, verify.result.compared, { ok: verify.result.ok, audit: verify.result.audit }),
    };
    const longest = Math.max(...Object.values(steps).map((s) => s.longestSliceSeconds));
    const report = {
      when: new Date().toISOString(),
      machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
      dataset: { keys, usedMemoryMB: Math.round(usedMemory / 1e6), spinnakerShaped: SPINNAKER_KEYS, bigKeys: seed.bigKeys },
      copySliceSeconds: SLICE_SECONDS,
      steps,
      longestSliceSeconds: longest,
      everySliceWithinCopySliceSeconds: longest <= SLICE_SECONDS,
      peakRssMB: Math.round(peakRss / 1e6),
    };
    const json = JSON.stringify(report, null, 2);
    process.stdout.write(`${json}\n`);
    if (values.json) writeFileSync(values.json, `${json}\n`);
    return verify.result.ok && report.everySliceWithinCopySliceSeconds ? 0 : 1;
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
