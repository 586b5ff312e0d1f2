/**
 * `spin-elasticache start --input FILE --state-machine-arn ARN [--name NAME]`: validate
 * locally, then StartExecution. The execution name defaults to a hash of the input, so
 * starting the same migration twice is refused by Step Functions (names are unique for 90
 * days) instead of running twice.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { mapAwsError } from '../lib/aws/errors.js';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { parseMigrationInput } from '../lib/config/schema.js';
import { InputValidationError } from '../lib/errors.js';
import { EXIT } from './exit-codes.js';

const USAGE = 'Usage: spin-elasticache start --input FILE --state-machine-arn ARN [--name NAME]\n';

export async function runStartCommand(argv: string[]): Promise<number> {
  let values: { input?: string; 'state-machine-arn'?: string; name?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { input: { type: 'string' }, 'state-machine-arn': { type: 'string' }, name: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}`);
    return EXIT.usage;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return EXIT.ok;
  }
  if (!values.input || !values['state-machine-arn']) {
    process.stderr.write(`Missing ${!values.input ? '--input FILE' : '--state-machine-arn ARN (the deployed state machine: osls info, or the stack output)'}.\n${USAGE}`);
    return EXIT.usage;
  }
  let text: string;
  try {
    text = readFileSync(values.input, 'utf8');
    parseMigrationInput(JSON.parse(text));
  } catch (error) {
    // An input that cannot be read or does not validate is a usage error (cli/exit-codes.ts): nothing was started.
    process.stderr.write(`${values.input}: ${error instanceof InputValidationError ? error.message : (error as Error).message}\n`);
    return EXIT.usage;
  }
  const name = values.name ?? `migrate-${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
  // The state machine's own region (arn:aws:states:REGION:stateMachine:NAME), whatever AWS_REGION says.
  const region = /^arn:aws[\w-]*:states:([a-z0-9-]+):\d{12}:stateMachine:[\w-]+$/.exec(values['state-machine-arn'])?.[1];
  if (!region) {
    process.stderr.write(`--state-machine-arn ${values['state-machine-arn']}: not a state machine ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME; osls info, or the stack output)\n`);
    return EXIT.usage;
  }
  const sfn = new SFNClient({ region });
  try {
    const started = await sfn.send(new StartExecutionCommand({ stateMachineArn: values['state-machine-arn'], name, input: text }));
    process.stdout.write(`Started ${started.executionArn}\n`);
    return EXIT.ok;
  } catch (error) {
    // Named as the workflow names AWS failures (no credentials, access denied, no such state machine…), with its hint.
    const mapped = mapAwsError(error, 'StartExecution');
    process.stderr.write(`${mapped.name}: ${mapped.message}\n`);
    return EXIT.internal;
  }
}
