/**
 * A real Redis Cluster for tests: N redis-server processes in cluster mode on free ports,
 * joined with `redis-cli --cluster create` (masters only), and a real slot migration
 * (`CLUSTER SETSLOT … IMPORTING/MIGRATING`, `MIGRATE … KEYS`, `CLUSTER SETSLOT … NODE`, the
 * steps redis-cli's `--cluster reshard` takes, redis-cli.c clusterManagerMoveSlot).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Cluster, type Redis } from 'ioredis';
import { connectRedis } from '../../lib/redis/connect.js';
import { startRedis, type RedisProcess } from '../../sandbox/redis/redis-process.js';

const run = promisify(execFile);

export interface TestCluster {
  nodes: RedisProcess[];
  /** `redis-cluster://127.0.0.1:p1,127.0.0.1:p2,…` */
  url: string;
  client: Cluster;
  stop(): Promise<void>;
}

export async function startCluster(dir: string, masters = 3, password?: string): Promise<TestCluster> {
  const nodes = await Promise.all(
    Array.from({ length: masters }, (_, i) =>
      startRedis({
        dir: join(dir, `node-${i}`),
        ...(password ? { password, primaryAuth: password } : {}),
        extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `node-${i}`, 'nodes.conf'), '--cluster-node-timeout', '5000'],
      }),
    ),
  );
  await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-yes', ...(password ? ['-a', password, '--no-auth-warning'] : [])]);
  for (const node of nodes) {
    const c = await connectRedis({ url: node.url, ...(password ? { password } : {}) });
    try {
      for (let i = 0; i < 100 && !/cluster_state:ok/.test(String(await c.call('CLUSTER', 'INFO'))); i++) await sleep(100);
    } finally {
      c.disconnect();
    }
  }
  const client = new Cluster(
    nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    { redisOptions: password ? { password } : {} },
  );
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
  });
  return {
    nodes,
    url: `redis-cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
    client,
    stop: async () => {
      client.disconnect();
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}

/** The node id and client of each node. */
async function nodeClients(cluster: TestCluster, password?: string): Promise<{ id: string; port: number; redis: Redis }[]> {
  return Promise.all(
    cluster.nodes.map(async (n) => {
      const redis = await connectRedis({ url: n.url, ...(password ? { password } : {}) });
      return { id: String(await redis.call('CLUSTER', 'MYID')), port: n.port, redis };
    }),
  );
}

/**
 * Moves `slot` from its owner to the next master, `batch` keys per MIGRATE with `pauseMs`
 * between batches (so that it overlaps a copy). Returns the old and new owners' ports.
 */
export async function migrateSlot(cluster: TestCluster, slot: number, options: { batch?: number; pauseMs?: number; password?: string } = {}): Promise<{ from: number; to: number; keys: number }> {
  const nodes = await nodeClients(cluster, options.password);
  try {
    const owner = await ownerOf(nodes[0]!.redis, slot);
    const from = nodes.find((n) => n.id === owner)!;
    const to = nodes[(nodes.indexOf(from) + 1) % nodes.length]!;
    await to.redis.call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', from.id);
    await from.redis.call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', to.id);
    let moved = 0;
    for (;;) {
      const keys = (await from.redis.callBuffer('CLUSTER', 'GETKEYSINSLOT', String(slot), String(options.batch ?? 20))) as Buffer[];
      if (keys.length === 0) break;
      await from.redis.callBuffer('MIGRATE', '127.0.0.1', String(to.port), '', '0', '5000', ...(options.password ? ['AUTH', options.password] : []), 'KEYS', ...keys);
      moved += keys.length;
      if (options.pauseMs) await sleep(options.pauseMs);
    }
    for (const n of nodes) await n.redis.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', to.id);
    return { from: from.port, to: to.port, keys: moved };
  } finally {
    for (const n of nodes) n.redis.disconnect();
  }
}

async function ownerOf(redis: Redis, slot: number): Promise<string> {
  for (const [start, end, master] of (await redis.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, string]][]) if (slot >= start && slot <= end) return master[2];
  throw new Error(`slot ${slot} has no owner`);
}
