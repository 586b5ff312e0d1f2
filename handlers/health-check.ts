/**
 * HealthCheck (EventBridge schedule, VPC): the watch after the migration. The schedule's
 * input is the migration input (the same JSON). Publishes CloudWatch metrics (namespace
 * SpinElastiCache), keeps the status as a tag on the group and tells SNS when it changes
 * (lib/health/watch.ts). It fails only when it cannot read its input: an unhealthy Redis is
 * a result, not an error.
 */
import { elastiCache, secretsManager, sns } from '../lib/aws/clients.js';
import { parseMigrationInput } from '../lib/config/schema.js';
import { healthMetrics } from '../lib/health/metrics.js';
import { watchHealth, type HealthWatchDeps } from '../lib/health/watch.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { defineHandler } from '../lib/workflow/handler.js';

export function createHandler(deps: HealthWatchDeps) {
  return defineHandler('HealthCheck', async (event: unknown) => {
    const input = (event as { input?: unknown } | null)?.input ?? event;
    return watchHealth(parseMigrationInput(input), deps);
  });
}

export const handler = createHandler({
  health: (config) => ({ elastiCache: elastiCache(), secretsManager: secretsManager(), cluster: () => clusterApiFor(config) }),
  notify: () => ({ elastiCache: elastiCache(), sns: sns(), ...(process.env.NOTIFY_TOPIC_ARN ? { topicArn: process.env.NOTIFY_TOPIC_ARN } : {}) }),
  metrics: healthMetrics(),
});
