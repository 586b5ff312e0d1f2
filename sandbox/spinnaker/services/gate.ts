/**
 * Simulated gate: Spring Session 2.7's RedisIndexedSessionRepository and
 * RedisSessionExpirationPolicy as gate-web/.../config/RedisConfig.java configures them, and
 * gate-web/.../config/PostConnectionConfiguringJedisConnectionFactory.java at start-up
 * (CONFIG GET/SET notify-keyspace-events unless redis.configuration.secure, which is why
 * gate cannot start on ElastiCache without `secure: true`).
 *   - Per request (flush mode ON_SAVE, no MULTI): HMSET the session delta (Java-serialised
 *     values), SADD/EXPIRE `expirations:{minute}`, APPEND ""/EXPIRE `sessions:expires:{id}`,
 *     EXPIRE the session hash (maxInactive + 300 s);
 *   - on login: RENAME of both session keys (the session-id change) and SADD to the principal index;
 *   - on the `expired` event of `sessions:expires:{id}`: SREM from the principal index;
 *   - every minute: SMEMBERS + DEL of the previous minute's set, then EXISTS on each member.
 * maxInactiveInterval is 20 s instead of 3600 s (sandbox time), so sessions expire during a run.
 */
import type { Redis } from 'ioredis';
import type { LedgerOp } from '../ledger.js';
import { javaSerialized, ServiceInstance, type InstanceOptions } from '../services.js';

const NS = 'spring:session';
const MAX_INACTIVE_S = 20;
const INDEX = `${NS}:index:org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME`;
const USERS = 25;

/** The browsers: each user's session cookie, whichever gate pod served it (the outside world, shared by all gate pods). */
const cookies = new Map<string, string>();
const roundUpToMinute = (t: number) => Math.ceil(t / 60_000) * 60_000;

/** Gate's start-up action, ConfigureNotifyKeyspaceEventsAction; a rejected CONFIG makes the pod crash-loop. */
export class GateConfigError extends Error {
  override readonly name = 'GateConfigError';
}

export class GateInstance extends ServiceInstance {
  expiredEvents = 0;
  private subscriber?: Redis;
  private readonly expiryOf = new Map<string, number>();

  constructor(options: InstanceOptions) {
    super('gate', options);
  }

  protected override async onStart(redis: Redis): Promise<void> {
    if (!this.options.target.gateSecure) {
      try {
        const [, current = ''] = (await redis.config('GET', 'notify-keyspace-events')) as string[];
        if (!(current.includes('E') && ((current.includes('g') && current.includes('x')) || current.includes('A')))) await redis.config('SET', 'notify-keyspace-events', `${current}Egx`);
      } catch (error) {
        throw new GateConfigError(`Unable to configure Redis to keyspace notifications: ${(error as Error).message}`, { cause: error });
      }
    }
    const sub = redis.duplicate({ connectionName: `spin-gate-${this.pod}-sub` });
    this.subscriber = sub; // before any await: a stop meanwhile must close it
    sub.on('error', () => undefined);
    sub.on('message', (_channel: string, key: string) => {
      this.expiredEvents++;
      void this.onExpired(key).catch(() => this.failures++);
    });
    await sub.subscribe('__keyevent@0__:expired', '__keyevent@0__:del').catch(() => undefined);
  }

  protected override onStop(): void {
    this.subscriber?.disconnect();
  }

  protected begin(): void {
    this.every(400, () => this.request());
    this.every(10_000, () => this.cleanup());
  }

  private async request(): Promise<void> {
    const user = `user${Math.floor(Math.random() * USERS)}@example.com`;
    const now = Date.now();
    let id = cookies.get(user);
    const key = (sid: string) => `${NS}:sessions:${sid}`;
    if (id && !(await this.redis.exists(key(id)))) id = undefined; // this gate's Redis does not know the session: log in again
    if (!id) {
      // A new anonymous session, then the login changes its id (RENAME) and indexes the principal.
      const anon = crypto.randomUUID();
      const fields = { creationTime: javaSerialized(String(now)), maxInactiveInterval: javaSerialized(String(MAX_INACTIVE_S)), lastAccessedTime: javaSerialized(String(now)) };
      await this.write([{ op: 'hset', key: key(anon), fields }], (r) => r.hmset(key(anon), fields));
      await this.redis.publish(`${NS}:event:0:created:${anon}`, 'created');
      await this.saveExpiry(anon, now);
      id = crypto.randomUUID();
      const next = id;
      const context = { 'sessionAttr:SPRING_SECURITY_CONTEXT': javaSerialized(`principal=${user}`) };
      await this.write(
        [
          { op: 'rename', from: key(anon), to: key(next) },
          { op: 'rename', from: `${NS}:sessions:expires:${anon}`, to: `${NS}:sessions:expires:${next}` },
          { op: 'hset', key: key(next), fields: context },
          { op: 'sadd', key: `${INDEX}:${user}`, members: [next] },
        ],
        async (r) => {
          await r.rename(key(anon), key(next));
          await r.rename(`${NS}:sessions:expires:${anon}`, `${NS}:sessions:expires:${next}`);
          await r.hmset(key(next), context);
          await r.sadd(`${INDEX}:${user}`, next);
        },
      );
      this.expiryOf.set(next, this.expiryOf.get(anon) ?? 0);
      cookies.set(user, next);
    }
    const delta = { lastAccessedTime: javaSerialized(String(now)) };
    await this.write([{ op: 'hset', key: key(id), fields: delta }], (r) => r.hmset(key(id), delta));
    await this.saveExpiry(id, now);
    // Some users walk away: their session expires after maxInactiveInterval.
    if (Math.random() < 0.05) cookies.delete(user);
  }

  /** RedisSessionExpirationPolicy.onExpirationUpdated. */
  private async saveExpiry(id: string, now: number): Promise<void> {
    const minute = roundUpToMinute(now + MAX_INACTIVE_S * 1000);
    const previous = this.expiryOf.get(id);
    const setKey = (m: number) => `${NS}:expirations:${m}`;
    const member = `expires:${id}`;
    const ops: LedgerOp[] = [
      ...(previous && previous !== minute ? [{ op: 'srem', key: setKey(previous), members: [member] } as LedgerOp] : []),
      { op: 'sadd', key: setKey(minute), members: [member] },
      { op: 'expire', key: setKey(minute), ttlMs: (MAX_INACTIVE_S + 300) * 1000 },
      { op: 'set', key: `${NS}:sessions:expires:${id}`, value: '', ttlMs: MAX_INACTIVE_S * 1000 },
      { op: 'expire', key: `${NS}:sessions:${id}`, ttlMs: (MAX_INACTIVE_S + 300) * 1000 },
    ];
    await this.write(ops, async (r) => {
      if (previous && previous !== minute) await r.srem(setKey(previous), member);
      await r.sadd(setKey(minute), member);
      await r.expire(setKey(minute), MAX_INACTIVE_S + 300);
      await r.append(`${NS}:sessions:expires:${id}`, '');
      await r.expire(`${NS}:sessions:expires:${id}`, MAX_INACTIVE_S);
      await r.expire(`${NS}:sessions:${id}`, MAX_INACTIVE_S + 300);
    });
    this.expiryOf.set(id, minute);
  }

  /** onMessage for an expired `sessions:expires:{id}`: the session is gone; clean the principal index. */
  private async onExpired(key: string): Promise<void> {
    const m = /^spring:session:sessions:expires:(.+)$/.exec(key);
    if (!m || this.stopped) return;
    const id = m[1]!;
    const context = await this.redis.hgetBuffer(`${NS}:sessions:${id}`, 'sessionAttr:SPRING_SECURITY_CONTEXT');
    const principal = context ? /principal=(.+)$/.exec(context.subarray(4).toString())?.[1] : undefined;
    if (principal) await this.write([{ op: 'srem', key: `${INDEX}:${principal}`, members: [id] }], (r) => r.srem(`${INDEX}:${principal}`, id));
  }

  /** RedisSessionExpirationPolicy.cleanExpiredSessions, on every gate instance. */
  private async cleanup(): Promise<void> {
    const previous = `${NS}:expirations:${roundUpToMinute(Date.now()) - 60_000}`;
    const members = await this.redis.smembers(previous);
    await this.write([{ op: 'del', key: previous }], (r) => r.del(previous));
    for (const member of members) await this.redis.exists(`${NS}:sessions:${member}`);
  }
}
