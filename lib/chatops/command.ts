/**
 * The Slack slash command, from request to reply: verify Slack's signature, allow only the
 * allow-listed users, and start or report executions of the state machine with a deployed
 * preset. The request body is never logged (it carries Slack's token).
 *
 * Replays and double submissions: the execution name is derived from the signed request
 * itself (its timestamp and a hash of its signature), so the same request delivered twice,
 * by any container, asks Step Functions for the same name, and Step Functions' own name
 * uniqueness starts nothing new. The memory lives in Step Functions, not in a container.
 * A second request for a preset whose execution still runs is refused before it starts.
 */
import { createHash } from 'node:crypto';
import { ListExecutionsCommand, StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { awsCall } from '../aws/errors.js';
import { parseMigrationInput } from '../config/schema.js';
import { asMigrationError, SlackRequestRejectedError } from '../errors.js';
import { logger } from '../logger.js';
import type { Presets } from './presets.js';
import type { SigningSecret } from './signing-secret.js';
import { parseSlackCommand, signatureMatches, signedRequest, SLACK_HELP, type SignedRequest, type SlackCommand } from './slack.js';

export interface SlackCommandDeps {
  signingSecret: SigningSecret;
  allowedUserIds: () => string[];
  presets: () => Presets;
  sfn: () => Pick<SFNClient, 'send'>;
  stateMachineArn: () => string;
  nowSeconds?: () => number;
}

export interface SlackHttpRequest {
  headers: Record<string, string | undefined>;
  /** The raw body, already base64-decoded. */
  body: string;
}

export interface SlackHttpResponse {
  statusCode: number;
  headers?: Record<string, string>;
  body: string;
}

type Reply = { response_type: 'in_channel' | 'ephemeral'; text: string };
const reply = (text: string, where: Reply['response_type'] = 'ephemeral'): Reply => ({ response_type: where, text });

/** Step Functions' limit on execution names. */
export const EXECUTION_NAME_MAX = 80;

/**
 * `slack-<plan|migrate>-<preset>-<yyyymmdd-hhmmss>-<hash>`: the stamp is the request's own
 * timestamp and the hash is of its signature, so the name is the same for the same request
 * and different for any other, and the preset is shortened (never the stamp or the hash) to
 * stay within 80 characters.
 */
export function executionNameFor(verb: 'plan' | 'migrate', preset: string, timestamp: string, signature: string): string {
  const stamp = new Date(Number(timestamp) * 1000).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  const hash = createHash('sha256').update(`${timestamp}:${signature}`).digest('hex').slice(0, 12);
  const fixed = `slack-${verb}--${stamp}-${hash}`.length;
  return `slack-${verb}-${preset.slice(0, EXECUTION_NAME_MAX - fixed).replace(/-+$/, '')}-${stamp}-${hash}`;
}

/** The prefix every execution of this verb and preset has (as shortened in its name). */
function namePrefix(name: string): string {
  return name.replace(/-\d{8}-\d{6}-[0-9a-f]{12}$/, '-');
}

function consoleLink(executionArn: string): string {
  const region = executionArn.split(':')[3] ?? 'us-east-1';
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

async function run(command: SlackCommand, user: string, request: SignedRequest, deps: SlackCommandDeps): Promise<Reply> {
  const machine = deps.stateMachineArn();
  switch (command.verb) {
    case 'help':
      return reply(`${command.problem ? `${command.problem}\n` : ''}${SLACK_HELP}`);
    case 'presets': {
      const names = deps.presets().names();
      return reply(names.length > 0 ? `Presets: ${names.map((n) => `\`${n}\``).join(', ')}` : 'No presets are deployed (presets/*.json).');
    }
    case 'status': {
      const listed = await awsCall('ListExecutions', () => deps.sfn().send(new ListExecutionsCommand({ stateMachineArn: machine, maxResults: 5 })));
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
      const name = executionNameFor(command.dryRun ? 'plan' : 'migrate', command.preset, request.timestamp, request.signature);
      // The same request again (a replay, a second delivery) while its execution runs, or a
      // person who submits twice: an execution of this verb and preset still runs.
      const running = await awsCall('ListExecutions', () => deps.sfn().send(new ListExecutionsCommand({ stateMachineArn: machine, statusFilter: 'RUNNING', maxResults: 100 })));
      const twin = (running.executions ?? []).find((e) => e.status === 'RUNNING' && e.name !== undefined && namePrefix(e.name) === namePrefix(name));
      if (twin?.name === name) return repeated(user, command, name, twin.executionArn);
      if (twin?.name) return reply(`\`${twin.name}\` is still running (<${consoleLink(twin.executionArn ?? '')}|console>): nothing new was started. See \`status\`.`);
      const started = await deps
        .sfn()
        .send(new StartExecutionCommand({ stateMachineArn: machine, name, input: JSON.stringify(withMode) }))
        .catch((error: unknown) => {
          // The same name has finished already: Step Functions refuses to start it again.
          if (/^ExecutionAlreadyExists/.test((error as Error).name)) return undefined;
          return awsCall('StartExecution', () => Promise.reject(error));
        });
      if (!started?.executionArn) return repeated(user, command, name, undefined);
      logger.info('slack started an execution', { user, preset: command.preset, dryRun: command.dryRun, executionArn: started.executionArn });
      const arn = started.executionArn;
      const what = command.dryRun ? 'A dry run (plan) of' : 'The migration of';
      return reply(
        `${what} Spinnaker in \`${config.cluster.name}/${config.spinnaker.namespace}\` to ElastiCache \`${config.target.replicationGroupId}\` started, asked by <@${user}>: <${consoleLink(arn)}|${name}>. The outcome goes to the notifications topic.`,
        'in_channel',
      );
    }
  }
}

function repeated(user: string, command: { preset: string; dryRun: boolean }, name: string, executionArn: string | undefined): Reply {
  logger.warn('slack request repeated: nothing started', { user, preset: command.preset, dryRun: command.dryRun, name });
  return reply(`This request already started \`${name}\`${executionArn ? ` (<${consoleLink(executionArn)}|console>)` : ''}: nothing new was started.`);
}

const json = (statusCode: number, body: Reply): SlackHttpResponse => ({ statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** Verify, authorise and answer one Slack request. Never throws: every failure is an HTTP answer. */
export async function answerSlackRequest(request: SlackHttpRequest, deps: SlackCommandDeps): Promise<SlackHttpResponse> {
  try {
    const signed = signedRequest(request.headers, deps.nowSeconds?.());
    await deps.signingSecret.verify((secret) => signatureMatches(secret, signed, request.body));
    const form = new URLSearchParams(request.body);
    const user = form.get('user_id') ?? '';
    const command = parseSlackCommand(form.get('text') ?? '');
    logger.info('slack command', { user, verb: command.verb });
    if (command.verb !== 'help' && !deps.allowedUserIds().includes(user)) {
      return json(200, reply(`<@${user}> is not allowed to run spin-elasticache (SLACK_ALLOWED_USER_IDS).`));
    }
    const answer = await run(command, user, signed, deps).catch((error: unknown) => {
      const named = asMigrationError(error);
      return reply(`${named.name}: ${named.message}`);
    });
    return json(200, answer);
  } catch (error) {
    const named = asMigrationError(error);
    const rejected = error instanceof SlackRequestRejectedError;
    logger.warn('slack request refused', { errorName: named.name, errorMessage: named.message });
    return { statusCode: rejected ? 401 : 500, body: rejected ? 'unauthorized' : 'error' };
  }
}
