/**
 * One run of our copier in its own process, so its memory figure is its own (the
 * benchmark's other methods and the seeding live elsewhere). Prints JSON on stdout.
 */
import { copyAll, type CopyMethod } from '../lib/copy/engine.js';

const [sourceUrl, targetUrl, method, connections] = process.argv.slice(2);
(globalThis as { gc?: () => void }).gc?.();
const baselineRss = process.memoryUsage().rss;
let peakRss = baselineRss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 10);
const started = performance.now();
const result = await copyAll({ url: sourceUrl! }, { url: targetUrl! }, { method: (method ?? 'auto') as CopyMethod, ...(connections ? { connections: Number(connections) } : {}) });
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage().rss);
process.stdout.write(
  JSON.stringify({
    method: result.method,
    keys: result.stats.keys,
    seconds,
    baselineRss,
    peakRss,
    ...(result.replication ? { phasesMs: result.replication.phasesMs, snapshotBytes: result.replication.rdbBytes } : {}),
  }),
);
