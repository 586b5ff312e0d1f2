/** `spin-elasticache validate --input FILE`: the ValidateInput rules, offline. Never prints a stack trace. */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseMigrationInput } from '../lib/config/schema.js';
import { InputValidationError } from '../lib/errors.js';

const USAGE = `Usage: spin-elasticache validate --input FILE [--quiet]
  Checks a migration input offline with the ValidateInput step's rules: exit 0 valid (the input
  with defaults filled in is printed, unless --quiet), 1 invalid (each problem named), 2 usage.
`;

export async function runValidateCommand(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let file: string | undefined;
  let quiet = false;
  try {
    const { values } = parseArgs({ args: argv, options: { input: { type: 'string', short: 'i' }, quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      out.write(USAGE);
      return 0;
    }
    file = values.input;
    quiet = values.quiet ?? false;
  } catch (error) {
    err.write(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (!file) {
    err.write('Missing --input FILE (a JSON migration input; see events/ for samples).\n');
    return 2;
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    // A file that cannot be read is the command line's mistake (usage, 2); what it holds is judged below (invalid: 1).
    const e = error as NodeJS.ErrnoException;
    err.write(e.code === 'ENOENT' ? `${file}: no such file\n` : `${file}: cannot be read (${e.code ?? e.message})\n`);
    return 2;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    err.write(`${file}: not valid JSON (${(error as Error).message})\n`);
    return 1;
  }
  try {
    const config = parseMigrationInput(raw);
    if (!quiet) {
      out.write(`${file}: valid. With defaults filled in:\n${JSON.stringify(config, null, 2)}\n`);
    }
    return 0;
  } catch (error) {
    if (error instanceof InputValidationError) {
      err.write(`${file}: ${error.message}\n`);
      return 1;
    }
    err.write(`${file}: ${(error as Error).message}\n`);
    return 1;
  }
}
