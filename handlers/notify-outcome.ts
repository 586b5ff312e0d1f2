/** NotifyOutcome (`$.notify`): input `{ state, outcome }`; a human summary to SNS (NOTIFY_TOPIC_ARN). */
import type { SNSClient } from '@aws-sdk/client-sns';
import { sns } from '../lib/aws/clients.js';
import { publishSummary, summarize, type Outcome } from '../lib/notify/summary.js';
import { defineHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { sns: () => Pick<SNSClient, 'send'>; topicArn: () => string | undefined }) {
  return defineHandler('NotifyOutcome', async (event: { state: MigrationState; outcome: Outcome }) => {
    const summary = summarize(event.state, event.outcome);
    return { outcome: event.outcome, subject: summary.subject, ...(await publishSummary(deps.sns(), deps.topicArn(), summary)) };
  });
}

export const handler = createHandler({ sns, topicArn: () => process.env.NOTIFY_TOPIC_ARN || undefined });
