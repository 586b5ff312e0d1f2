/**
 * Asking Redis Sentinel where a monitored master and its replicas are now (the workflow's
 * Sentinel-managed spin-redis, `spinnaker.spinRedis.sentinel`). Each step asks again at each
 * invocation, so a failover between two slices is followed.
 *
 * - `SENTINEL GET-MASTER-ADDR-BY-NAME <name>` on each sentinel in turn; the address counts only
 *   when the server itself answers `ROLE` = master (a sentinel may still name a demoted master
 *   for a moment after a failover).
 * - `SENTINEL REPLICAS <name>` (Redis 5+; `SENTINEL SLAVES` before), replicas flagged
 *   `s_down`, `o_down` or `disconnected` left out.
 *
 * Commands and reply shapes: redis.io "Redis Sentinel", sentinel.c `sentinelCommand`.
 */
import type { Redis } from 'ioredis';
import { RedisAuthError, RedisFailoverError } from '../errors.js';
import { connectRedis } from './connect.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface SentinelView {
  master: HostPort;
  replicas: HostPort[];
  /** The sentinel that answered (`host:port`). */
  sentinel: string;
}

export const hostPort = (a: HostPort) => (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`);

export function parseHostPort(text: string): HostPort {
  const at = text.lastIndexOf(':');
  return { host: text.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(text.slice(at + 1)) };
}

/** `['name','ip','port',…]` (RESP2 flat pairs) as an object. */
function fields(entry: unknown): Record<string, string> {
  const list = Array.isArray(entry) ? (entry as unknown[]).map(String) : [];
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i]!] = list[i + 1]!;
  return out;
}

async function roleOf(node: HostPort, password: string | undefined): Promise<string | undefined> {
  let client: Redis | undefined;
  try {
    client = await connectRedis(
      { url: `redis://${hostPort(node)}`, ...(password ? { password } : {}) },
      { connectionName: 'spin-elasticache-sentinel-check', connectTimeout: 2000, maxRetriesPerRequest: 0 },
    );
    return String(((await client.call('ROLE')) as unknown[])[0]);
  } catch (error) {
    if (error instanceof RedisAuthError) throw error;
    return undefined;
  } finally {
    client?.disconnect();
  }
}

/**
 * The master (confirmed by its ROLE) and the healthy replicas, from the first sentinel that
 * names a master; `RedisFailoverError` (transient: the step's retrier waits) when none does,
 * with what each sentinel said.
 */
export async function askSentinels(sentinels: HostPort[], options: { masterName: string; sentinelPassword?: string; masterPassword?: string }): Promise<SentinelView> {
  const said: string[] = [];
  for (const sentinel of sentinels) {
    let client: Redis | undefined;
    try {
      client = await connectRedis(
        { url: `redis://${hostPort(sentinel)}`, ...(options.sentinelPassword ? { password: options.sentinelPassword } : {}) },
        { connectionName: 'spin-elasticache-sentinel', connectTimeout: 2000, maxRetriesPerRequest: 0 },
      );
      const reply = (await client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', options.masterName)) as [string, string] | null;
      if (!reply) {
        said.push(`${hostPort(sentinel)} monitors no master named ${options.masterName}`);
        continue;
      }
      const master = { host: reply[0], port: Number(reply[1]) };
      const role = await roleOf(master, options.masterPassword);
      if (role !== 'master') {
        said.push(`${hostPort(sentinel)} names ${hostPort(master)}, which answers ${role ?? 'nothing'} (a failover in progress?)`);
        continue;
      }
      const listed = (await client.call('SENTINEL', 'REPLICAS', options.masterName).catch(() => client!.call('SENTINEL', 'SLAVES', options.masterName))) as unknown[];
      const replicas = listed
        .map(fields)
        .filter((r) => r.ip && r.port && !/s_down|o_down|disconnected/.test(r.flags ?? ''))
        .map((r) => ({ host: r.ip!, port: Number(r.port) }));
      return { master, replicas, sentinel: hostPort(sentinel) };
    } catch (error) {
      // A wrong password is not a failover: waiting would not fix it.
      if (error instanceof RedisAuthError) throw error;
      said.push(`${hostPort(sentinel)}: ${(error as Error).message.split('\n')[0]}`);
    } finally {
      client?.disconnect();
    }
  }
  throw new RedisFailoverError(`No sentinel names a master for ${options.masterName} that answers as one: ${said.join('; ') || 'no sentinel to ask'}`);
}
