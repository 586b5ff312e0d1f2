/**
 * SlackCommand (HTTP API `POST /slack/command`): the Slack slash command. Verifies Slack's
 * signature with the signing secret from Secrets Manager (SLACK_SIGNING_SECRET_ARN), allows
 * only SLACK_ALLOWED_USER_IDS, and starts or reports executions of STATE_MACHINE_ARN with a
 * deployed preset. The request body is never logged (it carries Slack's token).
 */
import { join } from 'node:path';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ListExecutionsCommand, StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { secretsManager, sfn } from '../lib/aws/clients.js';
import { awsCall } from '../lib/aws/errors.js';
import { presetsIn, type Presets } from '../lib/chatops/presets.js';
import { parseSlackCommand, SLACK_HELP, verifySlackRequest, type SlackCommand } from '../lib/chatops/slack.js';
import { parseMigrationInput } from '../lib/config/schema.js';
import { asMigrationError, SlackRequestRejectedError } from '../lib/errors.js';
import { logger } from '../lib/workflow/handler.js';

export interface SlackCommandDeps {
  signingSecret: () => Promise<string>;
  allowedUserIds: () => string[];
  presets: () => Presets;
  sfn: () => Pick<SFNClient, 'send'>;
  stateMachineArn: () => string;
  now?: () => Date;
}

type Reply = { response_type: 'in_channel' | 'ephemeral'; text: string };
const reply = (text: string, where: Reply['response_type'] = 'ephemeral'): Reply => ({ response_type: where, text });

function consoleLink(executionArn: string): string {
  const region = executionArn.split(':')[3] ?? 'us-east-1';
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

async function run(command: SlackCommand, user: string, deps: SlackCommandDeps): Promise<Reply> {
  switch (command.verb) {
    case 'help':
      return reply(`${command.problem ? `${command.problem}\n` : ''}${SLACK_HELP}`);
    case 'presets': {
      const names = deps.presets().names();
      return reply(names.length > 0 ? `Presets: ${names.map((n) => `\`${n}\``).join(', ')}` : 'No presets are deployed (presets/*.json).');
    }
    case 'status': {
      const listed = await awsCall('ListExecutions', () => deps.sfn().send(new ListExecutionsCommand({ stateMachineArn: deps.stateMachineArn(), maxResults: 5 })));
      const lines = (listed.executions ?? []).map((e) => `• \`${e.name}\`: *${e.status}* since ${e.startDate?.toISOString() ?? '?'} (<${consoleLink(e.executionArn ?? '')}|console>)`);
      return reply(lines.length > 0 ? lines.join('\n') : 'No executions yet.');
    }
    case 'migrate': {
      const presets = deps.presets();
      const input = presets.read(command.preset);
      if (input === undefined) {
        const names = presets.names();
        return reply(`No preset \`${command.preset}\`. ${names.length > 0 ? `Presets: ${names.join(', ')}` : 'None are deployed.'}`);
      }
      const withMode = { ...(input as Record<string, unknown>), options: { ...((input as { options?: object }).options ?? {}), dryRun: command.dryRun } };
      const config = parseMigrationInput(withMode); // a broken preset is named here, not in the execution
      const stamp = (deps.now ?? (() => new Date()))().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
      const name = `slack-${command.dryRun ? 'plan' : 'migrate'}-${command.preset}-${stamp}`.slice(0, 80);
      const started = await awsCall('StartExecution', () => deps.sfn().send(new StartExecutionCommand({ stateMachineArn: deps.stateMachineArn(), name, input: JSON.stringify(withMode) })));
      logger.info('slack started an execution', { user, preset: command.preset, dryRun: command.dryRun, executionArn: started.executionArn });
      const what = command.dryRun ? 'A dry run (plan) of' : 'The migration of';
      return reply(`${what} Spinnaker in \`${config.cluster.name}/${config.spinnaker.namespace}\` to ElastiCache \`${config.target.replicationGroupId}\` started, asked by <@${user}>: <${consoleLink(started.executionArn ?? '')}|${name}>. The outcome goes to the notifications topic.`, 'in_channel');
    }
  }
}

export function createHandler(deps: SlackCommandDeps) {
  return async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const body = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : '';
    try {
      verifySlackRequest(await deps.signingSecret(), event.headers, body);
      const form = new URLSearchParams(body);
      const user = form.get('user_id') ?? '';
      const command = parseSlackCommand(form.get('text') ?? '');
      logger.info('slack command', { user, verb: command.verb });
      if (command.verb !== 'help' && !deps.allowedUserIds().includes(user)) {
        return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(reply(`<@${user}> is not allowed to run spin-elasticache (SLACK_ALLOWED_USER_IDS).`)) };
      }
      const answer = await run(command, user, deps).catch((error: unknown) => {
        const named = asMigrationError(error);
        return reply(`${named.name}: ${named.message}`);
      });
      return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(answer) };
    } catch (error) {
      const named = asMigrationError(error);
      logger.warn('slack request refused', { errorName: named.name, errorMessage: named.message });
      return { statusCode: error instanceof SlackRequestRejectedError ? 401 : 500, body: error instanceof SlackRequestRejectedError ? 'unauthorized' : 'error' };
    }
  };
}

let cachedSecret: { arn: string; value: string } | undefined;
async function signingSecretFrom(client: Pick<SecretsManagerClient, 'send'>, arn: string | undefined): Promise<string> {
  if (!arn) throw new SlackRequestRejectedError('SLACK_SIGNING_SECRET_ARN is not set: Slack requests cannot be verified');
  if (cachedSecret?.arn !== arn) {
    const secret = await awsCall('GetSecretValue (Slack signing secret)', () => client.send(new GetSecretValueCommand({ SecretId: arn })));
    cachedSecret = { arn, value: secret.SecretString ?? '' };
  }
  return cachedSecret.value;
}

export const handler = createHandler({
  signingSecret: () => signingSecretFrom(secretsManager(), process.env.SLACK_SIGNING_SECRET_ARN),
  allowedUserIds: () => (process.env.SLACK_ALLOWED_USER_IDS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
  presets: () => presetsIn(process.env.PRESETS_DIR ?? join(process.cwd(), 'presets')),
  sfn: () => sfn(),
  stateMachineArn: () => process.env.STATE_MACHINE_ARN ?? '',
});
