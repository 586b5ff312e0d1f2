/**
 * `copy --target redis-cluster://…`: a real three-master Redis Cluster (redis-server in cluster
 * mode, with a password) as the target, from every source kind: one redis-server (replication
 * and scan, and a live catch-up whose stream carries multi-key commands across slots), another
 * three-master cluster, an RDB file, a Sentinel-managed master. A slot of the target is
 * migrated (real SETSLOT/MIGRATE) during a copy. Each run must end with the copy's own strict
 * verification clean, and independently: the union of what the target's masters hold equals
 * the source, key by key, and every master holds some of it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { runCopyCommand } from '../../../cli/copy-command.js';
import { openClusterTarget } from '../../../lib/copy/cluster-target.js';
import { connectRedis } from '../../../lib/redis/connect.js';
import { startRedis, type RedisProcess } from '../../../sandbox/redis/redis-process.js';
import { diffDatasets, readDataset, type Dataset } from '../../support/fullsync-expected.js';
import { migrateSlot, startCluster, type TestCluster } from '../../support/redis-cluster.js';
import { seedAllTypes } from '../../support/redis-data.js';
import { MASTER_PASSWORD, SENTINEL_PASSWORD, startSentinelSetup } from '../../support/redis-sentinel.js';

const dir = mkdtempSync(join(tmpdir(), 'cluster-target-'));
const PASSWORD = 'Target-Cluster-Passw0rd-7';
let target: TestCluster;
let source: RedisProcess;
let src: Redis;
let movingSlot: number;

beforeAll(async () => {
  [target, source] = await Promise.all([startCluster(join(dir, 'target'), 3, PASSWORD), startRedis({ dir: join(dir, 'source'), extraArgs: ['--repl-diskless-sync-delay', '0'] })]);
  src = await connectRedis({ url: source.url });
  await seedAllTypes(src);
  // Its TTLs of a minute or two would run out during this file's runs (between reading the source and the target).
  await Promise.all(['ttl', 'hash-ttl'].map((k) => src.pexpire(k, 3_600_000)));
  const pipeline = src.pipeline();
  for (let i = 0; i < 20_000; i++) {
    if (i % 3 === 0) pipeline.set(`task:${i}`, `value-${i}`, 'PX', 3_600_000);
    else pipeline.set(`task:${i}`, `value-${i}`);
    if (i % 10 === 0) pipeline.hset(`pipeline:${i}`, { application: `app-${i % 7}`, status: 'SUCCEEDED', startTime: String(i) });
    if (i % 50 === 0) pipeline.zadd(`pipeline:executions:${i}`, i, `e${i}`, i + 1, `f${i}`);
  }
  // One slot with many keys: the one migrated on the target during a copy.
  for (let i = 0; i < 3000; i++) pipeline.set(`{moving}:${i}`, `m-${i}`);
  await pipeline.exec();
  movingSlot = Number(await target.client.call('CLUSTER', 'KEYSLOT', '{moving}'));
  process.env.CLUSTER_TARGET_TEST_PASSWORD = PASSWORD;
}, 60_000);

afterAll(async () => {
  src.disconnect();
  await Promise.all([target.stop(), source.stop()]);
});

const targetArgs = () => ['--target', target.url, '--target-password-env', 'CLUSTER_TARGET_TEST_PASSWORD'];

/** Each master's own keys, and their union as one keyspace. */
async function targetDataset(): Promise<{ union: Dataset; perMaster: number[] }> {
  const all = new Map<string, ReturnType<Dataset['get']> extends Map<string, infer V> | undefined ? V : never>();
  const perMaster: number[] = [];
  for (const node of target.nodes) {
    const c = await connectRedis({ url: node.url, password: PASSWORD });
    try {
      const own = (await readDataset(c)).get(0) ?? new Map();
      perMaster.push(own.size);
      for (const [k, v] of own) all.set(k, v);
    } finally {
      c.disconnect();
    }
  }
  return { union: new Map([[0, all]]), perMaster };
}

async function flushTarget(): Promise<void> {
  await Promise.all(
    target.nodes.map(async (n) => {
      const c = await connectRedis({ url: n.url, password: PASSWORD });
      await c.flushall();
      c.disconnect();
    }),
  );
}

async function expectTargetEquals(expected: Dataset): Promise<void> {
  const { union, perMaster } = await targetDataset();
  expect(diffDatasets(expected, union)).toEqual([]);
  expect(perMaster.every((n) => n > 1000)).toBe(true);
}

describe('copy into a three-master Redis Cluster target', () => {
  it.each(['replication', 'scan'] as const)(
    'from one redis-server by %s: keys routed by slot, verified strictly across the target shards',
    async (method) => {
      await flushTarget();
      const json = join(dir, `copy-${method}.json`);
      expect(await runCopyCommand(['--source', source.url, ...targetArgs(), '--method', method, '--verify', '--json', json])).toBe(0);
      const figures = JSON.parse(readFileSync(json, 'utf8')) as { method: string; keysPerSec: number; verify: { ok: boolean; compared: number }; targetCluster: { masters: string[] } };
      expect(readFileSync(json, 'utf8')).not.toContain(PASSWORD);
      expect(figures.method).toBe(method);
      expect(figures.verify.ok).toBe(true);
      expect(figures.targetCluster.masters).toHaveLength(3);
      await expectTargetEquals(await readDataset(src));
      // The verification can fail: a value changed on one shard of the target only.
      await target.client.set('task:1', 'changed on the target');
      await target.client.set('only-on-target', 'x');
      const again = join(dir, 'again.json');
      expect(await runCopyCommand(['--source', source.url, ...targetArgs(), '--method', 'scan', '--connections', '1', '--json', again, '--verify'])).toBe(1);
      // The copy replaced the changed value; the key only the target has is found on its shard.
      expect((JSON.parse(readFileSync(again, 'utf8')) as { verify: unknown }).verify).toMatchObject({ ok: false, extra: 1, valueMismatches: 0 });
      expect(await target.client.get('task:1')).toBe('value-1');
      await target.client.del('only-on-target');
    },
    180_000,
  );

  it('a slot of the target migrated (SETSLOT MIGRATING/IMPORTING + MIGRATE) during a replication copy: MOVED/ASK followed, nothing lost', async () => {
    await flushTarget();
    const json = join(dir, 'reshard.json');
    // The slot starts moving as the copy starts; keys already there move with MIGRATE, the rest are sent on by ASK.
    const copying = runCopyCommand(['--source', source.url, ...targetArgs(), '--method', 'replication', '--verify', '--json', json]);
    await sleep(150);
    const moved = await migrateSlot(target, movingSlot, { batch: 50, pauseMs: 5, password: PASSWORD });
    expect(await copying).toBe(0);
    expect(moved.from).not.toBe(moved.to);
    const owner = await connectRedis({ url: `redis://127.0.0.1:${moved.to}`, password: PASSWORD });
    try {
      expect(Number(await owner.call('CLUSTER', 'COUNTKEYSINSLOT', String(movingSlot)))).toBe(3000);
    } finally {
      owner.disconnect();
    }
    expect((JSON.parse(readFileSync(json, 'utf8')) as { verify: { ok: boolean } }).verify.ok).toBe(true);
    await expectTargetEquals(await readDataset(src));
  }, 180_000);

  it('--live: the stream splits DEL/MSET and emulates RENAME across slots in order; a multi-key write it cannot split ends the copy with CROSSSLOT', async () => {
    await flushTarget();
    const writer = await connectRedis({ url: source.url });
    try {
      const copying = runCopyCommand(['--source', source.url, ...targetArgs(), '--method', 'replication', '--live', '3', '--verify']);
      await sleep(1500);
      // fiat's pattern: write a temporary key and RENAME it over the real one (different slots).
      await writer.set('spinnaker:fiat:tmp:1', 'permissions-v2');
      await writer.rename('spinnaker:fiat:tmp:1', 'spinnaker:fiat:permissions-v2:alice:applications');
      await writer.set('renamed-over', 'old');
      await writer.rename('task:2', 'renamed-over');
      await writer.del('task:4', 'task:5', 'pipeline:10', 'no-such-key');
      await writer.mset('mset:a', '1', 'mset:b', '2', 'mset:c', '3');
      await writer.multi().set('tx:a', '1').set('tx:b', '2').rename('tx:a', 'tx:c').exec();
      await writer.set('after-rename', 'x', 'PX', 600_000);
      expect(await copying).toBe(0);
      expect(await target.client.get('spinnaker:fiat:permissions-v2:alice:applications')).toBe('permissions-v2');
      expect(await target.client.get('renamed-over')).toBe('value-2');
      for (const gone of ['task:2', 'task:4', 'task:5', 'pipeline:10', 'spinnaker:fiat:tmp:1', 'tx:a']) expect(await target.client.exists(gone)).toBe(0);
      expect(await target.client.get('tx:c')).toBe('1');
      await expectTargetEquals(await readDataset(src));

      // SUNIONSTORE across slots has no key-by-key equivalent: refused, the copy fails naming it.
      const stderr: string[] = [];
      const write = process.stderr.write.bind(process.stderr);
      process.stderr.write = ((chunk: string | Uint8Array) => {
        stderr.push(String(chunk));
        return true;
      }) as typeof process.stderr.write;
      let code: number;
      try {
        const refused = runCopyCommand(['--source', source.url, ...targetArgs(), '--method', 'replication', '--live', '3']);
        await sleep(1500);
        await writer.sadd('s:1', 'a');
        await writer.sunionstore('s:union', 's:1', 'allJobs:none');
        code = await refused;
      } finally {
        process.stderr.write = write;
      }
      expect(code).toBe(1);
      expect(stderr.join('')).toMatch(/RedisCommandUnsupportedError.*CROSSSLOT.*SUNIONSTORE/);
      await writer.del('s:1', 's:union');
    } finally {
      writer.disconnect();
    }
  }, 180_000);

  it('from a three-master cluster source, with the target verified across its shards', async () => {
    await flushTarget();
    const other = await startCluster(join(dir, 'source-cluster'), 3);
    try {
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < 6000; i++) writes.push(i % 3 === 0 ? other.client.set(`task:${i}`, `v${i}`, 'PX', 3_600_000) : other.client.hset(`pipeline:${i}`, 'status', 'RUNNING'));
      await Promise.all(writes);
      const json = join(dir, 'cluster-to-cluster.json');
      expect(await runCopyCommand(['--source', other.url, ...targetArgs(), '--json', json])).toBe(0);
      const figures = JSON.parse(readFileSync(json, 'utf8')) as { verify: { ok: boolean; compared: number }; masters: unknown[] };
      expect(figures.verify).toMatchObject({ ok: true, compared: 6000 });
      const expected = new Map<string, unknown>();
      for (const node of other.nodes) {
        const c = await connectRedis({ url: node.url });
        for (const [k, v] of (await readDataset(c)).get(0) ?? new Map()) expected.set(k, v);
        c.disconnect();
      }
      await expectTargetEquals(new Map([[0, expected]]) as Dataset);
    } finally {
      await other.stop();
    }
  }, 180_000);

  it('from an RDB file (the source saved to dump.rdb)', async () => {
    await flushTarget();
    await src.save();
    const file = join(dir, 'dump.rdb');
    copyFileSync(join(dir, 'source', 'dump.rdb'), file);
    expect(await runCopyCommand(['--source', `file:${file}`, ...targetArgs()])).toBe(0);
    await expectTargetEquals(await readDataset(src));
  }, 180_000);

  it('from a Sentinel-managed master', async () => {
    await flushTarget();
    const s = await startSentinelSetup(join(dir, 'sentinel'));
    try {
      const m = await connectRedis({ url: s.master.url, password: MASTER_PASSWORD });
      const pipeline = m.pipeline();
      for (let i = 0; i < 5000; i++) pipeline.set(`task:${i}`, `v${i}`);
      await pipeline.exec();
      process.env.CLUSTER_TARGET_MASTER_PASSWORD = MASTER_PASSWORD;
      process.env.CLUSTER_TARGET_SENTINEL_PASSWORD = SENTINEL_PASSWORD;
      expect(await runCopyCommand(['--source', s.url, '--source-password-env', 'CLUSTER_TARGET_MASTER_PASSWORD', '--sentinel-password-env', 'CLUSTER_TARGET_SENTINEL_PASSWORD', ...targetArgs()])).toBe(
        0,
      );
      const expected = await readDataset(m);
      m.disconnect();
      await expectTargetEquals(expected);
    } finally {
      await s.stop();
    }
  }, 180_000);

  it('the routing endpoint refuses a client without its password, and a database other than 0', async () => {
    const routed = await openClusterTarget({ url: target.url, password: PASSWORD });
    try {
      await expect(connectRedis({ url: routed.endpoint.url })).rejects.toThrow(/NOAUTH|authentication/i);
      const c = await connectRedis(routed.endpoint);
      try {
        await expect(c.select(3)).rejects.toThrow(/only database 0/);
        await expect(c.set('x', '1')).rejects.toThrow(/only database 0/);
      } finally {
        c.disconnect();
      }
    } finally {
      await routed.close();
    }
  }, 60_000);
});
