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
  /** Several nodes (a Sentinel-managed spin-redis): each replica's own previous value, by `host:port`. */
  replicas?: Record<string, string>;
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

/**
 * EnableChangeCapture's one call: `previousFromState` is `$.capture.previousNotifyKeyspaceEvents`
 * on a re-run. Given several nodes (a Sentinel-managed spin-redis: master first, then its
 * replicas), every one gets the flags: CONFIG SET is not replicated, and a replica promoted by a
 * failover must publish the notifications the catch-up falls back to. The previous value is the master's.
 */
export async function enableChangeCaptureAt(endpoints: RedisEndpoint | RedisEndpoint[], previousFromState?: string, replicasFromState?: Record<string, string>): Promise<ChangeCaptureResult> {
  const [first, ...rest] = Array.isArray(endpoints) ? endpoints : [endpoints];
  const result = await withSpinRedis(first!, (redis) => enableChangeCapture(redis, previousFromState));
  if (rest.length === 0) return result;
  const replicas: Record<string, string> = {};
  for (const endpoint of rest) {
    const address = new URL(endpoint.url).host;
    replicas[address] = (await withSpinRedis(endpoint, (redis) => enableChangeCapture(redis, replicasFromState?.[address]))).previousNotifyKeyspaceEvents;
  }
  return { ...result, replicas };
}

/** DisableChangeCapture's one call, on every node given; a no-op (and no connection) when capture never began. */
export async function restoreChangeCaptureAt(
  endpoints: () => Promise<RedisEndpoint | RedisEndpoint[]>,
  capture: ChangeCaptureResult | undefined,
): Promise<{ restored: string; nodes?: number } | { restored: null; reason: string }> {
  if (!capture) return { restored: null, reason: 'change capture was never enabled' };
  const all = [await endpoints()].flat();
  // Each node to its own previous value; the master's for a node we did not see (after a failover, the old master).
  for (const endpoint of all) await withSpinRedis(endpoint, (redis) => restoreChangeCapture(redis, capture.replicas?.[new URL(endpoint.url).host] ?? capture.previousNotifyKeyspaceEvents));
  return { restored: capture.previousNotifyKeyspaceEvents, ...(all.length > 1 ? { nodes: all.length } : {}) };
}
