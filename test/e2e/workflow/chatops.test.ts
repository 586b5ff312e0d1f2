/**
 * ChatOps end to end: signed Slack slash-command requests to the SlackCommand handler,
 * which starts executions through the Step Functions API; the sandbox's StartExecution runs
 * the same ASL and handlers. A plan, then a migration, then the status, from "Slack".
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { handler } from '../../../handlers/slack-command.js';
import { slackSignature } from '../../../lib/chatops/slack.js';
import { startWorld, SANDBOX_GROUP_ID, type SandboxWorld } from '../../../sandbox/world.js';
import { leakedSecrets, yamlOf } from '../../support/sandbox.js';

let world: SandboxWorld;
const replies: unknown[] = [];

beforeAll(async () => {
  world = await startWorld({ keys: 2000, creationDelayMs: 300, podStartMs: 150 });
}, 60_000);
afterAll(async () => {
  await world?.close();
});

function request(text: string, options: { user?: string; secret?: string; age?: number; base64?: boolean } = {}): APIGatewayProxyEventV2 {
  const body = new URLSearchParams({ token: 'legacy-verification-token', team_id: 'T0SANDBOX', user_id: options.user ?? world.slack.allowedUserId, command: '/spin-elasticache', text }).toString();
  const timestamp = String(Math.floor(Date.now() / 1000) - (options.age ?? 0));
  return {
    headers: {
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': slackSignature(options.secret ?? world.slack.signingSecret, timestamp, body),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: options.base64 ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: Boolean(options.base64),
  } as unknown as APIGatewayProxyEventV2;
}

async function slack(text: string, options: Parameters<typeof request>[1] = {}) {
  const response = await handler(request(text, options));
  replies.push(response);
  return { statusCode: response.statusCode, ...(response.statusCode === 200 ? (JSON.parse(String(response.body)) as { response_type: string; text: string }) : {}) };
}

describe('Slack slash command', () => {
  it('refuses unsigned, mis-signed and replayed requests without running anything', async () => {
    expect((await handler({ headers: {}, body: 'text=status', isBase64Encoded: false } as unknown as APIGatewayProxyEventV2)).statusCode).toBe(401);
    expect((await slack('status', { secret: 'not-the-secret' })).statusCode).toBe(401);
    expect((await slack('status', { age: 600 })).statusCode).toBe(401);
    expect(world.startedExecutions.size).toBe(0);
  });

  it('lets only allow-listed users act, and answers help to anyone', async () => {
    expect(await slack('migrate sandbox', { user: 'U0STRANGER' })).toMatchObject({ statusCode: 200, text: expect.stringMatching(/not allowed/) });
    expect(await slack('help', { user: 'U0STRANGER' })).toMatchObject({ statusCode: 200, text: expect.stringContaining('/spin-elasticache migrate <preset>') });
    expect(await slack('presets', { base64: true })).toMatchObject({ text: 'Presets: `sandbox`' });
    expect(await slack('migrate nope')).toMatchObject({ text: expect.stringMatching(/No preset `nope`/) });
    expect(await slack('migrate ../etc/passwd')).toMatchObject({ text: expect.stringMatching(/needs a preset name/) });
    expect(world.startedExecutions.size).toBe(0);
  });

  it('plans, then migrates, then reports the status', async () => {
    const plan = await slack('plan sandbox');
    expect(plan).toMatchObject({
      statusCode: 200,
      response_type: 'in_channel',
      text: expect.stringMatching(/A dry run \(plan\) of Spinnaker in `spinnaker-sandbox[^`]*\/spinnaker` to ElastiCache `spinnaker-redis` started, asked by <@U0SANDBOX>/),
    });
    const [planName] = [...world.startedExecutions.keys()];
    const planned = await world.startedExecutions.get(planName!)!;
    expect(planned.status).toBe('SUCCEEDED');
    expect((planned.output as { plan?: unknown }).plan).toBeDefined();
    expect(world.elastiCache.groupIds()).toEqual([]); // a plan creates nothing

    const migrate = await slack('migrate sandbox');
    expect(migrate.text).toMatch(/The migration of Spinnaker .* started/);
    const migrateName = [...world.startedExecutions.keys()].find((n) => n.startsWith('slack-migrate-sandbox-'))!;
    const migrated = await world.startedExecutions.get(migrateName)!;
    expect({ status: migrated.status, error: migrated.error }).toEqual({ status: 'SUCCEEDED', error: undefined });
    expect(world.elastiCache.groupIds()).toEqual([SANDBOX_GROUP_ID]);
    const cm = world.kubernetes.store.get('ConfigMap', 'spinnaker', 'halyard-config')!.data as Record<string, string>;
    expect(yamlOf(cm['redis.yml'])).toMatchObject({ skipLifeCycleManagement: true });
    expect(yamlOf(cm['orca-local.yml'])).toMatchObject({ redis: { connection: expect.stringMatching(/^encrypted:secrets-manager!/) } });
    expect((world.kubernetes.store.get('Deployment', 'spinnaker', 'spin-redis')!.spec as { replicas: number }).replicas).toBe(0);

    const status = await slack('status');
    expect(status.text).toContain(`\`${migrateName}\`: *SUCCEEDED*`);
    expect(status.text).toContain(`\`${planName}\`: *SUCCEEDED*`);
  }, 120_000);

  it('never puts the signing secret or the AUTH token in a reply', () => {
    expect(replies.length).toBeGreaterThan(8);
    expect(leakedSecrets(world, replies)).toEqual([]);
  });
});
