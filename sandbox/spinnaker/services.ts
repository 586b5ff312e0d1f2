/**
 * Small clients that play Spinnaker's Redis users, so that live writes, the drain check and
 * "nothing lost" are real in the sandbox:
 *   - orca keeps writing pipeline executions (the shapes of RedisExecutionRepository) and
 *     finishes some later; it records every execution it wrote and never drops a write;
 *   - gate keeps Spring-Session-like sessions with TTLs and counts expired events; like
 *     Gate it runs CONFIG SET notify-keyspace-events unless redis.configuration.secure;
 *   - igor keeps its last-seen build numbers.
 * Each connects to whatever Redis its Deployment currently points at.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { redisOptions } from '../../lib/redis/connect.js';

export interface RedisTargetConfig {
  url: string;
  password?: string;
  /** gate-local.yml redis.configuration.secure */
  gateSecure: boolean;
}

export type ServiceName = 'orca' | 'gate' | 'igor';

interface Write {
  apply(redis: Redis): Promise<void>;
}

const APPS = ['checkout', 'payments', 'search', 'inventory', 'identity'];

export class SimulatedService {
  private redis?: Redis;
  private subscriber?: Redis;
  target?: RedisTargetConfig;
  private timer?: NodeJS.Timeout;
  private queue: Write[] = [];
  private flushing = false;
  private stopped = false;
  readonly written = new Map<string, string>(); // orca: execution id -> url it was first written to
  failedWrites = 0;
  expiredEvents = 0;
  private seq = 0;
  private readonly running: string[] = [];

  constructor(
    readonly name: ServiceName,
    readonly podName: string,
    private readonly caFile: string | undefined,
    private readonly intervalMs: number,
  ) {}

  /** Connect a client the way the service would; rejects when the service would fail to start. */
  async probe(target: RedisTargetConfig): Promise<Redis> {
    const client = new Redis(
      redisOptions(
        { url: target.url, ...(target.password ? { password: target.password } : {}), ...(this.caFile ? { caFile: this.caFile } : {}) },
        { connectionName: `spin-${this.name}-${this.podName}`, lazyConnect: true, retryStrategy: (n) => Math.min(n * 100, 1000), maxRetriesPerRequest: 1 },
      ),
    );
    client.on('error', () => undefined);
    try {
      await client.connect();
      if (this.name === 'gate' && !target.gateSecure) {
        // What Gate does at start, and why it fails on ElastiCache without `secure: true`.
        await client.config('SET', 'notify-keyspace-events', 'gxE');
      }
      await client.ping();
      return client;
    } catch (error) {
      client.disconnect();
      throw new Error(`Unable to configure Redis to keyspace notifications: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Switch to a new Redis (a new pod became ready with a new config). */
  async attach(client: Redis, target: RedisTargetConfig): Promise<void> {
    const old = this.redis;
    const oldSub = this.subscriber;
    this.redis = client;
    this.target = target;
    if (this.name === 'gate') {
      const sub = client.duplicate({ connectionName: `spin-gate-${this.podName}-sub` });
      sub.on('error', () => undefined);
      sub.on('message', () => this.expiredEvents++);
      await sub.subscribe('__keyevent@0__:expired').catch(() => undefined);
      this.subscriber = sub;
    }
    old?.disconnect();
    oldSub?.disconnect();
    if (!this.timer && !this.stopped) this.timer = setInterval(() => this.tick(), this.intervalMs);
  }

  detach(): void {
    this.redis?.disconnect();
    this.subscriber?.disconnect();
    this.redis = undefined;
    this.subscriber = undefined;
  }

  private tick(): void {
    // No pod, no work (scaled to 0 for the switch): nothing is generated until a pod attaches again.
    if (!this.redis) return;
    const now = Date.now();
    if (this.name === 'orca') {
      const id = `${now.toString(36)}-${(this.seq++).toString(36)}-${randomBytes(3).toString('hex')}`;
      const app = APPS[this.seq % APPS.length]!;
      const configId = `pcfg-${app}-${this.seq % 3}`;
      const kind = this.seq % 4 === 0 ? 'orchestration' : 'pipeline';
      const key = `${kind}:${id}`;
      this.enqueue(async (r) => {
        await r
          .multi()
          .hset(key, 'application', app, 'name', `deploy-${app}`, 'status', 'RUNNING', 'startTime', String(now), 'stage.0.type', 'deploy', 'stage.0.status', 'RUNNING')
          .rpush(`${key}:stageIndex`, `stage-${id}-0`)
          .sadd(`allJobs:${kind}`, id)
          .sadd(`${kind}:app:${app}`, id)
          .zadd(`${kind}:executions:${configId}`, now, id)
          .set(`correlation:${id}`, id)
          .exec();
        if (!this.written.has(key)) this.written.set(key, this.target?.url ?? '');
      });
      this.running.push(key);
      // Finish an older execution: a later write to a key that may have moved meanwhile.
      if (this.running.length > 5) {
        const done = this.running.shift()!;
        this.enqueue(async (r) => void (await r.hset(done, 'status', 'SUCCEEDED', 'endTime', String(Date.now()), 'stage.0.status', 'SUCCEEDED')));
      }
    } else if (this.name === 'gate') {
      const id = randomBytes(8).toString('hex');
      this.enqueue(async (r) => {
        await r
          .multi()
          .hset(`spring:session:sessions:${id}`, 'creationTime', String(now), 'maxInactiveInterval', '2')
          .pexpire(`spring:session:sessions:${id}`, 4000)
          .set(`spring:session:sessions:expires:${id}`, '', 'PX', 2000)
          .exec();
      });
    } else {
      const job = `job-${this.seq++ % 7}`;
      this.enqueue(async (r) => void (await r.hset('igor:builds:last:jenkins', job, String(now))));
    }
  }

  private enqueue(apply: Write['apply']): void {
    this.queue.push({ apply });
    void this.flush();
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0 && this.redis) {
        const write = this.queue[0]!;
        try {
          await write.apply(this.redis);
          this.queue.shift();
        } catch {
          // A Redis going away must not lose an execution: keep it and retry on the current target.
          this.failedWrites++;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  get pendingWrites(): number {
    return this.queue.length;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const deadline = Date.now() + 2000;
    while (this.queue.length > 0 && Date.now() < deadline) await this.flush().then(() => new Promise((r) => setTimeout(r, 20)));
    this.detach();
  }
}
