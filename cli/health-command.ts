/**
 * `spin-elasticache health --input FILE [--json FILE]`: the scheduled HealthCheck, once, from
 * wherever you are (it needs to reach the group, so run it inside the VPC), in the input's
 * cluster.region. Read-only: it neither tags the group nor notifies. Exit status: 0 healthy,
 * 3 degraded, 4 unhealthy, 2 usage error, 1 internal error or a check that could not ask AWS or
 * Kubernetes (status unknown) (cli/exit-codes.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parseMigrationInput } from '../lib/config/schema.js';
import { checkHealth } from '../lib/health/check.js';
import { formatHealth } from '../lib/health/format.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { EXIT, EXIT_CODES_HELP } from './exit-codes.js';

const USAGE = `Usage: spin-elasticache health --input FILE [--json FILE]\n\n${EXIT_CODES_HELP}`;

export async function runHealthCommand(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let values: { input?: string; json?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { input: { type: 'string', short: 'i' }, json: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (error) {
    err.write(`${(error as Error).message}\n${USAGE}`);
    return EXIT.usage;
  }
  if (values.help) {
    out.write(USAGE);
    return EXIT.ok;
  }
  if (!values.input) {
    err.write(`Missing --input FILE (the migration input, e.g. events/health-check.json).\n${USAGE}`);
    return EXIT.usage;
  }
  let config;
  try {
    config = parseMigrationInput(JSON.parse(readFileSync(values.input, 'utf8')));
  } catch (error) {
    err.write(`${values.input}: ${(error as Error).message}\n`);
    return EXIT.usage;
  }
  try {
    // The group lives in the input's region, whatever AWS_REGION says (EKS too: its client reads the environment).
    const region = config.cluster.region;
    process.env.AWS_REGION = region;
    const report = await checkHealth(config, {
      elastiCache: new ElastiCacheClient({ region, maxAttempts: 3 }),
      secretsManager: new SecretsManagerClient({ region, maxAttempts: 3 }),
      cluster: () => clusterApiFor(config),
    });
    out.write(formatHealth(report));
    if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
    return report.status === 'healthy' ? EXIT.ok : report.status === 'degraded' ? EXIT.degraded : report.status === 'unknown' ? EXIT.internal : EXIT.unhealthy;
  } catch (error) {
    err.write(`health check failed: ${(error as Error).name}: ${(error as Error).message}\n`);
    return EXIT.internal;
  }
}
