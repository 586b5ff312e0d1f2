/**
 * Least privilege in the packaged template (osls, offline): per function, the AWS actions its
 * role allows equal what its code calls (the table below, read from handlers/ and lib/); no
 * mutating action on `Resource: "*"` outside AWS's own named exceptions; creates conditioned
 * on our ownership tag in the request, changes and deletes on the tag of the resource; the
 * Kubernetes access through RBAC groups only (no EKS access policy); the Slack door throttled;
 * and the health alarm reading exactly the dimensions the handler publishes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { packagedTemplate } from '../../support/package.js';
import { parseAllDocuments } from 'yaml';
import { parseMigrationInput } from '../../../lib/config/schema.js';
import { addHealthMetrics, healthMetrics } from '../../../lib/health/metrics.js';
import { ROOT } from '../../../sandbox/runner.js';

type Resource = { Type: string; Properties: Record<string, unknown>; Condition?: string };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> };

const EKS = 'eks:DescribeCluster'; // lib/eks/cluster.ts, before every Kubernetes call
const AUTH_TOKEN = 'secretsmanager:GetSecretValue'; // lib/secrets/auth-token.ts (or the Slack secret)

/**
 * What each function calls, read from its handler and the lib/ functions it runs. A create with
 * `Tags` needs elasticache:AddTagsToResource too (a dependent action in AWS's reference).
 */
const CALLS: Record<string, string[]> = {
  validateInput: [],
  // lib/kubernetes/lock.ts asks whether a lock holder still runs; lib/spinnaker/secret-access.ts simulates the pods' role on the URL secret.
  acquireMigrationLock: [EKS, 'states:DescribeExecution', 'iam:SimulatePrincipalPolicy', 'secretsmanager:DescribeSecret'],
  releaseMigrationLock: [EKS],
  planMigration: [EKS, 'elasticache:DescribeCacheParameterGroups', 'elasticache:DescribeCacheSubnetGroups', 'elasticache:DescribeReplicationGroups'], // lib/plan.ts
  ensureParameterGroup: [
    'elasticache:CreateCacheParameterGroup',
    'elasticache:AddTagsToResource',
    'elasticache:DescribeCacheParameterGroups',
    'elasticache:DescribeCacheParameters',
    'elasticache:ModifyCacheParameterGroup',
    'elasticache:ListTagsForResource',
  ],
  ensureSubnetGroup: [EKS, 'elasticache:CreateCacheSubnetGroup', 'elasticache:AddTagsToResource', 'elasticache:DescribeCacheSubnetGroups'],
  // s3:GetObject: CreateReplicationGroup's dependent action when seeded from S3 (SnapshotArns).
  ensureReplicationGroup: [
    EKS,
    AUTH_TOKEN,
    'elasticache:CreateReplicationGroup',
    'elasticache:AddTagsToResource',
    'elasticache:DescribeReplicationGroups',
    'iam:CreateServiceLinkedRole',
    's3:GetObject',
  ],
  describeReplicationGroup: ['elasticache:DescribeReplicationGroups', 'elasticache:DescribeEvents'],
  // lib/secrets/redis-url.ts: the URL secret, built from the token (a customer key through Secrets Manager only).
  patchHalyardConfig: [
    EKS,
    AUTH_TOKEN,
    'secretsmanager:DescribeSecret',
    'secretsmanager:CreateSecret',
    'secretsmanager:TagResource',
    'secretsmanager:PutSecretValue',
    'kms:GenerateDataKey',
    'kms:Decrypt',
  ],
  halDeployApply: [EKS],
  checkSpinnakerRollout: [EKS],
  quiesceSpinnaker: [EKS],
  resumeSpinnaker: [EKS],
  scaleDownSpinRedis: [EKS],
  scaleUpSpinRedis: [EKS],
  restoreHalyardConfig: [EKS],
  cleanupCreatedResources: [
    'elasticache:DeleteReplicationGroup',
    'elasticache:DeleteCacheSubnetGroup',
    'elasticache:DeleteCacheParameterGroup',
    'elasticache:DescribeReplicationGroups',
    'elasticache:DescribeCacheSubnetGroups',
    'elasticache:DescribeCacheParameterGroups',
    'elasticache:ListTagsForResource',
  ],
  notifyOutcome: ['sns:Publish'],
  // VPC: spin-redis is found through Kubernetes (lib/kubernetes/spin-redis.ts), the target with its AUTH token.
  pingRedis: [AUTH_TOKEN],
  copyBulk: [EKS, AUTH_TOKEN],
  enableChangeCapture: [EKS],
  catchUpLiveWrites: [EKS, AUTH_TOKEN],
  checkSpinnakerQuiesced: [EKS, AUTH_TOKEN], // spin-redis, and ElastiCache in the rollback
  verifySpinRedisDrained: [EKS],
  reconcileFinal: [EKS, AUTH_TOKEN],
  verifyCopy: [EKS, AUTH_TOKEN],
  disableChangeCapture: [EKS],
  copyBackWrites: [EKS, AUTH_TOKEN],
  // lib/workflow/seed.ts: the multipart upload (PutObject covers Create/UploadPart/Complete), HeadObject (GetObject) for a re-run, the abort on failure.
  uploadSeedSnapshot: [EKS, 's3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'],
  deleteSeedSnapshot: ['s3:DeleteObject', 's3:GetObject', 's3:AbortMultipartUpload', 's3:ListBucketMultipartUploads'],
  healthCheck: [EKS, AUTH_TOKEN, 'elasticache:DescribeReplicationGroups', 'elasticache:DescribeCacheParameters', 'elasticache:ListTagsForResource', 'elasticache:AddTagsToResource', 'sns:Publish'], // lib/health/*
  slackCommand: ['states:StartExecution', 'states:ListExecutions', AUTH_TOKEN], // lib/chatops/*
};

/** Functions that change Spinnaker through Kubernetes (the writer RBAC group); the others that call Kubernetes only read. */
const KUBERNETES_WRITERS = [
  'acquireMigrationLock',
  'releaseMigrationLock',
  'patchHalyardConfig',
  'restoreHalyardConfig',
  'halDeployApply',
  'checkSpinnakerRollout',
  'quiesceSpinnaker',
  'resumeSpinnaker',
  'scaleDownSpinRedis',
  'scaleUpSpinRedis',
];
const KUBERNETES_READERS = [
  'planMigration',
  'copyBulk',
  'enableChangeCapture',
  'catchUpLiveWrites',
  'checkSpinnakerQuiesced',
  'verifySpinRedisDrained',
  'reconcileFinal',
  'verifyCopy',
  'disableChangeCapture',
  'copyBackWrites',
  'uploadSeedSnapshot',
  'healthCheck',
];

/** Every function writes its own logs, to its own log group (created by the stack). */
const LOG_ACTIONS = ['logs:CreateLogStream', 'logs:PutLogEvents'];
/**
 * AWS's own exceptions, where `Resource: "*"` is required:
 * - ENI: Lambda attaches a VPC function through network interfaces it creates with the function's
 *   role, before any ARN exists (AWS's AWSLambdaVPCAccessExecutionRole grants these on `*`).
 * - Vended logs: Step Functions' log delivery (CreateLogDelivery and friends) takes no resource ARN.
 */
const ENI_ACTIONS = ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'];
const VENDED_LOG_ACTIONS = [
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
];
const MUTATING = (action: string) => !/^[a-z0-9-]+:(Describe|List|Get)/.test(action);

const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const resourcesOf = (s: Statement) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);
const text = (v: unknown) => JSON.stringify(v);
/** A resource as a person reads it: `elasticache:replicationgroup:spinnaker-redis*`. */
const short = (v: unknown) => text(v).replace(/\{"Fn::Sub":"arn:\$\{AWS::Partition\}:([a-z0-9-]+):(\$\{AWS::Region\})?:(\$\{AWS::AccountId\})?:([^"]*)"\}/g, '$1:$4');

describe('least privilege in the packaged template', () => {
  let resources: Record<string, Resource>;
  const functions: Record<string, { role: string; vpc: boolean; statements: Statement[] }> = {};
  const statementsOfRole = (id: string): Statement[] => ((resources[id]?.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]).flatMap((p) => p.PolicyDocument.Statement);

  beforeAll(async () => {
    resources = (await packagedTemplate<{ Resources: Record<string, Resource> }>()).Resources;
    for (const [id, r] of Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function')) {
      const fn = `${id.charAt(0).toLowerCase()}${id.slice(1)}`.replace(/LambdaFunction$/, '');
      const role = (r.Properties.Role as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt']?.[0] ?? '';
      functions[fn] = { role, vpc: Boolean(r.Properties.VpcConfig), statements: statementsOfRole(role) };
    }
  }, 660_000);

  it('shows, per function, the actions it may take and on what; they are exactly what its code calls', () => {
    const table: string[] = [];
    for (const [fn, { role, vpc, statements }] of Object.entries(functions).sort()) {
      const granted = statements.flatMap(actionsOf).filter((a) => !LOG_ACTIONS.includes(a) && !(vpc && ENI_ACTIONS.includes(a)));
      expect({ fn, actions: [...new Set(granted)].sort() }).toEqual({ fn, actions: [...(CALLS[fn] ?? ['(not in the table)'])].sort() });
      table.push(`${fn} (${role}${vpc ? ', VPC' : ''})`);
      for (const s of statements) table.push(`  ${actionsOf(s).join(', ')} on ${resourcesOf(s).map(short).join(', ')}${s.Condition ? ` if ${text(s.Condition)}` : ''}`);
    }
    expect(Object.keys(functions).sort()).toEqual(Object.keys(CALLS).sort());
    console.info(`What each function may do:\n${table.join('\n')}`);
  });

  it('allows no mutating action on "*" but the named AWS exceptions (ENIs on VPC functions, vended logs)', () => {
    const onStar: string[] = [];
    for (const [id, r] of Object.entries(resources).filter(([, r]) => r.Type === 'AWS::IAM::Role')) {
      const vpcRole = Object.values(functions).some((f) => f.role === id && f.vpc);
      const statements = ((r.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]).flatMap((p) => p.PolicyDocument.Statement);
      expect({ id, managedPolicies: r.Properties.ManagedPolicyArns ?? [] }).toEqual({ id, managedPolicies: [] });
      for (const s of statements.filter((s) => resourcesOf(s).includes('*'))) {
        for (const action of actionsOf(s).filter(MUTATING)) {
          if ((vpcRole && ENI_ACTIONS.includes(action)) || VENDED_LOG_ACTIONS.includes(action)) continue;
          onStar.push(`${id}: ${action}`);
        }
      }
    }
    expect(onStar).toEqual([]);
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')).toEqual([]);
  });

  it('conditions ElastiCache creates on our tag in the request, changes and deletes on the tag of the resource', () => {
    for (const { statements } of Object.values(functions)) {
      for (const s of statements) {
        for (const action of actionsOf(s).filter((a) => a.startsWith('elasticache:'))) {
          const where = { action, condition: s.Condition };
          if (/:Create/.test(action)) expect(where).toMatchObject({ condition: { StringEquals: { 'aws:RequestTag/spin-elasticache:managed': 'true' } } });
          if (/:(Delete|Modify)/.test(action)) expect(where).toMatchObject({ condition: { StringEquals: { 'aws:ResourceTag/spin-elasticache:managed': 'true' } } });
          if (action === 'elasticache:AddTagsToResource') expect(text(s.Condition)).toMatch(/"aws:TagKeys":\["spin-elasticache:/);
          if (action !== 'elasticache:DescribeEvents')
            expect({ action, resources: text(s.Resource) }).toEqual({
              action,
              resources: expect.stringMatching(/elasticache:\$\{AWS::Region\}:\$\{AWS::AccountId\}:(replicationgroup|cluster|parametergroup|subnetgroup):spinnaker-redis\*/),
            });
        }
      }
    }
  });

  it('writes only the Redis URL secret: below spin-elasticache/, created with our tag, changed only when it carries it', () => {
    for (const { statements } of Object.values(functions)) {
      for (const s of statements) {
        for (const action of actionsOf(s).filter((a) => /^secretsmanager:(Create|Put|Tag|DescribeSecret)/.test(a))) {
          expect({ action, resources: text(s.Resource) }).toEqual({ action, resources: expect.stringContaining('secret:spin-elasticache/*') });
          if (/:(CreateSecret|TagResource)$/.test(action))
            expect({ action, condition: s.Condition }).toEqual({ action, condition: { StringEquals: { 'aws:RequestTag/spin-elasticache:managed': 'true' } } });
          if (/:PutSecretValue$/.test(action)) expect({ action, condition: s.Condition }).toEqual({ action, condition: { StringEquals: { 'aws:ResourceTag/spin-elasticache:managed': 'true' } } });
        }
        for (const action of actionsOf(s).filter((a) => a.startsWith('kms:')))
          expect({ action, condition: text(s.Condition) }).toEqual({ action, condition: expect.stringContaining('kms:ViaService') });
      }
    }
  });

  it('reads secrets by ARN from the stack parameters, never by a wildcard or a tag anyone can set', () => {
    for (const [fn, { statements }] of Object.entries(functions)) {
      for (const s of statements.filter((s) => actionsOf(s).includes('secretsmanager:GetSecretValue'))) {
        const arn = text(s.Resource);
        expect({ fn, condition: s.Condition }).toEqual({ fn, condition: undefined });
        expect({ fn, arn }).toEqual({ fn, arn: expect.stringContaining(fn === 'slackCommand' ? 'spin-elasticache/slack-signing-secret-??????' : 'secret:spinnaker/redis-auth-??????') });
      }
    }
  });

  it('lets each role write only its own functions’ logs, and gives ENI rights only to VPC functions', () => {
    for (const [fn, { role, vpc, statements }] of Object.entries(functions)) {
      const logs = statements.filter((s) => actionsOf(s).some((a) => LOG_ACTIONS.includes(a)));
      const shared = Object.entries(functions)
        .filter(([, f]) => f.role === role)
        .map(([name]) => name);
      expect({
        fn,
        logGroups: logs
          .flatMap(resourcesOf)
          .map(text)
          .map((r) => /\/aws\/lambda\/spin-elasticache-test-([A-Za-z]+):\*/.exec(r)?.[1])
          .sort(),
      }).toEqual({ fn, logGroups: shared.sort() });
      expect({ fn, eni: statements.some((s) => actionsOf(s).some((a) => ENI_ACTIONS.includes(a))) }).toEqual({ fn, eni: vpc });
    }
  });

  it('maps Kubernetes access through RBAC groups bound in deploy/kubernetes-rbac.yaml, with no EKS access policy', () => {
    const entries = Object.values(resources).filter((r) => r.Type === 'AWS::EKS::AccessEntry');
    const groupOfRole = new Map(entries.map((e) => [(e.Properties.PrincipalArn as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0], e.Properties.KubernetesGroups as string[]]));
    for (const e of entries) expect(e.Properties.AccessPolicies).toBeUndefined();
    for (const fn of KUBERNETES_WRITERS) expect({ fn, groups: groupOfRole.get(functions[fn]!.role) }).toEqual({ fn, groups: ['spin-elasticache-migrator'] });
    for (const fn of KUBERNETES_READERS) expect({ fn, groups: groupOfRole.get(functions[fn]!.role) }).toEqual({ fn, groups: ['spin-elasticache-reader'] });
    const others = Object.keys(functions).filter((fn) => !KUBERNETES_WRITERS.includes(fn) && !KUBERNETES_READERS.includes(fn));
    for (const fn of others) expect({ fn, groups: groupOfRole.get(functions[fn]!.role) }).toEqual({ fn, groups: undefined });

    const manifest = parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'kubernetes-rbac.yaml'), 'utf8')).map(
      (d) => d.toJS() as { kind: string; metadata: { name: string }; rules?: { resources: string[] }[]; subjects?: { name: string }[] },
    );
    const bound = manifest
      .filter((d) => d.kind === 'RoleBinding')
      .flatMap((d) => d.subjects ?? [])
      .map((s) => s.name);
    expect(bound.sort()).toEqual(['spin-elasticache-migrator', 'spin-elasticache-reader']);
    // No Secret but spin-redis's password (spinnaker.spinRedis.passwordSecret), by name, read only, for the readers.
    const rules = manifest.flatMap((d) => (d.rules ?? []).map((r) => ({ role: d.metadata.name, ...(r as { resources: string[]; verbs?: string[]; resourceNames?: string[] }) })));
    expect(rules.filter((r) => r.resources.some((x) => /secret|\*/.test(x)))).toEqual([
      { role: 'spin-elasticache-reader', apiGroups: [''], resources: ['secrets'], resourceNames: ['spinnaker-redis'], verbs: ['get'] },
    ]);
  });

  it('throttles the Slack door, logs its requests and reserves its concurrency', () => {
    expect(resources.SlackCommandLambdaFunction?.Properties.ReservedConcurrentExecutions).toBe(5);
    const stage = Object.values(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Stage')!;
    expect(stage.Properties).toMatchObject({ DefaultRouteSettings: { ThrottlingBurstLimit: 10, ThrottlingRateLimit: 5 }, AccessLogSettings: { DestinationArn: expect.anything() } });
  });

  it('points the health alarm at exactly the dimensions the handler publishes', () => {
    const input = parseMigrationInput(JSON.parse(readFileSync(join(ROOT, 'events', 'health-check.json'), 'utf8')));
    const metrics = healthMetrics();
    addHealthMetrics(metrics, { replicationGroupId: input.target.replicationGroupId, checkedAt: '', status: 'healthy', findings: [], metrics: {} });
    const emf = metrics.serializeMetrics() as unknown as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] } };
    const published = emf._aws.CloudWatchMetrics[0]!;
    const alarm = resources.RedisHealthAlarm!.Properties as { Namespace: string; MetricName: string; Dimensions: { Name: string; Value: string }[] };
    expect(published.Metrics.map((m) => m.Name)).toContain(alarm.MetricName);
    expect(alarm.Namespace).toBe(published.Namespace);
    expect(published.Dimensions).toHaveLength(1);
    const handlerDimensions = published.Dimensions[0]!.map((name) => ({ Name: name, Value: emf[name] }));
    expect([...alarm.Dimensions].sort((a, b) => a.Name.localeCompare(b.Name))).toEqual(handlerDimensions.sort((a, b) => a.Name.localeCompare(b.Name)));
  });
});
