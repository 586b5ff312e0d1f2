/**
 * The whole sandbox, started from code on free loopback ports: the AWS API emulators,
 * the Kubernetes API emulator with a simulated Spinnaker installed in it, spin-redis
 * seeded with Spinnaker-shaped data, and the environment that points the real handlers'
 * SDK clients at all of it. `close()` tears everything down.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { connectRedis } from '../lib/redis/connect.js';
import { createSandboxPki } from './pki.js';
import { startElastiCacheEmulator, type ElastiCacheEmulator } from './aws/elasticache.js';
import { startEksEmulator, startSecretsManagerEmulator, startSfnEmulator, startSnsEmulator, startStsEmulator, type SecretsManagerEmulator, type SnsEmulator } from './aws/services.js';
import type { FaultInjector } from './aws/http.js';
import { type IamEmulator, type PolicyStatement, startIamEmulator } from './aws/iam.js';
import { type S3Emulator, startS3Emulator } from './aws/s3.js';
import { startKubernetesEmulator, type KubernetesEmulator } from './kubernetes/server.js';
import { createSpinnakerSimulation, INITIAL_FILES, type SpinnakerFaults, type SpinnakerSimulation, type SpinnakerSnapshot } from './spinnaker/index.js';
import { OPERATOR_WEBHOOK, type OperatorFaults, SPINNAKER_SERVICE_NAME } from './spinnaker/operator.js';
import { seedSpinnakerData, type SeedSummary } from './seed.js';
import { PROFILES, REDIS_SECRET, REDIS_SECRET_KEY, SERVICE_SETTINGS } from './spinnaker/helm.js';
import { redactOutput } from '../lib/halyard/deploy.js';
import { seedFromRdb } from './rdb-seed.js';
import { type SentinelSet, startSentinelSet } from './redis/sentinel.js';
import type { OrcaHistory } from '../lib/spinnaker/audit.js';
import { computeInvariants, cutoverWindow, readFinalState, type InvariantReport } from './spinnaker/ledger.js';
import { loadHandlers, ROOT, runMigration, type ExecutionResult } from './runner.js';
import { loadDefinition } from '../statemachine/load.js';
import type { MigrationInput } from '../lib/config/schema.js';

export interface WorldOptions {
  keys?: number;
  /** Working directory (defaults to .sandbox/<time> under the repo). */
  dir?: string;
  creationDelayMs?: number;
  podStartMs?: number;
  log?: (message: string) => void;
  /** Override parts of the migration input (e.g. options). */
  input?: Partial<MigrationInput>;
  spinnakerFaults?: SpinnakerFaults & OperatorFaults;
  /** AUTH on the new group (the token in Secrets Manager); default true. */
  auth?: boolean;
  /** How the simulated Spinnaker is installed. */
  flavor?: 'halyard' | 'halyard-ha' | 'operator' | 'helm-stable' | 'helm-opsmx';
  /** The identity policy of the Spinnaker pods' IRSA role; default: GetSecretValue on spin-elasticache/*. */
  podRolePolicy?: PolicyStatement[];
  /** spin-redis's container memory limit (a Kubernetes quantity such as `16Mi`); none by default, as Halyard deploys it. */
  spinRedisMemoryLimit?: string;
  /** The redis-server binary that plays spin-redis (any version, e.g. 3.2.13); `redis-server` on PATH by default. */
  spinRedisServer?: string;
  /**
   * spin-redis Sentinel-managed: a replica and three sentinels watch it as `mymaster`
   * (sandbox/redis/sentinel.ts), and the input names the sentinels (`spinRedis.sentinel.addresses`)
   * instead of the pod, as for a Spotahome RedisFailover reached by its sentinels' pod IPs.
   */
  spinRedisSentinel?: boolean;
  /** Seed spin-redis from this RDB dump (the user's own data, sandbox/rdb-seed.ts) instead of the synthetic seed; `keys` is then ignored. */
  rdb?: string;
  /** options.copyMethod of the migration input (merged into the sandbox's options). */
  copyMethod?: 'auto' | 'replication' | 'scan' | 's3-seed';
  /** Memory per node type for the ElastiCache emulator's seed size check (tests). */
  nodeMemoryBytes?: Record<string, number>;
}

/** The stack's SeedBucket in the sandbox (serverless.yml), with the stack's bucket policy (seedBucketPolicy). */
export const SANDBOX_SEED_BUCKET = 'spin-elasticache-sandbox-seed';

/** serverless.yml SeedBucketPolicy, as the stack writes it: ElastiCache's service principal may read below seed/. */
export function seedBucketPolicy(bucket: string, region: string) {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'ElastiCacheReadsSeed',
        Effect: 'Allow',
        Principal: { Service: `${region}.elasticache-snapshot.amazonaws.com` },
        Action: ['s3:GetObject', 's3:ListBucket', 's3:GetBucketAcl'],
        Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/seed/*`],
      },
    ],
  };
}

/** The IRSA role of the sandbox's `spinnaker` service account. */
export const POD_ROLE_ARN = 'arn:aws:iam::000000000000:role/spinnaker-pods';

export interface WorldSnapshot {
  services: SpinnakerSnapshot['services'];
  spinRedis: { replicas: number; running: boolean; url: string };
  halyard: { overrideBaseUrl?: string };
  configMap: Record<string, string>;
  configMapAnnotations: Record<string, string>;
  /**
   * Helm installs: the chart's two ConfigMaps (name -> data), with the chart's own spin-redis
   * password masked (its redis.yml carries it); `asRendered`: byte for byte what the chart renders.
   */
  helm?: { configMaps: Record<string, Record<string, string>>; annotations: Record<string, Record<string, string>>; asRendered: boolean };
  /** spin-redis's workload (a Deployment, or the chart's StatefulSet). */
  spinRedisWorkload: { kind: string; name: string };
  /** Operator installs: the SpinnakerService's spec.spinnakerConfig (JSON, as stored), annotations and status. */
  spinnakerService?: { spinnakerConfig: string; annotations: Record<string, string>; status: Record<string, unknown> };
  keys: { seeded: number; source: number; target: number; orcaExecutionsWritten: number; orcaExecutionsMissing: number };
  missingExecutions: string[];
  /** The ledger's invariants against the Redis Spinnaker points to at the end (sandbox/spinnaker/ledger.ts). */
  invariants: Pick<InvariantReport, 'noMessageProcessedTwice' | 'noMessageLost' | 'noDeletedKeyResurrected' | 'lastWriteWins'>;
  /** The figures of the run: the cutover window, duplicates, resurrections, stale values, the orca queue's longest pause. */
  figures: InvariantReport['figures'] & {
    cutoverWindowMs?: number;
    cutoverWindow?: { patchAt: string; allOnTargetAt: string };
    longestOrcaPollGap?: { from: string; to: string };
    instancesStarted: number;
    finalRedis: 'spin-redis' | 'ElastiCache' | 'none';
  };
  examples: InvariantReport['examples'];
}

export interface SandboxWorld {
  dir: string;
  region: string;
  clusterName: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  endpoints: { elasticache: string; eks: string; kubernetes: string; kubeconfig: string; sourceRedis: string; targetRedis?: string; caFile: string; secretsManager: string; sns: string; s3: string };
  /** spin-redis for the sandbox's own connections: its URL and, for the Helm flavours, the chart's password. */
  spinRedisEndpoint: { url: string; password?: string };
  input: MigrationInput;
  seed: SeedSummary;
  /** When seeded from a dump (`rdb`): the file and what its copy into spin-redis did. */
  seededFrom?: { rdb: string; rdbVersion: number; restored: number; expiredSkipped: number; ms: number; history: OrcaHistory };
  elastiCache: ElastiCacheEmulator;
  /** S3, with the stack's seed bucket (SANDBOX_SEED_BUCKET). */
  s3: S3Emulator;
  kubernetes: KubernetesEmulator;
  spinnaker: SpinnakerSimulation;
  secretsManager: SecretsManagerEmulator;
  iam: IamEmulator;
  sns: SnsEmulator;
  eksFaults: FaultInjector;
  authToken: string;
  /** Where to look for the AUTH token, without printing it; absent when the group has none (no --auth). */
  secretHint?: string;
  /** Every secret value of the world, for leak checks. */
  secrets: string[];
  setExecutionStatus(arn: string, status: string): void;
  /** ChatOps: the Slack app's signing secret, the allowed user, and the state machine Slack starts. */
  slack: { signingSecret: string; allowedUserId: string; stateMachineArn: string; presetsDir: string };
  /** Executions started through the Step Functions API (StartExecution), by name. */
  startedExecutions: Map<string, Promise<ExecutionResult>>;
  targetClient(): Promise<Redis | undefined>;
  snapshot(): Promise<WorldSnapshot>;
  close(): Promise<void>;
}

export const SANDBOX_GROUP_ID = 'spinnaker-redis';
const NETWORK = {
  subnets: {
    'subnet-0a1b2c3d4e5f60001': { vpcId: 'vpc-0sandbox0000001', availabilityZone: 'us-east-1a' },
    'subnet-0a1b2c3d4e5f60002': { vpcId: 'vpc-0sandbox0000001', availabilityZone: 'us-east-1b' },
    'subnet-0a1b2c3d4e5f60003': { vpcId: 'vpc-0sandbox0000001', availabilityZone: 'us-east-1c' },
  },
  securityGroups: ['sg-0c1a2b3c4d5e60001', 'sg-0c1a2b3c4d5e60002'],
};

const OWNER_FILE = 'owner.pid';

/** Whether a process runs (signal 0; EPERM: it runs, as another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Sandboxes under `root` whose owner process is gone (a rehearsal killed with SIGKILL, or a
 * crash: nothing could tear them down): their redis-servers and sentinels, found by their
 * working directory under the sandbox (Linux /proc), are killed and their files removed, so that
 * abandoned servers do not pile up (each holds spin-redis's or ElastiCache's data in memory).
 * A directory without an owner file, or whose owner still runs, is left alone.
 * @returns the directories swept
 */
export function sweepAbandonedSandboxes(root: string): string[] {
  if (!existsSync(root)) return [];
  const abandoned = readdirSync(root)
    .map((entry) => join(root, entry))
    .filter((dir) => {
      try {
        const owner = Number(readFileSync(join(dir, OWNER_FILE), 'utf8'));
        return Number.isInteger(owner) && owner > 0 && !alive(owner);
      } catch {
        return false;
      }
    });
  if (abandoned.length === 0) return [];
  for (const pid of existsSync('/proc') ? readdirSync('/proc').filter((p) => /^\d+$/.test(p)) : []) {
    try {
      // redis-server rewrites its command line (setproctitle) but runs in its `dir`, as do the sentinels.
      if (!/^(redis|valkey)-(server|sentinel)/.test(readFileSync(`/proc/${pid}/comm`, 'utf8'))) continue;
      const cwd = `${readlinkSync(`/proc/${pid}/cwd`)}/`;
      if (abandoned.some((dir) => cwd.startsWith(`${dir}/`))) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  for (const dir of abandoned) rmSync(dir, { recursive: true, force: true });
  return abandoned;
}

export async function startWorld(options: WorldOptions = {}): Promise<SandboxWorld> {
  const log = options.log ?? (() => undefined);
  const region = 'us-east-1';
  // A fresh cluster name per world: a warm handler caches its Kubernetes client per cluster.
  const SANDBOX_CLUSTER = `spinnaker-sandbox-${randomBytes(3).toString('hex')}`;
  if (!options.dir) sweepAbandonedSandboxes(join(ROOT, '.sandbox'));
  const dir = options.dir ?? join(ROOT, '.sandbox', `${Date.now()}-${randomBytes(2).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  // Whose sandbox this is: a later world sweeps it if this process dies without tearing it down.
  writeFileSync(join(dir, OWNER_FILE), String(process.pid));
  const credentials = { accessKeyId: 'AKIASANDBOX000000001', secretAccessKey: randomBytes(20).toString('base64url') };
  const authToken = `sbx-${randomBytes(18)
    .toString('base64url')
    .replace(/[^A-Za-z0-9]/g, 'x')}`;
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  // Last to run (closers run in reverse): the files go once every server has stopped, and also
  // when start-up fails half-way (a Ctrl-C while seeding once left .sandbox/<id> behind).
  closers.push(async () => {
    if (!options.dir && !process.env.SANDBOX_KEEP_FILES) rmSync(dir, { recursive: true, force: true });
  });
  try {
    const pki = createSandboxPki(join(dir, 'pki'));
    const s3 = await startS3Emulator();
    closers.push(() => s3.close());
    s3.createBucket(SANDBOX_SEED_BUCKET);
    s3.putBucketPolicy(SANDBOX_SEED_BUCKET, seedBucketPolicy(SANDBOX_SEED_BUCKET, region));
    const elastiCache = await startElastiCacheEmulator({
      dir: join(dir, 'elasticache'),
      pki,
      network: NETWORK,
      region,
      creationDelayMs: options.creationDelayMs ?? 1500,
      s3,
      ...(options.nodeMemoryBytes ? { nodeMemoryBytes: options.nodeMemoryBytes } : {}),
    });
    closers.push(() => elastiCache.close());
    const eks = await startEksEmulator(region);
    closers.push(() => eks.close());
    const secretsManager = await startSecretsManagerEmulator(region);
    closers.push(() => secretsManager.close());
    const sns = await startSnsEmulator(region);
    closers.push(() => sns.close());
    const sts = await startStsEmulator();
    closers.push(() => sts.close());
    const sfn = await startSfnEmulator();
    closers.push(() => sfn.close());
    const iam = await startIamEmulator();
    closers.push(() => iam.close());
    iam.setRolePolicy(
      POD_ROLE_ARN,
      options.podRolePolicy ?? [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: `arn:aws:secretsmanager:${region}:000000000000:secret:spin-elasticache/*` }],
    );
    const secretArn = secretsManager.putSecret('spinnaker/redis-auth', authToken, { 'spin-elasticache': 'auth-token' });

    const spinnaker = createSpinnakerSimulation({
      dir: join(dir, 'spinnaker'),
      podRoleArn: POD_ROLE_ARN,
      ...(options.flavor ? { flavor: options.flavor } : {}),
      caFile: pki.caFile,
      podStartMs: options.podStartMs ?? 300,
      ...(options.spinnakerFaults ? { faults: options.spinnakerFaults } : {}),
      ...(options.spinRedisMemoryLimit ? { spinRedisResources: { limits: { memory: options.spinRedisMemoryLimit } } } : {}),
      ...(options.spinRedisServer ? { spinRedisServer: options.spinRedisServer } : {}),
      resolveSecret: async (reference) => {
        // kork-secrets: encrypted:secrets-manager!r:<region>!s:<secret>[!k:<key>]
        const parts = Object.fromEntries(
          reference
            .replace(/^encrypted:secrets-manager!/, '')
            .split('!')
            .map((p) => [p.slice(0, 1), p.slice(2)]),
        );
        if (!reference.startsWith('encrypted:secrets-manager!') || !parts.s) throw new Error(`unsupported secret reference ${reference.slice(0, 40)}`);
        // The pod reads it with its own (IRSA) role: refused as GetSecretValue would be.
        const arn = secretsManager.secret(parts.s)?.arn ?? parts.s;
        if (iam.decide(POD_ROLE_ARN, 'secretsmanager:GetSecretValue', arn) !== 'allowed')
          throw new Error(`AccessDeniedException: ${POD_ROLE_ARN} is not authorized to perform secretsmanager:GetSecretValue on ${arn}`);
        const response = await fetch(secretsManager.url, {
          method: 'POST',
          headers: { 'x-amz-target': 'secretsmanager.GetSecretValue', 'content-type': 'application/x-amz-json-1.1' },
          body: JSON.stringify({ SecretId: parts.s }),
        });
        if (!response.ok) throw new Error(`secret ${parts.s} not found`);
        const value = ((await response.json()) as { SecretString: string }).SecretString;
        return parts.k ? String((JSON.parse(value) as Record<string, unknown>)[parts.k]) : value;
      },
    });
    closers.push(() => spinnaker.close());
    const k8sCert = pki.issue('kubernetes');
    const kubernetes = await startKubernetesEmulator({
      tls: { certPem: k8sCert.certPem, keyPem: k8sCert.keyPem, caPem: pki.caPem },
      clusterName: SANDBOX_CLUSTER,
      region,
      credentials,
      exec: spinnaker.exec,
    });
    closers.push(() => kubernetes.close());
    const kubeconfig = join(dir, 'kubeconfig');
    kubernetes.writeKubeconfig(kubeconfig);
    eks.setCluster({
      name: SANDBOX_CLUSTER,
      endpoint: kubernetes.url,
      caPem: pki.caPem,
      vpcId: 'vpc-0sandbox0000001',
      subnetIds: Object.keys(NETWORK.subnets),
      clusterSecurityGroupId: NETWORK.securityGroups[0]!,
      securityGroupIds: [NETWORK.securityGroups[1]!],
    });
    await spinnaker.install(kubernetes.store);
    if (spinnaker.operator) kubernetes.setAdmission(OPERATOR_WEBHOOK, spinnaker.operator.webhook);
    log(`Kubernetes API ${kubernetes.url}, spin-redis ${spinnaker.spinRedisUrl}`);

    let sentinels: SentinelSet | undefined;
    if (options.spinRedisSentinel) {
      const master = new URL(spinnaker.spinRedisUrl);
      sentinels = await startSentinelSet({
        dir: join(dir, 'spin-redis-sentinel'),
        master: { host: master.hostname, port: Number(master.port) },
        ...(spinnaker.spinRedisPassword ? { password: spinnaker.spinRedisPassword } : {}),
        ...(options.spinRedisServer ? { binary: options.spinRedisServer } : {}),
      });
      closers.push(() => sentinels!.stop());
      log(`spin-redis is Sentinel-managed: replica ${sentinels.replica.url}, sentinels ${sentinels.addresses.join(', ')} (mymaster)`);
    }
    const spinRedisEndpoint = () => ({ url: spinnaker.spinRedisUrl, ...(spinnaker.spinRedisPassword ? { password: spinnaker.spinRedisPassword } : {}) });
    const source = await connectRedis(spinRedisEndpoint(), { connectionName: 'spin-elasticache-sandbox-seed' });
    const started = Date.now();
    let seed: SeedSummary;
    let seededFrom: SandboxWorld['seededFrom'];
    if (options.rdb) {
      source.disconnect();
      const fromDump = await seedFromRdb(spinRedisEndpoint(), options.rdb);
      seed = fromDump.summary;
      const { stats, rdbVersion } = fromDump.copy;
      seededFrom = { rdb: options.rdb, rdbVersion, restored: stats.keys, expiredSkipped: stats.expiredSkipped, ms: stats.ms, history: fromDump.history };
      log(
        `seeded from ${options.rdb} (RDB v${rdbVersion}): ${stats.keys.toLocaleString('en-US')} keys restored, ${stats.expiredSkipped} already expired in the dump skipped, in ${Date.now() - started} ms (${seed.pipelines} pipelines, ${seed.orchestrations} orchestrations)`,
      );
    } else {
      seed = await seedSpinnakerData(source, { keys: options.keys ?? 50_000 });
      source.disconnect();
      log(`seeded ${seed.keys.toLocaleString('en-US')} keys in ${Date.now() - started} ms (${seed.pipelines} pipelines, ${seed.orchestrations} orchestrations, ${seed.sessions} sessions)`);
    }
    // The handlers' SDK clients read these; nothing in handler code knows about the sandbox.
    const topicArn = sns.topicArn('spin-elasticache-sandbox');
    Object.assign(process.env, {
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_ENDPOINT_URL_ELASTICACHE: elastiCache.url,
      AWS_ENDPOINT_URL_EKS: eks.url,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.url,
      AWS_ENDPOINT_URL_SNS: sns.url,
      AWS_ENDPOINT_URL_STS: sts.url,
      AWS_ENDPOINT_URL_SFN: sfn.url,
      AWS_ENDPOINT_URL_IAM: iam.url,
      AWS_ENDPOINT_URL_S3: s3.url,
      SEED_BUCKET: SANDBOX_SEED_BUCKET,
      REDIS_TLS_CA_FILE: pki.caFile,
      NOTIFY_TOPIC_ARN: topicArn,
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'SILENT',
    });
    delete process.env.AWS_PROFILE;
    delete process.env.AWS_SESSION_TOKEN;
    // Load (and transpile) every handler module now: done on the first run, it would stall the
    // event loop for seconds while the simulated services run, and look like a Redis pause.
    // After the environment above: handlers read it when their module loads (NOTIFY_TOPIC_ARN).
    await loadHandlers(loadDefinition({ region }).tasks);
    await spinnaker.startTraffic();

    const input: MigrationInput = {
      cluster: { name: SANDBOX_CLUSTER, region },
      target: {
        replicationGroupId: SANDBOX_GROUP_ID,
        engine: 'redis',
        engineVersion: '7.0',
        nodeType: 'cache.r7g.large',
        numCacheClusters: 2,
        transitEncryption: true,
        atRestEncryption: true,
        ...(options.auth === false ? {} : { authTokenSecretArn: secretArn }),
      },
      options: { maxWaitMinutes: 10, rolloutTimeoutMinutes: 2, drainTimeoutMinutes: 2, copySliceSeconds: 20 },
      // Helm: the flavour is detected (the chart's Halyard pod); spin-redis is the Bitnami StatefulSet, its password in the chart's Secret.
      ...(spinnaker.chart ? { spinnaker: { spinRedis: { statefulSet: spinnaker.spinRedisWorkload.name, passwordSecret: { name: REDIS_SECRET, key: REDIS_SECRET_KEY } } } } : {}),
      ...(sentinels ? { spinnaker: { spinRedis: { sentinel: { addresses: sentinels.addresses, masterName: sentinels.masterName } } } } : {}),
      ...options.input,
      ...(options.copyMethod
        ? { options: { maxWaitMinutes: 10, rolloutTimeoutMinutes: 2, drainTimeoutMinutes: 2, copySliceSeconds: 20, ...options.input?.options, copyMethod: options.copyMethod } }
        : {}),
    };

    // ChatOps: Slack's signing secret in Secrets Manager, this world's input as the preset
    // `sandbox`, and StartExecution running the same ASL in-process.
    const slackSigningSecret = randomBytes(16).toString('hex');
    const slackSecretArn = secretsManager.putSecret('spin-elasticache/slack-signing-secret', slackSigningSecret);
    const presetsDir = join(dir, 'presets');
    mkdirSync(presetsDir, { recursive: true });
    writeFileSync(join(presetsDir, 'sandbox.json'), JSON.stringify(input, null, 2));
    const stateMachineArn = `arn:aws:states:${region}:000000000000:stateMachine:spin-elasticache-sandbox`;
    const startedExecutions = new Map<string, Promise<ExecutionResult>>();
    sfn.onStart = (name, executionInput) => {
      const run = runMigration(executionInput, { executionName: name, waitMs: 50, retryMs: 20, onExecutionStatus: (arn, status) => sfn.setExecutionStatus(arn, status) });
      startedExecutions.set(name, run);
    };
    closers.unshift(async () => void (await Promise.allSettled(startedExecutions.values())));
    Object.assign(process.env, { SLACK_SIGNING_SECRET_ARN: slackSecretArn, SLACK_ALLOWED_USER_IDS: 'U0SANDBOX', PRESETS_DIR: presetsDir, STATE_MACHINE_ARN: stateMachineArn });

    const helmSnapshot = (): NonNullable<WorldSnapshot['helm']> => {
      const rendered = spinnaker.chartRendered() ?? {};
      const read = (name: string) => kubernetes.store.get('ConfigMap', 'spinnaker', name);
      const mask = (data: Record<string, string>) => Object.fromEntries(Object.entries(data).map(([k, v]) => [k, redactOutput(v)]));
      return {
        configMaps: Object.fromEntries([SERVICE_SETTINGS, PROFILES].map((name) => [name, mask((read(name)?.data ?? {}) as Record<string, string>)])),
        annotations: Object.fromEntries([SERVICE_SETTINGS, PROFILES].map((name) => [name, mask(read(name)?.metadata.annotations ?? {})])),
        asRendered: [SERVICE_SETTINGS, PROFILES].every((name) => JSON.stringify(read(name)?.data ?? {}) === JSON.stringify(rendered[name] ?? {})),
      };
    };
    let target: Redis | undefined;
    const targetClient = async () => {
      if (target) return target;
      const nodes = elastiCache.nodes(SANDBOX_GROUP_ID);
      if (nodes.length === 0) return undefined;
      target = await elastiCache.adminClient(SANDBOX_GROUP_ID).catch(() => undefined);
      return target;
    };
    closers.push(async () => target?.disconnect());

    const world: SandboxWorld = {
      dir,
      region,
      clusterName: SANDBOX_CLUSTER,
      credentials,
      get spinRedisEndpoint() {
        return spinRedisEndpoint();
      },
      get endpoints() {
        const primary = elastiCache.nodes(SANDBOX_GROUP_ID).find((n) => n.role === 'primary');
        return {
          elasticache: elastiCache.url,
          eks: eks.url,
          kubernetes: kubernetes.url,
          kubeconfig,
          sourceRedis: spinnaker.spinRedisUrl,
          ...(primary ? { targetRedis: primary.process.url } : {}),
          caFile: pki.caFile,
          secretsManager: secretsManager.url,
          sns: sns.url,
          s3: s3.url,
        };
      },
      input,
      seed,
      ...(seededFrom ? { seededFrom } : {}),
      elastiCache,
      s3,
      kubernetes,
      spinnaker,
      secretsManager,
      iam,
      sns,
      eksFaults: eks.faults,
      authToken,
      ...(options.auth === false ? {} : { secretHint: `aws --endpoint-url ${secretsManager.url} secretsmanager get-secret-value --secret-id spinnaker/redis-auth --query SecretString --output text` }),
      secrets: [authToken, credentials.secretAccessKey, slackSigningSecret, ...(spinnaker.spinRedisPassword ? [spinnaker.spinRedisPassword] : [])],
      setExecutionStatus: (arn, status) => sfn.setExecutionStatus(arn, status),
      slack: { signingSecret: slackSigningSecret, allowedUserId: 'U0SANDBOX', stateMachineArn, presetsDir },
      startedExecutions,
      targetClient,
      async snapshot() {
        const stoppedAt = await spinnaker.stopTraffic();
        // Let the controller finish acting on the last scale (the process follows the Deployment),
        // and commands already sent by the stopped instances reach Redis.
        await new Promise((r) => setTimeout(r, 200));
        for (let i = 0; i < 20; i++) {
          const wanted = spinnaker.spinRedisReplicasWanted();
          if ((wanted === 0) === !spinnaker.spinRedis) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        const sim = spinnaker.snapshot();
        const cm = kubernetes.store.get('ConfigMap', 'spinnaker', 'halyard-config');
        const cr = kubernetes.store.get('SpinnakerService', 'spinnaker', SPINNAKER_SERVICE_NAME);
        const sourceCount = spinnaker.spinRedis
          ? await connectRedis(spinRedisEndpoint())
              .then(async (r) => (await r.dbsize()) + (r.disconnect(), 0))
              .catch(() => 0)
          : 0;
        const t = await targetClient();
        const targetCount = t ? await t.dbsize() : 0;
        // Everything is checked on the Redis Spinnaker points to now.
        const pointsAt = await spinnaker.pointsAt();
        const onSpinRedis = pointsAt === spinnaker.spinRedisUrl;
        const client = onSpinRedis ? (spinnaker.spinRedis ? await connectRedis(spinRedisEndpoint()) : undefined) : await elastiCache.adminClient(SANDBOX_GROUP_ID).catch(() => undefined);
        const missing: string[] = [];
        const written = [...spinnaker.orcaExecutions()];
        const ledger = spinnaker.ledger;
        let report: InvariantReport;
        try {
          if (client) {
            for (let i = 0; i < written.length; i += 500) {
              const batch = written.slice(i, i + 500);
              const pipeline = client.pipeline();
              for (const k of batch) pipeline.exists(k);
              const results = (await pipeline.exec()) ?? [];
              results.forEach(([, v], j) => v === 0 && missing.push(batch[j]!));
            }
          }
          const final = client ? await readFinalState(client, ledger) : { keys: new Map(), queue: { present: new Map<string, boolean>() } };
          report = computeInvariants(ledger, final.keys, final.queue, Date.now());
        } finally {
          client?.disconnect();
        }
        // Executions orca deleted itself are not missing.
        const deleted = new Set(written.filter((k) => ledger.keys.get(k)?.whole?.hash === null));
        const missingNow = missing.filter((k) => !deleted.has(k));
        const window = cutoverWindow(ledger, spinnaker.spinRedisUrl, stoppedAt);
        const gap = ledger.longestPollGap;
        return {
          ...sim,
          configMap: (cm?.data ?? {}) as Record<string, string>,
          configMapAnnotations: cm?.metadata.annotations ?? {},
          spinRedisWorkload: spinnaker.spinRedisWorkload,
          ...(spinnaker.chart ? { helm: helmSnapshot() } : {}),
          ...(cr
            ? {
                spinnakerService: {
                  spinnakerConfig: JSON.stringify((cr.spec as { spinnakerConfig?: unknown }).spinnakerConfig ?? {}),
                  annotations: cr.metadata.annotations ?? {},
                  status: (cr.status ?? {}) as Record<string, unknown>,
                },
              }
            : {}),
          keys: { seeded: seed.keys, source: sourceCount, target: targetCount, orcaExecutionsWritten: sim.orcaExecutionsWritten, orcaExecutionsMissing: missingNow.length },
          missingExecutions: missingNow.slice(0, 20),
          invariants: {
            noMessageProcessedTwice: report.noMessageProcessedTwice,
            noMessageLost: report.noMessageLost,
            noDeletedKeyResurrected: report.noDeletedKeyResurrected,
            lastWriteWins: report.lastWriteWins,
          },
          figures: {
            ...report.figures,
            ...(window ? { cutoverWindowMs: window.ms, cutoverWindow: { patchAt: window.patchAt, allOnTargetAt: window.allOnTargetAt } } : {}),
            ...(gap ? { longestOrcaPollGap: { from: new Date(gap.from).toISOString(), to: new Date(gap.to).toISOString() } } : {}),
            instancesStarted: spinnaker.instances.length,
            finalRedis: !client ? 'none' : onSpinRedis ? 'spin-redis' : 'ElastiCache',
          },
          examples: report.examples,
        };
      },
      close,
    };
    return world;
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Whether Spinnaker's Redis config is byte for byte as installed: the Halyard files, the
 * SpinnakerService's spec.spinnakerConfig (operator), or both of the chart's ConfigMaps as the
 * chart renders them (Helm). What a dry run and every failed or rolled-back migration must leave.
 */
export function spinnakerConfigAsInstalled(world: SandboxWorld, snapshot: WorldSnapshot): boolean {
  const operator = world.spinnaker.operator;
  if (operator) return snapshot.spinnakerService?.spinnakerConfig === operator.initialConfig();
  if (snapshot.helm) return snapshot.helm.asRendered;
  const { config: _config, ...halyardFiles } = snapshot.configMap;
  return JSON.stringify(halyardFiles) === JSON.stringify(INITIAL_FILES);
}
