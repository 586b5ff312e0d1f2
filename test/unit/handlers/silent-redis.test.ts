/**
 * A Redis that accepts the connection and then says nothing, or junk, fails a step with the
 * transient RedisConnectionError (which the ASL's transient retrier lists) within the bounds of
 * lib/redis/connect.ts, not with UnexpectedError or at the Lambda's timeout (States.Timeout).
 * Real sockets on free local ports (test/support/hostile-redis.ts); a short command timeout
 * through the endpoint keeps the test fast.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { createHandler } from '../../../handlers/ping-redis.js';
import { TRANSIENT_ERROR_NAMES } from '../../../lib/errors.js';
import { connectRedis } from '../../../lib/redis/connect.js';
import { defineHandler } from '../../../lib/workflow/handler.js';
import type { MigrationState } from '../../../lib/workflow/state.js';
import { type HostileMode, type HostileRedis, startHostileRedis } from '../../support/hostile-redis.js';

const servers: HostileRedis[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const state = {
  config: { cluster: { name: 'prod', region: 'us-east-1' }, target: { replicationGroupId: 'spin-redis', transitEncryption: false }, spinnaker: { spinRedis: { url: 'redis://spin-redis:6379' } } },
  execution: { arn: 'arn:aws:states:us-east-1:1:execution:sm:x', startedAt: '2026-01-01T00:00:00Z' },
} as unknown as MigrationState;

async function failure(run: () => Promise<unknown>): Promise<{ name: string; message: string; ms: number }> {
  const started = performance.now();
  const error = await run().then(
    () => new Error('resolved'),
    (e: unknown) => e as Error,
  );
  return { name: error.name, message: error.message, ms: Math.round(performance.now() - started) };
}

describe('PingRedis against a target that misbehaves after accepting the connection', () => {
  it.each<[HostileMode, string]>([
    ['silent', 'no reply within 300 ms; the server accepted the connection, then went silent'],
    ['junk', 'answered with bytes that are not the Redis protocol (Unknown RESP type 72 "H"); is this a Redis port, and is TLS (rediss://) right?'],
    ['mute-after-handshake', 'no reply within 300 ms; the server accepted the connection, then went silent'],
  ])('%s: RedisConnectionError (retried by the ASL), naming the endpoint, within 3 s', async (mode, said) => {
    const server = await startHostileRedis(mode);
    servers.push(server);
    const handler = createHandler({ resolveTarget: async () => ({ url: server.url, commandTimeoutMs: 300 }) });
    const outcome = await failure(() => handler(state));
    expect(outcome.name).toBe('RedisConnectionError');
    // Silent from the start: the handshake's bound and its first command's fire together.
    expect([
      `${server.url}: ${said}`,
      ...(mode === 'silent' ? [`${server.url}: accepted the connection but did not complete the Redis handshake within 300 ms (no answer, or not Redis)`] : []),
    ]).toContain(outcome.message);
    expect(TRANSIENT_ERROR_NAMES).toContain(outcome.name);
    expect(outcome.ms).toBeLessThan(3000);
  });
});

describe('a step whose own code does not map a timed-out command (a checkpoint write, say)', () => {
  it('reaches the state machine as RedisConnectionError naming the endpoint, not UnexpectedError', async () => {
    const server = await startHostileRedis('mute-after-handshake');
    servers.push(server);
    const handler = defineHandler('WriteCheckpoint', async () => {
      const client = await connectRedis({ url: server.url, commandTimeoutMs: 300 });
      try {
        return await client.set('checkpoint', '1');
      } finally {
        client.disconnect();
      }
    });
    const outcome = await failure(() => handler({}));
    expect(outcome).toMatchObject({ name: 'RedisConnectionError', message: `${server.url}: no reply within 300 ms; the server accepted the connection, then went silent` });
    expect(outcome.ms).toBeGreaterThanOrEqual(290);
    expect(outcome.ms).toBeLessThan(3000);
  });
});
