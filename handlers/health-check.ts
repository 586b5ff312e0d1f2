/**
 * HealthCheck (EventBridge schedule, VPC): the watch after the migration. The schedule's
 * input is the migration input (the same JSON). Publishes CloudWatch metrics (namespace
 * SpinElastiCache), keeps the status as a tag on the group and tells SNS when it changes.
 * It fails only when it cannot read its input: an unhealthy Redis is a result, not an error.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { elastiCache, secretsManager, sns } from '../lib/aws/clients.js';
import { parseMigrationInput } from '../lib/config/schema.js';
import { checkHealth, type HealthDeps, type HealthReport } from '../lib/health/check.js';
import { recordHealth, type HealthTransition } from '../lib/health/notify.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { defineHandler, logger } from '../lib/workflow/handler.js';

export interface HealthCheckDeps {
  health: (config: ReturnType<typeof parseMigrationInput>) => HealthDeps;
  notify: () => Parameters<typeof recordHealth>[1];
  metrics?: Metrics;
}

export function createHandler(deps: HealthCheckDeps) {
  return defineHandler('HealthCheck', async (event: unknown): Promise<HealthReport & { transition: HealthTransition }> => {
    const input = (event as { input?: unknown } | null)?.input ?? event;
    const config = parseMigrationInput(input);
    const report = await checkHealth(config, deps.health(config));
    const transition = await recordHealth(report, deps.notify());
    logger.info('health', { status: report.status, findings: report.findings.filter((f) => f.status !== 'ok'), metrics: report.metrics, transition });
    const metrics = deps.metrics;
    if (metrics) {
      metrics.addDimension('ReplicationGroupId', report.replicationGroupId);
      metrics.addMetric('Healthy', MetricUnit.Count, report.status === 'healthy' ? 1 : 0);
      metrics.addMetric('CriticalFindings', MetricUnit.Count, report.findings.filter((f) => f.status === 'critical').length);
      metrics.addMetric('WarningFindings', MetricUnit.Count, report.findings.filter((f) => f.status === 'warning').length);
      const m = report.metrics;
      if (m.pingLatencyMs !== undefined) metrics.addMetric('PingLatency', MetricUnit.Milliseconds, m.pingLatencyMs);
      if (m.memoryUsedPercent !== undefined) metrics.addMetric('MemoryUsed', MetricUnit.Percent, m.memoryUsedPercent);
      if (m.evictedKeys !== undefined) metrics.addMetric('EvictedKeys', MetricUnit.Count, m.evictedKeys);
      if (m.maxReplicationLagBytes !== undefined) metrics.addMetric('ReplicationLag', MetricUnit.Bytes, m.maxReplicationLagBytes);
      metrics.publishStoredMetrics();
    }
    return { ...report, transition };
  });
}

export const handler = createHandler({
  health: (config) => ({ elastiCache: elastiCache(), secretsManager: secretsManager(), cluster: () => clusterApiFor(config) }),
  notify: () => ({ elastiCache: elastiCache(), sns: sns(), ...(process.env.NOTIFY_TOPIC_ARN ? { topicArn: process.env.NOTIFY_TOPIC_ARN } : {}) }),
  metrics: new Metrics({ namespace: 'SpinElastiCache', serviceName: 'spin-elasticache' }),
});
