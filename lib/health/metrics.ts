/**
 * The health check's CloudWatch metrics (namespace SpinElastiCache, as EMF log lines). The
 * alarm in serverless.yml reads `Healthy` with exactly the dimensions published here, and
 * Powertools adds `service` to every metric: a test of the packaged template checks that the
 * two agree (an alarm on a dimension set nobody publishes never sees its metric).
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { HealthReport } from './check.js';

export const HEALTH_METRICS_NAMESPACE = 'SpinElastiCache';
/** Powertools' `service` dimension; the alarm names it too. */
export const HEALTH_METRICS_SERVICE = 'spin-elasticache';

export function healthMetrics(): Metrics {
  return new Metrics({ namespace: HEALTH_METRICS_NAMESPACE, serviceName: HEALTH_METRICS_SERVICE });
}

/** Adds the report's metrics to `metrics`, dimensioned by the replication group (and `service`). */
export function addHealthMetrics(metrics: Metrics, report: HealthReport): void {
  metrics.addDimension('ReplicationGroupId', report.replicationGroupId);
  // A check that could not ask AWS or Kubernetes publishes no Healthy: the alarm treats missing data as breaching, so a checker failing for two periods still alarms, without a false "unhealthy" now.
  if (report.status !== 'unknown') metrics.addMetric('Healthy', MetricUnit.Count, report.status === 'healthy' ? 1 : 0);
  else metrics.addMetric('CheckFailed', MetricUnit.Count, 1);
  metrics.addMetric('CriticalFindings', MetricUnit.Count, report.findings.filter((f) => f.status === 'critical').length);
  metrics.addMetric('WarningFindings', MetricUnit.Count, report.findings.filter((f) => f.status === 'warning').length);
  const m = report.metrics;
  if (m.pingLatencyMs !== undefined) metrics.addMetric('PingLatency', MetricUnit.Milliseconds, m.pingLatencyMs);
  if (m.memoryUsedPercent !== undefined) metrics.addMetric('MemoryUsed', MetricUnit.Percent, m.memoryUsedPercent);
  if (m.evictedKeys !== undefined) metrics.addMetric('EvictedKeys', MetricUnit.Count, m.evictedKeys);
  if (m.maxReplicationLagBytes !== undefined) metrics.addMetric('ReplicationLag', MetricUnit.Bytes, m.maxReplicationLagBytes);
}
