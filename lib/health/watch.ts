/**
 * One scheduled health check (the HealthCheck Lambda): check, remember the status on the
 * group and tell SNS when it changed, log the findings, publish the metrics the alarm reads.
 */
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { MigrationConfig } from '../config/schema.js';
import { logger } from '../logger.js';
import { checkHealth, type HealthDeps, type HealthReport } from './check.js';
import { addHealthMetrics } from './metrics.js';
import { recordHealth, type HealthTransition } from './notify.js';

export interface HealthWatchDeps {
  health: (config: MigrationConfig) => HealthDeps;
  notify: () => Parameters<typeof recordHealth>[1];
  metrics?: Metrics;
}

export async function watchHealth(config: MigrationConfig, deps: HealthWatchDeps): Promise<HealthReport & { transition: HealthTransition }> {
  const report = await checkHealth(config, deps.health(config));
  const transition = await recordHealth(report, deps.notify());
  logger.info('health', { status: report.status, findings: report.findings.filter((f) => f.status !== 'ok'), metrics: report.metrics, transition });
  if (deps.metrics) {
    addHealthMetrics(deps.metrics, report);
    deps.metrics.publishStoredMetrics();
  }
  return { ...report, transition };
}
