/**
 * Simulated rosco, following rosco-core/.../persistence/RedisBackedBakeStore.groovy (its
 * scripts loaded with SCRIPT LOAD and called with EVALSHA, all reloaded on NOSCRIPT) and
 * rosco-core/.../executor/BakePoller.groovy (this instance's incomplete bakes updated every
 * poll; SREM from the incomplete set and SET {region}:{image} when a bake ends). The instance
 * id is the pod's hostname. Times are passed as arguments (rosco reads Redis TIME first), so
 * every script is deterministic and replicates whole on Redis 3.2.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { LedgerOp } from '../ledger.js';
import { APPS, ServiceInstance, type InstanceOptions } from '../services.js';

const SCRIPTS = {
  acquireBakeLock: "if redis.call('SETNX', KEYS[1], 'locked') == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) redis.call('DEL', KEYS[2]) return 1 end return 0",
  storeNewBakeStatus: `redis.call('DEL', KEYS[2])
redis.call('SADD', KEYS[6], KEYS[2], KEYS[3])
redis.call('ZADD', KEYS[1], ARGV[1], KEYS[3])
if redis.call('EXISTS', KEYS[3]) == 1 then return redis.call('HMGET', KEYS[3], 'bakeStatus') end
redis.call('HMSET', KEYS[2], 'bakeKey', KEYS[3], 'id', KEYS[2], 'region', ARGV[2], 'bakeRecipe', ARGV[3], 'bakeRequest', ARGV[4], 'bakeStatus', ARGV[5], 'roscoInstanceId', ARGV[6], 'createdTimestamp', ARGV[1], 'updatedTimestamp', ARGV[1])
redis.call('HMSET', KEYS[3], 'id', KEYS[2], 'region', ARGV[2], 'bakeRecipe', ARGV[3], 'bakeRequest', ARGV[4], 'bakeStatus', ARGV[5], 'roscoInstanceId', ARGV[6], 'createdTimestamp', ARGV[1], 'updatedTimestamp', ARGV[1])
redis.call('SADD', KEYS[4], KEYS[2])
redis.call('DEL', KEYS[5])
return 'stored'`,
  updateBakeStatus: `if redis.call('HGET', KEYS[1], 'bakeStatus') == '{"state":"CANCELED"}' then return 0 end
local bk = redis.call('HGET', KEYS[1], 'bakeKey')
redis.call('HMSET', KEYS[1], 'bakeStatus', ARGV[1], 'bakeLogs', ARGV[2], 'updatedTimestamp', ARGV[3])
if bk then redis.call('HMSET', bk, 'bakeStatus', ARGV[1], 'bakeLogs', ARGV[2], 'updatedTimestamp', ARGV[3]) end
if ARGV[4] == 'done' then redis.call('SREM', KEYS[2], KEYS[1]) end
return 1`,
};
type ScriptName = keyof typeof SCRIPTS;

export class RoscoInstance extends ServiceInstance {
  private shas = new Map<ScriptName, string>();
  private readonly running = new Map<string, { bakeKey: string; region: string; image: string; polls: number }>();

  constructor(options: InstanceOptions) {
    super('rosco', options);
  }

  protected override async onStart(redis: Redis): Promise<void> {
    await this.loadScripts(redis);
  }

  private async loadScripts(redis: Redis): Promise<void> {
    for (const [name, src] of Object.entries(SCRIPTS)) this.shas.set(name as ScriptName, (await redis.script('LOAD', src)) as string);
  }

  private async evalsha(name: ScriptName, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.redis.evalsha(this.shas.get(name)!, keys.length, ...keys, ...args);
    } catch (error) {
      if (!/NOSCRIPT/.test(String(error))) throw error;
      await this.loadScripts(this.redis);
      return this.redis.evalsha(this.shas.get(name)!, keys.length, ...keys, ...args);
    }
  }

  protected begin(): void {
    this.every(3000, () => this.bake());
    this.every(1000, () => this.poll());
  }

  private get incompleteKey(): string {
    return `allBakes:incomplete:${this.pod}`;
  }

  private async bake(): Promise<void> {
    const app = APPS[Math.floor(Math.random() * APPS.length)]!;
    const region = 'us-east-1';
    const bakeKey = `bake:aws:hvm:${app}:ubuntu:${Math.floor(Date.now() / 30_000)}:${region}`;
    const lock = `lock:${bakeKey}`;
    const now = Date.now();
    const got = await this.writeIf(
      [
        { op: 'set', key: lock, value: 'locked', ttlMs: 5000 },
        { op: 'del', key: bakeKey },
      ],
      () => this.evalsha('acquireBakeLock', [lock, bakeKey], ['5000']),
      (out) => out === 1,
    );
    if (got !== 1) return;
    const id = randomUUID();
    const pipelineKey = `bake:pipeline_execution:${app}-${Math.floor(now / 10_000)}`;
    const status = '{"state":"RUNNING"}';
    const recipe = JSON.stringify({ name: app, command: `packer build -var app=${app} aws-ebs.json` });
    const request = JSON.stringify({ package: app, base_os: 'ubuntu', cloud_provider_type: 'aws' });
    const fields = { region, bakeRecipe: recipe, bakeRequest: request, bakeStatus: status, roscoInstanceId: this.pod, createdTimestamp: String(now), updatedTimestamp: String(now) };
    // Until the EXISTS check, the script writes the same whether it wins or loses the race for the bake.
    const always: LedgerOp[] = [
      { op: 'del', key: id },
      { op: 'sadd', key: pipelineKey, members: [id, bakeKey] },
      { op: 'zadd', key: 'allBakes', members: [[now, bakeKey]] },
    ];
    const all: LedgerOp[] = [
      ...always,
      { op: 'hset', key: id, fields: { bakeKey, id, ...fields } },
      { op: 'hset', key: bakeKey, fields: { id, ...fields } },
      { op: 'sadd', key: this.incompleteKey, members: [id] },
      { op: 'del', key: lock },
    ];
    const stored = await this.write(
      all,
      () => this.evalsha('storeNewBakeStatus', ['allBakes', id, bakeKey, this.incompleteKey, lock, pipelineKey], [String(now), region, recipe, request, status, this.pod]),
      // "If we lost a race to initiate a new bake, just return the race winner's bake status": another
      // instance stored this bake key after our lock ran out (a call held up past its 5 s TTL).
      (out) => (out === 'stored' ? all : always),
    );
    if (stored === 'stored') this.running.set(id, { bakeKey, region, image: `ami-${id.slice(0, 8)}`, polls: 0 });
  }

  /** BakePoller: update this instance's incomplete bakes. */
  private async poll(): Promise<void> {
    for (const [id, bake] of [...this.running]) {
      bake.polls++;
      const done = bake.polls >= 4;
      const status = done ? '{"state":"COMPLETED","result":"SUCCESS"}' : '{"state":"RUNNING"}';
      const logs = `==> amazon-ebs: step ${bake.polls}`;
      const now = String(Date.now());
      const fields = { bakeStatus: status, bakeLogs: logs, updatedTimestamp: now };
      const ops: LedgerOp[] = [{ op: 'hset', key: id, fields }, { op: 'hset', key: bake.bakeKey, fields }, ...(done ? [{ op: 'srem', key: this.incompleteKey, members: [id] } as LedgerOp] : [])];
      await this.writeIf(
        ops,
        () => this.evalsha('updateBakeStatus', [id, this.incompleteKey], [status, logs, now, done ? 'done' : 'running']),
        (out) => out === 1, // 0: the bake was canceled meanwhile
      );
      if (done) {
        this.running.delete(id);
        await this.write([{ op: 'set', key: `${bake.region}:${bake.image}`, value: id }], (r) => r.set(`${bake.region}:${bake.image}`, id));
      }
    }
  }
}
