/**
 * SlackCommand (HTTP API `POST /slack/command`): the Slack slash command. Verifies Slack's
 * signature with the signing secret from Secrets Manager (SLACK_SIGNING_SECRET_ARN), allows
 * only SLACK_ALLOWED_USER_IDS, and starts or reports executions of STATE_MACHINE_ARN with a
 * deployed preset (lib/chatops/command.ts).
 */
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { secretsManager, sfn } from '../lib/aws/clients.js';
import { answerSlackRequest, type SlackCommandDeps } from '../lib/chatops/command.js';
import { presetsIn } from '../lib/chatops/presets.js';
import { signingSecretFrom } from '../lib/chatops/signing-secret.js';

export function createHandler(deps: SlackCommandDeps) {
  return async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const body = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : '';
    return answerSlackRequest({ headers: event.headers ?? {}, body }, deps);
  };
}

export const handler = createHandler({
  signingSecret: signingSecretFrom(secretsManager, () => process.env.SLACK_SIGNING_SECRET_ARN),
  allowedUserIds: () =>
    (process.env.SLACK_ALLOWED_USER_IDS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  presets: () => presetsIn(process.env.PRESETS_DIR ?? join(process.cwd(), 'presets')),
  sfn: () => sfn(),
  stateMachineArn: () => process.env.STATE_MACHINE_ARN ?? '',
});
