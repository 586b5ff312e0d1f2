/** The SNS summary, from the execution state as NotifyOutcome reads it. */
import { describe, expect, it } from '@jest/globals';
import { parseMigrationInput } from '../../../lib/config/schema.js';
import { summarize } from '../../../lib/notify/summary.js';
import { outcomeFacts } from '../../../lib/workflow/resolve.js';
import type { MigrationState } from '../../../lib/workflow/state.js';

const state: MigrationState = {
  config: parseMigrationInput({ cluster: { name: 'prod', region: 'us-east-1' }, target: { replicationGroupId: 'spin-redis' } }),
  execution: { arn: 'arn:aws:states:us-east-1:1:execution:sm:run', startedAt: '2026-11-22T10:00:00Z' },
  replicationGroup: {
    id: 'spin-redis',
    outcome: 'created',
    status: 'available',
    polls: 3,
    waitingSince: '2026-11-22T10:00:00Z',
    primaryEndpoint: { address: 'master.spin-redis.x.cache.amazonaws.com', port: 6379 },
  },
  scaleDown: { deployment: 'spin-redis', kind: 'Deployment', previousReplicas: 1, replicas: 0 },
  error: { Error: 'HalDeployFailedError', Cause: JSON.stringify({ errorType: 'HalDeployFailedError', errorMessage: 'hal deploy apply exited 1' }) },
};

describe('the SNS summary', () => {
  it('a rollback in the pause says whether the ElastiCache group exists (s3-seed pauses before creating it)', () => {
    const { replicationGroup: _none, ...beforeTheGroup } = state;
    const seedFailed = { ...beforeTheGroup, error: { Error: 'SeedUploadError', Cause: 'refused' } };
    expect(summarize(outcomeFacts(seedFailed), 'ROLLED_BACK').message).toContain('ElastiCache spin-redis had not been created yet.');
    expect(summarize(outcomeFacts(seedFailed), 'ROLLED_BACK').message).not.toContain('is kept');
    expect(summarize(outcomeFacts(state), 'ROLLED_BACK').message).toContain('ElastiCache spin-redis is kept.');
  });

  it('says where Spinnaker points and what to do next, for each outcome', () => {
    expect(summarize(outcomeFacts(state), 'SUCCEEDED').message).toContain('now uses ElastiCache master.spin-redis.x.cache.amazonaws.com:6379');
    expect(summarize(outcomeFacts(state), 'FAILED').message).toContain('Spinnaker still runs on spin-redis, untouched');
    expect(summarize(outcomeFacts(state), 'ROLLED_BACK').message).toContain('HalDeployFailedError: hal deploy apply exited 1');
    expect(summarize(outcomeFacts({ ...state, rollbackError: { Error: 'KubernetesForbiddenError', Cause: 'forbidden' } }), 'ROLLBACK_FAILED').subject).toMatch(/^ACTION NEEDED/);
  });

  it('a spin-redis that could not be scaled down after the move: success, with the command to run', () => {
    const { scaleDown: _, ...rest } = state;
    const summary = summarize(
      outcomeFacts({ ...rest, scaleDownError: { Error: 'KubernetesForbiddenError', Cause: JSON.stringify({ errorMessage: 'scale refused' }) } } as MigrationState),
      'SUCCEEDED',
    );
    expect(summary.subject).toMatch(/^ACTION NEEDED: scale spin-redis down by hand; Spinnaker Redis migrated/);
    // SNS takes 99 characters of a subject: with the longest EKS cluster name, what to do still fits.
    const long = summarize(
      outcomeFacts({
        ...rest,
        config: { ...rest.config, cluster: { ...rest.config.cluster, name: 'c'.repeat(100) } },
        scaleDownError: { Error: 'KubernetesForbiddenError', Cause: '{}' },
      } as MigrationState),
      'SUCCEEDED',
    );
    expect(long.subject.slice(0, 99)).toContain('scale spin-redis down by hand');
    expect(summary.message).toContain('spin-redis could NOT be scaled to 0 (KubernetesForbiddenError: scale refused)');
    expect(summary.message).toContain('kubectl -n spinnaker scale deployment/spin-redis --replicas=0');
  });

  it('names where the config and its backup live for the flavour found (operator: the SpinnakerService)', () => {
    const operator = { ...state, lock: { owner: 'x', acquiredAt: '', configMapBackupAnnotation: 'spin-elasticache.io/backup', flavor: 'operator' as const }, switch: { switched: true as const } };
    expect(summarize(outcomeFacts(operator), 'ROLLED_BACK').message).toContain('restored the SpinnakerService config, which the Spinnaker Operator redeployed');
    expect(summarize(outcomeFacts({ ...operator, rollbackError: { Error: 'RolloutTimeoutError', Cause: 'x' } }), 'ROLLBACK_FAILED').message).toContain(
      'spin-elasticache.io/backup on the SpinnakerService',
    );
    expect(summarize(outcomeFacts({ ...state, switch: { switched: true as const } }), 'ROLLED_BACK').message).toContain('restored the Halyard config');
  });

  it('Helm: the chart values that keep Spinnaker on ElastiCache after success (no token, a reference), and a helm upgrade named after its rollback', () => {
    const helmState = {
      ...state,
      config: parseMigrationInput({
        cluster: { name: 'prod', region: 'us-east-1' },
        spinnaker: { spinRedis: { statefulSet: 'spinnaker-redis-master' } },
        target: { replicationGroupId: 'spin-redis', authTokenSecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:spinnaker/redis-auth-AbCdEf' },
      }),
      lock: { owner: 'x', acquiredAt: '', configMapBackupAnnotation: 'spin-elasticache.io/backup', flavor: 'helm-stable' as const },
    };
    const success = summarize(outcomeFacts(helmState), 'SUCCEEDED').message;
    expect(success).toContain('Before the next helm upgrade, merge these into the release');
    expect(success).toContain('overrideBaseUrl: rediss://master.spin-redis.x.cache.amazonaws.com:6379');
    expect(success).toContain('connection: encrypted:secrets-manager!r:us-east-1!s:spin-elasticache/spin-redis/redis-url');
    expect(success).toContain('delete the spin-redis StatefulSet');
    const reverted = { ...helmState, switch: { switched: true as const }, error: { Error: 'SpinnakerConfigRevertedError', Cause: '{}' } };
    const rolledBack = summarize(outcomeFacts(reverted), 'ROLLED_BACK').message;
    expect(rolledBack).toContain("restored the chart's two ConfigMaps");
    expect(rolledBack).toContain('A helm upgrade ran during the migration');
  });
});
