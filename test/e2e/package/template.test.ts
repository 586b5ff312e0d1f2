/**
 * Packages the stack with osls, offline, and checks the CloudFormation template: one Lambda
 * per Task function, VPC config exactly on the functions that talk to Redis, and the state
 * machine with its definition.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { ROOT, loadDefinition } from '../../../sandbox/runner.js';
import { parseMigrationInput } from '../../../lib/config/schema.js';

const REDIS_FUNCTIONS = ['pingRedis', 'copyBulk', 'enableChangeCapture', 'catchUpLiveWrites', 'verifySpinRedisDrained', 'reconcileFinal', 'verifyCopy', 'disableChangeCapture', 'copyBackWrites', 'healthCheck'];
/** Lambdas that are not Tasks of the state machine: the scheduled health check and ChatOps. */
const SCHEDULED_FUNCTIONS = ['healthCheck', 'slackCommand'];
const logicalId = (fn: string) => `${fn.charAt(0).toUpperCase()}${fn.slice(1)}LambdaFunction`;

type Resource = { Type: string; Properties: Record<string, unknown>; Condition?: string };

describe('npm run package', () => {
  let resources: Record<string, Resource>;
  let outputs: Record<string, unknown>;
  let conditions: Record<string, unknown>;
  beforeAll(() => {
    const out = mkdtempSync(join(tmpdir(), 'sls-package-'));
    const env = { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '' };
    execFileSync(join(ROOT, 'node_modules', '.bin', 'osls'), ['package', '--stage', 'test', '--package', out], { cwd: ROOT, env, stdio: 'pipe', timeout: 180_000 });
    const template = JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8')) as { Resources: Record<string, Resource>; Outputs: Record<string, unknown>; Conditions: Record<string, unknown> };
    resources = template.Resources;
    outputs = template.Outputs;
    conditions = template.Conditions;
  }, 200_000);

  it('has one Lambda per Task function and the scheduled health check, on Node 22+ and arm64', () => {
    const functions = [...new Set(loadDefinition().tasks.map((t) => t.functionName)), ...SCHEDULED_FUNCTIONS];
    const lambdas = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
    expect(lambdas.map(([id]) => id).sort()).toEqual(functions.map(logicalId).sort());
    for (const [, lambda] of lambdas) {
      expect(String(lambda.Properties.Runtime)).toMatch(/^nodejs(2[2-9]|[3-9]\d)\.x$/);
      expect(lambda.Properties.Architectures).toEqual(['arm64']);
    }
  });

  it('attaches to the VPC exactly the functions that talk to Redis', () => {
    for (const [id, r] of Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function')) {
      const fn = id.replace(/LambdaFunction$/, '');
      const expectVpc = REDIS_FUNCTIONS.map(logicalId).includes(id);
      expect({ fn, vpc: Boolean(r.Properties.VpcConfig) }).toEqual({ fn, vpc: expectVpc });
    }
  });

  it('schedules the health check with a valid migration input, disabled until asked for', () => {
    const rules = Object.values(resources).filter((r) => r.Type === 'AWS::Events::Rule');
    expect(rules).toHaveLength(1);
    const rule = rules[0]!.Properties as { ScheduleExpression: string; State: string; Targets: { Input: string }[] };
    expect({ schedule: rule.ScheduleExpression, state: rule.State }).toEqual({ schedule: 'rate(5 minutes)', state: 'DISABLED' });
    const input = JSON.parse(rule.Targets[0]!.Input) as unknown;
    expect(parseMigrationInput(input).target.replicationGroupId).toBe('spinnaker-redis');
    // The alarm (Healthy < 1, or no data, for 10 minutes → SNS) is created only when the schedule is on.
    expect(resources.RedisHealthAlarm).toMatchObject({ Type: 'AWS::CloudWatch::Alarm', Condition: 'HealthCheckEnabled', Properties: { MetricName: 'Healthy', TreatMissingData: 'breaching' } }); // its dimensions: iam.test.ts
    expect(conditions.HealthCheckEnabled).toEqual({ 'Fn::Equals': ['false', 'true'] });
  });

  it('serves the Slack slash command over an HTTP API, allowed to start only this state machine', () => {
    const route = Object.values(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Route');
    expect(route?.Properties.RouteKey).toBe('POST /slack/command');
    const env = (resources.SlackCommandLambdaFunction?.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env).toMatchObject({ SLACK_SIGNING_SECRET_ARN: 'spin-elasticache/slack-signing-secret', SLACK_ALLOWED_USER_IDS: '', PRESETS_DIR: './presets' });
    expect(JSON.stringify(env.STATE_MACHINE_ARN)).toContain('stateMachine:spin-elasticache-test');
    const policy = JSON.stringify(resources.SlackRole?.Properties); // per-function roles: iam.test.ts
    expect(policy).toContain('states:StartExecution');
    expect(policy).toContain('secret:spin-elasticache/slack-signing-secret-??????');
    expect(Object.keys(outputs)).toContain('HttpApiUrl');
  });

  it('holds the state machine with every state and an EKS access entry to an RBAC group', () => {
    const machine = resources.MigrateStateMachine;
    expect(machine?.Type).toBe('AWS::StepFunctions::StateMachine');
    const definition = JSON.stringify(machine?.Properties.DefinitionString);
    for (const state of ['ValidateInput', 'EnsureReplicationGroup', 'PingRedis', 'CopyBulk', 'PatchHalyardConfig', 'HalDeployApply', 'ScaleDownSpinRedis', 'RollbackHalyardConfig']) {
      expect(definition).toContain(state);
    }
    const entry = resources.KubernetesEksAccessEntry; // RBAC groups, no access policy: iam.test.ts
    expect(entry?.Type).toBe('AWS::EKS::AccessEntry');
    expect(entry?.Properties.KubernetesGroups).toEqual(['spin-elasticache-migrator']);
    expect(Object.keys(outputs)).toEqual(expect.arrayContaining(['MigrateStateMachineArn', 'MigrateStateMachineConsoleUrl']));
  });
});
