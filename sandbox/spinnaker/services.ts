/**
 * The simulated Spinnaker services that use Redis: one `ServiceInstance` per Ready pod, bound
 * for its whole life to the Redis its pod template points at (as a real pod: a new config
 * means a new pod). Each service lives in ./services/<name>.ts and names the real source it
 * follows; this file holds what they share:
 *   - connecting as the service does (connection name `spin-<service>-<pod>`, AUTH, TLS), and
 *     failing start-up (the pod is not Ready) when it cannot, as a real service crash-loops;
 *   - loops that survive connection errors (a failed tick is retried on the next one);
 *   - `write(ops, fn, applied?)`: run Redis commands and record them in the write ledger, as
 *     certain when Redis answered (only what the reply says a script did), as "maybe applied"
 *     when the call failed;
 *   - the outside world the services poll (cloud inventory, Jenkins builds, Pub/Sub
 *     messages, users and roles), a function of time so that two instances agree on it.
 *
 * Every command used works on Redis 3.2: HMSET (not multi-field HSET), DEL (not UNLINK),
 * SET with EX/PX/NX only, no streams, and scripts that are deterministic (3.2 and 4.0
 * replicate whole scripts).
 */
import { Redis, type ChainableCommander } from 'ioredis';
import { redisOptions } from '../../lib/redis/connect.js';
import type { LedgerOp, WriteLedger } from './ledger.js';

export interface RedisTargetConfig {
  url: string;
  password?: string;
  /** gate-local.yml redis.configuration.secure */
  gateSecure: boolean;
  /** echo's redis.enabled (false: echo opens no Redis connection and refuses Pub/Sub messages). */
  redisEnabled?: boolean;
}

export type ServiceName = 'orca' | 'clouddriver' | 'gate' | 'igor' | 'fiat' | 'echo' | 'rosco';

/** clouddriver's part: `caching` (CATS agents only, HA clouddriver-caching), `tasks` (task repository only, HA clouddriver-rw), `all`. */
export type ClouddriverRole = 'all' | 'caching' | 'tasks';

export interface InstanceOptions {
  pod: string;
  target: RedisTargetConfig;
  caFile?: string;
  ledger: WriteLedger;
  /** Multiplies every interval (2 = half the traffic). */
  slowdown?: number;
  /** keiko's ack timeout (orca); 60 s as in RedisQueueProperties unless a test shortens it. */
  ackTimeoutMs?: number;
  /** clouddriver only: which of its Redis users this pod runs (HA sub-services). */
  role?: ClouddriverRole;
}

/** A command failed inside MULTI/EXEC or a pipeline. */
export class SimulatedWriteError extends Error {
  override readonly name = 'SimulatedWriteError';
}

export abstract class ServiceInstance {
  protected redis!: Redis;
  readonly url: string;
  stopped = false;
  failures = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  protected readonly ledger: WriteLedger;
  protected readonly slowdown: number;

  constructor(
    readonly service: ServiceName,
    protected readonly options: InstanceOptions,
  ) {
    this.url = options.target.url;
    this.ledger = options.ledger;
    this.slowdown = options.slowdown ?? 1;
  }

  get pod(): string {
    return this.options.pod;
  }

  /** Connect as the service does at start-up; rejects when it could not start (the pod stays not Ready). */
  async start(): Promise<void> {
    const { target, caFile, pod } = this.options;
    const client = new Redis(
      redisOptions(
        { url: target.url, ...(target.password ? { password: target.password } : {}), ...(caFile ? { caFile } : {}) },
        { connectionName: `spin-${this.service}-${pod}`, lazyConnect: true, retryStrategy: (n) => Math.min(n * 200, 2000), maxRetriesPerRequest: 1, enableOfflineQueue: false },
      ),
    );
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      this.redis = client;
      await this.onStart(client);
    } catch (error) {
      this.onStop();
      client.disconnect();
      throw error;
    }
    if (this.stopped) {
      // Deleted while it was starting: what onStart opened (gate's subscriber) goes too.
      this.onStop();
      client.disconnect();
      return;
    }
    this.ledger.instance('start', this.service, pod, this.url);
    this.begin();
  }

  /** The pod is deleted: SIGTERM, no drain (kork's NoDiscoveryStatusPublisher publishes nothing on shutdown). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.onStop();
    if (this.redis) {
      this.redis.disconnect();
      this.ledger.instance('stop', this.service, this.options.pod, this.url);
    }
  }

  /** Start-up checks beyond PING (gate's CONFIG SET, orca's SCRIPT LOAD). */
  protected async onStart(_redis: Redis): Promise<void> {}
  protected onStop(): void {}
  /** Start the service's loops. */
  protected abstract begin(): void;

  /** Run `fn` every `ms` (fixed delay, like Spring's @Scheduled(fixedDelay)); a failed run is retried next time. */
  protected every(ms: number, fn: () => Promise<unknown>, firstDelayMs = Math.random() * ms): void {
    const run = async () => {
      if (this.stopped) return;
      try {
        await fn();
      } catch {
        this.failures++;
      }
      this.after(ms * this.slowdown, run);
    };
    this.after(firstDelayMs * this.slowdown, run);
  }

  protected after(ms: number, fn: () => unknown): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) void Promise.resolve(fn()).catch(() => this.failures++);
    }, ms);
    this.timers.add(t);
  }

  /**
   * Run commands whose effects are `ops`, and record them in the ledger. A script that decides
   * what it writes (rosco's storeNewBakeStatus returns early when it lost the race for a bake; a
   * lock release only extends a lock it still owns) names, from its reply, the effects it had:
   * `applied`. A failed call records all of `ops` as maybe applied (a script runs whole or not
   * at all, and each op of a branch not taken is then simply not applied).
   */
  protected async write<T>(ops: LedgerOp[], fn: (redis: Redis) => Promise<T>, applied?: (out: T) => LedgerOp[]): Promise<T> {
    if (this.stopped) throw new SimulatedWriteError(`${this.options.pod} is stopped`);
    const t0 = Date.now();
    try {
      const out = await fn(this.redis);
      this.ledger.record(this.url, applied ? applied(out) : ops, t0);
      return out;
    } catch (error) {
      this.ledger.maybe(this.url, ops, t0);
      throw error;
    }
  }

  /** `write` for a command that writes all of `ops` or nothing (SET NX, a lock release that checks its owner): `wrote` reads which from the reply. */
  protected writeIf<T>(ops: LedgerOp[], fn: (redis: Redis) => Promise<T>, wrote: (out: T) => boolean): Promise<T> {
    return this.write(ops, fn, (out) => (wrote(out) ? ops : []));
  }

  /** EXEC a MULTI (or a pipeline) and fail if any command in it failed. */
  protected static async exec(batch: ChainableCommander): Promise<unknown[]> {
    const results = await batch.exec();
    if (!results) throw new SimulatedWriteError('EXEC aborted');
    for (const [error] of results) if (error) throw error;
    return results.map(([, value]) => value);
  }

  protected sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }
}

/** mulberry32 over a string seed: the outside world's "random" facts, identical in every instance. */
export function hashRandom(seed: string): number {
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619);
  let a = h >>> 0;
  a = (a + 0x6d2b79f5) >>> 0;
  let t = a;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

export const APPS = ['checkout', 'payments', 'search', 'inventory', 'identity', 'billing', 'catalog', 'shipping', 'ledger', 'notifications'];

/** A JSON blob of about `bytes` bytes (stage contexts, cache attributes), deterministic per seed. */
export function blob(seed: string, bytes: number): string {
  const unit = `${seed.replace(/[^A-Za-z0-9:-]/g, '')}-lorem-ipsum-manifest-line `;
  return unit.repeat(Math.max(1, Math.ceil(bytes / unit.length))).slice(0, bytes);
}

/** A Java-serialised value as Spring Session stores it (JdkSerializationRedisSerializer): 0xACED0005 then the payload. */
export function javaSerialized(payload: string): Buffer {
  return Buffer.concat([Buffer.from([0xac, 0xed, 0x00, 0x05]), Buffer.from(payload)]);
}
