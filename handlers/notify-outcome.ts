/** NotifyOutcome (`$.notify`): input `{ state, outcome }`; a human summary to SNS (NOTIFY_TOPIC_ARN). */
import type { SNSClient } from '@aws-sdk/client-sns';
import { sns } from '../lib/aws/clients.js';
import { notifyOutcome, type Outcome } from '../lib/notify/summary.js';
import { defineHandler } from '../lib/workflow/handler.js';
import { outcomeFacts } from '../lib/workflow/resolve.js';
import { type MigrationState, parseOutcomeEvent } from '../lib/workflow/state.js';

/** Optional: without a topic the summary is only returned (and logged in the execution history). */
const NOTIFY_TOPIC_ARN = process.env.NOTIFY_TOPIC_ARN || undefined;

export function createHandler(deps: { sns: () => Pick<SNSClient, 'send'>; topicArn: string | undefined }) {
  return defineHandler('NotifyOutcome', async (event: { state: MigrationState; outcome: Outcome }) => {
    const { state, outcome } = parseOutcomeEvent(event);
    return notifyOutcome(deps.sns(), deps.topicArn, outcomeFacts(state), outcome);
  });
}

export const handler = createHandler({ sns, topicArn: NOTIFY_TOPIC_ARN });
