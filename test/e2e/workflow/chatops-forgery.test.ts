/**
 * The Slack door tried as an attacker would, through the real handler against the sandbox's
 * Secrets Manager and Step Functions: a request signed with the empty key (the secret stored
 * empty or as binary), a replayed request and a double submission start no execution; a
 * rotated secret is taken at once; execution names stay unique whatever the preset's length.
 */
import { createHmac } from 'node:crypto';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { handler } from '../../../handlers/slack-command.js';
import { executionNameFor } from '../../../lib/chatops/command.js';
import { startWorld, type SandboxWorld } from '../../../sandbox/world.js';

let world: SandboxWorld;
const SECRET_NAME = 'spin-elasticache/slack-signing-secret';

beforeAll(async () => {
  world = await startWorld({ keys: 200, creationDelayMs: 300, podStartMs: 150 });
}, 60_000);
afterAll(async () => {
  jest.restoreAllMocks();
  await world?.close();
});

/** An attacker's (or Slack's) request: HMAC-SHA256 with whatever key they hold. */
function request(text: string, key: string, options: { timestamp?: number; triggerId?: string } = {}): APIGatewayProxyEventV2 {
  const body = new URLSearchParams({
    token: 'x',
    team_id: 'T0SANDBOX',
    user_id: world.slack.allowedUserId,
    command: '/spin-elasticache',
    text,
    trigger_id: options.triggerId ?? String(Math.random()),
  }).toString();
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const signature = `v0=${createHmac('sha256', key).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return { headers: { 'x-slack-request-timestamp': timestamp, 'x-slack-signature': signature }, body, isBase64Encoded: false } as unknown as APIGatewayProxyEventV2;
}

const send = async (event: APIGatewayProxyEventV2) => {
  const response = await handler(event);
  return { statusCode: response.statusCode, text: response.statusCode === 200 ? (JSON.parse(String(response.body)) as { text: string }).text : String(response.body) };
};

describe('Slack requests an attacker can make', () => {
  it('refuses a request signed with the empty key when the secret is empty or binary, and runs nothing', async () => {
    world.secretsManager.putSecret(SECRET_NAME, '');
    expect(await send(request('plan sandbox', ''))).toEqual({ statusCode: 401, text: 'unauthorized' });
    world.secretsManager.putSecret(SECRET_NAME, Buffer.from(world.slack.signingSecret));
    expect(await send(request('plan sandbox', ''))).toEqual({ statusCode: 401, text: 'unauthorized' });
    expect(await send(request('plan sandbox', world.slack.signingSecret))).toEqual({ statusCode: 401, text: 'unauthorized' });
    expect(world.startedExecutions.size).toBe(0);
  });

  it('takes a rotated secret at once and refuses the old one', async () => {
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 60_000); // past the re-read throttle
    world.secretsManager.putSecret(SECRET_NAME, 'the-old-secret');
    expect((await send(request('presets', 'the-old-secret'))).statusCode).toBe(200);
    world.secretsManager.putSecret(SECRET_NAME, world.slack.signingSecret);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 120_000);
    expect((await send(request('presets', world.slack.signingSecret))).statusCode).toBe(200);
    expect((await send(request('presets', 'the-old-secret'))).statusCode).toBe(401);
    jest.restoreAllMocks();
  });

  it('starts one execution for a request sent three times (a replay, a second delivery at once)', async () => {
    const once = request('plan sandbox', world.slack.signingSecret);
    const [first, second] = await Promise.all([send(once), send(once)]);
    expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
    expect(world.startedExecutions.size).toBe(1);
    const [name] = [...world.startedExecutions.keys()];
    expect((await world.startedExecutions.get(name!)!).status).toBe('SUCCEEDED');
    // The replay after the execution finished: Step Functions refuses the name; nothing new.
    expect(await send(once)).toEqual({ statusCode: 200, text: expect.stringContaining('nothing new was started') });
    expect(world.startedExecutions.size).toBe(1);
  }, 60_000);

  it('refuses a second submission of the same command while the first execution runs', async () => {
    const before = world.startedExecutions.size;
    const first = await send(request('plan sandbox', world.slack.signingSecret, { triggerId: 'a' }));
    const second = await send(request('plan sandbox', world.slack.signingSecret, { triggerId: 'b' }));
    expect(first.text).toMatch(/A dry run \(plan\) .* started/);
    expect(second.text).toMatch(/is still running .*: nothing new was started/);
    expect(world.startedExecutions.size).toBe(before + 1);
    await Promise.all(world.startedExecutions.values());
  }, 60_000);

  it('names executions uniquely whatever the preset length, within 80 characters', async () => {
    const long = 'a'.repeat(63);
    copyFileSync(join(world.slack.presetsDir, 'sandbox.json'), join(world.slack.presetsDir, `${long}.json`));
    const names = [executionNameFor('migrate', long, '1790000000', 'v0=aa'), executionNameFor('migrate', long, '1790000001', 'v0=aa'), executionNameFor('migrate', long, '1790000000', 'v0=ab')];
    expect(new Set(names).size).toBe(3);
    for (const n of names) expect(n).toMatch(/^slack-migrate-a+-\d{8}-\d{6}-[0-9a-f]{12}$/);
    expect(Math.max(...names.map((n) => n.length))).toBeLessThanOrEqual(80);

    const before = world.startedExecutions.size;
    expect((await send(request(`plan ${long}`, world.slack.signingSecret, { timestamp: Math.floor(Date.now() / 1000) - 5 }))).text).toMatch(/started/);
    await Promise.all(world.startedExecutions.values());
    expect((await send(request(`plan ${long}`, world.slack.signingSecret))).text).toMatch(/started/);
    await Promise.all(world.startedExecutions.values());
    expect(world.startedExecutions.size).toBe(before + 2);
  }, 60_000);
});
