/** Ownership tags: what this workflow created, and which execution created it. */
import { AddTagsToResourceCommand, ListTagsForResourceCommand, type ElastiCacheClient, type Tag } from '@aws-sdk/client-elasticache';
import { awsCall } from '../aws/errors.js';

/** What an Ensure step did: `created` by this execution, or `existing` and matching. */
export type EnsureOutcome = 'created' | 'existing';

export const MANAGED_TAG = 'spin-elasticache:managed';
export const EXECUTION_TAG = 'spin-elasticache:execution';

/** The execution name (last segment of the ARN) identifies the creator; it is unique per state machine for 90 days. */
export function executionName(executionArn: string): string {
  return executionArn.split(':').at(-1) ?? executionArn;
}

export function ownershipTags(executionArn: string): Tag[] {
  return [
    { Key: MANAGED_TAG, Value: 'true' },
    { Key: EXECUTION_TAG, Value: executionName(executionArn) },
  ];
}

export interface Ownership {
  managed: boolean;
  createdBy?: string;
}

export async function readOwnership(client: Pick<ElastiCacheClient, 'send'>, arn: string | undefined): Promise<Ownership> {
  if (!arn) return { managed: false };
  const { TagList } = await awsCall(`ListTagsForResource ${arn}`, () => client.send(new ListTagsForResourceCommand({ ResourceName: arn })));
  const tags = new Map((TagList ?? []).map((t) => [t.Key, t.Value]));
  const createdBy = tags.get(EXECUTION_TAG);
  return { managed: tags.get(MANAGED_TAG) === 'true', ...(createdBy ? { createdBy } : {}) };
}

export async function tagResource(client: Pick<ElastiCacheClient, 'send'>, arn: string, executionArn: string): Promise<void> {
  await awsCall(`AddTagsToResource ${arn}`, () => client.send(new AddTagsToResourceCommand({ ResourceName: arn, Tags: ownershipTags(executionArn) })));
}
