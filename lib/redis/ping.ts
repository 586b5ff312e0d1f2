/**
 * PingRedis: reach the new group from inside the VPC with TLS and AUTH, and prove that
 * keyspace notifications fire (Gate's sessions depend on expired events).
 */
import { randomUUID } from 'node:crypto';
import { KeyspaceNotificationsError } from '../errors.js';
import { connectRedis, redactUrl, type RedisEndpoint } from './connect.js';
import { mapRedisError } from './errors.js';
import { OWN_KEY_PREFIX } from './keyspace.js';

/** `$.ping`: what PingRedis proved about the new group. */
export interface PingResult {
  url: string;
  latencyMs: number;
  keyspaceNotifications: boolean;
  serverVersion: string;
}

export async function pingRedis(endpoint: RedisEndpoint, options: { eventTimeoutMs?: number } = {}): Promise<PingResult> {
  const where = redactUrl(endpoint.url);
  const client = await connectRedis(endpoint, { connectionName: 'spin-elasticache-ping' });
  const subscriber = client.duplicate({ connectionName: 'spin-elasticache-ping-sub' });
  subscriber.on('error', () => undefined);
  const key = `${OWN_KEY_PREFIX}ping:${randomUUID()}`;
  try {
    const started = performance.now();
    const pong = await client.ping();
    const latencyMs = Math.round((performance.now() - started) * 100) / 100;
    if (pong !== 'PONG') throw mapRedisError(new Error(`unexpected PING reply ${pong}`), where);
    const info = await client.info('server');
    const serverVersion = /(?:valkey|redis)_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown';

    await subscriber.connect();
    const channel = '__keyevent@0__:expired';
    const arrived = new Promise<boolean>((resolve) => {
      subscriber.on('message', (ch: string, message: string) => {
        if (ch === channel && message === key) resolve(true);
      });
    });
    await subscriber.subscribe(channel);
    await client.set(key, '1', 'PX', 50);
    const deadline = Date.now() + (options.eventTimeoutMs ?? 5000);
    let fired = false;
    while (!fired && Date.now() < deadline) {
      // Touching the key triggers lazy expiry; the active cycle may be slower.
      await client.exists(key);
      fired = await Promise.race([arrived, new Promise<boolean>((r) => setTimeout(() => r(false), 100))]);
    }
    if (!fired) {
      throw new KeyspaceNotificationsError(
        `${where}: no expired event within ${options.eventTimeoutMs ?? 5000} ms. Gate needs notify-keyspace-events to include 'Ex' (gxE): check the replication group's parameter group.`,
      );
    }
    return { url: where, latencyMs, keyspaceNotifications: true, serverVersion };
  } catch (error) {
    throw mapRedisError(error, where);
  } finally {
    subscriber.disconnect();
    await client.del(key).catch(() => undefined);
    client.disconnect();
  }
}
