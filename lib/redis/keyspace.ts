/**
 * The keyspace as the copy, the checks and the health metrics see it: which databases
 * hold keys, how many keys in all, a connection per database on each side, and a SCAN of
 * one database. Also our own key prefix: probes, progress and temporary keys live under it
 * and are never copied or compared.
 */
import type { Redis } from 'ioredis';
import { connectRedis, type RedisEndpoint } from './connect.js';

/** Every key we write ourselves (ping probes, saved copy progress, payload probes) starts with this. */
export const OWN_KEY_PREFIX = 'spin-elasticache:';

/** Keys in every database, from `INFO keyspace`. */
export function keyCount(keyspaceInfo: string): number {
  return [...keyspaceInfo.matchAll(/^db\d+:keys=(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

/** The databases holding keys (`[0]` when none does). */
export async function databasesWithKeys(redis: Redis): Promise<number[]> {
  const info = await redis.info('keyspace');
  const dbs = [...info.matchAll(/^db(\d+):keys=(\d+)/gm)].filter((m) => Number(m[2]) > 0).map((m) => Number(m[1]));
  return dbs.length > 0 ? dbs : [0];
}

/** The databases holding keys on either side, in order; probe connections closed whatever happens. */
export async function databasesOnEither(a: RedisEndpoint, b: RedisEndpoint, connectionName: string): Promise<number[]> {
  const found = await Promise.all([a, b].map((endpoint) => withConnection(endpoint, { connectionName }, databasesWithKeys)));
  return [...new Set(found.flat())].sort((x, y) => x - y);
}

/** Runs `use` on a fresh connection and closes it afterwards, on failure too. */
export async function withConnection<T>(endpoint: RedisEndpoint, options: { db?: number; connectionName: string }, use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = await connectRedis(endpoint, options);
  try {
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

/** For each database: one connection on each side, both closed afterwards (also when one fails to open). */
export async function forEachDbPair(dbs: number[], from: RedisEndpoint, to: RedisEndpoint, connectionName: string, visit: (from: Redis, to: Redis, db: number) => Promise<void>): Promise<void> {
  for (const db of dbs) {
    await withConnection(from, { db, connectionName }, (fromClient) => withConnection(to, { db, connectionName }, (toClient) => visit(fromClient, toClient, db)));
  }
}

/** One connection per logical database, opened when first needed. */
export class DbClients {
  private readonly clients = new Map<number, Promise<Redis>>();
  constructor(
    private readonly endpoint: RedisEndpoint,
    private readonly connectionName: string,
  ) {}
  get(db: number): Promise<Redis> {
    let client = this.clients.get(db);
    if (!client) {
      client = connectRedis(this.endpoint, { db, connectionName: this.connectionName });
      this.clients.set(db, client);
    }
    return client;
  }
  close(): void {
    for (const client of this.clients.values())
      void client.then(
        (c) => c.disconnect(),
        () => undefined,
      );
  }
}

/** Every key of the connection's database but those `skip` rejects, a handful visited at a time. */
export async function scanAll(redis: Redis, skip: (key: Buffer) => boolean, visit: (key: Buffer) => Promise<void>): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = (await redis.scanBuffer(cursor, 'COUNT', 1000)) as unknown as [Buffer, Buffer[]];
    cursor = next.toString();
    const batch = keys.filter((k) => !skip(k));
    // A handful in parallel keeps round trips overlapped without flooding either side.
    for (let i = 0; i < batch.length; i += 16) await Promise.all(batch.slice(i, i + 16).map(visit));
  } while (cursor !== '0');
}
