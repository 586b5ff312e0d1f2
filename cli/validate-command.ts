/** `spin-elasticache validate --input FILE`: the ValidateInput rules, offline. Never prints a stack trace. */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseMigrationInput } from '../lib/config/schema.js';
import { InputValidationError } from '../lib/errors.js';

export async function runValidateCommand(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let file: string | undefined;
  let quiet = false;
  try {
    const { values } = parseArgs({ args: argv, options: { input: { type: 'string', short: 'i' }, quiet: { type: 'boolean', short: 'q' } } });
    file = values.input;
    quiet = values.quiet ?? false;
  } catch (error) {
    err.write(`${(error as Error).message}\nUsage: spin-elasticache validate --input FILE\n`);
    return 2;
  }
  if (!file) {
    err.write('Missing --input FILE (a JSON migration input; see events/ for samples).\n');
    return 2;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    err.write(e.code === 'ENOENT' ? `${file}: no such file\n` : `${file}: not valid JSON (${e.message})\n`);
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
