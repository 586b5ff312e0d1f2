/**
 * `copy --source redis-cluster://… --live SECONDS`: a real three-master Redis Cluster written
 * all through the copy (sets, hash fields, removals from collections, deletions, expiries,
 * renames under one hash tag) while one of its slots is migrated (real SETSLOT/MIGRATE). The
 * writes stop before the live phase ends; the copy must then end with its strict verification
 * clean, and the target must equal the union of what the masters hold, key by key. Once as
 * replicas of every master into one redis-server, once by scan (keyspace notifications per
 * master) into a three-master cluster target.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { runCopyCommand } from '../../../cli/copy-command.js';
import { connectRedis } from '../../../lib/redis/connect.js';
import { startRedis, type RedisProcess } from '../../../sandbox/redis/redis-process.js';
import { diffDatasets, readDataset, type Dataset } from '../../support/fullsync-expected.js';
import { migrateSlot, startCluster, type TestCluster } from '../../support/redis-cluster.js';

const dir = mkdtempSync(join(tmpdir(), 'cluster-live-'));
let source: TestCluster;
let clusterTarget: TestCluster;
let single: RedisProcess;
let dst: Redis;
let movingSlot: number;

beforeAll(async () => {
  [source, clusterTarget, single] = await Promise.all([startCluster(join(dir, 'source'), 3), startCluster(join(dir, 'target'), 3), startRedis({ dir: join(dir, 'single') })]);
  dst = await connectRedis({ url: single.url });
  movingSlot = Number(await source.client.call('CLUSTER', 'KEYSLOT', '{moving}'));
}, 60_000);

afterAll(async () => {
  dst.disconnect();
  await Promise.all([source.stop(), clusterTarget.stop(), single.stop()]);
});

async function union(nodes: RedisProcess[]): Promise<Dataset> {
  const all = new Map<string, ReturnType<Dataset['get']> extends Map<string, infer V> | undefined ? V : never>();
  for (const node of nodes) {
    const c = await connectRedis({ url: node.url });
    for (const [k, v] of (await readDataset(c)).get(0) ?? new Map()) all.set(k, v);
    c.disconnect();
  }
  return new Map([[0, all]]);
}

async function seed(): Promise<void> {
  await Promise.all(source.nodes.map(async (n) => (await connectRedis({ url: n.url })).flushall()));
  const c = source.client;
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < 3000; i++) {
    writes.push(c.set(`task:${i}`, `v${i}`));
    if (i % 10 === 0) writes.push(c.zadd(`orca.task.queue.queue:{q${i % 30}}`, i, `m${i}`), c.hset(`orca.task.queue.messages:{q${i % 30}}`, `m${i}`, `payload-${i}`));
  }
  for (let i = 0; i < 800; i++) writes.push(c.set(`{moving}:${i}`, `m-${i}`));
  await Promise.all(writes);
}

/** Spinnaker-like writes on every master until `stop` resolves: new keys, field updates, removals, deletions, TTLs, renames. */
async function write(stop: Promise<void>): Promise<number> {
  const c = source.client;
  let done = false;
  void stop.then(() => {
    done = true;
  });
  let n = 0;
  while (!done) {
    const i = n++;
    await Promise.all([
      c.set(`written:${i}`, `w${i}`),
      c.hset(`orca.task.queue.messages:{q${i % 30}}`, `new${i}`, 'x'),
      c.zrem(`orca.task.queue.queue:{q${i % 30}}`, `m${(i * 10) % 3000}`),
      c.hdel(`orca.task.queue.messages:{q${i % 30}}`, `m${(i * 10) % 3000}`),
      c.del(`task:${i}`),
      c.set(`{moving}:${i % 800}`, `changed-${i}`),
      c.set(`session:${i}`, 's', 'PX', i % 2 === 0 ? 600_000 : 300),
      c.set(`{fiat}:tmp:${i}`, `perm-${i}`).then(() => c.rename(`{fiat}:tmp:${i}`, `{fiat}:permissions:${i % 50}`)),
    ]);
    await sleep(5);
  }
  return n;
}

describe('copy --live from a three-master cluster written all along, resharded meanwhile', () => {
  it.each([
    ['auto', 'one redis-server'],
    ['scan', 'a three-master cluster target'],
  ] as const)(
    'method %s into %s: every master followed, the verification clean once the writes stop',
    async (method, into) => {
      await seed();
      const toCluster = into !== 'one redis-server';
      if (toCluster) await Promise.all(clusterTarget.nodes.map(async (n) => (await connectRedis({ url: n.url })).flushall()));
      else await dst.flushall();
      let stopWriting!: () => void;
      const writing = write(new Promise<void>((resolve) => (stopWriting = resolve)));
      const json = join(dir, `live-${method}.json`);
      const copying = runCopyCommand(['--source', source.url, '--target', toCluster ? clusterTarget.url : single.url, '--method', method, '--live', '6', '--json', json]);
      await sleep(1000);
      const moved = await migrateSlot(source, movingSlot, { batch: 40, pauseMs: 20 });
      await sleep(500);
      stopWriting();
      const writes = await writing;
      expect(await copying).toBe(0);
      expect(moved.keys).toBeGreaterThan(700);
      expect(writes).toBeGreaterThan(20);
      const figures = JSON.parse(readFileSync(json, 'utf8')) as {
        masters: { method: string; live?: Record<string, number> }[];
        verify: { ok: boolean; compared: number };
      };
      expect(figures.verify.ok).toBe(true);
      expect(figures.masters.map((m) => m.method)).toEqual(Array(3).fill(method === 'auto' ? 'replication' : 'scan'));
      // Each master followed its writes live (its stream, or its notifications).
      for (const m of figures.masters) expect(Object.values(m.live ?? {}).some((v) => v > 0)).toBe(true);
      const expected = await union(source.nodes);
      const actual = toCluster ? await union(clusterTarget.nodes) : await readDataset(dst);
      expect(diffDatasets(expected, actual)).toEqual([]);
      expect(figures.verify.compared).toBe(expected.get(0)?.size);
    },
    240_000,
  );
});
