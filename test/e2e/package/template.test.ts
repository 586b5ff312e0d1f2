import { beforeAll, describe, expect, it } from '@jest/globals';
import { packagedTemplate } from '../../support/package.js';
import { loadDefinition } from '../../../statemachine/load.js';
import { parseMigrationInput } from '../../../lib/config/schema.js';

const REDIS_FUNCTIONS = [
  'planMigration', // reads spin-redis for the fork-safety decision
  'pingRedis',
  'copyBulk',
  'uploadSeedSnapshot', // s3-seed: spin-redis's RDB, taken as a replica
  'enableChangeCapture',
  'catchUpLiveWrites',
  'checkSpinnakerQuiesced',
  'verifySpinRedisDrained',
  'reconcileFinal',
  'verifyCopy',
  'disableChangeCapture',
  'copyBackWrites',
  'healthCheck',
];
/** Lambdas that are not Tasks of the state machine: the scheduled health check and ChatOps. */
const SCHEDULED_FUNCTIONS = ['healthCheck', 'slackCommand'];
const logicalId = (fn: string) => `${fn.charAt(0).toUpperCase()}${fn.slice(1)}LambdaFunction`;

type Definition = { States: Record<string, { QueryLanguage?: string; Branches?: Definition[] }> };

/** `stepFunctions.validate` (asl-validator) writes the default `QueryLanguage` into every state it packages. */
function withDefaultQueryLanguage<T>(definition: T): T {
  const copy = structuredClone(definition) as Definition;
  const visit = (d: Definition) => {
    for (const state of Object.values(d.States)) {
      state.QueryLanguage ??= 'JSONPath';
      for (const branch of state.Branches ?? []) visit(branch);
    }
  };
  visit(copy);
  return copy as T;
}

type Resource = { Type: string; Properties: Record<string, unknown>; Condition?: string };

describe('npm run package', () => {
  let resources: Record<string, Resource>;
  let outputs: Record<string, unknown>;
  let conditions: Record<string, unknown>;
  beforeAll(async () => {
    const template = await packagedTemplate<{ Resources: Record<string, Resource>; Outputs: Record<string, unknown>; Conditions: Record<string, unknown> }>();
    resources = template.Resources;
    outputs = template.Outputs;
    conditions = template.Conditions;
  }, 660_000);

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

  it('packages exactly the definition loaded locally by statemachine/load.ts', () => {
    const [template, substitutions] = (resources.MigrateStateMachine?.Properties.DefinitionString as { 'Fn::Sub': [string, Record<string, { 'Fn::GetAtt': [string, string] }>] })['Fn::Sub'];
    // Each `${placeholder}` is a packaged Lambda's Arn: write it as the ARN of that function's name.
    const arns = new Map(
      Object.entries(substitutions).map(([key, sub]) => [key, `arn:aws:lambda:us-east-1:000000000000:function:${String(resources[sub['Fn::GetAtt'][0]]?.Properties.FunctionName)}`]),
    );
    const packaged = JSON.parse(template.replace(/\$\{(\w+)\}/g, (whole, key: string) => arns.get(key) ?? whole)) as unknown;
    const { definition } = loadDefinition({ stage: 'test', region: 'us-east-1' });
    expect(packaged).toEqual(withDefaultQueryLanguage(definition));
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
