/**
 * A Sentinel-managed spin-redis in the workflow (issue 12): the real step handlers, with
 * `spinnaker.spinRedis.sentinel` in the input and the passwords in Kubernetes Secrets, against
 * a real master, replica and sentinel (test/support/redis-sentinel.ts), the target a plain
 * redis-server standing for ElastiCache. Every step resolves the master through the sentinel
 * at each invocation:
 *
 * - a real `SENTINEL FAILOVER` between two CopyBulk scan slices: the scan starts over on the new
 *   master, the catch-up and ReconcileFinal follow it, and the strict VerifyCopy passes against
 *   the new master, writes made on it after the failover (and its deletions) included;
 * - a failover after the switch: the rollback's copy-back lands in the new master;
 * - the "no client but us" checks look at the master and its replicas, not counting the
 *   sentinel's own links.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { createHandler as catchUpHandler } from '../../../handlers/catch-up-live-writes.js';
import { createHandler as copyBackHandler } from '../../../handlers/copy-back-writes.js';
import { createHandler as copyBulkHandler } from '../../../handlers/copy-bulk.js';
import { createHandler as enableCaptureHandler } from '../../../handlers/enable-change-capture.js';
import { createHandler as reconcileHandler } from '../../../handlers/reconcile-final.js';
import { createHandler as verifyHandler } from '../../../handlers/verify-copy.js';
import { createHandler as drainHandler } from '../../../handlers/verify-spin-redis-drained.js';
import { type MigrationConfig, parseMigrationInput } from '../../../lib/config/schema.js';
import { TRANSIENT_ERROR_NAMES } from '../../../lib/errors.js';
import type { ClusterApi } from '../../../lib/kubernetes/api.js';
import { resolveSourceNodes } from '../../../lib/kubernetes/spin-redis.js';
import { connectRedis } from '../../../lib/redis/connect.js';
import { copyBulk as copyBulkSlice } from '../../../lib/workflow/bulk-copy.js';
import type { EndpointResolvers } from '../../../lib/workflow/endpoints.js';
import type { MigrationState } from '../../../lib/workflow/state.js';
import { startRedis, type RedisProcess } from '../../../sandbox/redis/redis-process.js';
import { diffDatasets, readDataset } from '../../support/fullsync-expected.js';
import { MASTER_PASSWORD, SENTINEL_PASSWORD, startSentinelSetup, type TestSentinel } from '../../support/redis-sentinel.js';

const dir = mkdtempSync(join(tmpdir(), 'sentinel-workflow-'));
const b64 = (s: string) => Buffer.from(s).toString('base64');
/** The Kubernetes API as the steps use it for spin-redis: only the two Secrets. */
const api: Pick<ClusterApi, 'readWorkload' | 'listPods' | 'readSecret'> = {
  readWorkload: () => Promise.reject(new Error('no workload in this test')),
  listPods: async () => [],
  readSecret: async (_ns, name) => ({ data: { password: b64(name === 'redis-auth' ? MASTER_PASSWORD : SENTINEL_PASSWORD) } }),
};

let s: TestSentinel;
let target: RedisProcess;
let config: MigrationConfig;
let resolvers: EndpointResolvers;

async function inSync(): Promise<void> {
  const nodes = await resolveSourceNodes(config, api);
  const clients = await Promise.all(nodes.map((n) => connectRedis(n.endpoint)));
  try {
    const offset = async (c: Redis) => Number(/master_repl_offset:(\d+)/.exec(await c.info('replication'))?.[1]);
    for (let i = 0; i < 300; i++) {
      const offsets = await Promise.all(clients.map(offset));
      const links = await Promise.all(clients.slice(1).map(async (c) => /master_link_status:up/.test(await c.info('replication'))));
      if (links.every(Boolean) && offsets.every((o) => o === offsets[0])) return;
      await sleep(100);
    }
    throw new Error('the replica did not catch up');
  } finally {
    for (const c of clients) c.disconnect();
  }
}

/** A real failover: the sentinel promotes the replica; returns once it serves as master. */
async function failover(): Promise<{ from: string; to: string }> {
  await inSync();
  const from = (await resolveSourceNodes(config, api))[0]!.address;
  const sentinel = await s.sentinel();
  try {
    await sentinel.call('SENTINEL', 'FAILOVER', 'mymaster');
  } finally {
    sentinel.disconnect();
  }
  for (let i = 0; i < 300; i++) {
    const to = await resolveSourceNodes(config, api).then(
      (n) => n[0]!.address,
      () => from,
    );
    if (to !== from) return { from, to };
    await sleep(100);
  }
  throw new Error('no failover');
}

const master = async () => connectRedis((await resolveSourceNodes(config, api))[0]!.endpoint);

beforeAll(async () => {
  [s, target] = await Promise.all([startSentinelSetup(join(dir, 'sentinel')), startRedis({ dir: join(dir, 'target') })]);
  config = parseMigrationInput({
    cluster: { name: 'prod', region: 'us-east-1' },
    spinnaker: {
      spinRedis: {
        url: s.url,
        passwordSecret: { name: 'redis-auth', key: 'password' },
      },
    },
    target: { replicationGroupId: 'spinnaker-redis' },
    options: { copyMethod: 'scan', copySliceSeconds: 5 },
  });
  // The sentinel's own password, as a Secret reference beside the URL's addresses.
  config = {
    ...config,
    spinnaker: { ...config.spinnaker, spinRedis: { ...config.spinnaker.spinRedis, sentinel: { ...config.spinnaker.spinRedis.sentinel!, passwordSecret: { name: 'sentinel-auth', key: 'password' } } } },
  };
  resolvers = {
    source: async (state) => (await resolveSourceNodes(state.config, api))[0]!.endpoint,
    sourceNodes: (state) => resolveSourceNodes(state.config, api),
    target: async () => ({ url: target.url }),
    sourceContainer: async () => ({ unknown: 'not a pod in this test' }),
  };
  const m = await master();
  const pipeline = m.pipeline();
  for (let i = 0; i < 30_000; i++) pipeline.hset(`pipeline:${i}`, 'status', 'RUNNING', 'application', `app${i % 7}`);
  await pipeline.exec();
  m.disconnect();
  await inSync();
}, 120_000);

afterAll(async () => {
  await Promise.all([s?.stop(), target?.stop()]);
});

describe('a Sentinel-managed spin-redis in the workflow', () => {
  it('the input keeps only references: the URL became the sentinel addresses and master name', () => {
    expect(config.spinnaker.spinRedis.url).toBeUndefined();
    expect(config.spinnaker.spinRedis.sentinel).toMatchObject({ addresses: [`127.0.0.1:${s.sentinelPort}`], masterName: 'mymaster' });
    expect(JSON.stringify(config)).not.toContain(MASTER_PASSWORD);
    expect(JSON.stringify(config)).not.toContain(SENTINEL_PASSWORD);
  });

  it('survives a SENTINEL FAILOVER between two CopyBulk slices, and verifies strictly against the new master', async () => {
    let state: MigrationState = { config, execution: { arn: 'arn:aws:states:us-east-1:123456789012:execution:m:sentinel-run', startedAt: new Date().toISOString() } };
    state = { ...state, capture: await enableCaptureHandler({ resolveSource: async (st) => (await resolvers.sourceNodes(st)).map((n) => n.endpoint) })(state) };
    // Keyspace notifications are on for the master and the replica: the replica publishes them once promoted.
    for (const node of await resolveSourceNodes(config, api)) {
      const c = await connectRedis(node.endpoint);
      expect(((await c.config('GET', 'notify-keyspace-events')) as string[])[1]).toMatch(/K/);
      c.disconnect();
    }
    // A first slice that cannot finish (its clock says the 5 s slice is nearly over): a checkpoint is left behind.
    const copyBulk = copyBulkHandler(resolvers);
    let copy = await copyBulkSlice(state, resolvers, { api: () => api as unknown as ClusterApi, now: () => new Date(Date.now() - 4_800) });
    const firstMaster = copy.sourceAt;
    expect(copy).toMatchObject({ method: 'scan', done: false });
    expect(copy.lastSlice.keys).toBeGreaterThan(0);
    expect(copy.lastSlice.keys).toBeLessThan(30_000);

    const { from, to } = await failover();
    expect(from).toBe(firstMaster);
    // After the failover: Spinnaker (through the master Service) writes and deletes on the new master.
    const m = await master();
    await m.hset('pipeline:after-failover', 'status', 'SUCCEEDED');
    await m.del('pipeline:7', 'pipeline:8');
    await m.hset('pipeline:9', 'status', 'TERMINAL');
    m.disconnect();

    for (let i = 0; i < 100 && !copy.done; i++) copy = await copyBulk({ ...state, copy });
    expect(copy.done).toBe(true);
    expect(copy.sourceAt).toBe(to);
    state = { ...state, copy };
    // The scan started over on the new master (a cursor of the old one would skip keys): every key it has is on the target already.
    {
      const [src, dst] = await Promise.all([master(), connectRedis({ url: target.url })]);
      const onTarget = await readDataset(dst);
      const missing = [...(await readDataset(src)).get(0)!.keys()].filter((k) => !onTarget.get(0)?.has(k));
      src.disconnect();
      dst.disconnect();
      expect(missing).toEqual([]);
    }

    state = { ...state, catchUp: await catchUpHandler(resolvers, { sliceMs: 300 })(state) };
    let reconcile = await reconcileHandler(resolvers)(state);
    for (let i = 0; i < 100 && !reconcile.done; i++) reconcile = await reconcileHandler(resolvers)({ ...state, reconcile });
    expect(reconcile.sourceAt).toBe(to);
    state = { ...state, reconcile };
    let verify = await verifyHandler(resolvers)(state);
    for (let i = 0; i < 100 && !verify.done; i++) verify = await verifyHandler(resolvers)({ ...state, verify });
    expect(verify).toMatchObject({ done: true, missing: 0, extra: 0, valueMismatches: 0, sourceAt: to });

    // End state: the target is exactly the new master.
    const [src, dst] = await Promise.all([master(), connectRedis({ url: target.url })]);
    try {
      expect(diffDatasets(await readDataset(src), await readDataset(dst))).toEqual([]);
      expect(await dst.hget('pipeline:after-failover', 'status')).toBe('SUCCEEDED');
      expect(await dst.hget('pipeline:9', 'status')).toBe('TERMINAL');
      expect(await dst.exists('pipeline:7', 'pipeline:8')).toBe(0);
    } finally {
      src.disconnect();
      dst.disconnect();
    }
  }, 180_000);

  it('a SENTINEL FAILOVER during the replication copy: the step fails with a retried error or falls back to the scan, which restarts on the new master; the target ends equal to it', async () => {
    const auto = { ...config, options: { ...config.options, copyMethod: 'auto' as const } };
    const forkable: EndpointResolvers = { ...resolvers, sourceContainer: async () => ({ none: true }) };
    let state: MigrationState = { config: auto, execution: { arn: 'arn:aws:states:us-east-1:123456789012:execution:m:sentinel-replication', startedAt: new Date().toISOString() } };
    state = { ...state, capture: await enableCaptureHandler({ resolveSource: async (st) => (await forkable.sourceNodes(st)).map((n) => n.endpoint) })(state) };
    const copyBulk = copyBulkHandler(forkable);
    // A slow snapshot (100 µs a key, about 3 s) so that the failover lands while the first invocation copies.
    const slow = await master();
    await slow.config('SET', 'rdb-key-save-delay', '100');
    const running = copyBulk(state).then(
      (copy) => ({ copy }),
      (error: Error) => ({ error }),
    );
    await sleep(300);
    const { to } = await failover();
    const first = await running;
    await slow.config('SET', 'rdb-key-save-delay', '0');
    slow.disconnect();
    let copy = 'copy' in first ? first.copy : undefined;
    if ('error' in first) expect(TRANSIENT_ERROR_NAMES).toContain(first.error.name);
    // The state machine's retrier (or the loop) runs it again: it resolves the new master.
    for (let i = 0; i < 20 && !copy?.done; i++) copy = await copyBulk({ ...state, ...(copy ? { copy } : {}) });
    state = { ...state, copy: copy! };
    const m = await master();
    await m.hset('pipeline:after-replication-failover', 'status', 'SUCCEEDED');
    await m.del('pipeline:11');
    m.disconnect();
    const catchUp = await catchUpHandler(forkable, { sliceMs: 500 })(state);
    // After a replication copy: the promoted replica continued our stream (its master_replid2 covers our offset), or the fallback took over.
    if (copy!.method === 'replication') expect(catchUp.stream !== undefined || catchUp.streamLost !== undefined).toBe(true);
    // After the scan it fell back to (the failover cut the snapshot short): its last slice read the new master.
    else expect(copy!.sourceAt).toBe(to);
    state = { ...state, catchUp };
    let reconcile = await reconcileHandler(forkable)(state);
    for (let i = 0; i < 100 && !reconcile.done; i++) reconcile = await reconcileHandler(forkable)({ ...state, reconcile });
    state = { ...state, reconcile };
    let verify = await verifyHandler(forkable)(state);
    for (let i = 0; i < 100 && !verify.done; i++) verify = await verifyHandler(forkable)({ ...state, verify });
    expect(verify).toMatchObject({ done: true, missing: 0, extra: 0, valueMismatches: 0, sourceAt: to });
    const [src, dst] = await Promise.all([master(), connectRedis({ url: target.url })]);
    try {
      expect(await dst.hget('pipeline:after-replication-failover', 'status')).toBe('SUCCEEDED');
      expect(await dst.exists('pipeline:11')).toBe(0);
      expect(diffDatasets(await readDataset(src), await readDataset(dst))).toEqual([]);
    } finally {
      src.disconnect();
      dst.disconnect();
    }
  }, 180_000);

  it('counts a client left on a replica (a demoted master), never the sentinel links', async () => {
    const state: MigrationState = { config, execution: { arn: 'arn:aws:states:us-east-1:123456789012:execution:m:sentinel-run', startedAt: new Date().toISOString() } };
    const drain = drainHandler(resolvers);
    await expect(drain(state)).resolves.toMatchObject({ foreignClients: 0, nodes: 2 });
    const replica = (await resolveSourceNodes(config, api))[1]!;
    const straggler = await connectRedis(replica.endpoint, { connectionName: 'orca-old-pod' });
    try {
      await expect(drain(state)).rejects.toMatchObject({ name: 'SpinRedisStillInUseError', message: expect.stringContaining(`replica ${replica.address}`) });
    } finally {
      straggler.disconnect();
    }
  }, 60_000);

  it('copies back into the master of the moment after a failover following the switch (the rollback)', async () => {
    // Spinnaker ran on ElastiCache after the switch: new writes and a deletion there.
    const dst = await connectRedis({ url: target.url });
    await dst.hset('pipeline:on-elasticache', 'status', 'RUNNING');
    await dst.del('pipeline:10');
    dst.disconnect();
    const { to } = await failover();
    const state: MigrationState = {
      config,
      execution: { arn: 'arn:aws:states:us-east-1:123456789012:execution:m:sentinel-run', startedAt: new Date().toISOString() },
      replicationGroup: { primaryEndpoint: { address: '127.0.0.1', port: target.port } } as MigrationState['replicationGroup'],
    };
    const copyBack = copyBackHandler(resolvers);
    let back = await copyBack(state);
    for (let i = 0; i < 100 && !back.done; i++) back = await copyBack({ ...state, copyBack: back as NonNullable<MigrationState['copyBack']> });
    expect(back).toMatchObject({ done: true, sourceAt: to });
    const [src, t] = await Promise.all([master(), connectRedis({ url: target.url })]);
    try {
      expect((await resolveSourceNodes(config, api))[0]!.address).toBe(to);
      expect(diffDatasets(await readDataset(t), await readDataset(src))).toEqual([]);
      expect(await src.hget('pipeline:on-elasticache', 'status')).toBe('RUNNING');
      expect(await src.exists('pipeline:10')).toBe(0);
    } finally {
      src.disconnect();
      t.disconnect();
    }
  }, 120_000);
});
