/**
 * Redis Sentinel for the sandbox's Sentinel-managed spin-redis (`npm start -- --spin-redis sentinel`):
 * a replica of spin-redis and three sentinels watching it as `mymaster`, each a real redis-server
 * process on a free port (`redis-server sentinel.conf --sentinel`), configured as Spotahome's
 * operator configures them (spotahome/redis-operator operator/redisfailover/service/generator.go:
 * `sentinel monitor mymaster … 2`, `down-after-milliseconds`, `failover-timeout`, `parallel-syncs`;
 * the master's password as `sentinel auth-pass`, the sentinels without one).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, type RedisProcess, startRedis, waitForPort } from './redis-process.js';

export interface SentinelSet {
  replica: RedisProcess;
  /** `127.0.0.1:<port>` of each sentinel. */
  addresses: string[];
  masterName: 'mymaster';
  stop(): Promise<void>;
}

export async function startSentinelSet(options: { dir: string; master: { host: string; port: number }; password?: string; binary?: string }): Promise<SentinelSet> {
  const replica = await startRedis({
    dir: join(options.dir, 'replica'),
    replicaOf: options.master,
    ...(options.password ? { password: options.password, primaryAuth: options.password } : {}),
    ...(options.binary ? { binary: options.binary } : {}),
  });
  const children: ChildProcess[] = [];
  const addresses: string[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const dir = join(options.dir, `sentinel-${i}`);
      mkdirSync(dir, { recursive: true });
      const conf = join(dir, 'sentinel.conf');
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `logfile ${join(dir, 'sentinel.log')}`,
          `sentinel monitor mymaster ${options.master.host} ${options.master.port} 2`,
          ...(options.password ? [`sentinel auth-pass mymaster ${options.password}`] : []),
          'sentinel down-after-milliseconds mymaster 5000',
          'sentinel failover-timeout mymaster 10000',
          'sentinel parallel-syncs mymaster 2',
          '',
        ].join('\n'),
      );
      const child = spawn(options.binary ?? 'redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
      children.push(child);
      await waitForPort(port, child);
      addresses.push(`127.0.0.1:${port}`);
    }
  } catch (error) {
    for (const c of children) c.kill('SIGTERM');
    await replica.stop();
    throw error;
  }
  return {
    replica,
    addresses,
    masterName: 'mymaster',
    stop: async () => {
      await Promise.all(
        children.map((c) =>
          c.exitCode === null
            ? new Promise((resolve) => {
                c.once('exit', resolve);
                c.kill('SIGTERM');
              })
            : undefined,
        ),
      );
      await replica.stop();
    },
  };
}
