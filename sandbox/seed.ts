/**
 * Spinnaker-shaped seed data for spin-redis, deterministic for a given seed, with the key
 * names, types, sizes and TTLs of docs/SPINNAKER-REDIS.md and shares like a real install
 * (clouddriver's CATS cache is usually the largest tenant):
 *   - clouddriver ~45%: `{provider}:{type}:attributes:{id}` JSON strings of KBs, relationship
 *     strings, `:members` sets, `:hashes` hashes (SHA-1 per key), the `_ALL_` pseudo-item,
 *     and the task repository (`task:`, `taskHistory:`, `taskResult:` with the 12 h TTL,
 *     `kato:tasks`, `kato:taskmap:{requestId}`);
 *   - orca ~25%: execution hashes whose stage contexts are KBs (a few executions of ~1 MB),
 *     `:stageIndex` lists, `allJobs:*`, `{type}:app:*`, `pipeline:executions:{configId}`
 *     zsets scored by buildTime (pipelines only), `correlation:*` (no TTL), the buffered
 *     sets, `monitor.active-executions`, keiko's dead letters and `orca.pipeline.queue.*`;
 *   - gate ~10%: Spring Session hashes, `sessions:expires:*`, `expirations:*`, principal index;
 *   - fiat ~8%: `permissions-v2:{user}:{resource}s` LZ4 strings, users and role sets;
 *   - igor ~7%, echo ~3%, rosco ~2%.
 * Only commands Redis 3.2 has (HMSET, multi-member SADD/ZADD/RPUSH, SET PX).
 */
import type { ChainableCommander, Redis } from 'ioredis';
import { lz4WithLength } from './spinnaker/services/fiat.js';

export interface SeedSummary {
  keys: number;
  pipelines: number;
  orchestrations: number;
  sessions: number;
  fiatUsers: number;
  igorJobs: number;
  clouddriverItems: number;
  /** Keys by service (what the seed wrote; `keys` is the DBSIZE after it). */
  byService: Record<string, number>;
  bigKeys: string[];
}

const APPS = ['checkout', 'payments', 'search', 'inventory', 'identity', 'billing', 'catalog', 'shipping', 'ledger', 'notifications'];
const SHARES = { clouddriver: 0.45, orca: 0.25, gate: 0.1, fiat: 0.08, igor: 0.07, echo: 0.03, rosco: 0.02 };

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

const filler = (seed: string, bytes: number) => {
  const unit = `${seed}-manifest-line `;
  return unit.repeat(Math.ceil(bytes / unit.length)).slice(0, bytes);
};

export async function seedSpinnakerData(redis: Redis, options: { keys: number; seed?: number; bigKeyItems?: number }): Promise<SeedSummary> {
  const random = prng(options.seed ?? 42);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const target = Math.max(0, options.keys);
  const bigItems = options.bigKeyItems ?? Math.min(20_000, Math.max(100, Math.floor(target / 5)));
  const summary: SeedSummary = { keys: 0, pipelines: 0, orchestrations: 0, sessions: 0, fiatUsers: 0, igorJobs: 0, clouddriverItems: 0, byService: {}, bigKeys: [] };
  let pipeline: ChainableCommander = redis.pipeline();
  let queued = 0;
  let bytes = 0;
  const flush = async (force = false) => {
    if (queued >= 1000 || bytes > 4_000_000 || (force && queued > 0)) {
      await pipeline.exec();
      pipeline = redis.pipeline();
      queued = 0;
      bytes = 0;
    }
  };
  const count = (service: string, keys: number) => {
    summary.byService[service] = (summary.byService[service] ?? 0) + keys;
    summary.keys += keys;
  };
  const now = Date.UTC(2026, 10, 1);
  const quota = (service: keyof typeof SHARES) => Math.floor(target * SHARES[service]);

  // ---- clouddriver: the CATS cache (RedisCache.java) and the task repository ----
  const cd = quota('clouddriver');
  const types = ['pods', 'replicaSets', 'deployments', 'services', 'configMaps', 'events'];
  const accounts = ['prod-us', 'prod-eu', 'staging'];
  const tasks = Math.floor(cd * 0.1);
  for (let i = 0; (summary.byService.clouddriver ?? 0) < cd - tasks; i++) {
    const type = types[i % types.length]!;
    const account = accounts[Math.floor(i / types.length) % accounts.length]!;
    const agentType = `${account}/KubernetesCoreCachingAgent[1/1]`;
    const id = `kubernetes.v2:infrastructure:${type}:${account}:default:${pick(APPS)}-${i.toString(36)}`;
    const attrKey = `kubernetes:${type}:attributes:${id}`;
    const relKey = `kubernetes:${type}:relationships:${id}:applications:${agentType}`;
    const attributes = JSON.stringify({ name: id.split(':').pop(), account, kind: type, manifest: filler(id, 600 + Math.floor(random() * 2400)) });
    pipeline.set(attrKey, attributes).set(relKey, JSON.stringify([`kubernetes:applications:${id.split(':').pop()?.split('-')[0]}`]));
    pipeline.sadd(`kubernetes:${type}:members`, id).sadd(`kubernetes:${type}:relationships`, `applications:${agentType}`);
    pipeline.hmset(`kubernetes:${type}:hashes`, attrKey, String(i).padStart(40, '0'), relKey, String(i + 1).padStart(40, '0'));
    queued += 5;
    bytes += attributes.length;
    count('clouddriver', 2);
    summary.clouddriverItems++;
    await flush();
  }
  count('clouddriver', types.length * 3); // members, relationships, hashes per type
  for (let i = 0; (summary.byService.clouddriver ?? 0) < cd; i++) {
    const id = `${(now + i).toString(16)}-task-${i}`;
    const done = random() < 0.9;
    pipeline.hmset(`task:${id}`, 'id', id, 'startTimeMs', String(now - i * 1000), 'ownerId', 'clouddriver-0:1@clouddriver-0', 'sagaIds', '[]').expire(`task:${id}`, 43_200);
    pipeline
      .rpush(
        `taskHistory:${id}`,
        JSON.stringify({ phase: 'ORCHESTRATION', status: 'Initializing', state: 'STARTED' }),
        JSON.stringify({ phase: 'DEPLOY', status: done ? 'Orchestration completed.' : 'Deploying', state: done ? 'COMPLETED' : 'RUNNING' }),
      )
      .expire(`taskHistory:${id}`, 43_200);
    pipeline.set(`kato:taskmap:${id.slice(0, 12)}-req`, id);
    if (!done) pipeline.sadd('kato:tasks', id);
    queued += 6;
    count('clouddriver', 3);
    await flush();
  }

  // ---- orca: RedisExecutionRepository, keiko's dead letters, RedisPendingExecutionService ----
  const orca = quota('orca');
  let bigExecutions = target >= 10_000 ? 3 : target >= 1000 ? 1 : 0;
  for (let i = 0; (summary.byService.orca ?? 0) < orca; i++) {
    const kind = i % 5 === 4 ? 'orchestration' : 'pipeline';
    const id = `01J${(now + i).toString(36).toUpperCase()}${i.toString(36).padStart(5, '0')}`;
    const app = pick(APPS);
    const start = now - Math.floor(random() * 90 * 86_400_000);
    const duration = 5_000 + Math.floor(random() * 1_800_000);
    const status = random() < 0.9 ? 'SUCCEEDED' : pick(['TERMINAL', 'CANCELED', 'RUNNING', 'BUFFERED']);
    const stages = 1 + Math.floor(random() * 4);
    const key = `${kind}:${id}`;
    const configId = `pcfg-${app}-${i % 7}`;
    const correlationId = random() < 0.3 ? `jenkins-${app}-${start}` : undefined;
    const fields: Record<string, string> = {
      application: app,
      status,
      startTime: String(start),
      buildTime: String(start - 1000),
      canceled: 'false',
      limitConcurrent: String(i % 11 === 0),
      keepWaitingPipelines: 'false',
      origin: 'api',
      authentication: JSON.stringify({ user: `user${Math.floor(random() * 50)}@example.com`, allowedAccounts: ['prod', 'staging'] }),
      trigger: JSON.stringify({ type: correlationId ? 'jenkins' : pick(['git', 'cron', 'manual']), ...(correlationId ? { correlationId } : {}), user: `user${Math.floor(random() * 50)}@example.com` }),
      ...(kind === 'pipeline' ? { name: `${pick(['deploy', 'bake', 'promote', 'rollback'])}-${app}`, pipelineConfigId: configId } : { description: `scale ${app}` }),
    };
    if (status !== 'RUNNING' && status !== 'BUFFERED') fields.endTime = String(start + duration);
    const stageIds: string[] = [];
    const big = bigExecutions > 0 && i % 97 === 13;
    if (big) bigExecutions--;
    for (let s = 0; s < stages; s++) {
      const stageId = `${id}-s${s}`;
      stageIds.push(stageId);
      Object.assign(fields, {
        [`stage.${stageId}.refId`]: String(s + 1),
        [`stage.${stageId}.type`]: pick(['deployManifest', 'bakeManifest', 'manualJudgment', 'wait', 'runJob']),
        [`stage.${stageId}.status`]: status,
        [`stage.${stageId}.requisiteStageRefIds`]: s === 0 ? '' : String(s),
        // Stage contexts are KBs; the odd execution carries a manifest of about 1 MB.
        [`stage.${stageId}.context`]: JSON.stringify({ account: 'prod', region: 'us-east-1', manifests: filler(stageId, big && s === 0 ? 1_000_000 : 500 + Math.floor(random() * 2500)) }),
        [`stage.${stageId}.outputs`]: JSON.stringify({ 'deploy.server.groups': { 'us-east-1': [`${app}-v00${s}`] } }),
      });
    }
    pipeline.hmset(key, fields);
    pipeline.rpush(`${key}:stageIndex`, ...stageIds);
    pipeline.sadd(`allJobs:${kind}`, id);
    pipeline.sadd(`${kind}:app:${app}`, id);
    queued += 4;
    bytes += big ? 1_000_000 : 4000;
    let written = 2;
    if (kind === 'pipeline') {
      pipeline.zadd(`pipeline:executions:${configId}`, start - 1000, id);
      summary.pipelines++;
    } else summary.orchestrations++;
    if (correlationId) {
      pipeline.set(`correlation:${correlationId}`, id);
      written++;
    }
    if (status === 'BUFFERED') pipeline.sadd(`orca.task.queue:buffered:${kind}`, id);
    if (status === 'RUNNING') pipeline.hset('monitor.active-executions', id, JSON.stringify({ id, type: kind.toUpperCase(), application: app }));
    if (status === 'BUFFERED' && kind === 'pipeline') pipeline.lpush(`orca.pipeline.queue.${configId}`, JSON.stringify({ executionId: id, pipelineConfigId: configId }));
    if (i % 400 === 7)
      pipeline.zadd(
        'orca.task.deadLetterQueue.messages',
        start,
        JSON.stringify({ kind: 'runTask', executionType: 'PIPELINE', executionId: id, application: app, stageId: stageIds[0], taskId: '1', attributes: [{ kind: 'attempts', attempts: 1441 }] }),
      );
    queued += 3;
    count('orca', written);
    await flush();
  }

  // ---- gate: Spring Session (RedisIndexedSessionRepository) ----
  const index = 'spring:session:index:org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME';
  const java = (s: string) => Buffer.concat([Buffer.from([0xac, 0xed, 0x00, 0x05]), Buffer.from(s)]);
  for (let i = 0; (summary.byService.gate ?? 0) < quota('gate'); i++) {
    const id = `${((i * 2654435761) >>> 0).toString(16)}-${i.toString(16)}`;
    const ttl = 600_000 + Math.floor(random() * 1_200_000);
    const user = `user${i % 200}@example.com`;
    pipeline.hmset(`spring:session:sessions:${id}`, {
      creationTime: java(String(now)),
      lastAccessedTime: java(String(now)),
      maxInactiveInterval: java('3600'),
      'sessionAttr:SPRING_SECURITY_CONTEXT': java(`principal=${user}`),
    });
    pipeline.pexpire(`spring:session:sessions:${id}`, ttl + 300_000);
    pipeline.set(`spring:session:sessions:expires:${id}`, '', 'PX', ttl);
    pipeline.sadd(`spring:session:expirations:${Math.ceil((now + ttl) / 60_000) * 60_000}`, `expires:${id}`);
    pipeline.sadd(`${index}:${user}`, id);
    queued += 5;
    count('gate', 2);
    summary.sessions++;
    await flush();
  }

  // ---- fiat: RedisPermissionsRepository ----
  const resources = ['accounts', 'applications', 'service_accounts', 'roles', 'build_services'];
  for (let i = 0; (summary.byService.fiat ?? 0) < quota('fiat'); i++) {
    const user = `seed-user${i}@example.com`;
    const roles = ['dev', 'ops', 'sre', 'qa'].filter(() => random() < 0.4);
    for (const resource of resources) {
      const names = resource === 'applications' ? APPS.filter(() => random() < 0.5) : resource === 'roles' ? roles : resource === 'accounts' ? ['prod', 'staging'] : [];
      if (names.length === 0) continue;
      pipeline.set(
        `spinnaker:fiat:permissions-v2:${user}:${resource}`,
        lz4WithLength(Buffer.from(JSON.stringify(Object.fromEntries(names.map((n) => [n, { name: n, permissions: { READ: roles, WRITE: roles } }]))))),
      );
      queued++;
      count('fiat', 1);
    }
    for (const r of roles) pipeline.sadd(`spinnaker:fiat:roles:${r}`, user);
    pipeline.sadd('spinnaker:fiat:users', user);
    queued += 1 + roles.length;
    summary.fiatUsers++;
    await flush();
  }

  // ---- igor: JenkinsCache, BuildCache, DockerRegistryCache ----
  for (let i = 0; (summary.byService.igor ?? 0) < quota('igor'); i++) {
    const job = `${pick(APPS)}-job-${i}`;
    const jobKey = `igor:jenkins-legacy:${job.toUpperCase()}:${job}`;
    const build = 1000 + Math.floor(random() * 5000);
    if (i % 3 === 0) {
      pipeline.hmset(jobKey, 'lastPollCycleTimestamp', String(now - i * 60_000), 'lastBuildLabel', String(build), 'lastBuildBuilding', 'false');
      pipeline.hset(`${jobKey}:lastPollCycleTimestamp:${now - i * 60_000}`, String(build), 'POSTED');
      count('igor', 2);
    } else if (i % 3 === 1) {
      pipeline.set(`igor:builds:completed:gitlab-ci:${job.toUpperCase()}:${job}`, String(build), 'EX', 60 * 86_400);
      count('igor', 1);
    } else {
      pipeline.hset(`igor:dockerRegistry:v2:dockerhub:example/${job}:${build}`, 'digest', `sha256:${build.toString(16).padStart(64, '0')}`);
      count('igor', 1);
    }
    queued += 2;
    summary.igorJobs++;
    await flush();
  }

  // ---- echo: Pub/Sub dedupe keys (they expire by themselves) ----
  for (let i = 0; (summary.byService.echo ?? 0) < quota('echo'); i++) {
    pipeline.set(`{echo:pubsub:completed}:google:spinnaker-gcr-triggers:seed-${i}`, String((i * 2654435761) >>> 0), 'EX', 7 * 86_400);
    queued++;
    count('echo', 1);
    await flush();
  }
  pipeline.set('spinnaker:stats:instanceId', '01JSANDBOXINSTANCE0000000');
  count('echo', 1);

  // ---- rosco: RedisBackedBakeStore ----
  for (let i = 0; (summary.byService.rosco ?? 0) < quota('rosco'); i++) {
    const app = pick(APPS);
    const bakeKey = `bake:aws:hvm:${app}:ubuntu:seed-${i}:us-east-1`;
    const id = `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
    const fields = {
      id,
      region: 'us-east-1',
      bakeStatus: '{"state":"COMPLETED","result":"SUCCESS"}',
      roscoInstanceId: 'rosco-legacy',
      createdTimestamp: String(now - i * 1000),
      updatedTimestamp: String(now - i * 1000),
    };
    pipeline
      .hmset(bakeKey, fields)
      .hmset(id, { ...fields, bakeKey })
      .zadd('allBakes', now - i * 1000, bakeKey)
      .set(`us-east-1:ami-${id.slice(-8)}`, id);
    queued += 4;
    count('rosco', 3);
    await flush();
  }
  await flush(true);
  if (target >= 1000) {
    // A few big keys: the copy must move them in chunks.
    const big = ['pipeline:executions:pcfg-nightly-load', 'kubernetes:events:hashes'];
    for (let i = 0; i < bigItems; i += 1000) {
      const n = Math.min(1000, bigItems - i);
      await redis.zadd(big[0]!, ...Array.from({ length: n }, (_, j) => [now + i + j, `exec-${i + j}`]).flat());
      await redis.hmset(big[1]!, Object.fromEntries(Array.from({ length: n }, (_, j) => [`kubernetes:events:attributes:old-${i + j}`, String(i + j).padStart(40, '0')])));
    }
    summary.bigKeys = big;
  }
  summary.keys = await redis.dbsize();
  return summary;
}
