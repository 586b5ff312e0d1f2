/** A short human summary of an execution, published to SNS; no secrets, no stack traces. */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { awsCall } from '../aws/errors.js';
import type { MigrationState } from '../workflow/state.js';

export type Outcome = 'SUCCEEDED' | 'FAILED' | 'ROLLED_BACK' | 'ROLLBACK_FAILED';

function cause(state: MigrationState & { rollbackError?: { Error: string; Cause: string } }, which: 'error' | 'rollbackError'): string {
  const e = state[which];
  if (!e) return 'unknown error';
  try {
    const parsed = JSON.parse(e.Cause) as { errorMessage?: string };
    return `${e.Error}: ${parsed.errorMessage ?? e.Cause}`;
  } catch {
    return `${e.Error}: ${e.Cause}`;
  }
}

export function summarize(state: MigrationState & { rollbackError?: { Error: string; Cause: string } }, outcome: Outcome): { subject: string; message: string } {
  const target = state.config.target.replicationGroupId;
  const cluster = `${state.config.cluster.name}/${state.config.spinnaker.namespace}`;
  const endpoint = state.replicationGroup?.primaryEndpoint;
  const where = endpoint ? `${endpoint.address}:${endpoint.port}` : target;
  switch (outcome) {
    case 'SUCCEEDED':
      return {
        subject: `Spinnaker Redis migrated to ElastiCache (${cluster})`,
        message: `Spinnaker in ${cluster} now uses ElastiCache ${where}. spin-redis is scaled to 0 (it had ${state.scaleDown?.previousReplicas ?? '?'} replicas).\nNext: watch Spinnaker for a day, then delete the spin-redis Deployment and its Service.`,
      };
    case 'FAILED':
      return {
        subject: `Spinnaker Redis migration failed before the cutover (${cluster})`,
        message: `${cause(state, 'error')}\nSpinnaker still runs on spin-redis, untouched. Resources created so far were ${state.config.options.cleanupOnFailure ? 'deleted' : 'kept for a re-run'}.\nNext: fix the cause and start the same input again; it resumes.`,
      };
    case 'ROLLED_BACK':
      return {
        subject: `Spinnaker Redis migration rolled back (${cluster})`,
        message: `${cause(state, 'error')}\nThe rollback restored the Halyard config and redeployed: Spinnaker runs on spin-redis again, with what it wrote to ElastiCache meanwhile copied back. ElastiCache ${target} is kept.\nNext: fix the cause and start the same input again.`,
      };
    case 'ROLLBACK_FAILED':
      return {
        subject: `ACTION NEEDED: Spinnaker Redis rollback failed (${cluster})`,
        message: `The migration failed (${cause(state, 'error')}) and so did its rollback (${cause(state, 'rollbackError')}).\nSpinnaker may point at ElastiCache ${where} or be half-redeployed. The original Halyard config is in the annotation spin-elasticache.io/backup on the Halyard ConfigMap; the migration lock is kept.\nNext: follow the manual rollback runbook in the README.`,
      };
  }
}

export async function publishSummary(client: Pick<SNSClient, 'send'>, topicArn: string | undefined, summary: { subject: string; message: string }): Promise<{ published: boolean; messageId?: string }> {
  if (!topicArn) return { published: false };
  const { MessageId } = await awsCall('SNS Publish', () => client.send(new PublishCommand({ TopicArn: topicArn, Subject: summary.subject.slice(0, 99), Message: summary.message })));
  return { published: true, ...(MessageId ? { messageId: MessageId } : {}) };
}
