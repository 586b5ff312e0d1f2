/**
 * The full migration in the sandbox: the real ASL, the real handlers, emulated AWS and
 * Kubernetes, real redis-server processes, and simulated Spinnaker writing throughout.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connectRedis } from '../../../lib/redis/connect.js';
import type { ExecutionResult, TaskHandler } from '../../../sandbox/runner.js';
import { INITIAL_FILES } from '../../../sandbox/spinnaker/index.js';
import type { SandboxWorld, WorldSnapshot } from '../../../sandbox/world.js';
import { leakedSecrets, rehearse, yamlOf } from '../../support/sandbox.js';

describe('a migration that succeeds', () => {
  let world: SandboxWorld;
  let result: ExecutionResult;
  let snapshot: WorldSnapshot;
  let seededSample: string[];

  beforeAll(async () => {
    let current: SandboxWorld | undefined;
    // Issue 9, item 1: a keiko poll and ack on spin-redis while the catch-up runs (ZREM, HDEL).
    const ackDuringCatchUp = (name: string, handler: TaskHandler): TaskHandler =>
      name === 'CatchUpLiveWrites'
        ? async (event) => {
            const source = await connectRedis({ url: current!.spinnaker.spinRedisUrl });
            await source.zadd('q', 1, 'm1', 2, 'm2', 3, 'm3', 4, 'm4');
            await source.hset('q.messages', 'm1', 'a', 'm2', 'b', 'm3', 'c', 'm4', 'd');
            const done = handler(event);
            await source.zrem('q', 'm1', 'm2');
            await source.hdel('q.messages', 'm1', 'm2');
            source.disconnect();
            return done;
          }
        : handler;
    ({ world, result } = await rehearse({ keys: 4000 }, { wrapTask: ackDuringCatchUp }, async (w) => {
      current = w;
      const source = await connectRedis({ url: w.spinnaker.spinRedisUrl });
      // The simulated gate is already writing sessions that live a few seconds; under load they
      // can expire before the check, so only keys that outlive the run are sampled.
      const keys = (await source.scan('0', 'COUNT', 2000))[1];
      const ttls = await Promise.all(keys.map((k) => source.pttl(k)));
      seededSample = keys.filter((_, i) => ttls[i] === -1 || (ttls[i] ?? 0) > 300_000);
      source.disconnect();
    }));
    snapshot = await world.snapshot();
  }, 120_000);
  afterAll(async () => world?.close());

  it('succeeds', () => {
    expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({ status: 'SUCCEEDED', error: undefined, cause: undefined });
  });

  it('patches the Halyard files in the ConfigMap, keeping what was there', () => {
    const redis = yamlOf(snapshot.configMap['redis.yml']);
    expect(redis.overrideBaseUrl).toMatch(/^rediss:\/\/127\.0\.0\.1:\d+$/);
    expect(redis.skipLifeCycleManagement).toBe(true);
    // Never enabled: false (echo maps services.redis.enabled to redis.enabled; its Pub/Sub would refuse every message).
    expect(redis.enabled).toBeUndefined();
    const gate = yamlOf(snapshot.configMap['gate-local.yml']) as { redis?: { configuration?: { secure?: boolean } }; server?: { tomcat?: { protocolHeader?: string } } };
    expect(gate.redis?.configuration?.secure).toBe(true);
    expect(gate.server?.tomcat?.protocolHeader).toBe('X-Forwarded-Proto');
    expect(snapshot.configMap['gate-local.yml']).toContain('# Gate profile');
    // AUTH as services read it: redis.connection, a kork-secrets reference to the URL secret, in every connecting service's profile.
    const reference = 'encrypted:secrets-manager!r:us-east-1!s:spin-elasticache/spinnaker-redis/redis-url';
    for (const service of ['orca', 'gate', 'clouddriver', 'igor', 'fiat', 'echo', 'rosco', 'kayenta']) {
      expect({ service, connection: (yamlOf(snapshot.configMap[`${service}-local.yml`]) as { redis?: { connection?: string } }).redis?.connection }).toEqual({ service, connection: reference });
    }
    expect(snapshot.configMap['spinnaker-local.yml']).toBe(INITIAL_FILES['spinnaker-local.yml']);
    expect(JSON.stringify(snapshot.configMap)).not.toContain('password');
    expect(snapshot.configMap.config).toBeDefined();
  });

  it('wrote the whole URL, token inside, into the URL secret, tagged, in the cluster region', () => {
    const secret = world.secretsManager.secret('spin-elasticache/spinnaker-redis/redis-url');
    const url = new URL(String(secret?.value));
    expect({ scheme: url.protocol, user: url.username, password: decodeURIComponent(url.password), path: url.pathname }).toEqual({ scheme: 'rediss:', user: '', password: world.authToken, path: '' });
    expect(`rediss://${url.host}`).toBe(snapshot.halyard.overrideBaseUrl);
    expect(secret?.arn).toMatch(/^arn:aws:secretsmanager:us-east-1:/);
    expect(secret?.tags).toMatchObject({ 'spin-elasticache:managed': 'true' });
    expect((result.output as { lock: { flavor: string; secretAccess: { checked: boolean } } }).lock).toMatchObject({ flavor: 'halyard', secretAccess: { checked: true } });
  });

  it('releases the lock and removes the backup after success', () => {
    expect(Object.keys(snapshot.configMapAnnotations).filter((k) => k.startsWith('spin-elasticache.io/'))).toEqual([]);
  });

  it('points every Redis-using service at ElastiCache and scales spin-redis to 0', () => {
    const target = snapshot.halyard.overrideBaseUrl;
    const connecting = ['spin-orca', 'spin-gate', 'spin-igor', 'spin-clouddriver', 'spin-echo', 'spin-fiat', 'spin-rosco'];
    expect(
      snapshot.services
        .filter((s) => s.redis !== undefined)
        .map((s) => s.name)
        .sort(),
    ).toEqual([...connecting].sort());
    for (const service of snapshot.services.filter((s) => connecting.includes(s.name))) {
      // Connected with the token, taken from the URL's user-info after the pod resolved the secret.
      expect({ name: service.name, redis: service.redis, authenticated: service.authenticated, redisEnabled: service.redisEnabled, ready: service.ready }).toEqual({
        name: service.name,
        redis: target,
        authenticated: true,
        redisEnabled: true,
        ready: true,
      });
    }
    expect(snapshot.spinRedis).toMatchObject({ replicas: 0, running: false });
    expect(snapshot.keys.source).toBe(0);
  });

  it('moved the data: seeded keys and every execution orca wrote during the run are on ElastiCache', async () => {
    // orca launches an execution every 1.5 s (sandbox/spinnaker/services/orca.ts), and none while paused.
    expect(snapshot.keys.orcaExecutionsWritten).toBeGreaterThan(0);
    expect(snapshot.missingExecutions).toEqual([]);
    const target = await world.elastiCache.adminClient('spinnaker-redis');
    const pipeline = target.pipeline();
    for (const key of seededSample) pipeline.exists(key);
    const exists = ((await pipeline.exec()) ?? []).map(([, v]) => v);
    target.disconnect();
    expect(seededSample.length).toBeGreaterThan(500);
    // Present unless a simulated service deleted it during the run (orca deletes old executions,
    // clouddriver evicts cache entries): the ledger's last write to the key is a deletion.
    const deletedByWriters = (key: string) => world.spinnaker.ledger.keys.get(key)?.whole?.hash === null;
    expect(seededSample.filter((key, i) => exists[i] !== 1 && !deletedByWriters(key))).toEqual([]);
    expect(snapshot.keys.target).toBeGreaterThanOrEqual(world.seed.keys);
  });

  it("leaves no key of its own in Spinnaker's new Redis for good: the catch-up's stream position expires within a day", async () => {
    const output = result.output as { catchUp?: { stream?: unknown } };
    // The run followed spin-redis's stream, which keeps its position on the target while it does.
    expect(output.catchUp?.stream).toBeDefined();
    const target = await world.elastiCache.adminClient('spinnaker-redis');
    try {
      const ours: string[] = [];
      for (let db = 0; db < 16; db++) {
        await target.select(db);
        for (const key of await target.keys('spin-elasticache:*')) {
          const ttl = await target.pttl(key);
          if (!(ttl > 0 && ttl <= 86_400_000)) ours.push(`${db}:${key} (PTTL ${ttl})`);
        }
      }
      expect(ours).toEqual([]);
    } finally {
      target.disconnect();
    }
  });

  it('proved keyspace notifications and verified the copy with audit parity', () => {
    const output = result.output as {
      ping: { keyspaceNotifications: boolean };
      verify: { ok: boolean; compared: number; missing: number; audit: { ok: boolean; executions: { source: number; target: number } } };
    };
    expect(output.ping.keyspaceNotifications).toBe(true);
    expect(output.verify.ok).toBe(true);
    expect(output.verify.missing).toBe(0);
    expect(output.verify.compared).toBeGreaterThan(3000);
    expect(output.verify.audit.ok).toBe(true);
    expect(output.verify.audit.executions.target).toBeGreaterThanOrEqual(output.verify.audit.executions.source);
  });

  it('paused Spinnaker for the switch: every Redis user scaled to 0 and back to its replicas, the pause measured', () => {
    const output = result.output as {
      quiesce: { services: { name: string; replicas: number }[]; startedAt: string };
      rollout: { pauseMs: number; cutoverWindowMs: number };
      reconcile: { method: string };
      verify: { mode: string; extra: number };
    };
    expect(output.quiesce.services.map((s) => s.name).sort()).toEqual(['spin-clouddriver', 'spin-echo', 'spin-fiat', 'spin-gate', 'spin-igor', 'spin-orca', 'spin-rosco']);
    expect(output.quiesce.services.every((s) => s.replicas === 1)).toBe(true);
    expect(output.rollout.pauseMs).toBeGreaterThan(0);
    expect(output.rollout.cutoverWindowMs).toBeGreaterThan(0);
    expect(output.rollout.cutoverWindowMs).toBeLessThan(output.rollout.pauseMs);
    expect(output.reconcile.method).toBe('stream');
    expect(output.verify).toMatchObject({ mode: 'strict', extra: 0 });
    for (const s of snapshot.services) expect({ name: s.name, replicas: s.replicas, ready: s.ready }).toEqual({ name: s.name, replicas: 1, ready: true });
    const annotated = world.kubernetes.store.list('Deployment', 'spinnaker').filter((d) => d.metadata.annotations?.['spin-elasticache.io/quiesced-replicas']);
    expect(annotated).toEqual([]);
  });

  it('carried the removals made on spin-redis during the catch-up to ElastiCache (an acked keiko message stays acked)', async () => {
    const target = await world.elastiCache.adminClient('spinnaker-redis');
    expect(await target.zrange('q', '0', '-1')).toEqual(['m3', 'm4']);
    expect(Object.keys(await target.hgetall('q.messages')).sort()).toEqual(['m3', 'm4']);
    target.disconnect();
  });

  it('never exposes the AUTH token or credentials in the output, history or ConfigMap', () => {
    expect(leakedSecrets(world, result.output, result.history, snapshot.configMap, world.sns.messages)).toEqual([]);
  });

  it('sent a success summary', () => {
    expect(world.sns.messages.at(-1)?.subject).toMatch(/migrated to ElastiCache/);
  });

  it('started from the stock Halyard files', () => {
    expect(INITIAL_FILES['redis.yml']).not.toContain('overrideBaseUrl');
  });
});
