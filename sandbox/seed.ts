/**
 * Spinnaker-shaped seed data for spin-redis, deterministic for a given seed: orca's
 * pipeline and orchestration executions (hashes, stage-index lists, per-application
 * sets, allJobs sets, per-pipeline zsets, correlation strings), gate sessions with TTLs,
 * fiat permissions, igor build state, and a few big keys.
 */
import type { Redis } from 'ioredis';

export interface SeedSummary {
  keys: number;
  pipelines: number;
  orchestrations: number;
  sessions: number;
  fiatUsers: number;
  igorJobs: number;
  bigKeys: string[];
}

const APPS = ['checkout', 'payments', 'search', 'inventory', 'identity', 'billing', 'catalog', 'shipping', 'ledger', 'notifications'];

/** mulberry32: a small deterministic PRNG, so a seed always produces the same data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function seedSpinnakerData(redis: Redis, options: { keys: number; seed?: number; bigKeyItems?: number }): Promise<SeedSummary> {
  const random = prng(options.seed ?? 42);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const target = Math.max(0, options.keys);
  const bigItems = options.bigKeyItems ?? Math.min(20_000, Math.max(100, Math.floor(target / 5)));
  const summary: SeedSummary = { keys: 0, pipelines: 0, orchestrations: 0, sessions: 0, fiatUsers: 0, igorJobs: 0, bigKeys: [] };
  let pipeline = redis.pipeline();
  let queued = 0;
  const flush = async (force = false) => {
    if (queued >= 2000 || (force && queued > 0)) {
      await pipeline.exec();
      pipeline = redis.pipeline();
      queued = 0;
    }
  };
  const now = Date.UTC(2026, 10, 1);
  // Shares of the keyspace, roughly as in a busy Spinnaker: orca dominates.
  const orcaKeys = Math.floor(target * 0.6);
  const gateKeys = Math.floor(target * 0.2);
  const fiatKeys = Math.floor(target * 0.1);
  const igorKeys = target - orcaKeys - gateKeys - fiatKeys;

  for (let i = 0; summary.keys < orcaKeys; i++) {
    const kind = i % 5 === 4 ? 'orchestration' : 'pipeline';
    const id = `01J${(now + i).toString(36).toUpperCase()}${i.toString(36).padStart(5, '0')}`;
    const app = pick(APPS);
    const start = now - Math.floor(random() * 90 * 86_400_000);
    const duration = 5_000 + Math.floor(random() * 1_800_000);
    const status = random() < 0.9 ? 'SUCCEEDED' : pick(['TERMINAL', 'CANCELED', 'RUNNING']);
    const stages = 1 + Math.floor(random() * 4);
    const key = `${kind}:${id}`;
    const fields: (string | number)[] = [
      'application',
      app,
      'name',
      `${pick(['deploy', 'bake', 'promote', 'rollback'])}-${app}`,
      'status',
      status,
      'startTime',
      start,
      'buildTime',
      start - 1000,
      'canceled',
      'false',
      'trigger',
      JSON.stringify({ type: pick(['jenkins', 'git', 'cron', 'manual']), user: `user${Math.floor(random() * 50)}@example.com` }),
    ];
    if (status !== 'RUNNING') fields.push('endTime', start + duration);
    const stageIds: string[] = [];
    for (let s = 0; s < stages; s++) {
      const stageId = `${id}-s${s}`;
      stageIds.push(stageId);
      fields.push(
        `stage.${stageId}.type`,
        pick(['deploy', 'bake', 'manualJudgment', 'wait', 'runJob']),
        `stage.${stageId}.status`,
        status,
        `stage.${stageId}.context`,
        JSON.stringify({ account: 'prod', region: 'us-east-1', n: s }),
      );
    }
    pipeline.hmset(key, ...fields);
    pipeline.rpush(`${key}:stageIndex`, ...stageIds);
    pipeline.sadd(`allJobs:${kind}`, id);
    pipeline.sadd(`${kind}:app:${app}`, id);
    if (kind === 'pipeline') {
      pipeline.zadd(`pipeline:executions:pcfg-${app}-${i % 7}`, start, id);
      summary.pipelines++;
    } else summary.orchestrations++;
    pipeline.set(`correlation:${id}`, id);
    queued += 6;
    summary.keys += 3;
    await flush();
  }
  for (let i = 0; summary.keys < orcaKeys + gateKeys; i++) {
    const id = `${((i * 2654435761) >>> 0).toString(16)}-${i.toString(16)}`;
    const ttl = 600_000 + Math.floor(random() * 1_200_000);
    pipeline.hmset(
      `spring:session:sessions:${id}`,
      'creationTime',
      now,
      'lastAccessedTime',
      now,
      'maxInactiveInterval',
      1800,
      'sessionAttr:SPRING_SECURITY_CONTEXT',
      Buffer.from([0xac, 0xed, 0x00, 0x05, ...Buffer.from(`user${i}`)]),
    );
    pipeline.pexpire(`spring:session:sessions:${id}`, ttl + 300_000);
    pipeline.set(`spring:session:sessions:expires:${id}`, '', 'PX', ttl);
    queued += 3;
    summary.keys += 2;
    summary.sessions++;
    await flush();
  }
  for (let i = 0; summary.keys < orcaKeys + gateKeys + fiatKeys; i++) {
    const user = `user${i}@example.com`;
    pipeline.hmset(`spinnaker:fiat:permissions:${user}:applications`, ...APPS.flatMap((a) => [a, JSON.stringify({ name: a, permissions: { READ: [pick(['dev', 'ops'])], WRITE: ['ops'] } })]));
    pipeline.sadd('spinnaker:fiat:users', user);
    queued += 2;
    summary.keys += 1;
    summary.fiatUsers++;
    await flush();
  }
  for (let i = 0; summary.keys < target; i++) {
    const job = `jenkins/${pick(APPS)}-${i}`;
    pipeline.set(`igor:builds:last:${job}`, String(1000 + Math.floor(random() * 5000)));
    queued += 1;
    summary.keys += 1;
    summary.igorJobs++;
    await flush();
  }
  await flush(true);
  if (target >= 1000) {
    // A few big keys: the copy must move them in chunks.
    const big = ['pipeline:executions:pcfg-nightly-load', 'spinnaker:fiat:permissions:__unrestricted_user__:applications'];
    for (let i = 0; i < bigItems; i += 1000) {
      const count = Math.min(1000, bigItems - i);
      await redis.zadd(big[0]!, ...Array.from({ length: count }, (_, j) => [now + i + j, `exec-${i + j}`]).flat());
      await redis.hmset(big[1]!, ...Array.from({ length: count }, (_, j) => [`app-${i + j}`, JSON.stringify({ READ: ['all'] })]).flat());
    }
    summary.bigKeys = big;
  }
  summary.keys = await redis.dbsize();
  return summary;
}
