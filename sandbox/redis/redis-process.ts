/**
 * Real redis-server processes on free loopback ports. Every Redis in the sandbox and in the
 * tests comes from here; nothing depends on port 6379.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';

export interface RedisProcessOptions {
  /** Working directory for the process (logs, nothing persisted). */
  dir: string;
  /** Serve TLS only (the plain port is turned off). */
  tls?: { certFile: string; keyFile: string; caFile: string };
  password?: string;
  notifyKeyspaceEvents?: string;
  /** e.g. `{ CONFIG: '' }` to refuse CONFIG, or `{ CONFIG: 'sandbox-config-xyz' }` to hide it. */
  renameCommands?: Record<string, string>;
  replicaOf?: { host: string; port: number };
  /** Password the replica uses to reach its primary. */
  primaryAuth?: string;
  maxmemory?: string;
  extraArgs?: string[];
  /** Use this port instead of a free one (e.g. to restart a killed server on its old port). */
  port?: number;
  /** The `redis-server` binary to run (an old Redis, Valkey); `redis-server` on PATH by default. */
  binary?: string;
}

export interface RedisProcess {
  port: number;
  host: string;
  tls: boolean;
  /** Connection URL without the password. */
  url: string;
  process: ChildProcess;
  /** Graceful stop. */
  stop(): Promise<void>;
  /** SIGKILL, as a crashed pod would. */
  kill(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once something listens on 127.0.0.1:`port`; throws if `child` exits first or time runs out. */
export async function waitForPort(port: number, child: ChildProcess, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host: '127.0.0.1' }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`redis-server did not listen on ${port} within ${timeoutMs} ms`);
}

export async function startRedis(options: RedisProcessOptions): Promise<RedisProcess> {
  mkdirSync(options.dir, { recursive: true });
  const port = options.port ?? (await freePort());
  const args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', options.dir, '--daemonize', 'no', '--loglevel', 'warning', '--logfile', `${options.dir}/redis-${port}.log`];
  if (options.tls) {
    args.push(
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--tls-cert-file',
      options.tls.certFile,
      '--tls-key-file',
      options.tls.keyFile,
      '--tls-ca-cert-file',
      options.tls.caFile,
      '--tls-auth-clients',
      'no',
    );
    if (options.replicaOf) args.push('--tls-replication', 'yes');
  } else {
    args.push('--port', String(port));
  }
  if (options.password) args.push('--requirepass', options.password);
  if (options.primaryAuth) args.push('--masterauth', options.primaryAuth);
  if (options.notifyKeyspaceEvents !== undefined) args.push('--notify-keyspace-events', options.notifyKeyspaceEvents);
  if (options.maxmemory) args.push('--maxmemory', options.maxmemory, '--maxmemory-policy', 'noeviction');
  // `replicaof` arrived in 5.0; `slaveof` is understood by every version.
  if (options.replicaOf) args.push('--slaveof', options.replicaOf.host, String(options.replicaOf.port));
  for (const [command, renamed] of Object.entries(options.renameCommands ?? {})) args.push('--rename-command', command, renamed);
  args.push(...(options.extraArgs ?? []));
  const child = spawn(options.binary ?? 'redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    await waitForPort(port, child);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}: ${stderr.trim()}`);
  }
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const signal = async (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    await exited;
  };
  return {
    port,
    host: '127.0.0.1',
    tls: Boolean(options.tls),
    url: `${options.tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    process: child,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
  };
}
