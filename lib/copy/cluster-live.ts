/**
 * `--live` from a cluster source, for a master copied by scan (one that refuses PSYNC or must
 * not fork; a master copied as a replica follows its own replication stream instead,
 * replication/replica-copy.ts `followMs`): keyspace notifications of that master, subscribed
 * before its scan starts, so that a key written after the scan read it is copied again.
 * Notifications are node-local in a cluster (redis.io "Redis keyspace notifications": "each
 * node … only receives events from its own keyspace"), hence one subscription per master.
 *
 * A touched key is copied in its current state read through ioredis's `Cluster` (so a key
 * whose slot moved since is read from its new owner, MOVED/ASK followed), or deleted on the
 * target when the cluster no longer has it: removals, expiries and renames propagate (the
 * same rule as the single-server catch-up, live.ts `syncKey`). What happens between the last
 * notification and the end is taken by the cluster copy's settling passes (cluster.ts).
 */
import type { Cluster, Redis } from 'ioredis';
import { enableChangeCapture, restoreChangeCapture } from '../redis/change-capture.js';
import { connectRedis, type RedisEndpoint } from '../redis/connect.js';
import { mapRedisError } from '../redis/errors.js';
import { KeyspaceNotificationsError } from '../errors.js';
import { ownKeys } from './filter.js';
import { type CatchUpStats, syncKey } from './live.js';

export interface MasterCapture {
  /** Copies every key touched since the capture started (then as they come) until `until` (epoch ms). */
  run(until: number): Promise<CatchUpStats>;
  /** Unsubscribes and puts the master's notify-keyspace-events back. */
  close(): Promise<void>;
}

/** Subscribes to one master's keyspace notifications (turned on for the copy, put back by `close`). */
export async function startMasterCapture(node: RedisEndpoint, cluster: Cluster, target: RedisEndpoint): Promise<MasterCapture> {
  const started = Date.now();
  const stats: CatchUpStats = { events: 0, copied: 0, deleted: 0, stoppedEarly: false, ms: 0 };
  const isOwn = ownKeys();
  const control = await connectRedis(node, { connectionName: 'spin-elasticache-cluster-capture' });
  let previous: string;
  try {
    previous = (await enableChangeCapture(control)).previousNotifyKeyspaceEvents;
  } catch (error) {
    control.disconnect();
    throw new KeyspaceNotificationsError(
      `Following live writes of a master copied by scan needs keyspace notifications on it, and setting them failed (${(error as Error).message}). Set notify-keyspace-events KA on every master, or copy without --live.`,
      { cause: error },
    );
  }
  const [subscriber, writer] = await Promise.all([
    connectRedis(node, { connectionName: 'spin-elasticache-cluster-capture-sub' }),
    connectRedis(target, { connectionName: 'spin-elasticache-cluster-capture' }),
  ]);
  const pending = new Map<string, Buffer>();
  let wake: (() => void) | undefined;
  subscriber.on('pmessageBuffer', (_pattern: Buffer, channel: Buffer) => {
    const match = /^__keyspace@0__:/.exec(channel.toString('latin1'));
    if (!match) return;
    const key = channel.subarray(match[0].length);
    if (isOwn(key)) return;
    stats.events++;
    pending.set(key.toString('base64'), key);
    wake?.();
  });
  await subscriber.psubscribe('__keyspace@0__:*');
  const source = cluster as unknown as Redis;
  return {
    run: async (until) => {
      try {
        while (Date.now() < until) {
          if (pending.size === 0) await new Promise<void>((resolve) => ((wake = resolve), setTimeout(resolve, 100)));
          wake = undefined;
          for (const [id, key] of [...pending]) {
            if (Date.now() >= until) break;
            pending.delete(id);
            if ((await syncKey(source, writer, key)) === 'copied') stats.copied++;
            else stats.deleted++;
          }
        }
      } catch (error) {
        throw mapRedisError(error, 'cluster catch-up');
      }
      stats.ms = Date.now() - started;
      return { ...stats };
    },
    close: async () => {
      subscriber.disconnect();
      writer.disconnect();
      await restoreChangeCapture(control, previous).catch(() => undefined);
      control.disconnect();
    },
  };
}
