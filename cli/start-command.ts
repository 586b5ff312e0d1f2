/**
 * `spin-elasticache start --input FILE --state-machine-arn ARN [--name NAME]`: validate
 * locally, then StartExecution. The execution name defaults to a hash of the input, so
 * starting the same migration twice is refused by Step Functions (names are unique for 90
 * days) instead of running twice.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { parseMigrationInput } from '../lib/config/schema.js';
import { InputValidationError } from '../lib/errors.js';

export async function runStartCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { input: { type: 'string' }, 'state-machine-arn': { type: 'string' }, name: { type: 'string' } } });
  if (!values.input || !values['state-machine-arn']) {
    process.stderr.write('Usage: spin-elasticache start --input FILE --state-machine-arn ARN [--name NAME]\n');
    return 2;
  }
  const text = readFileSync(values.input, 'utf8');
  try {
    parseMigrationInput(JSON.parse(text));
  } catch (error) {
    process.stderr.write(`${values.input}: ${error instanceof InputValidationError ? error.message : (error as Error).message}\n`);
    return 1;
  }
  const name = values.name ?? `migrate-${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
  const sfn = new SFNClient({});
  const started = await sfn.send(new StartExecutionCommand({ stateMachineArn: values['state-machine-arn'], name, input: text }));
  process.stdout.write(`Started ${started.executionArn}\n`);
  return 0;
}
