/**
 * Simulated orca: the keiko work queue and the execution repository.
 *   - Queue: follows orca keiko-redis/src/main/kotlin/com/netflix/spinnaker/q/redis/RedisQueue.kt
 *     (push: ZRANK dedupe on the queue zset, then MULTI HSET messages + ZADD queue, or ZADD XX;
 *     poll: one EVALSHA of the read-with-lock script, loaded by SCRIPT LOAD, reloaded on
 *     NOSCRIPT, then HSET of the message with attempts+1; ack: MULTI, the short form when a
 *     re-pushed copy is queued; retry(): every 10 s on every instance, redelivers unacked
 *     entries past their ack timeout) and keiko-core/.../QueueProcessor.kt (poll every 50 ms,
 *     ack after the handler returns, a bounded handler pool).
 *   - Executions: follows orca-redis/.../pipeline/persistence/jedis/RedisExecutionRepository.java
 *     (store, storeStage, updateStageContext, updateStatus, delete) with the buffered sets named
 *     from orca.yml's queue name, and orca-redis/.../telemetry/RedisActiveExecutionsMonitor.kt.
 * Timings are the real ones except where the sandbox compresses time (launch rate, handler work).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { LedgerOp } from '../ledger.js';
import { APPS, blob, hashRandom, ServiceInstance, type InstanceOptions } from '../services.js';

export const QUEUE = 'orca.task.queue';
const Q = { queue: `${QUEUE}.queue`, unacked: `${QUEUE}.unacked`, messages: `${QUEUE}.messages`, attempts: `${QUEUE}.attempts`, locks: `${QUEUE}.locks` };
const BUFFERED = (type: string) => `${QUEUE}:buffered:${type}`;
const LOCK_VALUE = 'uD83DuDD12'; // the Kotlin "\uD83D\uDD12" after Lua 5.1 reads its unknown \u escape
const LOCK_TTL_S = 10;
const POLL_MS = 50;
const RETRY_MS = 10_000;
const HANDLER_THREADS = 4;
const LAUNCH_EVERY_MS = 1500;

/**
 * READ_MESSAGE_WITH_LOCK_SRC as described in RedisQueue.kt: peek 10 due fingerprints, lock the
 * first one free (SET NX EX), move it from queue to unacked and return it with its JSON.
 * Deterministic (ZRANGEBYSCORE is ordered), so Redis 3.2/4.0 can replicate it whole.
 */
export const READ_MESSAGE_WITH_LOCK = `
local queueKey, unackedKey, lockKey, messagesKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local maxScore, peekCount, lockTtl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local unackDefaultScore, unackBaseScore = ARGV[4], tonumber(ARGV[5])
local ready = redis.call('ZRANGEBYSCORE', queueKey, 0.0, maxScore, 'WITHSCORES', 'LIMIT', 0, peekCount)
if #ready == 0 then return 'NoReadyMessages' end
for i = 1, #ready, 2 do
  local fingerprint, score = ready[i], ready[i + 1]
  redis.call('ECHO', 'attempting lock on ' .. fingerprint)
  if redis.call('SET', lockKey .. ':' .. fingerprint, '${LOCK_VALUE}', 'EX', lockTtl, 'NX') then
    redis.call('ECHO', 'acquired lock on ' .. fingerprint)
    local message = redis.call('HGET', messagesKey, fingerprint)
    local unackScore = unackDefaultScore
    if message then
      local ok, decoded = pcall(cjson.decode, message)
      if ok and type(decoded) == 'table' and tonumber(decoded['ackTimeoutMs']) then
        unackScore = (string.gsub(string.format('%.12E', unackBaseScore + tonumber(decoded['ackTimeoutMs'])), '+', ''))
      end
    end
    redis.call('ZREM', queueKey, fingerprint)
    redis.call('ZADD', unackedKey, unackScore, fingerprint)
    return {fingerprint, score, message}
  end
end
return 'AcquireLockFailed'
`;

export interface KeikoMessage {
  kind: 'startExecution' | 'startStage' | 'runTask' | 'completeTask' | 'completeStage' | 'completeExecution';
  executionType: 'PIPELINE' | 'ORCHESTRATION';
  executionId: string;
  application: string;
  stageId?: string;
  taskId?: string;
  taskType?: string;
  attributes?: { kind: 'attempts'; attempts: number }[];
}

/** hashV2 of AbstractRedisQueue.kt: the message without attributes, keys sorted, "v2:" prefixed (sha-256 here instead of murmur3_128: same role, same width). */
export function fingerprint(message: KeikoMessage): string {
  const { attributes: _attributes, ...rest } = message;
  const sorted = Object.fromEntries(Object.entries(rest).sort(([a], [b]) => a.localeCompare(b)));
  return createHash('sha256')
    .update(`v2:${JSON.stringify(sorted)}`)
    .digest('hex')
    .slice(0, 32);
}

const withAttempts = (message: KeikoMessage, attempts: number): KeikoMessage => ({ ...message, attributes: [{ kind: 'attempts', attempts }] });
const attemptsOf = (message: KeikoMessage) => message.attributes?.find((a) => a.kind === 'attempts')?.attempts ?? 0;

export class OrcaInstance extends ServiceInstance {
  private sha = '';
  private busy = 0;
  private seq = 0;
  readonly executionsWritten = new Set<string>();
  processed = 0;

  constructor(options: InstanceOptions) {
    super('orca', options);
  }

  protected override async onStart(redis: Redis): Promise<void> {
    this.sha = (await redis.script('LOAD', READ_MESSAGE_WITH_LOCK)) as string;
  }

  protected begin(): void {
    this.every(POLL_MS, () => this.pollCycle(), 0);
    this.every(RETRY_MS, () => this.retry());
    this.every(LAUNCH_EVERY_MS, () => this.launch());
    this.every(5000, () => this.cleanupOne());
  }

  private get ackTimeoutMs(): number {
    return this.options.ackTimeoutMs ?? 60_000;
  }

  // ---- the queue (RedisQueue.kt) ----

  async push(message: KeikoMessage, delayMs = 0): Promise<void> {
    const fp = fingerprint(message);
    const score = Date.now() + delayMs;
    if ((await this.redis.zrank(Q.queue, fp)) !== null) {
      // MessageDuplicate: re-prioritise the queued copy. ZADD XX may find it polled meanwhile: recorded as maybe.
      this.ledger.maybe(this.url, [{ op: 'zadd', key: Q.queue, members: [[score, fp]] }], Date.now());
      await this.redis.zadd(Q.queue, 'XX', score, fp);
      this.ledger.push(fp, false);
      return;
    }
    const json = JSON.stringify(message.attributes ? message : withAttempts(message, 0));
    await this.write(
      [
        { op: 'hset', key: Q.messages, fields: { [fp]: json } },
        { op: 'zadd', key: Q.queue, members: [[score, fp]] },
      ],
      (r) => ServiceInstance.exec(r.multi().hset(Q.messages, fp, json).zadd(Q.queue, score, fp)),
    );
    this.ledger.push(fp, true);
  }

  private async evalPoll(now: number): Promise<unknown> {
    const args = [Q.queue, Q.unacked, Q.locks, Q.messages, String(now), '10', String(LOCK_TTL_S), (now + this.ackTimeoutMs).toFixed(6), String(now)];
    try {
      return await this.redis.evalsha(this.sha, 4, ...args);
    } catch (error) {
      if (!/NOSCRIPT/.test(String(error))) throw error;
      // A Redis that lost its script cache (a restart, a failover, a new server): load it again.
      this.sha = (await this.redis.script('LOAD', READ_MESSAGE_WITH_LOCK)) as string;
      return this.redis.evalsha(this.sha, 4, ...args);
    }
  }

  /** One QueueProcessor tick: poll while handler threads are free (fillExecutorEachCycle). */
  private async pollCycle(): Promise<void> {
    while (!this.stopped && this.busy < HANDLER_THREADS) {
      const now = Date.now();
      let reply: unknown;
      try {
        reply = await this.evalPoll(now);
      } catch (error) {
        // The script may have run with its reply lost (the pod deleted, the connection cut): any
        // ready message may have moved from the queue to unacked under a lock.
        // (Redis runs a script to its end whatever happens to the client that sent it: redis/src/script.c;
        // keiko's poll is keiko-redis/.../RedisQueue.kt readMessageWithLock.)
        const members = this.ledger.liveMembers(Q.queue);
        if (members.length > 0) {
          this.ledger.maybe(
            this.url,
            [
              { op: 'zrem', key: Q.queue, members },
              { op: 'zadd', key: Q.unacked, members: members.map((m): [number, string] => [now + this.ackTimeoutMs, m]) },
              ...members.map((m) => ({ op: 'set' as const, key: `${Q.locks}:${m}`, value: LOCK_VALUE, ttlMs: LOCK_TTL_S * 1000 })),
            ],
            now,
          );
        }
        throw error;
      }
      this.ledger.poll();
      if (!Array.isArray(reply)) return; // NoReadyMessages / AcquireLockFailed
      const [fp, , json] = reply as [string, string, string | null];
      this.ledger.record(
        this.url,
        [
          { op: 'set', key: `${Q.locks}:${fp}`, value: LOCK_VALUE, ttlMs: LOCK_TTL_S * 1000 },
          { op: 'zrem', key: Q.queue, members: [fp] },
          { op: 'zadd', key: Q.unacked, members: [[now + this.ackTimeoutMs, fp]] },
        ],
        now,
      );
      if (json === null) {
        await this.ack(fp, false);
        continue;
      }
      const message = JSON.parse(json) as KeikoMessage;
      const next = JSON.stringify(withAttempts(message, attemptsOf(message) + 1));
      await this.write([{ op: 'hset', key: Q.messages, fields: { [fp]: next } }], (r) => r.hset(Q.messages, fp, next));
      this.busy++;
      void this.handle(message)
        .then(() => this.ack(fp, true))
        .catch(() => this.failures++) // not acked: retry() redelivers it after the ack timeout
        .finally(() => this.busy--);
    }
  }

  private async ack(fp: string, processed: boolean): Promise<void> {
    try {
      await this.ackInRedis(fp);
    } catch (error) {
      // The EXEC may have run with its reply lost (the pod deleted meanwhile).
      if (processed) this.ledger.ackMaybe(fp);
      throw error;
    }
    if (processed) {
      this.processed++;
      this.ledger.ack(fp, this.pod);
    }
  }

  private async ackInRedis(fp: string): Promise<void> {
    const lock = `${Q.locks}:${fp}`;
    if ((await this.redis.zrank(Q.queue, fp)) !== null) {
      await this.write(
        [
          { op: 'zrem', key: Q.unacked, members: [fp] },
          { op: 'del', key: lock },
        ],
        (r) => ServiceInstance.exec(r.multi().zrem(Q.unacked, fp).del(lock)),
      );
    } else {
      await this.write(
        [
          { op: 'zrem', key: Q.queue, members: [fp] },
          { op: 'zrem', key: Q.unacked, members: [fp] },
          { op: 'hdel', key: Q.messages, fields: [fp] },
          { op: 'del', key: lock },
          { op: 'hdel', key: Q.attempts, fields: [fp] },
        ],
        (r) => ServiceInstance.exec(r.multi().zrem(Q.queue, fp).zrem(Q.unacked, fp).hdel(Q.messages, fp).del(lock).hdel(Q.attempts, fp)),
      );
    }
  }

  /** retry(): unacked entries past their deadline go back on the queue, attempts + 1. */
  private async retry(): Promise<void> {
    const now = Date.now();
    const fps = await this.redis.zrangebyscore(Q.unacked, 0, now);
    if (fps.length === 0) return;
    const locks = fps.map((fp) => `${Q.locks}:${fp}`);
    await this.write(
      locks.map((key) => ({ op: 'del', key })),
      (r) => r.del(...locks),
    );
    for (const fp of fps) {
      const inQueue = (await this.redis.zrank(Q.queue, fp)) !== null;
      const t0 = Date.now();
      const ops: LedgerOp[] = [
        { op: 'zrem', key: Q.unacked, members: [fp] },
        { op: 'zadd', key: Q.queue, members: [[t0, fp]] },
      ];
      try {
        let attempts: number;
        if (inQueue) {
          const out = await ServiceInstance.exec(this.redis.multi().zrem(Q.unacked, fp).zadd(Q.queue, t0, fp).hincrby(Q.attempts, fp, 1));
          attempts = Number(out[2]);
        } else {
          attempts = await this.redis.hincrby(Q.attempts, fp, 1);
          await ServiceInstance.exec(this.redis.multi().zrem(Q.unacked, fp).zadd(Q.queue, t0, fp));
        }
        this.ledger.record(this.url, [...ops, { op: 'hset', key: Q.attempts, fields: { [fp]: String(attempts) } }], t0);
      } catch (error) {
        this.ledger.maybe(this.url, [...ops, { op: 'touch', key: Q.attempts }], t0);
        throw error;
      }
    }
  }

  // ---- the handlers (orca-queue's *Handler.kt), writing through RedisExecutionRepository ----

  private async handle(message: KeikoMessage): Promise<void> {
    await this.sleep(20 + Math.random() * 80); // the handler's own work
    const type = message.executionType === 'PIPELINE' ? 'pipeline' : 'orchestration';
    const key = `${type}:${message.executionId}`;
    // retrieve(): the handler reads the execution it works on (HGET startTime, as updateStatus does).
    const [status] = await this.redis.hmget(key, 'status', 'startTime');
    if (status === null) return; // ExecutionNotFoundException: the handler logs it and the message is acked
    const now = Date.now();
    switch (message.kind) {
      case 'startExecution': {
        await this.updateStatus(type, message.executionId, 'RUNNING');
        const json = JSON.stringify({ id: message.executionId, type: message.executionType, application: message.application });
        await this.write([{ op: 'hset', key: 'monitor.active-executions', fields: { [message.executionId]: json } }], (r) => r.hset('monitor.active-executions', message.executionId, json));
        const [first] = await this.redis.lrange(`${key}:stageIndex`, 0, 0);
        if (first) await this.push({ ...base(message), kind: 'startStage', stageId: first });
        return;
      }
      case 'startStage':
        await this.storeStage(key, message.stageId!, { status: 'RUNNING', startTime: String(now) });
        await this.push({ ...base(message), kind: 'runTask', stageId: message.stageId!, taskId: '1', taskType: 'com.netflix.spinnaker.orca.clouddriver.tasks.manifest.DeployManifestTask' });
        return;
      case 'runTask': {
        // updateStageContext: the most frequent write while tasks run (KBs; a few executions carry MBs).
        const big = hashRandom(`${message.executionId}:big`) < 0.03;
        const context = JSON.stringify({
          account: 'prod',
          'deploy.server.groups': { 'us-east-1': [`${message.application}-v0${(this.seq++ % 9) + 1}`] },
          manifest: blob(message.stageId!, big ? 900_000 : 1000 + Math.floor(hashRandom(message.stageId!) * 4000)),
        });
        const field = `stage.${message.stageId}.context`;
        await this.write([{ op: 'hset', key, fields: { [field]: context } }], (r) => r.hset(key, field, context));
        // RunTaskHandler: a RUNNING task re-pushes its own message with its backoff (same fingerprint).
        if (Math.random() < 0.5) await this.push(message, 300 + Math.random() * 700);
        else await this.push({ ...base(message), kind: 'completeTask', stageId: message.stageId!, taskId: message.taskId! });
        return;
      }
      case 'completeTask':
        await this.storeStage(key, message.stageId!, { tasks: JSON.stringify([{ id: '1', name: 'deployManifest', status: 'SUCCEEDED', endTime: now }]) });
        await this.push({ ...base(message), kind: 'completeStage', stageId: message.stageId! });
        return;
      case 'completeStage': {
        await this.storeStage(key, message.stageId!, { status: 'SUCCEEDED', endTime: String(now) });
        const stages = await this.redis.lrange(`${key}:stageIndex`, 0, -1);
        const next = stages[stages.indexOf(message.stageId!) + 1];
        await this.push(next ? { ...base(message), kind: 'startStage', stageId: next } : { ...base(message), kind: 'completeExecution' });
        return;
      }
      case 'completeExecution':
        await this.updateStatus(type, message.executionId, 'SUCCEEDED');
        await this.write([{ op: 'hdel', key: 'monitor.active-executions', fields: [message.executionId] }], (r) => r.hdel('monitor.active-executions', message.executionId));
        return;
    }
  }

  /** storeStage: MULTI; HMSET key <stage fields>; EXEC. */
  private async storeStage(key: string, stageId: string, fields: Record<string, string>): Promise<void> {
    const prefixed = Object.fromEntries(Object.entries(fields).map(([f, v]) => [`stage.${stageId}.${f}`, v]));
    await this.write([{ op: 'hset', key, fields: prefixed }], (r) => ServiceInstance.exec(r.multi().hmset(key, prefixed)));
  }

  /** updateStatus: SADD/SREM buffered, then HMSET status and startTime or endTime (plain). */
  private async updateStatus(type: string, id: string, status: string): Promise<void> {
    const key = `${type}:${id}`;
    await this.write([{ op: 'srem', key: BUFFERED(type), members: [id] }], (r) => r.srem(BUFFERED(type), id));
    const fields: Record<string, string> = status === 'RUNNING' ? { status, canceled: 'false', startTime: String(Date.now()) } : { status, endTime: String(Date.now()) };
    await this.write([{ op: 'hset', key, fields }], (r) => r.hmset(key, fields));
  }

  /** A trigger reached this orca (through gate or echo): store the execution, then push StartExecution (ExecutionLauncher). */
  private async launch(): Promise<void> {
    const now = Date.now();
    const id = `01J${now.toString(36).toUpperCase()}${this.pod.slice(-5).toUpperCase()}${(this.seq++).toString(36).padStart(4, '0')}`;
    const app = APPS[Math.floor(Math.random() * APPS.length)]!;
    const pipeline = Math.random() < 0.75;
    const type = pipeline ? 'pipeline' : 'orchestration';
    const key = `${type}:${id}`;
    const configId = `pcfg-${app}-${Math.floor(Math.random() * 3)}`;
    const stageIds = Array.from({ length: 2 + Math.floor(Math.random() * 3) }, (_, i) => `${id}-${i}`);
    const correlationId = Math.random() < 0.3 ? `jenkins-${app}-${now}` : undefined;
    const fields: Record<string, string> = {
      application: app,
      canceled: 'false',
      limitConcurrent: 'false',
      buildTime: String(now),
      status: 'NOT_STARTED',
      keepWaitingPipelines: 'false',
      origin: 'api',
      authentication: JSON.stringify({ user: `user${Math.floor(Math.random() * 50)}@example.com`, allowedAccounts: ['prod', 'staging'] }),
      trigger: JSON.stringify({ type: correlationId ? 'jenkins' : 'manual', ...(correlationId ? { correlationId } : {}), user: 'anonymous' }),
      ...(pipeline ? { name: `deploy-${app}`, pipelineConfigId: configId } : { description: `scale ${app}` }),
    };
    stageIds.forEach((s, i) => {
      Object.assign(fields, {
        [`stage.${s}.refId`]: String(i + 1),
        [`stage.${s}.type`]: i === 0 ? 'bakeManifest' : 'deployManifest',
        [`stage.${s}.name`]: i === 0 ? 'Bake' : `Deploy ${i}`,
        [`stage.${s}.status`]: 'NOT_STARTED',
        [`stage.${s}.requisiteStageRefIds`]: i === 0 ? '' : String(i),
        [`stage.${s}.context`]: JSON.stringify({ account: 'prod', cloudProvider: 'kubernetes', manifests: blob(`${s}-initial`, 600) }),
      });
    });
    // store(): plain SADDs, SREM buffered, then the whole hash and the stage index in MULTI.
    await this.write(
      [
        { op: 'sadd', key: `allJobs:${type}`, members: [id] },
        { op: 'sadd', key: `${type}:app:${app}`, members: [id] },
        { op: 'srem', key: BUFFERED(type), members: [id] },
      ],
      (r) => ServiceInstance.exec(r.pipeline().sadd(`allJobs:${type}`, id).sadd(`${type}:app:${app}`, id).srem(BUFFERED(type), id)),
    );
    await this.write(
      [
        { op: 'hdel', key, fields: ['config'] },
        { op: 'hset', key, fields },
        { op: 'list', key: `${key}:stageIndex`, items: stageIds },
      ],
      (r) =>
        ServiceInstance.exec(
          r
            .multi()
            .hdel(key, 'config')
            .hmset(key, fields)
            .del(`${key}:stageIndex`)
            .rpush(`${key}:stageIndex`, ...stageIds),
        ),
    );
    this.executionsWritten.add(key);
    if (correlationId) await this.write([{ op: 'set', key: `correlation:${correlationId}`, value: id }], (r) => r.set(`correlation:${correlationId}`, id));
    if (pipeline) await this.write([{ op: 'zadd', key: `pipeline:executions:${configId}`, members: [[now, id]] }], (r) => r.zadd(`pipeline:executions:${configId}`, now, id));
    await this.push({ kind: 'startExecution', executionType: pipeline ? 'PIPELINE' : 'ORCHESTRATION', executionId: id, application: app });
  }

  /** DELETE /pipelines/{id} (or a cleanup agent) on a finished execution: RedisExecutionRepository.delete. */
  private async cleanupOne(): Promise<void> {
    const type = Math.random() < 0.75 ? 'pipeline' : 'orchestration';
    const id = await this.redis.srandmember(`allJobs:${type}`);
    if (!id) return;
    const key = `${type}:${id}`;
    const [status, app, configId] = await this.redis.hmget(key, 'status', 'application', 'pipelineConfigId');
    if (status !== 'SUCCEEDED' && status !== 'TERMINAL' && status !== 'CANCELED') return;
    await this.write([{ op: 'srem', key: `${type}:app:${app}`, members: [id] }], (r) => r.srem(`${type}:app:${app}`, id));
    await this.write([{ op: 'srem', key: BUFFERED(type), members: [id] }], (r) => r.srem(BUFFERED(type), id));
    if (type === 'pipeline' && configId) await this.write([{ op: 'zrem', key: `pipeline:executions:${configId}`, members: [id] }], (r) => r.zrem(`pipeline:executions:${configId}`, id));
    await this.write([{ op: 'del', key }], (r) => r.del(key));
    await this.write([{ op: 'del', key: `${key}:stageIndex` }], (r) => r.del(`${key}:stageIndex`));
    await this.write([{ op: 'srem', key: `allJobs:${type}`, members: [id] }], (r) => r.srem(`allJobs:${type}`, id));
  }
}

const base = (m: KeikoMessage): Pick<KeikoMessage, 'executionType' | 'executionId' | 'application'> => ({ executionType: m.executionType, executionId: m.executionId, application: m.application });
