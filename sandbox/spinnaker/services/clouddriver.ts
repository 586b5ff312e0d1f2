/**
 * Simulated clouddriver, usually the largest Redis tenant:
 *   - caching agents under the default scheduler, following
 *     cats/cats-redis/.../cluster/ClusteredAgentScheduler.java (the lock is the bare agent type,
 *     `SET <agentType> <nodeId> NX PX 300000`, no heartbeat, released by an EVAL that re-sets
 *     the TTL to the next run if still the owner) and cats/cats-redis/.../cache/RedisCache.java
 *     with cats-core's DefaultProviderCache (HMGET the hashes, then one pipeline of SADD
 *     members, MSET of the changed values only, SADD relationship names and HMSET hashes;
 *     the `_ALL_` pseudo-item; evictions: DEL and HDEL hashes and SREM members);
 *   - the task repository, following clouddriver-core/.../data/task/jedis/RedisTaskRepository.java
 *     (HMSET + EXPIRE 43200 `task:`, RPUSH + EXPIRE `taskHistory:`/`taskResult:`, SADD/SREM
 *     `kato:tasks`, SETNX `kato:taskmap:{clientRequestId}`).
 * The cloud it caches is a function of time, so two clouddrivers see the same cloud. Cycles
 * run every 5 s instead of 30 s (sandbox time).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { LedgerOp } from '../ledger.js';
import { APPS, blob, hashRandom, ServiceInstance, type InstanceOptions } from '../services.js';

const PREFIX = 'kubernetes';
const CYCLE_MS = 5000;
const LOCK_TIMEOUT_MS = 300_000;
const TASK_TTL_S = 43_200;
const ITEMS_PER_AGENT = 40;
/** ClusteredAgentScheduler.releaseRunKey's script (EVAL with the text, not EVALSHA). */
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2], 'XX') else return nil end";

export const LIVE_ACCOUNTS = ['sandbox-live-1', 'sandbox-live-2'];
const TYPES = ['pods', 'replicaSets'] as const;

/** The cloud at time t: which items an agent sees and their attributes (changing now and then). */
function inventory(account: string, type: string, t: number): Map<string, string> {
  const epoch = Math.floor(t / CYCLE_MS);
  const items = new Map<string, string>();
  for (let i = 0; i < ITEMS_PER_AGENT; i++) {
    // Each slot's item is replaced every ~20 cycles: evictions and new ids.
    const generation = Math.floor((epoch + i * 7) / 20);
    const name = `${APPS[i % APPS.length]}-${type === 'pods' ? 'pod' : 'rs'}-${i}-g${generation}`;
    const id = `kubernetes.v2:infrastructure:${type === 'pods' ? 'pod' : 'replicaSet'}:${account}:default:${name}`;
    // Attributes change every ~4 cycles (status, restarts).
    const version = Math.floor((epoch + i) / 4);
    const size = 800 + Math.floor(hashRandom(id) * 2500);
    items.set(id, JSON.stringify({ name, account, kind: type, version, status: hashRandom(`${id}:${version}`) < 0.9 ? 'Running' : 'Pending', manifest: blob(id, size) }));
  }
  return items;
}

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

export class ClouddriverInstance extends ServiceInstance {
  private readonly nodeId: string;
  private readonly tasks = new Map<string, { history: string[]; steps: number }>();

  constructor(options: InstanceOptions) {
    super('clouddriver', options);
    this.nodeId = `${options.pod}:1@${options.pod}`; // DefaultNodeIdentity: {hostname}:{pid@host}
  }

  /** HA: clouddriver-caching runs only the agents, clouddriver-rw only the task repository. */
  protected begin(): void {
    const role = this.options.role ?? 'all';
    if (role !== 'tasks') this.every(1000, () => this.schedule());
    if (role !== 'caching') this.every(2000, () => this.taskTick());
  }

  /** ClusteredAgentScheduler: every second, try each agent's lock; run the ones this node got. */
  private async schedule(): Promise<void> {
    for (const account of LIVE_ACCOUNTS) {
      const agentType = `${account}/KubernetesCoreCachingAgent[1/1]`;
      const ok = await this.writeIf(
        [{ op: 'set', key: agentType, value: this.nodeId, ttlMs: LOCK_TIMEOUT_MS }],
        (r) => r.set(agentType, this.nodeId, 'PX', LOCK_TIMEOUT_MS, 'NX'),
        (out) => out === 'OK',
      );
      if (ok !== 'OK') continue;
      try {
        for (const type of TYPES) await this.cache(agentType, account, type);
      } catch {
        this.failures++; // errorInterval is the same 30 s as the interval (here 5 s)
      }
      // The lock doubles as the schedule: it lives until the agent's next run.
      // RELEASE sets nothing once another node owns the key (this run outlasted the lock timeout).
      await this.writeIf(
        [{ op: 'set', key: agentType, value: this.nodeId, ttlMs: CYCLE_MS }],
        (r) => r.eval(RELEASE, 1, agentType, this.nodeId, String(CYCLE_MS)),
        (out) => out === 'OK',
      );
    }
  }

  /** DefaultProviderCache.putCacheResult + RedisCache.mergeItems/evictAll for one type of one agent. */
  private async cache(agentType: string, account: string, type: string): Promise<void> {
    const items = inventory(account, type, Date.now());
    const members = `${PREFIX}:${type}:members`;
    const hashes = `${PREFIX}:${type}:hashes`;
    const relNames = `${PREFIX}:${type}:relationships`;
    const allRel = `${PREFIX}:${type}:relationships:_ALL_:${agentType}`;
    const previous = JSON.parse((await this.redis.get(allRel)) ?? '[]') as string[];
    const ids = [...items.keys()];
    const values = new Map<string, string>();
    for (const [id, attributes] of items) {
      values.set(`${PREFIX}:${type}:attributes:${id}`, attributes);
      values.set(`${PREFIX}:${type}:relationships:${id}:applications:${agentType}`, JSON.stringify([`${PREFIX}:applications:${id.split(':')[4]?.split('-')[0]}`]));
    }
    values.set(`${PREFIX}:${type}:attributes:_ALL_`, JSON.stringify({ id: '_ALL_' }));
    values.set(allRel, JSON.stringify(ids));
    const keys = [...values.keys()];
    await this.redis.exists(`${hashes}.disabled`);
    const stored = await this.redis.hmget(hashes, ...keys);
    const changed = keys.filter((k, i) => stored[i] !== sha1(values.get(k)!));
    const msetArgs = changed.flatMap((k) => [k, values.get(k)!]);
    const newHashes = Object.fromEntries(changed.map((k) => [k, sha1(values.get(k)!)]));
    const ops: LedgerOp[] = [
      { op: 'sadd', key: members, members: [...ids, '_ALL_'] },
      ...changed.map((k): LedgerOp => ({ op: 'set', key: k, value: values.get(k)! })),
      { op: 'sadd', key: relNames, members: [`applications:${agentType}`, agentType] },
      ...(changed.length ? [{ op: 'hset', key: hashes, fields: newHashes } as LedgerOp] : []),
    ];
    await this.write(ops, (r) => {
      const p = r.pipeline().sadd(members, ...ids, '_ALL_');
      if (msetArgs.length) p.mset(...msetArgs);
      p.sadd(relNames, `applications:${agentType}`, agentType);
      if (changed.length) p.hmset(hashes, newHashes);
      return ServiceInstance.exec(p);
    });
    // evictAll: ids the agent had last cycle and no longer sees.
    const gone = previous.filter((id) => !items.has(id));
    if (gone.length) {
      const dead = gone.flatMap((id) => [`${PREFIX}:${type}:attributes:${id}`, `${PREFIX}:${type}:relationships:${id}:applications:${agentType}`]);
      await this.write([...dead.map((key): LedgerOp => ({ op: 'del', key })), { op: 'hdel', key: hashes, fields: dead }, { op: 'srem', key: members, members: gone }], (r) =>
        ServiceInstance.exec(
          r
            .pipeline()
            .del(...dead)
            .hdel(hashes, ...dead)
            .srem(members, ...gone),
        ),
      );
    }
  }

  /** Orca asked for an operation: a task moves through a few statuses, then completes. */
  private async taskTick(): Promise<void> {
    const now = Date.now();
    const id = randomUUID();
    const requestId = `${id.slice(0, 8)}-req`;
    const task = { id, startTimeMs: String(now), ownerId: this.nodeId, sagaIds: '[]' };
    const first = JSON.stringify({ phase: 'ORCHESTRATION', status: 'Initializing Orchestration Task', state: 'STARTED' });
    await this.write(
      [
        { op: 'hset', key: `task:${id}`, fields: task },
        { op: 'expire', key: `task:${id}`, ttlMs: TASK_TTL_S * 1000 },
        { op: 'sadd', key: 'kato:tasks', members: [id] },
        { op: 'set', key: `kato:taskmap:${requestId}`, value: id },
        { op: 'list', key: `taskHistory:${id}`, items: [first] },
        { op: 'expire', key: `taskHistory:${id}`, ttlMs: TASK_TTL_S * 1000 },
      ],
      async (r) => {
        await r.hmset(`task:${id}`, task);
        await r.expire(`task:${id}`, TASK_TTL_S);
        await r.sadd('kato:tasks', id);
        await r.setnx(`kato:taskmap:${requestId}`, id);
        await r.rpush(`taskHistory:${id}`, first);
        await r.expire(`taskHistory:${id}`, TASK_TTL_S);
      },
    );
    this.tasks.set(id, { history: [first], steps: 0 });
    for (const [tid, t] of [...this.tasks]) {
      if (tid === id) continue;
      t.steps++;
      const done = t.steps >= 3;
      const entry = JSON.stringify({ phase: 'DEPLOY', status: done ? 'Orchestration completed.' : `Deploying step ${t.steps}`, state: done ? 'COMPLETED' : 'RUNNING' });
      t.history.push(entry);
      this.tasks.delete(tid); // re-added below unless done or failed
      await this.write(
        [
          { op: 'list', key: `taskHistory:${tid}`, items: [...t.history] },
          { op: 'expire', key: `taskHistory:${tid}`, ttlMs: TASK_TTL_S * 1000 },
          ...(done
            ? ([
                { op: 'srem', key: 'kato:tasks', members: [tid] },
                { op: 'list', key: `taskResult:${tid}`, items: ['{"manifestNamesByNamespace":{}}'] },
                { op: 'expire', key: `taskResult:${tid}`, ttlMs: TASK_TTL_S * 1000 },
              ] satisfies LedgerOp[])
            : []),
        ],
        async (r) => {
          await r.rpush(`taskHistory:${tid}`, entry);
          await r.expire(`taskHistory:${tid}`, TASK_TTL_S);
          if (done) {
            await r.srem('kato:tasks', tid);
            await r.rpush(`taskResult:${tid}`, '{"manifestNamesByNamespace":{}}');
            await r.expire(`taskResult:${tid}`, TASK_TTL_S);
          }
        },
      );
      if (!done) this.tasks.set(tid, t);
    }
  }
}
