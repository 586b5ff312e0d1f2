/**
 * Tell people when the health of the new Redis changes, not every five minutes: the last
 * status is kept as a tag on the replication group (visible in the console, no extra
 * store), and SNS hears about a change, or about a first check that is not healthy.
 */
import { AddTagsToResourceCommand, ListTagsForResourceCommand, type ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { awsCall } from '../aws/errors.js';
import type { HealthReport } from './check.js';

export const HEALTH_TAG = 'spin-elasticache:health';

export interface HealthTransition {
  previous?: string;
  current: HealthReport['status'];
  notified: boolean;
}

export function healthMessage(report: HealthReport, previous: string | undefined): { subject: string; message: string } {
  const problems = report.findings.filter((f) => f.status !== 'ok');
  const subject =
    report.status === 'healthy'
      ? `ElastiCache ${report.replicationGroupId} for Spinnaker is healthy again`
      : report.status === 'unknown'
        ? `The health check of ElastiCache ${report.replicationGroupId} could not run`
        : `ElastiCache ${report.replicationGroupId} for Spinnaker is ${report.status}`;
  const lines = [
    `Status: ${report.status}${previous ? ` (was ${previous})` : ''}, checked ${report.checkedAt}.`,
    ...problems.map((f) => `- ${f.status.toUpperCase()} ${f.check}: ${f.detail}`),
    ...(problems.length === 0 ? ['Every check passed.'] : []),
  ];
  return { subject: subject.slice(0, 99), message: lines.join('\n') };
}

export async function recordHealth(report: HealthReport, deps: { elastiCache: Pick<ElastiCacheClient, 'send'>; sns: Pick<SNSClient, 'send'>; topicArn?: string }): Promise<HealthTransition> {
  if (!report.arn) return { current: report.status, notified: false };
  const arn = report.arn;
  const tags = await awsCall(`ListTagsForResource ${report.replicationGroupId}`, () => deps.elastiCache.send(new ListTagsForResourceCommand({ ResourceName: arn })));
  const previous = tags.TagList?.find((t) => t.Key === HEALTH_TAG)?.Value;
  const changed = previous === undefined ? report.status !== 'healthy' : previous !== report.status;
  let notified = false;
  if (changed && deps.topicArn) {
    const { subject, message } = healthMessage(report, previous);
    await awsCall('SNS Publish', () => deps.sns.send(new PublishCommand({ TopicArn: deps.topicArn, Subject: subject, Message: message })));
    notified = true;
  }
  if (previous !== report.status) {
    await awsCall(`AddTagsToResource ${report.replicationGroupId}`, () =>
      deps.elastiCache.send(new AddTagsToResourceCommand({ ResourceName: arn, Tags: [{ Key: HEALTH_TAG, Value: report.status }] })),
    );
  }
  return { ...(previous ? { previous } : {}), current: report.status, notified };
}
