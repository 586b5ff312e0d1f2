/**
 * Keyspace notifications on spin-redis, for the live catch-up. spin-redis is self-hosted,
 * so CONFIG is allowed there (never on ElastiCache). The previous setting travels in the
 * execution state (`$.capture`) so that the success path and the rollback both restore it.
 */
import type { Redis } from 'ioredis';
import { connectRedis, type RedisEndpoint } from './connect.js';
import { mapRedisError } from './errors.js';

/** Flags the catch-up needs: keyspace channel (K), all events (A), plus evicted/expired (included in A). */
export const CAPTURE_FLAGS = 'KA';

export interface ChangeCaptureResult {
  previousNotifyKeyspaceEvents: string;
  notifyKeyspaceEvents: string;
}

/** Union of two notify-keyspace-events flag strings, in Redis's canonical order. */
export function mergeFlags(current: string, wanted: string): string {
  const set = new Set([...current, ...wanted]);
  // 'A' is an alias for "g$lshzxetd" (the exact list depends on the version); keep it as given.
  return [...'KEAg$lshzxetdmn'].filter((flag) => set.has(flag)).join('');
}

export async function enableChangeCapture(redis: Pick<Redis, 'config'>, previousFromState?: string): Promise<ChangeCaptureResult> {
  try {
    const reply = (await redis.config('GET', 'notify-keyspace-events')) as string[];
    const current = reply[1] ?? '';
    // A re-run after a crash sees our own flags: the original value is the one in the state.
    const previous = previousFromState ?? current;
    const wanted = mergeFlags(previous, CAPTURE_FLAGS);
    if (current !== wanted) await redis.config('SET', 'notify-keyspace-events', wanted);
    return { previousNotifyKeyspaceEvents: previous, notifyKeyspaceEvents: wanted };
  } catch (error) {
    throw mapRedisError(error, 'spin-redis');
  }
}

export async function restoreChangeCapture(redis: Pick<Redis, 'config'>, previous: string): Promise<{ restored: string }> {
  try {
    await redis.config('SET', 'notify-keyspace-events', previous);
    return { restored: previous };
  } catch (error) {
    throw mapRedisError(error, 'spin-redis');
  }
}

/** Connects to spin-redis for one CONFIG change, and always disconnects. */
async function withSpinRedis<T>(endpoint: RedisEndpoint, run: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = await connectRedis(endpoint, { connectionName: 'spin-elasticache-capture' });
  try {
    return await run(redis);
  } finally {
    redis.disconnect();
  }
}

/** EnableChangeCapture's one call: `previousFromState` is `$.capture.previousNotifyKeyspaceEvents` on a re-run. */
export const enableChangeCaptureAt = (endpoint: RedisEndpoint, previousFromState?: string) => withSpinRedis(endpoint, (redis) => enableChangeCapture(redis, previousFromState));

/** DisableChangeCapture's one call; a no-op (and no connection) when capture never began. */
export async function restoreChangeCaptureAt(endpoint: () => Promise<RedisEndpoint>, capture: ChangeCaptureResult | undefined): Promise<{ restored: string } | { restored: null; reason: string }> {
  if (!capture) return { restored: null, reason: 'change capture was never enabled' };
  return withSpinRedis(await endpoint(), (redis) => restoreChangeCapture(redis, capture.previousNotifyKeyspaceEvents));
}
