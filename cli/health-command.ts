/**
 * `spin-elasticache health --input FILE [--json FILE]`: the scheduled HealthCheck, once, from
 * wherever you are (it needs to reach the group, so run it inside the VPC). Read-only: it
 * neither tags the group nor notifies. Exit status: 0 healthy, 1 degraded, 2 unhealthy.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { elastiCache, secretsManager } from '../lib/aws/clients.js';
import { parseMigrationInput } from '../lib/config/schema.js';
import { checkHealth } from '../lib/health/check.js';
import { formatHealth } from '../lib/health/format.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';

export async function runHealthCommand(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let values: { input?: string; json?: string };
  try {
    ({ values } = parseArgs({ args: argv, options: { input: { type: 'string', short: 'i' }, json: { type: 'string' } } }));
  } catch (error) {
    err.write(`${(error as Error).message}\nUsage: spin-elasticache health --input FILE [--json FILE]\n`);
    return 2;
  }
  if (!values.input) {
    err.write('Missing --input FILE (the migration input, e.g. events/health-check.json).\n');
    return 2;
  }
  let config;
  try {
    config = parseMigrationInput(JSON.parse(readFileSync(values.input, 'utf8')));
  } catch (error) {
    err.write(`${values.input}: ${(error as Error).message}\n`);
    return 2;
  }
  const report = await checkHealth(config, { elastiCache: elastiCache(), secretsManager: secretsManager(), cluster: () => clusterApiFor(config) });
  out.write(formatHealth(report));
  if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
  return report.status === 'healthy' ? 0 : report.status === 'degraded' ? 1 : 2;
}
