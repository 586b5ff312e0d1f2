/** `spin-elasticache <command>`: dispatch to one command module per verb. */
import { EXIT, EXIT_CODES_HELP } from './exit-codes.js';

const USAGE = `Usage: spin-elasticache <command> [options]

Commands:
  validate --input FILE       Check a migration input offline (the ValidateInput step's rules).
  copy --source URL --target URL [--verify] [--live SECONDS] [--json FILE]
                              Copy one Redis into another (the workflow's copy engine).
                              Sources: redis(s)://, redis-cluster://h:p[,h:p…],
                              redis-sentinel://h:p[,h:p…]/NAME, file:dump.rdb.
  rehearse [--keys N] [--auth] [--flavor F] [--dry-run] [--report FILE] [--keep] [--fail-at STATE] …
                              Rehearse a full migration in the local sandbox (same as npm start;
                              every option: spin-elasticache rehearse --help).
  start --input FILE --state-machine-arn ARN [--name NAME]
                              Start a real migration in AWS Step Functions.
  health --input FILE [--json FILE]
                              Check the new Redis once, as the scheduled HealthCheck does,
                              in the input's cluster.region.

Passwords: from environment variables or files (copy --source-password-env VAR,
--source-password-file FILE, and the same for --target), never from the command line, which
other users and shell history can see. No output ever shows a password, from any part of a URL.

${EXIT_CODES_HELP}`;

export async function main(argv: string[]): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (error) {
    // No stack trace for a person to read; the name and message say what failed.
    process.stderr.write(`spin-elasticache: internal error: ${(error as Error).name}: ${(error as Error).message}\n`);
    return EXIT.internal;
  }
}

async function dispatch(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'validate':
      return (await import('./validate-command.js')).runValidateCommand(rest);
    case 'copy':
      return (await import('./copy-command.js')).runCopyCommand(rest);
    case 'rehearse':
      return (await import('../sandbox/cli.js')).runRehearsal(rest);
    case 'health':
      return (await import('./health-command.js')).runHealthCommand(rest);
    case 'start':
      return (await import('./start-command.js')).runStartCommand(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return command === undefined ? EXIT.usage : EXIT.ok;
    default:
      process.stderr.write(`Unknown command '${command}'.\n\n${USAGE}`);
      return EXIT.usage;
  }
}
