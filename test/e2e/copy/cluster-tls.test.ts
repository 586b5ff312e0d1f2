/**
 * `copy --source rediss-cluster://…`: a three-master Redis Cluster serving TLS only (the
 * sandbox CA's certificates, TLS on the cluster bus too), named by hostname as an ElastiCache
 * cluster with in-transit encryption names its nodes (`cluster-preferred-endpoint-type
 * hostname`), reached through one seed by hostname, as ElastiCache's configuration endpoint.
 * Copied (replication and scan) into a plain redis-server and verified across shards. The
 * client's `dnsLookup` is not what this tests: here the seed's hostname is every node's TLS
 * server name and ioredis looks up only the seeds (test/unit/copy/cluster-connect.test.ts).
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { connectCluster, copyFromCluster, SOURCE, verifyClusterCopy } from '../../../lib/copy/cluster.js';
import { connectRedis, type RedisEndpoint } from '../../../lib/redis/connect.js';
import { createSandboxPki } from '../../../sandbox/pki.js';
import { freePort, startRedis, type RedisProcess } from '../../../sandbox/redis/redis-process.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'cluster-tls-'));
const PASSWORD = 'Cluster-Tls-Passw0rd';
let nodes: RedisProcess[];
let target: RedisProcess;
let dst: Redis;
let source: RedisEndpoint;

beforeAll(async () => {
  const pki = createSandboxPki(join(dir, 'pki'));
  const cert = pki.issue('cluster-node');
  const tls = { certFile: cert.certFile, keyFile: cert.keyFile, caFile: pki.caFile };
  nodes = await Promise.all(
    [0, 1, 2].map(async (i) =>
      startRedis({
        dir: join(dir, `node-${i}`),
        tls,
        password: PASSWORD,
        primaryAuth: PASSWORD,
        extraArgs: [
          ...['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `node-${i}`, 'nodes.conf'), '--cluster-node-timeout', '5000'],
          // Its own bus port: port+10000 can pass 65535.
          ...['--cluster-port', String(await freePort()), '--tls-cluster', 'yes'],
          ...['--cluster-announce-hostname', 'localhost', '--cluster-preferred-endpoint-type', 'hostname'],
        ],
      }),
    ),
  );
  target = await startRedis({ dir: join(dir, 'target') });
  const cli = ['--tls', '--cacert', pki.caFile, '-a', PASSWORD, '--no-auth-warning'];
  await run('redis-cli', [...cli, '--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-yes']);
  source = { url: `rediss-cluster://localhost:${nodes[0]!.port}`, password: PASSWORD, caFile: pki.caFile };
  for (const node of nodes) {
    const c = await connectRedis({ url: node.url, password: PASSWORD, caFile: pki.caFile });
    try {
      for (let i = 0; i < 100 && !/cluster_state:ok/.test(String(await c.call('CLUSTER', 'INFO'))); i++) await sleep(100);
    } finally {
      c.disconnect();
    }
  }
  const writer = await connectCluster(source, SOURCE);
  try {
    await Promise.all(Array.from({ length: 600 }, (_, i) => (i % 3 === 0 ? writer.set(`task:${i}`, `value-${i}`, 'PX', 3_600_000) : writer.hset(`pipeline:${i}`, 'status', `s${i}`))));
  } finally {
    writer.disconnect();
  }
  dst = await connectRedis({ url: target.url });
}, 60_000);

afterAll(async () => {
  dst?.disconnect();
  await Promise.all([...(nodes ?? []), ...(target ? [target] : [])].map((n) => n.stop()));
});

describe('copy from a TLS Redis Cluster named by hostname (ElastiCache with in-transit encryption)', () => {
  it.each(['auto', 'scan'] as const)(
    'method %s: every master copied over TLS, the target equal by the verification across shards',
    async (method) => {
      await dst.flushall();
      const result = await copyFromCluster(source, { url: target.url }, { method });
      expect(result.masters.map((m) => m.master.split(':')[0])).toEqual(['localhost', 'localhost', 'localhost']);
      expect(new Set(result.masters.map((m) => m.method))).toEqual(new Set([method === 'auto' ? 'replication' : 'scan']));
      expect(result.settle.converged).toBe(true);
      expect(await dst.dbsize()).toBe(600);
      expect(await dst.get('task:0')).toBe('value-0');
      expect(await dst.pttl('task:0')).toBeGreaterThan(3_000_000);
      expect(await dst.hget('pipeline:1', 'status')).toBe('s1');
      const report = await verifyClusterCopy(source, { url: target.url });
      expect({ ok: report.ok, compared: report.compared, examples: report.examples }).toEqual({ ok: true, compared: 600, examples: [] });
    },
    120_000,
  );
});
