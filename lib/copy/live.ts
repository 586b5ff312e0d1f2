/**
 * Live catch-up from keyspace notifications: before the pause, copy every key Spinnaker
 * touches on spin-redis (notifications enabled by EnableChangeCapture) to the target. Each
 * touched key's current state replaces the target's (a key gone on the source is deleted
 * there), so removals propagate. Notifications are fire-and-forget: what happens between two
 * invocations is lost, which is why ReconcileFinal mirrors spin-redis inside the pause.
 * This is the fallback for when the replication stream cannot continue (replication/follow.ts).
 */
import type { Redis } from 'ioredis';
import { connectRedis, type RedisEndpoint } from '../redis/connect.js';
import { SpinRedisStillInUseError } from '../errors.js';
import { mapRedisError } from '../redis/errors.js';
import { DbClients } from '../redis/keyspace.js';
import { ownKeys } from './filter.js';
import { copyKeyByType, type RedisType } from './key-copy.js';
import { readTargetVersion, restoreWithExpiry, type TargetVersion } from './restore-expiry.js';

export interface CatchUpOptions {
  /** Epoch ms at which to return. */
  until: number;
  /**
   * At `until`, first copy every key touched before it (the queue can be long after a burst
   * of writes), so the target is the source as of `until`. Unbounded: not for a Lambda slice,
   * whose leftovers the final mirror takes.
   */
  drainAtEnd?: boolean;
  /** Checked every `checkEveryMs`; returning true ends the catch-up early (e.g. spin-redis drained). */
  shouldStop?: () => Promise<boolean>;
  checkEveryMs?: number;
  skipPrefix?: string;
}

export interface CatchUpStats {
  events: number;
  copied: number;
  deleted: number;
  stoppedEarly: boolean;
  ms: number;
}

/**
 * Copy one key's current state from source to target, replacing what the target holds (a
 * collection is replaced whole, never merged: removals must reach the target), or delete it
 * there if it is gone on the source. A PTTL of 0 expires this very millisecond: gone too,
 * never "no expiry".
 */
export async function syncKey(source: Redis, target: Redis, key: Buffer): Promise<'copied' | 'deleted'> {
  const reply = (await source.callBuffer(
    'EVAL',
    "local t = redis.call('TYPE', KEYS[1]).ok if t == 'none' then return {-2} end return {redis.call('PTTL', KEYS[1]), redis.call('DUMP', KEYS[1]), t}",
    1,
    key,
  )) as [number, Buffer?, Buffer?];
  const pttl = Number(reply[0]);
  if (pttl === -2 || pttl === 0) {
    await target.del(key);
    return 'deleted';
  }
  const expiresAt = pttl > 0 ? Date.now() + pttl : 0;
  const type = reply[2]!.toString() as RedisType;
  const version = await targetVersionOf(target);
  try {
    // RESTORE … ABSTTL from Redis 5.0; a relative TTL computed on the target's clock before (restore-expiry.ts).
    if ((await restoreWithExpiry(target, version, key, expiresAt, reply[1]!)) === 'expired') {
      await target.del(key);
      return 'deleted';
    }
  } catch (error) {
    if (!/payload version or checksum/i.test((error as Error).message)) throw error;
    // Written to a temporary key and renamed over the target's: a replacement too; a key that
    // went away meanwhile is deleted there, as above.
    if ((await copyKeyByType(source, target, key, type, version)) < 0) return 'deleted';
  }
  return 'copied';
}

/** The target's version, read once per connection (INFO server). */
const targetVersions = new WeakMap<Redis, Promise<TargetVersion>>();
function targetVersionOf(target: Redis): Promise<TargetVersion> {
  let version = targetVersions.get(target);
  if (!version) {
    version = readTargetVersion(target);
    targetVersions.set(target, version);
  }
  return version;
}

/** Change capture already listening: what it hears is kept until `run` copies it. */
export interface CatchUpSession {
  /** Copies every key touched since the session started (then as they come) until `until`. */
  run(options: Omit<CatchUpOptions, 'skipPrefix'>): Promise<CatchUpStats>;
  close(): void;
}

/**
 * Subscribes to spin-redis's keyspace notifications now, so that a bulk copy started after
 * this call misses nothing: a key written during the copy (after the copy read it) is
 * copied again by `run`. Touched keys are coalesced (one entry per key) while they wait.
 */
export async function startCatchUp(sourceEndpoint: RedisEndpoint, targetEndpoint: RedisEndpoint, options: Pick<CatchUpOptions, 'skipPrefix'> = {}): Promise<CatchUpSession> {
  const started = Date.now();
  const stats: CatchUpStats = { events: 0, copied: 0, deleted: 0, stoppedEarly: false, ms: 0 };
  const isOwn = ownKeys(options.skipPrefix);
  const subscriber = await connectRedis(sourceEndpoint, { connectionName: 'spin-elasticache-catchup-sub' });
  const sources = new DbClients(sourceEndpoint, 'spin-elasticache-catchup');
  const targets = new DbClients(targetEndpoint, 'spin-elasticache-catchup');
  const close = () => {
    subscriber.disconnect();
    sources.close();
    targets.close();
  };
  // Coalesce: a key touched many times is copied once per drain of the queue.
  const pending = new Map<string, { db: number; key: Buffer }>();
  let wake: (() => void) | undefined;
  subscriber.on('pmessageBuffer', (_pattern: Buffer, channel: Buffer, message: Buffer) => {
    const text = channel.toString('latin1');
    const match = /^__keyspace@(\d+)__:/.exec(text);
    if (!match) return;
    const key = channel.subarray(match[0].length);
    if (isOwn(key)) return;
    stats.events++;
    void message; // the event name does not matter: we copy the key's current state
    pending.set(`${match[1]}:${key.toString('base64')}`, { db: Number(match[1]), key });
    wake?.();
  });
  try {
    await subscriber.psubscribe('__keyspace@*__:*');
  } catch (error) {
    close();
    throw mapRedisError(error, 'catch-up');
  }
  const run = async (runOptions: Omit<CatchUpOptions, 'skipPrefix'>): Promise<CatchUpStats> => {
    try {
      let lastCheck = 0;
      while (Date.now() < runOptions.until) {
        if (pending.size === 0) await new Promise<void>((resolve) => ((wake = resolve), setTimeout(resolve, 100)));
        wake = undefined;
        // Taken one key at a time, so a long queue never keeps the slice past `until`: what is
        // left waits for the next run (or, after the last one, for the final mirror).
        for (const [id, { db, key }] of [...pending]) {
          if (Date.now() >= runOptions.until) break;
          pending.delete(id);
          const outcome = await syncKey(await sources.get(db), await targets.get(db), key);
          if (outcome === 'copied') stats.copied++;
          else stats.deleted++;
        }
        if (runOptions.shouldStop && Date.now() - lastCheck >= (runOptions.checkEveryMs ?? 1000)) {
          lastCheck = Date.now();
          if (pending.size === 0 && (await runOptions.shouldStop())) {
            stats.stoppedEarly = true;
            break;
          }
        }
      }
      if (runOptions.drainAtEnd) {
        // Every event of a write made before now is in before this PING's reply (same connection, in order).
        await subscriber.ping();
        // What was touched before `until`; events arriving meanwhile are after it and wait.
        for (const [id, { db, key }] of [...pending]) {
          pending.delete(id);
          const outcome = await syncKey(await sources.get(db), await targets.get(db), key);
          if (outcome === 'copied') stats.copied++;
          else stats.deleted++;
        }
      }
    } catch (error) {
      throw mapRedisError(error, 'catch-up');
    }
    stats.ms = Date.now() - started;
    return { ...stats };
  };
  return { run, close };
}

export async function catchUp(sourceEndpoint: RedisEndpoint, targetEndpoint: RedisEndpoint, options: CatchUpOptions): Promise<CatchUpStats> {
  const session = await startCatchUp(sourceEndpoint, targetEndpoint, options.skipPrefix === undefined ? {} : { skipPrefix: options.skipPrefix });
  try {
    return await session.run(options);
  } finally {
    session.close();
  }
}

export interface ForeignClient {
  name: string;
  addr: string;
  idleSeconds: number;
  command: string;
}

/**
 * Sentinel's own links to the servers it monitors, `sentinel-<8 hex of its id>-cmd` and `-pubsub`
 * (sentinel.c `sentinelSetClientName`): they are not Spinnaker.
 */
const SENTINEL_LINK = /^sentinel-[0-9a-f]{8}-(cmd|pubsub)$/;

/** Clients on spin-redis that are not ours, not replicas and not its sentinels: who still talks to it. */
export async function foreignClients(redis: Redis, ownPrefix = 'spin-elasticache'): Promise<ForeignClient[]> {
  const list = (await redis.client('LIST')) as string;
  return list
    .split('\n')
    .filter(Boolean)
    .map((line) => Object.fromEntries(line.split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])) as Record<string, string>)
    .filter(
      (c) => !(c.name ?? '').startsWith(ownPrefix) && !SENTINEL_LINK.test(c.name ?? '') && !(c.flags ?? '').includes('S') && !(c.flags ?? '').includes('M') && c.cmd !== 'sync' && c.cmd !== 'psync',
    )
    .map((c) => ({ name: c.name ?? '', addr: c.addr ?? '', idleSeconds: Number(c.idle ?? 0), command: c.cmd ?? '' }));
}

export interface DrainResult {
  foreignClients: 0;
  checkedAt: string;
}

/** Nothing but us may still talk to the source; else SpinRedisStillInUseError naming who does. */
export async function verifyDrained(sourceEndpoint: RedisEndpoint): Promise<DrainResult> {
  const redis = await connectRedis(sourceEndpoint, { connectionName: 'spin-elasticache-drain' });
  try {
    const clients = await foreignClients(redis);
    if (clients.length > 0) {
      const who = clients.slice(0, 5).map((c) => `${c.name || '(unnamed)'}@${c.addr} idle ${c.idleSeconds}s`);
      throw new SpinRedisStillInUseError(
        `${clients.length} client(s) still connected to spin-redis: ${who.join(', ')}. A Spinnaker service still points at it (check its rollout) or something else uses it.`,
      );
    }
    return { foreignClients: 0, checkedAt: new Date().toISOString() };
  } finally {
    redis.disconnect();
  }
}
