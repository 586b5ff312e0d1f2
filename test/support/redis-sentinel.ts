/**
 * A real Sentinel-managed Redis for tests, as Spotahome's RedisFailover runs it (one master,
 * one replica, sentinels watching `mymaster`), every part a redis-server process on a free port:
 * the master and the replica with a password (requirepass/masterauth), the sentinel
 * (`redis-server sentinel.conf --sentinel`) with its own password, a 1 s down-after so a killed
 * master is failed over in a few seconds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { connectRedis } from '../../lib/redis/connect.js';
import { freePort, startRedis, type RedisProcess } from '../../sandbox/redis/redis-process.js';

export const MASTER_PASSWORD = 'Master-Passw0rd-1';
export const SENTINEL_PASSWORD = 'Sentinel-Passw0rd-2';

export interface TestSentinel {
  master: RedisProcess;
  replica: RedisProcess;
  sentinelPort: number;
  /** `redis-sentinel://127.0.0.1:<port>/mymaster` (no password in it). */
  url: string;
  /** A client on the sentinel. */
  sentinel(): Promise<Redis>;
  stop(): Promise<void>;
}

async function listening(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (child.exitCode !== null) throw new Error(`sentinel exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ port, host: '127.0.0.1' }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(20);
  }
  throw new Error(`sentinel did not listen on ${port}`);
}

export async function startSentinelSetup(dir: string): Promise<TestSentinel> {
  // No 5 s wait before a diskless full sync: the replica is in sync soon after the data is written.
  const fast = ['--repl-diskless-sync-delay', '0'];
  const master = await startRedis({ dir: join(dir, 'master'), password: MASTER_PASSWORD, primaryAuth: MASTER_PASSWORD, extraArgs: fast });
  const replica = await startRedis({ dir: join(dir, 'replica'), password: MASTER_PASSWORD, primaryAuth: MASTER_PASSWORD, replicaOf: { host: '127.0.0.1', port: master.port }, extraArgs: fast });
  const sentinelPort = await freePort();
  const sdir = join(dir, 'sentinel');
  mkdirSync(sdir, { recursive: true });
  const conf = join(sdir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${sentinelPort}`,
      'bind 127.0.0.1',
      `dir ${sdir}`,
      `logfile ${join(sdir, 'sentinel.log')}`,
      `requirepass ${SENTINEL_PASSWORD}`,
      `sentinel monitor mymaster 127.0.0.1 ${master.port} 1`,
      `sentinel auth-pass mymaster ${MASTER_PASSWORD}`,
      'sentinel down-after-milliseconds mymaster 1000',
      'sentinel failover-timeout mymaster 10000',
      '',
    ].join('\n'),
  );
  const child = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  await listening(sentinelPort, child);
  const sentinel = () => connectRedis({ url: `redis://127.0.0.1:${sentinelPort}`, password: SENTINEL_PASSWORD });
  // Until the sentinel knows the replica (it learns it from the master's INFO every 10 s at first, sooner after a while).
  const s = await sentinel();
  try {
    for (let i = 0; i < 200; i++) {
      const replicas = (await s.call('SENTINEL', 'REPLICAS', 'mymaster')) as unknown[];
      if (replicas.length > 0) break;
      await sleep(100);
    }
  } finally {
    s.disconnect();
  }
  return {
    master,
    replica,
    sentinelPort,
    url: `redis-sentinel://127.0.0.1:${sentinelPort}/mymaster`,
    sentinel,
    stop: async () => {
      const exited = child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined;
      if (exited) child.kill('SIGTERM');
      await Promise.all([master.stop(), replica.stop(), exited]);
    },
  };
}
