/** The health report as a person reads it: one line per check, used by the CLI and the rehearsal summary. */
import type { HealthReport } from './check.js';

const MARK = { ok: '✔', warning: '!', critical: '✖', unknown: '?' } as const;

export function formatHealth(report: HealthReport): string {
  const lines = [`${report.replicationGroupId}: ${report.status.toUpperCase()} (${report.checkedAt})`];
  for (const f of report.findings) lines.push(`  ${MARK[f.status]} ${f.check.padEnd(18)} ${f.detail}`);
  return `${lines.join('\n')}\n`;
}
