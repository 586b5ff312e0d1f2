/**
 * `copy --source redis-cluster://…`: a real three-master Redis Cluster (redis-server in cluster
 * mode, joined by redis-cli --cluster create) into a cluster-mode-disabled redis-server. A slot
 * holding 1,500 keys is migrated (real SETSLOT/MIGRATE) while every master is being copied,
 * and keys are written meanwhile. The target must end equal to the cluster: by the copy's own
 * verification across shards, and independently, key by key (type, value, TTL present),
 * against what each master holds at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { runCopyCommand } from '../../../cli/copy-command.js';
import { copyFromCluster, discoverMasters, mastersFromShards, mastersFromSlots, verifyClusterCopy } from '../../../lib/copy/cluster.js';
import { connectRedis } from '../../../lib/redis/connect.js';
import { startRedis, type RedisProcess } from '../../../sandbox/redis/redis-process.js';
import { diffDatasets, readDataset, type Dataset } from '../../support/fullsync-expected.js';
import { migrateSlot, startCluster, type TestCluster } from '../../support/redis-cluster.js';

const dir = mkdtempSync(join(tmpdir(), 'cluster-source-'));
/** Every node has it (requirepass, masterauth), as a Bitnami redis-cluster chart sets it. */
const PASSWORD = 'Cluster-Passw0rd-3';
let cluster: TestCluster;
let target: RedisProcess;
let dst: Redis;
/** CLUSTER KEYSLOT of '{moving}'. */
let movingSlot: number;

beforeAll(async () => {
  [cluster, target] = await Promise.all([startCluster(join(dir, 'cluster'), 3, PASSWORD), startRedis({ dir: join(dir, 'target') })]);
  dst = await connectRedis({ url: target.url });
  const c = cluster.client;
  movingSlot = Number(await c.call('CLUSTER', 'KEYSLOT', '{moving}'));
  // Spread over every slot range: strings (some with TTLs), hashes, sets, zsets, lists, a stream.
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < 1500; i++) {
    writes.push(i % 3 === 0 ? c.set(`task:${i}`, `value-${i}`, 'PX', 3_600_000) : c.set(`task:${i}`, `value-${i}`));
    if (i % 10 === 0) writes.push(c.hset(`pipeline:${i}`, { application: `app-${i % 7}`, status: 'SUCCEEDED', startTime: String(i) }));
    if (i % 25 === 0) writes.push(c.sadd(`allJobs:${i}`, 'a', 'b', `c${i}`), c.zadd(`pipeline:executions:${i}`, i, `e${i}`, i + 1, `f${i}`), c.rpush(`stageIndex:${i}`, 'x', 'y', 'z'));
  }
  writes.push(c.xadd('stream:{events}', '1-1', 'type', 'a'), c.xadd('stream:{events}', '2-1', 'type', 'b'));
  // One slot with many keys: the one migrated during the copy.
  for (let i = 0; i < 1500; i++) writes.push(i % 2 === 0 ? c.set(`{moving}:${i}`, `m-${i}`, 'PX', 3_600_000) : c.hset(`{moving}:h${i}`, 'f', String(i)));
  await Promise.all(writes);
}, 60_000);

afterAll(async () => {
  dst.disconnect();
  await Promise.all([cluster.stop(), target.stop()]);
});

/** What the masters hold at the end, as one keyspace (each node's own keys). */
async function clusterDataset(): Promise<Dataset> {
  const all = new Map<string, ReturnType<Dataset['get']> extends Map<string, infer V> | undefined ? V : never>();
  for (const node of cluster.nodes) {
    const c = await connectRedis({ url: node.url, password: PASSWORD });
    try {
      for (const [k, v] of (await readDataset(c)).get(0) ?? new Map()) all.set(k, v);
    } finally {
      c.disconnect();
    }
  }
  return new Map([[0, all]]);
}

async function copyDuringResharding(method: 'auto' | 'scan'): Promise<Awaited<ReturnType<typeof copyFromCluster>> & { moved: { from: number; to: number; keys: number } }> {
  await dst.flushall();
  let resharding: Promise<{ from: number; to: number; keys: number }> | undefined;
  let writing: Promise<unknown> | undefined;
  const copying = copyFromCluster(
    { url: cluster.url, password: PASSWORD },
    { url: target.url },
    {
      method,
      onPhase: async (phase) => {
        if (phase === 'discovered') {
          // The masters are known with the old slot map; the slot moves while they are copied.
          resharding = migrateSlot(cluster, movingSlot, { batch: 25, pauseMs: 5, password: PASSWORD });
          writing = Promise.all(Array.from({ length: 200 }, (_, i) => cluster.client.set(`written-during:${i}`, String(i))));
        } else {
          await Promise.all([resharding, writing]);
        }
      },
    },
  );
  // A failed copy still lets the slot finish moving before the next test.
  const result = await copying.catch(async (error: unknown) => {
    await Promise.all([resharding, writing]);
    throw error;
  });
  return { ...result, moved: (await resharding)! };
}

describe('copy from a three-master Redis Cluster with a resharding in the middle', () => {
  it('discovers the three masters from one seed (CLUSTER SHARDS)', async () => {
    const masters = await discoverMasters({ url: `redis-cluster://127.0.0.1:${cluster.nodes[1]!.port}`, password: PASSWORD });
    expect(masters.map((m) => m.port).sort()).toEqual(cluster.nodes.map((n) => n.port).sort());
    expect(masters.flatMap((m) => m.slots).reduce((n, [a, b]) => n + b - a + 1, 0)).toBe(16384);
  });

  it('reads the same masters and slots from CLUSTER SLOTS (servers before 7.0) as from CLUSTER SHARDS', async () => {
    const node = await connectRedis({ url: cluster.nodes[0]!.url, password: PASSWORD });
    try {
      const canonical = (ms: ReturnType<typeof mastersFromSlots>) => ms.map((m) => ({ ...m, slots: [...m.slots].sort((a, b) => a[0] - b[0]) })).sort((a, b) => a.port - b.port);
      const fromSlots = canonical(mastersFromSlots((await node.call('CLUSTER', 'SLOTS')) as unknown[]));
      expect(fromSlots).toHaveLength(3);
      expect(fromSlots).toEqual(canonical(mastersFromShards((await node.call('CLUSTER', 'SHARDS')) as unknown[])));
    } finally {
      node.disconnect();
    }
  });

  it.each(['auto', 'scan'] as const)(
    'method %s: every master copied, the migrated slot settled, the target equal to the cluster',
    async (method) => {
      const result = await copyDuringResharding(method);
      expect(result.moved.keys).toBe(1500);
      expect(result.settle.converged).toBe(true);
      expect(result.masters).toHaveLength(3);
      expect(new Set(result.masters.map((m) => m.method))).toEqual(new Set([method === 'auto' ? 'replication' : 'scan']));
      const expected = await clusterDataset();
      expect(expected.get(0)?.size).toBe((await dst.dbsize()) as number);
      expect(diffDatasets(expected, await readDataset(dst))).toEqual([]);
      const report = await verifyClusterCopy({ url: cluster.url, password: PASSWORD }, { url: target.url });
      expect({ ok: report.ok, examples: report.examples }).toEqual({ ok: true, examples: [] });
      expect(report.compared).toBe(expected.get(0)?.size);
      // The migrated keys are where the cluster now keeps them, and on the target once.
      expect(await dst.get('{moving}:0')).toBe('m-0');
      expect(await dst.pttl('{moving}:0')).toBeGreaterThan(3_000_000);
    },
    120_000,
  );

  it('spin-elasticache copy --source redis-cluster://… verifies across shards, and catches a key changed behind its back', async () => {
    await dst.flushall();
    const json = join(dir, 'copy.json');
    process.env.CLUSTER_TEST_PASSWORD = PASSWORD;
    expect(await runCopyCommand(['--source', cluster.url, '--source-password-env', 'CLUSTER_TEST_PASSWORD', '--target', target.url, '--json', json])).toBe(0);
    expect(readFileSync(json, 'utf8')).not.toContain(PASSWORD);
    const figures = JSON.parse(readFileSync(json, 'utf8')) as { masters: unknown[]; verify: { ok: boolean; compared: number } };
    expect(figures.masters).toHaveLength(3);
    expect(figures.verify.ok).toBe(true);
    // The verification can fail: a value changed on the target only.
    await dst.set('task:1', 'changed on the target');
    await dst.set('only-on-target', 'x');
    const report = await verifyClusterCopy({ url: cluster.url, password: PASSWORD }, { url: target.url });
    expect({ ok: report.ok, value: report.valueMismatches, extra: report.extra }).toEqual({ ok: false, value: 1, extra: 1 });
  }, 120_000);
});
