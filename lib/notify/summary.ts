/** A short human summary of an execution, published to SNS; no secrets, no stack traces. */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { awsCall } from '../aws/errors.js';
import type { Flavor, MigrationConfig } from '../config/schema.js';
import { redisTarget } from '../halyard/patch.js';
import { chartValues } from '../spinnaker/helm.js';
import { spinRedisWorkload } from '../kubernetes/scale.js';

export type Outcome = 'SUCCEEDED' | 'FAILED' | 'ROLLED_BACK' | 'ROLLBACK_FAILED';

/** A caught Task error as Step Functions records it. */
export interface StepError {
  Error: string;
  Cause: string;
}

/** What the summary says, taken from the execution state by lib/workflow/resolve.ts. */
export interface OutcomeFacts {
  config: MigrationConfig;
  /** The install flavour AcquireMigrationLock found: it says where the config and its backup live. */
  flavor?: Flavor;
  /** The new group's primary endpoint, when it was reached. */
  endpoint?: { address: string; port: number };
  /** spin-redis's replicas before ScaleDownSpinRedis. */
  previousReplicas?: number;
  /** ScaleDownSpinRedis left spin-redis running on purpose (a Sentinel-managed one), and why. */
  spinRedisLeftRunning?: string;
  /** ScaleDownSpinRedis or DisableChangeCapture failed after Spinnaker had moved (reported, not rolled back). */
  scaleDownError?: StepError;
  captureRestoreError?: StepError;
  error?: StepError;
  rollbackError?: StepError;
  /** Whether the Halyard config was being switched (a rollback after the switch copies ElastiCache back). */
  /**
   * Whether EnsureReplicationGroup (or, with s3-seed, SeedEnsureReplicationGroup) ran: with s3-seed
   * Spinnaker is paused before the group exists, so a rollback may come before there is one.
   */
  replicationGroupRequested?: boolean;
  switched?: boolean;
  /** How long Spinnaker's Redis users were at 0 for the switch, ms (orca's queue was not processed meanwhile). */
  pauseMs?: number;
}

function cause(facts: OutcomeFacts, which: 'error' | 'rollbackError' | 'scaleDownError' | 'captureRestoreError'): string {
  const e = facts[which];
  if (!e) return 'unknown error';
  try {
    const parsed = JSON.parse(e.Cause) as { errorMessage?: string };
    return `${e.Error}: ${parsed.errorMessage ?? e.Cause}`;
  } catch {
    return `${e.Error}: ${e.Cause}`;
  }
}

export function summarize(facts: OutcomeFacts, outcome: Outcome): { subject: string; message: string } {
  const { config, endpoint } = facts;
  const target = config.target.replicationGroupId;
  const cluster = `${config.cluster.name}/${config.spinnaker.namespace}`;
  const where = endpoint ? `${endpoint.address}:${endpoint.port}` : target;
  const operator = facts.flavor === 'operator';
  const helm = facts.flavor === 'helm-stable' || facts.flavor === 'helm-opsmx';
  const restored = operator
    ? 'the SpinnakerService config, which the Spinnaker Operator redeployed'
    : helm
      ? "the chart's two ConfigMaps and the Halyard pod's files, and ran hal deploy apply"
      : 'the Halyard config and redeployed';
  const backup = operator
    ? `The original spec.spinnakerConfig is in the annotation spin-elasticache.io/backup on the SpinnakerService in ${config.spinnaker.namespace}`
    : helm
      ? "The original files are in the annotation spin-elasticache.io/backup on each of the chart's ConfigMaps <fullname>-service-settings and <fullname>-additional-profile-config-maps"
      : 'The original Halyard config is in the annotation spin-elasticache.io/backup on the Halyard ConfigMap';
  // Helm: the next `helm upgrade` re-renders the ConfigMaps from the chart values; these keep the change (never a token: a placeholder at most).
  const values = helm && endpoint ? chartValues(config, redisTarget(config, endpoint), endpoint) : undefined;
  const helmNext = values
    ? `\nBefore the next helm upgrade, merge these into the release's chart values, or that upgrade moves Spinnaker back to spin-redis at the next Halyard restart:\n${values}`
    : '';
  const reverted = facts.error?.Error === 'SpinnakerConfigRevertedError' ? '\nA helm upgrade ran during the migration: set the chart values from the plan before the next attempt.' : '';
  switch (outcome) {
    case 'SUCCEEDED': {
      const spinRedis = spinRedisWorkload(config);
      const leftover = [
        facts.spinRedisLeftRunning
          ? `${facts.spinRedisLeftRunning}.`
          : facts.scaleDownError
            ? `spin-redis could NOT be scaled to 0 (${cause(facts, 'scaleDownError')}); nothing uses it any more. Run: kubectl -n ${config.spinnaker.namespace} scale ${spinRedis.kind.toLowerCase()}/${spinRedis.name} --replicas=0`
            : `spin-redis is scaled to 0 (it had ${facts.previousReplicas ?? '?'} ${facts.previousReplicas === 1 ? 'replica' : 'replicas'}).`,
        facts.captureRestoreError ? ` Its notify-keyspace-events could not be set back (${cause(facts, 'captureRestoreError')}).` : '',
      ].join('');
      return {
        // What to do first: SNS cuts a subject at 99 characters, and a cluster name may be 100.
        subject: `${facts.scaleDownError ? 'ACTION NEEDED: scale spin-redis down by hand; ' : ''}Spinnaker Redis migrated to ElastiCache (${cluster})`,
        message: `Spinnaker in ${cluster} now uses ElastiCache ${where}. ${leftover}${facts.pauseMs !== undefined ? ` Spinnaker was paused for the switch for ${(facts.pauseMs / 1000).toFixed(1)} s.` : ''}\nNext: turn the scheduled health check on (deploy the stack with healthCheckEnabled=true: every 5 minutes, status changes told on this topic), watch Spinnaker for a day, then delete the spin-redis ${helm ? 'StatefulSet (redis.enabled: false in the chart values; its PVC stays until you delete it)' : 'Deployment and its Service'}.${facts.flavor === 'helm-opsmx' ? " The chart's Redis replicas (StatefulSet <release>-redis-replicas) still run and now replicate from nothing: nothing reads them; redis.enabled: false removes them too." : ''}${helmNext}`,
      };
    }
    case 'FAILED':
      return {
        subject: `Spinnaker Redis migration failed before the cutover (${cluster})`,
        message: `${cause(facts, 'error')}\nSpinnaker still runs on spin-redis, untouched. Resources created so far were ${config.options.cleanupOnFailure ? 'deleted' : 'kept for a re-run'}.\nNext: fix the cause and start the same input again; it resumes.`,
      };
    case 'ROLLED_BACK':
      return {
        subject: `Spinnaker Redis migration rolled back (${cluster})`,
        message: facts.switched
          ? `${cause(facts, 'error')}\nThe rollback paused Spinnaker again, made spin-redis exactly what Spinnaker had left on ElastiCache (deletions included), restored ${restored}: Spinnaker runs on spin-redis again. ElastiCache ${target} is kept.${reverted}\nNext: fix the cause and start the same input again.`
          : `${cause(facts, 'error')}\nThis happened while Spinnaker was paused for the switch, before anything was switched: its services were resumed on spin-redis with their replicas, and nothing of theirs went to ElastiCache. ${facts.replicationGroupRequested === false ? `ElastiCache ${target} had not been created yet.` : `ElastiCache ${target} is kept.`}\nNext: fix the cause and start the same input again.`,
      };
    case 'ROLLBACK_FAILED':
      return {
        subject: `ACTION NEEDED: Spinnaker Redis rollback failed (${cluster})`,
        message: `The migration failed (${cause(facts, 'error')}) and so did its rollback (${cause(facts, 'rollbackError')}).\nSpinnaker may point at ElastiCache ${where}, be half-redeployed, or be scaled to 0 (each Deployment's annotation spin-elasticache.io/quiesced-replicas holds its replicas). ${backup}; the migration lock is kept.\nNext: follow the manual rollback runbook in the README.`,
      };
  }
}

export async function publishSummary(
  client: Pick<SNSClient, 'send'>,
  topicArn: string | undefined,
  summary: { subject: string; message: string },
): Promise<{ published: boolean; messageId?: string }> {
  if (!topicArn) return { published: false };
  const { MessageId } = await awsCall('SNS Publish', () => client.send(new PublishCommand({ TopicArn: topicArn, Subject: summary.subject.slice(0, 99), Message: summary.message })));
  return { published: true, ...(MessageId ? { messageId: MessageId } : {}) };
}

/** NotifyOutcome: summarize the outcome and publish it when a topic is configured. */
export async function notifyOutcome(
  client: Pick<SNSClient, 'send'>,
  topicArn: string | undefined,
  facts: OutcomeFacts,
  outcome: Outcome,
): Promise<{ outcome: Outcome; subject: string; published: boolean; messageId?: string }> {
  const summary = summarize(facts, outcome);
  return { outcome, subject: summary.subject, ...(await publishSummary(client, topicArn, summary)) };
}
