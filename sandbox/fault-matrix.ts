/**
 * `npm run test:faults -- [--json FILE] [--only NAME] [--spin-redis-server PATH]`: a full migration per case in the
 * sandbox, with one fault injected through the emulators or process control (never by a
 * branch in the handlers), and the same invariants checked at the end of every case:
 *   - spinRedisDataIntact: the start state is where Spinnaker points now;
 *   - orcaWritesPresent: every execution orca wrote during the run is there too;
 *   - configMapConsistent: fully patched after success, byte-identical to the original otherwise
 *     (for the operator flavour: the SpinnakerService's spec.spinnakerConfig);
 *   - spinRedisReplicas: 0 after success, the original count otherwise;
 *   - noSecretInOutput: no secret in logs, execution output, history, ConfigMap or notifications;
 *   - noMessageProcessedTwice, noMessageLost, noDeletedKeyResurrected, lastWriteWins: the write
 *     ledger of the simulated Spinnaker against the Redis it points to at the end
 *     (sandbox/spinnaker/ledger.ts); a case with any invariant false fails.
 *   - spinnakerReplicasRestored: every Spinnaker service back at its replicas and Ready, no quiesce annotation left;
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { Redis } from 'ioredis';
import { RedisConnectionError } from '../lib/errors.js';
import { connectRedis } from '../lib/redis/connect.js';
import { runMigration, type ExecutionResult, type RunOptions, type TaskHandler } from './runner.js';
import { OrcaInstance } from './spinnaker/services/orca.js';
import { InjectedFaultError } from './faults.js';
import { configHash } from './spinnaker/operator.js';
import { HALYARD_POD, PROFILES, SERVICE_SETTINGS } from './spinnaker/helm.js';
import { spinnakerConfigAsInstalled, startWorld, SANDBOX_GROUP_ID, SANDBOX_SEED_BUCKET, type SandboxWorld, type WorldOptions, type WorldSnapshot } from './world.js';
import { createSandboxPki } from './pki.js';
import { join } from 'node:path';

type End = 'succeeded' | 'rolled back' | 'failed before cutover' | 'rollback failed' | 'dry run';

interface Case {
  name: string;
  expected: End;
  world?: WorldOptions;
  /** Runs after the world is up, before the execution starts. */
  prepare?: (world: SandboxWorld) => Promise<void> | void;
  /** Process control around one Task. */
  around?: Record<string, (world: SandboxWorld, handler: TaskHandler, event: unknown, call: number) => Promise<unknown>>;
  run?: Partial<RunOptions>;
  /** An extra check for the case, reported as an invariant. */
  check?: (world: SandboxWorld, result: ExecutionResult) => Promise<Record<string, boolean>> | Record<string, boolean>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const options = (extra: Record<string, unknown>) => ({ input: { options: { maxWaitMinutes: 10, rolloutTimeoutMinutes: 2, drainTimeoutMinutes: 2, copySliceSeconds: 20, ...extra } } });

/** How long the target answers READONLY, and the retry interval the case runs with (6 attempts: 3.6 s, as the ASL's 5 s × 2ⁿ with jitter covers real failovers). */
const FAILOVER_MS = 1500;
const FAILOVER_RETRY_MS = 600;

export const CASES: Case[] = [
  { name: 'no fault', expected: 'succeeded' },
  // options.copyMethod s3-seed: Spinnaker frozen from before the snapshot to the switch; whatever fails rolls back inside the pause.
  {
    name: 's3-seed: the group seeded from spin-redis RDB in S3, the object deleted',
    expected: 'succeeded',
    world: { copyMethod: 's3-seed' },
    check: (w) => ({ seedObjectDeleted: w.s3.keys(SANDBOX_SEED_BUCKET).length === 0 && w.s3.pendingUploads(SANDBOX_SEED_BUCKET).length === 0 }),
  },
  {
    name: 's3-seed: the upload Lambda dies after completing it; the retry reuses the object',
    expected: 'succeeded',
    world: { copyMethod: 's3-seed' },
    around: {
      UploadSeedSnapshot: async (_w, handler, event, call) => {
        const out = await handler(event);
        if (call === 1) throw Object.assign(new Error('the Lambda died after the upload (injected)'), { name: 'Lambda.ServiceException' });
        return out;
      },
    },
    check: (w, result) => ({
      seedReused: (result.output as { seed?: { reused?: boolean } } | undefined)?.seed?.reused === true,
      seedObjectDeleted: w.s3.keys(SANDBOX_SEED_BUCKET).length === 0,
    }),
  },
  {
    name: 's3-seed: S3 refuses the upload (AccessDenied): rolled back, Spinnaker resumed on spin-redis',
    expected: 'rolled back',
    world: { copyMethod: 's3-seed' },
    prepare: (w) => {
      for (const operation of ['PutObject', 'UploadPart']) w.s3.faults.add({ operation, kind: 'access-denied', times: 1000 });
    },
    check: (w) => ({ noGroupCreated: w.elastiCache.groupIds().length === 0, nothingLeftInS3: w.s3.keys(SANDBOX_SEED_BUCKET).length === 0 && w.s3.pendingUploads(SANDBOX_SEED_BUCKET).length === 0 }),
  },
  {
    name: 's3-seed: ElastiCache cannot read the seed (no bucket policy): rolled back, the object deleted',
    expected: 'rolled back',
    world: { copyMethod: 's3-seed' },
    prepare: (w) => w.s3.deleteBucketPolicy(SANDBOX_SEED_BUCKET),
    check: (w) => ({ noGroupCreated: w.elastiCache.groupIds().length === 0, seedObjectDeleted: w.s3.keys(SANDBOX_SEED_BUCKET).length === 0 }),
  },
  { name: 'ElastiCache throttles CreateReplicationGroup twice', expected: 'succeeded', prepare: (w) => w.elastiCache.faults.add({ operation: 'CreateReplicationGroup', kind: 'throttle', times: 2 }) },
  {
    name: 'ElastiCache answers 500 to DescribeReplicationGroups twice',
    expected: 'succeeded',
    prepare: (w) => w.elastiCache.faults.add({ operation: 'DescribeReplicationGroups', kind: 'server-error', times: 2 }),
  },
  {
    name: 'ElastiCache answers 503 to CreateCacheParameterGroup',
    expected: 'succeeded',
    prepare: (w) => w.elastiCache.faults.add({ operation: 'CreateCacheParameterGroup', kind: 'unavailable', times: 1 }),
  },
  { name: 'ElastiCache throttles ModifyCacheParameterGroup', expected: 'succeeded', prepare: (w) => w.elastiCache.faults.add({ operation: 'ModifyCacheParameterGroup', kind: 'throttle', times: 2 }) },
  { name: 'replication group create-failed', expected: 'failed before cutover', prepare: (w) => w.elastiCache.failNextCreate('Insufficient cache node capacity') },
  {
    name: 'create-failed with cleanupOnFailure deletes what this execution created',
    expected: 'failed before cutover',
    world: options({ cleanupOnFailure: true }),
    prepare: (w) => w.elastiCache.failNextCreate('Insufficient cache node capacity'),
    // The step waits out the group's deletion: its subnet and parameter groups are gone too.
    check: (w) => ({
      createdResourcesDeleted:
        w.elastiCache.groupIds().length === 0 && w.elastiCache.subnetGroupNames().length === 0 && w.elastiCache.parameterGroupNames().every((name) => name.startsWith('default.')),
    }),
  },
  {
    name: 'AWS refuses CreateReplicationGroup with InvalidParameterValue',
    expected: 'failed before cutover',
    prepare: (w) => w.elastiCache.faults.add({ operation: 'CreateReplicationGroup', kind: 'invalid-parameter', times: 1 }),
  },
  { name: 'IAM denies CreateCacheSubnetGroup', expected: 'failed before cutover', prepare: (w) => w.elastiCache.faults.add({ operation: 'CreateCacheSubnetGroup', kind: 'access-denied', times: 1 }) },
  { name: 'EKS DescribeCluster answers 500 once', expected: 'succeeded', prepare: (w) => w.eksFaults.add({ operation: 'DescribeCluster', kind: 'server-error', times: 1 }) },
  { name: 'Secrets Manager unavailable once', expected: 'succeeded', prepare: (w) => w.secretsManager.faults.add({ operation: 'GetSecretValue', kind: 'unavailable', times: 1 }) },
  {
    name: 'Redis unreachable from the ping step',
    expected: 'failed before cutover',
    around: {
      PingRedis: async (w, handler, event) => {
        for (const node of w.elastiCache.nodes(SANDBOX_GROUP_ID)) await node.process.kill();
        return handler(event);
      },
    },
  },
  {
    name: 'wrong AUTH token (rotated on the group behind our back)',
    expected: 'failed before cutover',
    around: {
      PingRedis: async (w, handler, event) => {
        const admin = await w.elastiCache.adminClient(SANDBOX_GROUP_ID);
        await admin.call('ACL', 'SETUSER', 'default', 'resetpass', '>Rotated-Token-0123456789');
        admin.disconnect();
        return handler(event);
      },
    },
  },
  {
    name: 'TLS refused (certificate not trusted)',
    expected: 'failed before cutover',
    around: {
      PingRedis: async (w, handler, event) => {
        const other = createSandboxPki(join(w.dir, 'untrusted-pki'));
        const previous = process.env.REDIS_TLS_CA_FILE;
        process.env.REDIS_TLS_CA_FILE = other.caFile;
        try {
          return await handler(event);
        } finally {
          process.env.REDIS_TLS_CA_FILE = previous;
        }
      },
    },
  },
  {
    name: 'Kubernetes 409 on the ConfigMap update',
    expected: 'succeeded',
    around: { PatchHalyardConfig: async (w, handler, event, call) => (call === 1 && w.kubernetes.faults.add({ verb: 'update', resource: 'configmaps', status: 409, times: 1 }), handler(event)) },
  },
  { name: 'Kubernetes RBAC 403 on the lock', expected: 'failed before cutover', prepare: (w) => w.kubernetes.faults.add({ verb: 'get', resource: 'configmaps', status: 403, times: 1 }) },
  {
    name: 'Kubernetes RBAC 403 while patching the Halyard config',
    expected: 'rolled back',
    around: { PatchHalyardConfig: async (w, handler, event, call) => (call === 1 && w.kubernetes.faults.add({ verb: 'update', resource: 'configmaps', status: 403, times: 1 }), handler(event)) },
  },
  {
    name: 'pod exec refused after the ConfigMap was patched',
    expected: 'rolled back',
    around: { PatchHalyardConfig: async (w, handler, event, call) => (call === 1 && w.kubernetes.faults.add({ verb: 'exec', resource: 'pods/exec', status: 403, times: 1 }), handler(event)) },
  },
  { name: 'hal deploy apply exits 1', expected: 'rolled back', world: { spinnakerFaults: { halFailures: 1 } } },
  {
    name: "the Spinnaker pods' IAM role cannot read the Redis URL secret: refused before anything is created",
    expected: 'failed before cutover',
    world: { podRolePolicy: [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:someone-else/*' }] },
    check: (w, result) => ({
      refusedWithSpinnakerSecretAccessDeniedError: result.error === 'SpinnakerSecretAccessDeniedError',
      nothingCreated: w.elastiCache.groupIds().length === 0 && !w.secretsManager.secret('spin-elasticache/spinnaker-redis/redis-url'),
    }),
  },
  {
    name: 'a token the services would not see (the URL secret without it): every pod gets NOAUTH, the rollout fails, rolled back',
    expected: 'rolled back',
    world: options({ rolloutTimeoutMinutes: 1 }),
    around: {
      PatchHalyardConfig: async (w, handler, event) => {
        const result = await handler(event);
        // What the old patch gave the services: the URL without user-info (its redis.password was read by none).
        const secret = w.secretsManager.secret('spin-elasticache/spinnaker-redis/redis-url')!;
        const url = new URL(String(secret.value));
        w.secretsManager.putSecret('spin-elasticache/spinnaker-redis/redis-url', `${url.protocol}//${url.host}`, secret.tags);
        return result;
      },
    },
  },
  {
    name: 'GitOps-managed config refused: Argo CD tracks the Halyard ConfigMap (nothing created, the change to commit printed)',
    expected: 'failed before cutover',
    prepare: (w) => {
      const cm = w.kubernetes.store.get('ConfigMap', 'spinnaker', 'halyard-config')!;
      const annotations = { ...cm.metadata.annotations, 'argocd.argoproj.io/tracking-id': 'spinnaker:/ConfigMap:spinnaker/halyard-config' };
      w.kubernetes.store.update({ ...cm, metadata: { ...cm.metadata, annotations } });
    },
    check: (w, result) => ({
      refusedWithSpinnakerConfigGitOpsManagedError: result.error === 'SpinnakerConfigGitOpsManagedError',
      changeToCommitPrinted: /\+skipLifeCycleManagement: true/.test(result.cause ?? ''),
      nothingCreated: w.elastiCache.groupIds().length === 0 && !w.secretsManager.secret('spin-elasticache/spinnaker-redis/redis-url'),
    }),
  },
  // ---- Helm installs (stable/spinnaker, OpsMx spinnaker-helm): the chart's ConfigMaps and Halyard pod, spin-redis the Bitnami StatefulSet with a password ----
  {
    name: "helm-stable: the chart's ConfigMaps and Halyard pod patched, the Bitnami StatefulSet scaled to 0",
    expected: 'succeeded',
    world: { flavor: 'helm-stable' },
    check: (w, result) => ({
      detectedHelmStable: ((result.output ?? {}) as { lock?: { flavor?: string } }).lock?.flavor === 'helm-stable',
      bitnamiStatefulSetAtZero: (w.kubernetes.store.get('StatefulSet', 'spinnaker', 'spinnaker-redis-master')?.spec as { replicas?: number } | undefined)?.replicas === 0,
      halyardPodFilesPatched: /rediss:\/\//.test(w.spinnaker.halyardFiles.get('/home/spinnaker/.hal/default/service-settings/redis.yml') ?? ''),
    }),
  },
  { name: 'helm-opsmx: no AUTH token', expected: 'succeeded', world: { flavor: 'helm-opsmx', auth: false } },
  {
    name: "helm-stable: hal deploy apply exits 1: rolled back, both of the chart's ConfigMaps and the Halyard pod's files restored byte for byte",
    expected: 'rolled back',
    world: { flavor: 'helm-stable', spinnakerFaults: { halFailures: 1 } },
    check: (w) => ({
      halyardPodFilesRestored: [...w.spinnaker.halyardFiles]
        .filter(([path]) => /\/(service-settings|profiles)\//.test(path))
        .every(([path, content]) => {
          const [, dir, key] = /\/(service-settings|profiles)\/(.+)$/.exec(path)!;
          const rendered = w.spinnaker.chartRendered()!;
          return content === rendered[dir === 'profiles' ? PROFILES : SERVICE_SETTINGS]?.[key!];
        }),
    }),
  },
  {
    name: 'helm-stable: a helm upgrade during the migration (the hook re-runs hal deploy apply on a restarted Halyard): noticed, rolled back',
    expected: 'rolled back',
    world: { flavor: 'helm-stable' },
    around: {
      // Right after our hal deploy apply: the chart's keys re-rendered (pointing at spin-redis), the keys we added kept, the Halyard pod restarted, the hook's hal deploy apply.
      HalDeployApply: async (w, handler, event, call) => {
        const result = await handler(event);
        if (call === 1) {
          const hook = await w.spinnaker.helmUpgrade({ restartHalyard: true });
          if (hook.exitCode !== 0) throw new InjectedFaultError(`the chart hook's hal deploy apply failed: ${hook.stderr}`);
        }
        return result;
      },
    },
    check: (w, result) => ({
      noticedAsSpinnakerConfigRevertedError: result.history.some((e) => e.error === 'SpinnakerConfigRevertedError'),
      summarySaysHelmUpgrade: w.sns.messages.some((m) => /A helm upgrade ran during the migration/.test(JSON.stringify(m))),
      hookJobRan: Boolean(w.kubernetes.store.get('Job', 'spinnaker', 'spinnaker-install-using-hal')),
      bitnamiStatefulSetBackAtOne: (w.kubernetes.store.get('StatefulSet', 'spinnaker', 'spinnaker-redis-master')?.spec as { replicas?: number } | undefined)?.replicas === 1,
    }),
  },
  {
    name: 'helm-opsmx: a helm upgrade during the migration (Halyard not restarted): noticed before spin-redis is scaled down, rolled back',
    expected: 'rolled back',
    world: { flavor: 'helm-opsmx' },
    around: {
      VerifySpinRedisDrained: async (w, handler, event, call) => {
        const result = await handler(event);
        if (call === 1) await w.spinnaker.helmUpgrade();
        return result;
      },
    },
    check: (_w, result) => ({ noticedBeforeScaleDown: result.history.some((e) => e.state === 'ScaleDownSpinRedis' && e.error === 'SpinnakerConfigRevertedError') }),
  },
  {
    name: "helm-stable: GitOps-managed config refused: Argo CD tracks the chart's ConfigMaps (nothing created, the chart values to commit printed)",
    expected: 'failed before cutover',
    world: { flavor: 'helm-stable' },
    prepare: (w) => {
      for (const name of [SERVICE_SETTINGS, PROFILES]) {
        const cm = w.kubernetes.store.get('ConfigMap', 'spinnaker', name)!;
        w.kubernetes.store.update({ ...cm, metadata: { ...cm.metadata, labels: { ...cm.metadata.labels, 'argocd.argoproj.io/instance': 'spinnaker' } } });
      }
    },
    check: (w, result) => ({
      refusedWithSpinnakerConfigGitOpsManagedError: result.error === 'SpinnakerConfigGitOpsManagedError',
      chartValuesPrinted: /additionalServiceSettings/.test(result.cause ?? '') && /skipLifeCycleManagement: true/.test(result.cause ?? ''),
      nothingCreated: w.elastiCache.groupIds().length === 0 && !w.secretsManager.secret('spin-elasticache/spinnaker-redis/redis-url'),
    }),
  },
  {
    name: 'helm-opsmx: GitOps mode (the Halyard pod clones ~/.hal from git) refused: nothing created',
    expected: 'failed before cutover',
    world: { flavor: 'helm-opsmx' },
    prepare: (w) => {
      // OpsMx/spinnaker-helm templates/statefulsets/halyard.yaml with halyard.gitops.enabled, repo type git.
      const pod = w.kubernetes.store.get('Pod', 'spinnaker', HALYARD_POD)!;
      const spec = pod.spec as { initContainers?: unknown[] };
      w.kubernetes.store.update({
        ...pod,
        spec: {
          ...spec,
          initContainers: [
            { name: 'create-halyard-local', env: [{ name: 'GIT_CLONE_PARAM', valueFrom: { secretKeyRef: { name: 'opsmx-gitops-auth', key: 'gitcloneparam' } } }] },
            { name: 'halyardconfig-update' },
          ],
        },
      });
    },
    check: (w, result) => ({
      refusedWithSpinnakerConfigGitOpsManagedError: result.error === 'SpinnakerConfigGitOpsManagedError',
      namesOpsMxGitOps: /OpsMx Halyard GitOps/.test(result.cause ?? ''),
      nothingCreated: w.elastiCache.groupIds().length === 0,
    }),
  },
  {
    name: "helm-opsmx: the Spinnaker pods' IAM role cannot read the Redis URL secret: refused before anything is created",
    expected: 'failed before cutover',
    world: { flavor: 'helm-opsmx', podRolePolicy: [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:someone-else/*' }] },
    check: (w, result) => ({
      refusedWithSpinnakerSecretAccessDeniedError: result.error === 'SpinnakerSecretAccessDeniedError',
      nothingCreated: w.elastiCache.groupIds().length === 0 && !w.secretsManager.secret('spin-elasticache/spinnaker-redis/redis-url'),
      bitnamiStatefulSetUntouched: (w.kubernetes.store.get('StatefulSet', 'spinnaker', 'spinnaker-redis-master')?.spec as { replicas?: number } | undefined)?.replicas === 1,
    }),
  },
  {
    name: 'operator: SpinnakerService patched, the operator redeploys (hash changed, status OK)',
    expected: 'succeeded',
    world: { flavor: 'operator' },
    check: async (w, result) => {
      const snapshot = await w.snapshot();
      const status = snapshot.spinnakerService?.status as { status?: string; lastDeployed?: { config?: { hash?: string } } } | undefined;
      const deployed = configHash(JSON.parse(snapshot.spinnakerService?.spinnakerConfig ?? '{}'));
      return {
        detectedOperator: ((result.output ?? {}) as { lock?: { flavor?: string } }).lock?.flavor === 'operator',
        noHalyardConfigMap: !w.kubernetes.store.get('ConfigMap', 'spinnaker', 'halyard-config'),
        operatorDeployedThePatchedConfig: status?.status === 'OK' && status.lastDeployed?.config?.hash === deployed && configHash(JSON.parse(w.spinnaker.operator!.initialConfig())) !== deployed,
      };
    },
  },
  {
    name: 'operator: the validating webhook denies the SpinnakerService change in the dry run (refused before anything is created)',
    expected: 'failed before cutover',
    world: { flavor: 'operator', spinnakerFaults: { webhookDenials: 1 } },
    check: (w, result) => ({
      refusedWithSpinnakerConfigRejectedError: result.error === 'SpinnakerConfigRejectedError' && /dry run/.test(result.cause ?? ''),
      nothingCreated: w.elastiCache.groupIds().length === 0 && !w.secretsManager.secret('spin-elasticache/spinnaker-redis/redis-url'),
    }),
  },
  {
    name: 'operator: the validating webhook denies the SpinnakerService patch (rolled back, CR unchanged)',
    expected: 'rolled back',
    world: { flavor: 'operator', spinnakerFaults: { webhookAllowFirst: 1, webhookDenials: 1 } },
    check: (_w, result) => ({ deniedWithSpinnakerConfigRejectedError: JSON.stringify(result.history).includes('SpinnakerConfigRejectedError') }),
  },
  {
    name: 'operator: the operator reports Failure (rolled back, CR restored byte for byte)',
    expected: 'rolled back',
    world: { flavor: 'operator', spinnakerFaults: { failNewRedis: true } },
    check: async (w, result) => {
      const snapshot = await w.snapshot();
      return {
        failedWithSpinnakerOperatorDeployFailedError: JSON.stringify(result.history).includes('SpinnakerOperatorDeployFailedError'),
        deployFailedEventRead: JSON.stringify(result.history).includes('DeployFailed: error deploying Spinnaker'),
        operatorOkAgain: (snapshot.spinnakerService?.status as { status?: string } | undefined)?.status === 'OK',
      };
    },
  },
  { name: 'operator: no AUTH token', expected: 'succeeded', world: { flavor: 'operator', auth: false } },
  {
    name: "operator: the Spinnaker pods' IAM role cannot read the Redis URL secret: refused before anything is created",
    expected: 'failed before cutover',
    world: { flavor: 'operator', podRolePolicy: [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:someone-else/*' }] },
    check: (w, result) => ({
      refusedWithSpinnakerSecretAccessDeniedError: result.error === 'SpinnakerSecretAccessDeniedError',
      nothingCreated: w.elastiCache.groupIds().length === 0 && !w.secretsManager.secret('spin-elasticache/spinnaker-redis/redis-url'),
    }),
  },
  {
    name: 'operator: dry run of a GitOps-managed SpinnakerService shows the change to commit',
    expected: 'dry run',
    world: { flavor: 'operator', ...options({ dryRun: true }) },
    prepare: (w) => {
      const cr = w.kubernetes.store.get('SpinnakerService', 'spinnaker', 'spinnaker')!;
      const annotations = { ...cr.metadata.annotations, 'argocd.argoproj.io/tracking-id': 'spinnaker:spinnaker.io/SpinnakerService:spinnaker/spinnaker' };
      w.kubernetes.store.update({ ...cr, metadata: { ...cr.metadata, annotations } });
    },
    check: (w, result) => {
      const plan = ((result.output ?? {}) as { plan?: { spinnaker?: { gitOpsManaged?: string }; configMapDiff?: Record<string, string> } }).plan;
      return {
        nothingCreated: w.elastiCache.groupIds().length === 0,
        planSaysGitOpsManaged: /Argo CD/.test(plan?.spinnaker?.gitOpsManaged ?? ''),
        planShowsTheChange: Boolean(plan?.configMapDiff?.['spec.spinnakerConfig.service-settings.redis']?.includes('+skipLifeCycleManagement: true')),
      };
    },
  },
  {
    name: 'GitOps-managed config refused: Flux applies the SpinnakerService (nothing created)',
    expected: 'failed before cutover',
    world: { flavor: 'operator' },
    prepare: (w) => {
      const cr = w.kubernetes.store.get('SpinnakerService', 'spinnaker', 'spinnaker')!;
      const labels = { ...cr.metadata.labels, 'kustomize.toolkit.fluxcd.io/name': 'spinnaker', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' };
      w.kubernetes.store.update({ ...cr, metadata: { ...cr.metadata, labels } });
    },
    check: (w, result) => ({
      refusedWithSpinnakerConfigGitOpsManagedError: result.error === 'SpinnakerConfigGitOpsManagedError',
      changeToCommitPrinted: /spec\.spinnakerConfig\.service-settings\.redis/.test(result.cause ?? ''),
      nothingCreated: w.elastiCache.groupIds().length === 0,
    }),
  },
  {
    name: 'HA clouddriver (rw/ro/ro-deck/caching follow clouddriver-local.yml)',
    expected: 'succeeded',
    world: { flavor: 'halyard-ha' },
    check: async (w, result) => {
      const snapshot = await w.snapshot();
      const subServices = snapshot.services.filter((s) => s.name.startsWith('spin-clouddriver-'));
      return {
        detectedHalyardHa: ((result.output ?? {}) as { lock?: { flavor?: string } } | undefined)?.lock?.flavor === 'halyard-ha',
        everySubServiceOnTheTarget: subServices.length === 4 && subServices.every((s) => s.redis === snapshot.halyard.overrideBaseUrl && s.authenticated),
      };
    },
  },
  { name: 'no AUTH token', expected: 'succeeded', world: { auth: false } },
  {
    name: 'Kubernetes 500 while listing Deployments during the rollout',
    expected: 'succeeded',
    around: { CheckSpinnakerRollout: async (w, handler, event, call) => (call === 1 && w.kubernetes.faults.add({ verb: 'list', resource: 'deployments', status: 500, times: 2 }), handler(event)) },
  },
  {
    name: 'a rollout that never becomes healthy (gate cannot start on ElastiCache)',
    expected: 'rolled back',
    world: { ...options({ rolloutTimeoutMinutes: 1 }), spinnakerFaults: { neverReady: ['spin-gate'] } },
  },
  {
    name: 'spin-redis drops every connection mid-copy',
    expected: 'succeeded',
    around: {
      CopyBulk: async (w, handler, event, call) => {
        if (call === 1) {
          const killer = await connectRedis(w.spinRedisEndpoint, { connectionName: 'chaos' });
          setTimeout(() => void killer.call('CLIENT', 'KILL', 'TYPE', 'normal').finally(() => killer.disconnect()), 5);
        }
        return handler(event);
      },
    },
  },
  {
    name: 'a Lambda timeout mid-copy, retried from the checkpoint',
    expected: 'succeeded',
    // The scan copy: its slices are what keeps a checkpoint.
    world: options({ copyMethod: 'scan' }),
    run: { timeoutOverrides: { CopyBulk: 1 } },
    around: {
      CopyBulk: async (_w, handler, event, call) => {
        const result = await handler(event);
        if (call === 1) await sleep(1500); // killed by the Task timeout before it can report
        return result;
      },
    },
  },
  {
    name: 'the target runs out of memory',
    expected: 'failed before cutover',
    around: {
      CopyBulk: async (w, handler, event) => {
        const admin = await w.elastiCache.adminClient(SANDBOX_GROUP_ID);
        await admin.config('SET', 'maxmemory', '2mb');
        await admin.config('SET', 'maxmemory-policy', 'noeviction');
        admin.disconnect();
        return handler(event);
      },
    },
  },
  {
    name: 'verification finds a difference (a key lost on the target)',
    expected: 'rolled back',
    around: {
      VerifyCopy: async (w, handler, event) => {
        const admin = await w.elastiCache.adminClient(SANDBOX_GROUP_ID);
        // A key copied from spin-redis (one orca created on ElastiCache after the cutover
        // is not spin-redis's to miss), looked for over the whole keyspace.
        const spinRedis = await connectRedis(w.spinRedisEndpoint);
        let cursor = '0';
        let victim: string | undefined;
        do {
          const [next, keys] = await admin.scan(cursor, 'MATCH', 'correlation:*', 'COUNT', 1000);
          cursor = next;
          for (const key of keys) if (!victim && (await spinRedis.exists(key)) === 1) victim = key;
        } while (cursor !== '0' && !victim);
        spinRedis.disconnect();
        if (!victim) throw new Error('the fault needs a correlation:* key copied from spin-redis');
        await admin.del(victim);
        admin.disconnect();
        return handler(event);
      },
    },
  },
  {
    name: 'spin-redis refuses PSYNC (ACL): the bulk copy falls back to SCAN slices',
    expected: 'succeeded',
    prepare: async (w) => {
      const admin = await connectRedis(w.spinRedisEndpoint);
      await admin.call('ACL', 'SETUSER', 'default', '-psync', '-sync');
      admin.disconnect();
    },
    check: (_w, result) => {
      const copy = ((result.output ?? {}) as { copy?: { method?: string; fallbackReason?: string } }).copy;
      return { copiedByScan: copy?.method === 'scan', fallbackReasonGiven: /refused to replicate/.test(copy?.fallbackReason ?? '') };
    },
  },
  {
    name: 'the final mirror and the strict verification in 5-second slices; a slice whose result is lost is retried from its own checkpoint',
    expected: 'succeeded',
    // Enough keys for the walks to outlast a 5-second slice on this 2-core machine.
    world: { ...options({ copySliceSeconds: 5 }), keys: 60_000 },
    prepare: async (w) => {
      // No replication stream: the final catch-up is the mirror, a keyspace walk.
      const admin = await connectRedis({ url: w.spinnaker.spinRedisUrl });
      await admin.call('ACL', 'SETUSER', 'default', '-psync', '-sync');
      admin.disconnect();
    },
    around: {
      VerifyCopy: async (w, handler, event, call) => {
        if (call === 1) {
          // Spinnaker is quiesced: spin-redis's keys are what the verification must count once each.
          const admin = await connectRedis({ url: w.spinnaker.spinRedisUrl });
          let cursor = '0';
          let keys = 0;
          do {
            const [next, found] = await admin.scan(cursor, 'COUNT', 1000);
            cursor = next;
            keys += found.filter((k) => !k.startsWith('spin-elasticache:')).length;
          } while (cursor !== '0');
          admin.disconnect();
          frozenKeys.set(w, keys);
        }
        const result = await handler(event);
        // The second slice did its work but its result never reached the state machine.
        if (call === 2) throw new RedisConnectionError('injected: the connection dropped as the slice returned');
        return result;
      },
    },
    check: (w, result) => {
      const output = (result.output ?? {}) as { reconcile?: { method?: string; done?: boolean }; verify?: { ok?: boolean; compared?: number; expiringSkipped?: number; slices?: number } };
      const frozen = frozenKeys.get(w) ?? 0;
      const counted = (output.verify?.compared ?? 0) + (output.verify?.expiringSkipped ?? 0);
      const verifySlices = result.steps.filter((s) => s.name === 'VerifyCopy').length;
      return {
        finalSyncByMirror: output.reconcile?.method === 'mirror' && output.reconcile.done === true,
        verifiedClean: output.verify?.ok === true,
        // A retried slice re-counting its range would count more keys than spin-redis holds.
        everyKeyCountedOnce: counted <= frozen && counted >= frozen * 0.99,
        slicesRecorded: output.verify?.slices === verifySlices,
      };
    },
  },
  {
    name: 'spin-redis blocks past the slice deadline: the replication copy gives up, SCAN slices finish',
    expected: 'succeeded',
    world: options({ copySliceSeconds: 5 }),
    around: {
      CopyBulk: async (w, handler, event, call) => {
        if (call !== 1) return handler(event);
        const admin = await connectRedis(w.spinRedisEndpoint);
        await admin.call('CLIENT', 'PAUSE', '6000', 'ALL');
        try {
          return await handler(event);
        } finally {
          // The copy changed repl-diskless-sync-delay for its snapshot: it must be back.
          delayAfterCopy.set(w, ((await admin.config('GET', 'repl-diskless-sync-delay')) as string[])[1] ?? '');
          admin.disconnect();
        }
      },
    },
    check: (w, result) => {
      const copy = ((result.output ?? {}) as { copy?: { method?: string; fallbackReason?: string; slices?: number } }).copy;
      return {
        copiedByScan: copy?.method === 'scan' && /did not finish/.test(copy.fallbackReason ?? ''),
        moreThanOneSlice: (copy?.slices ?? 0) > 1,
        sourceSettingPutBack: delayAfterCopy.get(w) === '5',
      };
    },
  },
  {
    name: "spin-redis's backlog no longer holds the copy's position: the catch-up falls back to keyspace notifications",
    expected: 'succeeded',
    around: {
      CatchUpLiveWrites: async (w, handler, event, call) => {
        if (call === 1) {
          const admin = await connectRedis(w.spinRedisEndpoint);
          await admin.config('SET', 'repl-backlog-size', '16384');
          for (let i = 0; i < 40; i++) await admin.set(`spin-elasticache:filler:${i}`, 'x'.repeat(1000), 'PX', 60_000);
          const syncFull = async () => {
            const redis = await connectRedis(w.spinRedisEndpoint);
            return Number(/sync_full:(\d+)/.exec(await redis.info('stats'))?.[1] ?? 0) + (redis.disconnect(), 0);
          };
          admin.disconnect();
          const before = await syncFull();
          const result = await handler(event);
          // A PSYNC the backlog cannot serve would have been answered with a full sync: a fork.
          catchUpForks.set(w, (await syncFull()) - before);
          return result;
        }
        return handler(event);
      },
    },
    check: (w, result) => {
      const output = (result.output ?? {}) as { catchUp?: { stream?: unknown; streamLost?: string }; reconcile?: { method?: string } };
      return {
        streamLostNamed: /cannot continue the replication stream|no longer in spin-redis's backlog/.test(output.catchUp?.streamLost ?? ''),
        notificationsTookOver: output.catchUp?.stream === undefined,
        finalSyncByMirror: output.reconcile?.method === 'mirror',
        spinRedisNotForked: catchUpForks.get(w) === 0,
      };
    },
  },
  {
    name: 'a failure during the quiesce rolls back before the switch: replicas restored, nothing of Spinnaker on ElastiCache',
    expected: 'rolled back',
    around: {
      CheckSpinnakerQuiesced: async (w, handler, event, call) => (call === 1 && w.kubernetes.faults.add({ verb: 'list', resource: 'pods', status: 403, times: 1 }), handler(event)),
    },
    check: (w, result) => {
      const output = (result.output ?? {}) as { switch?: unknown } | undefined;
      return {
        neverSwitched: !result.history.some((e) => e.state === 'BeginSwitch') && output?.switch === undefined,
        // Every execution orca wrote went to spin-redis: no Spinnaker write ever reached ElastiCache.
        orcaWroteOnlyToSpinRedis: [...w.spinnaker.orcaWrites().values()].every((url) => url === w.spinnaker.spinRedisUrl),
      };
    },
  },
  {
    name: 'a failure after the switch rolls back by mirroring ElastiCache onto spin-redis, deletions included',
    expected: 'rolled back',
    prepare: (w) => void beforeRun.set(w, new Set(w.spinnaker.orcaWrites().keys())),
    around: {
      VerifySpinRedisDrained: async (w) => {
        // Spinnaker runs on ElastiCache: let orca write there, then delete on ElastiCache, as
        // Spinnaker would, one execution that came over from spin-redis (one orca wrote during
        // this run, before the pause, if any; else an older or a seeded one: a run shorter than
        // orca's launch interval has none) and one orca wrote on ElastiCache. Each must exist
        // there when deleted, or the deletion proves nothing. Waits up to 20 s for orca's first
        // write on ElastiCache (1.5 s on a quiet machine).
        const before = beforeRun.get(w) ?? new Set<string>();
        const admin = await w.elastiCache.adminClient(SANDBOX_GROUP_ID);
        const firstOnTarget = async (keys: string[]) => {
          for (const key of keys) if ((await admin.exists(`${key}:stageIndex`)) === 1) return key;
          return undefined;
        };
        let onSpinRedis: string | undefined;
        let onElastiCache: string | undefined;
        for (const until = Date.now() + 20_000; Date.now() < until && !(onSpinRedis && onElastiCache); ) {
          await sleep(500);
          const writes = [...w.spinnaker.orcaWrites()];
          const fromSpinRedis = writes.filter(([, url]) => url === w.spinnaker.spinRedisUrl).map(([key]) => key);
          onSpinRedis ??= await firstOnTarget([...fromSpinRedis.filter((k) => !before.has(k)), ...fromSpinRedis.filter((k) => before.has(k))]);
          onElastiCache ??= await firstOnTarget(writes.filter(([, url]) => url !== w.spinnaker.spinRedisUrl).map(([key]) => key));
        }
        if (!onSpinRedis) {
          // A seeded execution (sandbox/seed.ts), copied from spin-redis with the rest.
          const seeded = (await admin.scan('0', 'MATCH', 'pipeline:*:stageIndex', 'COUNT', 1000))[1];
          onSpinRedis = await firstOnTarget(seeded.map((k) => k.slice(0, -':stageIndex'.length)).filter((k) => !w.spinnaker.orcaWrites().has(k)));
        }
        const elastiCacheUrl = [...w.spinnaker.orcaWrites().values()].find((url) => url !== w.spinnaker.spinRedisUrl) ?? '';
        // An execution's stage index: written once by store(), so nothing re-creates it later.
        const deleted = [onSpinRedis, onElastiCache].filter((k): k is string => k !== undefined).map((k) => `${k}:stageIndex`);
        found.set(w, { fromSpinRedis: onSpinRedis !== undefined, wroteOnElastiCache: onElastiCache !== undefined });
        for (const key of deleted) {
          const t0 = Date.now();
          await admin.del(key);
          // A deletion Spinnaker makes on ElastiCache: the ledger knows it as one of its writes.
          w.spinnaker.ledger.record(elastiCacheUrl, [{ op: 'del', key }], t0);
        }
        admin.disconnect();
        deletedOnTarget.set(w, deleted);
        throw new InjectedFaultError('fault injected after the switch, with Spinnaker running on ElastiCache');
      },
    },
    check: async (w) => {
      const deleted = deletedOnTarget.get(w) ?? [];
      const spinRedis = w.spinnaker.spinRedis ? await connectRedis(w.spinRedisEndpoint) : undefined;
      const stillThere = spinRedis ? await Promise.all(deleted.map((k) => spinRedis.exists(k))) : [1];
      spinRedis?.disconnect();
      return {
        orcaWroteOnElastiCache: [...w.spinnaker.orcaWrites().values()].some((url) => url !== w.spinnaker.spinRedisUrl),
        anExecutionFromSpinRedisDeletedOnElastiCache: found.get(w)?.fromSpinRedis === true,
        anExecutionOrcaWroteOnElastiCacheDeletedThere: found.get(w)?.wroteOnElastiCache === true,
        deletionsOnElastiCacheReachedSpinRedis: stillThere.every((n) => n === 0),
      };
    },
  },
  // ---- the target fails over (issue 9, item 7): READONLY for a while, in every step that writes to it ----
  readOnlyTargetCase('replication'),
  readOnlyTargetCase('scan'),
  {
    name: 'the target fails over (READONLY) while new orcas run on it, then a failure after the switch rolls back through another failover during the copy-back',
    expected: 'rolled back',
    run: { retryMs: FAILOVER_RETRY_MS },
    around: {
      VerifySpinRedisDrained: async (w) => {
        // Spinnaker runs on ElastiCache: its writes meet READONLY (recorded as "maybe" in the ledger), then the rollback.
        await failover(w, FAILOVER_MS, () => sleep(FAILOVER_MS));
        await sleep(500);
        throw new InjectedFaultError('fault injected after the switch, Spinnaker on ElastiCache through a failover');
      },
      RollbackCopyBackWrites: (w, handler, event, call) =>
        call === 1 ? failover(w, FAILOVER_MS, () => watchStep(w, 'RollbackCopyBackWrites', handler, event)) : watchStep(w, 'RollbackCopyBackWrites', handler, event),
    },
    // The copy-back only reads the target (a replica serves reads): it must not fail at all.
    check: (w, result) => ({ ...everyFailureTransient(result), copyBackUnaffected: !(failoverSeen.get(w) ?? new Set()).has('RollbackCopyBackWrites') }),
  },
  {
    // The rollback's quiesce must find no client but ours while new pods are still starting
    // (a pod deleted mid-start must close what it opened; the sandbox's own reads are ours).
    name: 'the first rollout check after the switch fails, with new pods still starting: rolled back',
    expected: 'rolled back',
    around: {
      CheckSpinnakerRollout: async (_w, handler, event, call) => {
        if (call === 1) throw new InjectedFaultError('fault injected at the first rollout check after the switch');
        return handler(event);
      },
    },
  },
  {
    name: 'a pod that never terminates during the quiesce: bounded, then Spinnaker resumed on spin-redis',
    expected: 'rolled back',
    world: { ...options({ drainTimeoutMinutes: 1 }), spinnakerFaults: { neverTerminate: ['spin-orca'] } },
    check: (_w, result) => ({
      quiesceTimedOutNamingThePod: result.history.some((e) => e.error === 'SpinnakerQuiesceTimeoutError' && /spin-orca-/.test(e.cause ?? '')),
      neverSwitched: !result.history.some((e) => e.state === 'BeginSwitch'),
    }),
  },
  // ---- two orcas at once (issue 9): one on each Redis, with a rollback in the middle ----
  {
    name: 'a rollback while the new orca processes messages on ElastiCache and other services are still rolling out: both sides paused, mirrored back',
    expected: 'rolled back',
    around: {
      CheckSpinnakerRollout: async (w, handler, event, call) => {
        if (call > 1) return handler(event);
        // Wait (at most 10 s) until an orca on ElastiCache has acked messages there, then fail mid-rollout.
        const onTarget = () => w.spinnaker.instances.filter((i): i is OrcaInstance => i instanceof OrcaInstance && i.url !== w.spinnaker.spinRedisUrl);
        for (let t = Date.now(); Date.now() - t < 10_000 && onTarget().reduce((n, i) => n + i.processed, 0) < 3; ) await sleep(50);
        orcaAckedOnTarget.set(
          w,
          onTarget().reduce((n, i) => n + i.processed, 0),
        );
        throw new InjectedFaultError('fault injected mid-rollout, orca processing on ElastiCache');
      },
    },
    check: (w) => ({ newOrcaAckedOnElastiCacheBeforeTheRollback: (orcaAckedOnTarget.get(w) ?? 0) >= 3 }),
  },
  {
    name: 'a foreign orca (started by hand, in no Deployment) stays on spin-redis: the quiesce is bounded, Spinnaker resumed on spin-redis',
    expected: 'rolled back',
    world: options({ drainTimeoutMinutes: 1 }),
    prepare: async (w) => {
      const foreign = new OrcaInstance({ pod: 'orca-by-hand', target: { url: w.spinnaker.spinRedisUrl, gateSecure: false }, ledger: w.spinnaker.ledger });
      await foreign.start();
      foreignOrcas.set(w, foreign);
    },
    // It stops once the execution has ended, before the end state is read (as a person would stop it then).
    around: {
      ReleaseLockAfterRollback: async (w, handler, event) => {
        foreignOrcas.get(w)?.stop();
        return handler(event);
      },
    },
    check: (w, result) => {
      const foreign = foreignOrcas.get(w);
      foreign?.stop();
      return {
        quiesceTimedOutNamingTheClient: result.history.some((e) => e.error === 'SpinnakerQuiesceTimeoutError' && /orca-by-hand/.test(e.cause ?? '')),
        neverSwitched: !result.history.some((e) => e.state === 'BeginSwitch'),
        foreignOrcaKeptProcessing: (foreign?.processed ?? 0) > 0,
      };
    },
  },
  { name: 'a stale lock left by a dead execution is taken over', expected: 'succeeded', prepare: (w) => staleLock(w) },
  {
    name: 'a second migration started while one runs is refused',
    expected: 'succeeded',
    around: {
      CopyBulk: async (w, handler, event, call) => {
        if (call === 1) {
          const second = await runMigration(w.input, { executionName: `second-${Date.now()}`, waitMs: 50, retryMs: 20, onExecutionStatus: (arn, s) => w.setExecutionStatus(arn, s) });
          secondResults.set(w, second);
        }
        return handler(event);
      },
    },
    check: (w) => ({ secondRunRefusedWithMigrationLockedError: secondResults.get(w)?.error === 'MigrationLockedError' }),
  },
  {
    name: 'a 409 inside the rollback itself is retried',
    expected: 'rolled back',
    world: { spinnakerFaults: { halFailures: 1 } },
    around: { RollbackHalyardConfig: async (w, handler, event, call) => (call === 1 && w.kubernetes.faults.add({ verb: 'update', resource: 'configmaps', status: 409, times: 1 }), handler(event)) },
  },
  { name: 'hal deploy apply fails inside the rollback too', expected: 'rollback failed', world: { spinnakerFaults: { halFailures: 2 } } },
  {
    name: 'SNS cannot publish the summary',
    expected: 'succeeded',
    around: { NotifySuccess: async () => Promise.reject(Object.assign(new Error('sns down'), { name: 'AwsServiceUnavailableError' })) },
  },
  {
    name: 'dry run',
    expected: 'dry run',
    world: options({ dryRun: true }),
    check: (w, result) => {
      const plan = (
        (result.output ?? {}) as {
          plan?: {
            configMapDiff?: Record<string, string>;
            scale?: { from: number; to: number };
            quiesce?: { deployment: string }[];
            source?: { fork?: { fork: boolean; figures: { needBytes: number } }; server?: { version: string; rdbVersion?: number } };
          };
        }
      ).plan;
      return {
        nothingCreated: w.elastiCache.groupIds().length === 0,
        planShowsConfigMapDiff: Boolean(plan?.configMapDiff?.['redis.yml']?.includes('+skipLifeCycleManagement: true')),
        planShowsScale: plan?.scale?.from === 1 && plan.scale.to === 0,
        planShowsPausedServices:
          (plan?.quiesce ?? [])
            .map((q) => q.deployment)
            .sort()
            .join() === 'spin-clouddriver,spin-echo,spin-fiat,spin-gate,spin-igor,spin-orca,spin-rosco',
        planShowsForkDecision: plan?.source?.fork?.fork === true && (plan.source.fork.figures.needBytes ?? 0) > 0,
        planShowsSourceVersion: Boolean(plan?.source?.server?.version) && plan?.source?.server?.rdbVersion !== undefined,
      };
    },
  },
  {
    name: 'a re-run after a rollback converges to success',
    expected: 'succeeded',
    world: { spinnakerFaults: { halFailures: 1 } },
    run: {},
    prepare: async (w) => {
      const first = await runMigration(w.input, { executionName: `first-${Date.now()}`, waitMs: 50, retryMs: 20, onExecutionStatus: (arn, s) => w.setExecutionStatus(arn, s) });
      firstResults.set(w, first);
    },
    check: (w) => ({ firstRunRolledBack: firstResults.get(w)?.error === 'MigrationRolledBack', oneReplicationGroup: w.elastiCache.groupIds().length === 1 }),
  },
  {
    // A fork could double spin-redis's memory; over its limit the kernel kills it and, with no volume, its data is gone.
    name: 'spin-redis with a tight memory limit is never forked (the copy goes by scan)',
    expected: 'succeeded',
    world: { spinRedisMemoryLimit: '12Mi' },
    around: { CopyBulk: (w, handler, event) => watchForks(w, handler, event) },
    check: (w) => {
      const seen = forksSeen.get(w);
      return { copiedByScan: seen?.methods.every((m) => m === 'scan') === true, forkRefused: seen?.fork?.fork === false, spinRedisNeverForked: seen?.forks === 0 };
    },
  },
  {
    name: 'spin-redis without a memory limit is forked (the copy goes by replication)',
    expected: 'succeeded',
    around: { CopyBulk: (w, handler, event) => watchForks(w, handler, event) },
    check: (w) => {
      const seen = forksSeen.get(w);
      return { copiedByReplication: seen?.methods[0] === 'replication', forkAllowed: seen?.fork?.fork === true, spinRedisForkedOnce: seen?.forks === 1 };
    },
  },
];

/** Per world: the CopyBulk slices' methods, the fork decision, and the full syncs spin-redis served meanwhile (each one a fork). */
const forksSeen = new WeakMap<SandboxWorld, { methods: string[]; fork?: { fork: boolean }; forks: number }>();

async function watchForks(w: SandboxWorld, handler: TaskHandler, event: unknown): Promise<unknown> {
  const syncFull = async () => {
    const redis = await connectRedis(w.spinRedisEndpoint);
    try {
      return Number(/sync_full:(\d+)/.exec(await redis.info('stats'))?.[1] ?? 0);
    } finally {
      redis.disconnect();
    }
  };
  const before = await syncFull();
  const result = (await handler(event)) as { method?: string; fork?: { fork: boolean } };
  const seen = forksSeen.get(w) ?? { methods: [], forks: 0 };
  seen.methods.push(result.method ?? '?');
  if (result.fork) seen.fork = result.fork;
  seen.forks += (await syncFull()) - before;
  forksSeen.set(w, seen);
  return result;
}

/** Per world: the steps that were running while the target was read-only. */
const failoverSeen = new WeakMap<SandboxWorld, Set<string>>();

/**
 * An ElastiCache Multi-AZ failover as its clients see it: the primary answers READONLY for `ms`,
 * then takes writes again. The node is made a replica of a port nobody listens on (it keeps its
 * data and its own replica, refuses writes: redis/src/replication.c replicaofCommand), then
 * `REPLICAOF NO ONE`. `during` runs while it is read-only. The window lasts `ms`, and longer
 * while `during` still runs (up to WINDOW_CAP_MS): on a loaded machine a step may not reach its
 * first write within `ms`, and a window that closed before it did would test nothing.
 */
async function failover<T>(w: SandboxWorld, ms: number, during: () => Promise<T>, startWhen?: (admin: Redis) => Promise<boolean>): Promise<T> {
  const admin = await w.elastiCache.adminClient(SANDBOX_GROUP_ID);
  let ended: Promise<unknown> = Promise.resolve();
  let settle = () => {};
  const settled = new Promise<void>((r) => (settle = r));
  const begin = async () => {
    if (startWhen) while (!(await startWhen(admin))) await sleep(2);
    await admin.call('REPLICAOF', '127.0.0.1', '1');
    ended = Promise.all([sleep(ms), Promise.race([settled, sleep(WINDOW_CAP_MS)])]).then(() => admin.call('REPLICAOF', 'NO', 'ONE'));
  };
  const begun = startWhen ? begin() : await begin();
  try {
    return await during();
  } finally {
    settle();
    await begun;
    await ended;
    admin.disconnect();
  }
}
const WINDOW_CAP_MS = 20_000;

/** One write on spin-redis, recorded in the ledger as a writer's: it must reach the Redis Spinnaker ends on. */
async function lastWrite(w: SandboxWorld): Promise<void> {
  const redis = await connectRedis(w.spinRedisEndpoint);
  try {
    const t0 = Date.now();
    await redis.set('correlation:fault-matrix-last-write', String(t0));
    w.spinnaker.ledger.record(w.spinnaker.spinRedisUrl, [{ op: 'set', key: 'correlation:fault-matrix-last-write', value: String(t0) }], t0);
  } finally {
    redis.disconnect();
  }
}

/** Per world: the steps whose first run, inside the read-only window, had nothing to write. */
const wroteNothingSeen = new WeakMap<SandboxWorld, Set<string>>();

/** A catch-up result that applied nothing (lib/copy/catch-up-slice.ts: events, copied, deleted). */
const appliedNothing = (result: unknown): boolean => {
  const r = result as { events?: unknown; copied?: unknown; deleted?: unknown } | null;
  return r !== null && typeof r === 'object' && r.events === 0 && r.copied === 0 && r.deleted === 0;
};

/** Runs a step's handler and notes, per world, that it failed with the target read-only. */
async function watchStep(w: SandboxWorld, step: string, handler: TaskHandler, event: unknown, inWindow = false): Promise<unknown> {
  try {
    const result = await handler(event);
    // The scan path's notification catch-up takes one short pass over what arrives: when no
    // writer wrote in that moment it writes nothing, and nothing can be refused.
    if (inWindow && appliedNothing(result)) wroteNothingSeen.set(w, (wroteNothingSeen.get(w) ?? new Set()).add(step));
    return result;
  } catch (error) {
    if ((error as Error).name === 'RedisFailoverError') failoverSeen.set(w, (failoverSeen.get(w) ?? new Set()).add(step));
    throw error;
  }
}

/** Small keys no Spinnaker service reads (a real spin-redis holds more than the matrix seeds): they lengthen the bulk copy. */
const FILLER_KEYS = 20_000;
async function seedFiller(w: SandboxWorld, n: number): Promise<void> {
  const redis = await connectRedis(w.spinRedisEndpoint);
  try {
    for (let i = 0; i < n; i += 1000) {
      const batch = redis.pipeline();
      for (let j = i; j < Math.min(n, i + 1000); j++) batch.set(`fault-matrix:filler:${j}`, 'x'.repeat(40));
      await batch.exec();
    }
  } finally {
    redis.disconnect();
  }
}

/** Every failed attempt in the run was a transient Redis error the retrier covers (the injected fault aside). */
function everyFailureTransient(result: ExecutionResult): Record<string, boolean> {
  const names = new Set(result.history.filter((e) => e.error && e.state).map((e) => e.error!));
  names.delete('InjectedFaultError');
  names.delete('MigrationRolledBack');
  return { everyFailureTransient: [...names].every((n) => n === 'RedisFailoverError' || n === 'RedisConnectionError') };
}

/**
 * READONLY for 1.5 s on the target in the first run of every step that writes to it (the bulk
 * copy mid-slice, once the target holds keys), and during VerifyCopy (reads only: must not fail).
 * Each step that wrote must fail with RedisFailoverError, be retried by the ASL, and the migration
 * end SUCCEEDED with every invariant true (nothing lost, nothing applied twice).
 */
function readOnlyTargetCase(method: 'replication' | 'scan'): Case {
  const writers = ['PingRedis', 'CopyBulk', 'CatchUpLiveWrites', 'ReconcileFinal'];
  const midSlice = async (admin: Redis) => (await admin.dbsize()) >= 200;
  const around: NonNullable<Case['around']> = {};
  for (const step of [...writers, 'VerifyCopy']) {
    around[step] = async (w, handler, event, call) => {
      if (call !== 1) return watchStep(w, step, handler, event);
      // Spinnaker is paused: a last write on spin-redis gives the final sync something to carry (else it may write nothing).
      if (step === 'ReconcileFinal') await lastWrite(w);
      return failover(w, FAILOVER_MS, () => watchStep(w, step, handler, event, true), step === 'CopyBulk' ? midSlice : undefined);
    };
  }
  return {
    name: `the target fails over (READONLY ${FAILOVER_MS} ms) in every step that writes to it, ${method} copy: retried, succeeded`,
    expected: 'succeeded',
    // A tight memory limit makes the copy go by scan (never forked).
    world: method === 'scan' ? { spinRedisMemoryLimit: '12Mi' } : {},
    // The window opens when a poll sees 200 keys on the target; the matrix's 1,500 keys alone can
    // all be copied before that poll (on the copy's event loop) answers on a loaded machine.
    prepare: (w) => seedFiller(w, FILLER_KEYS),
    run: { retryMs: FAILOVER_RETRY_MS },
    around,
    check: (w, result) => {
      const seen = failoverSeen.get(w) ?? new Set<string>();
      const nothingWritten = wroteNothingSeen.get(w) ?? new Set<string>();
      return {
        ...everyFailureTransient(result),
        ...Object.fromEntries(
          writers.map((s) => [
            `${s}RetriedAfterReadOnly`,
            (seen.has(s) && result.steps.filter((x) => x.name === s).reduce((n, x) => n + x.attempts, 0) > 1) || (s === 'CatchUpLiveWrites' && nothingWritten.has(s) && !seen.has(s)),
          ]),
        ),
        verifyCopyUnaffected: !seen.has('VerifyCopy'),
      };
    },
  };
}

const secondResults = new WeakMap<SandboxWorld, ExecutionResult>();
const orcaAckedOnTarget = new WeakMap<SandboxWorld, number>();
const foreignOrcas = new WeakMap<SandboxWorld, OrcaInstance>();
const beforeRun = new WeakMap<SandboxWorld, Set<string>>();
const deletedOnTarget = new WeakMap<SandboxWorld, string[]>();
const found = new WeakMap<SandboxWorld, { fromSpinRedis: boolean; wroteOnElastiCache: boolean }>();
const catchUpForks = new WeakMap<SandboxWorld, number>();
const frozenKeys = new WeakMap<SandboxWorld, number>();
const delayAfterCopy = new WeakMap<SandboxWorld, string>();
const firstResults = new WeakMap<SandboxWorld, ExecutionResult>();

async function staleLock(w: SandboxWorld) {
  const cm = w.kubernetes.store.get('ConfigMap', 'spinnaker', 'halyard-config')!;
  const dead = 'arn:aws:states:us-east-1:000000000000:execution:spin-elasticache-sandbox:crashed-yesterday';
  w.setExecutionStatus(dead, 'FAILED');
  w.kubernetes.store.update({
    ...cm,
    metadata: {
      ...cm.metadata,
      annotations: { 'spin-elasticache.io/lock': JSON.stringify({ owner: dead, acquiredAt: '2026-11-21T10:00:00Z' }), 'spin-elasticache.io/backup': JSON.stringify(cm.data) },
    },
  });
}

function endOf(result: ExecutionResult, dryRun: boolean): End {
  if (result.status === 'SUCCEEDED') return dryRun ? 'dry run' : 'succeeded';
  if (result.error === 'MigrationRolledBack') return 'rolled back';
  const visited = new Set(result.steps.map((s) => s.name));
  if (visited.has('NotifyRollbackFailed') || visited.has('RollbackFailed')) return 'rollback failed';
  return 'failed before cutover';
}

async function keysOn(redis: Redis): Promise<Set<string>> {
  const keys = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const k of batch) keys.add(k);
  } while (cursor !== '0');
  return keys;
}

/**
 * What spin-redis holds before the run, read while the simulated Spinnaker runs: its long-lived
 * keys (short gate sessions, `spring:session:*`, may expire on their own), the fields and members
 * of its hashes, sets and zsets (a collection whose writers removed every one of them is gone
 * legitimately: Redis deletes an emptied collection; one with a member nobody removed is lost),
 * and the absolute expiry, in ms since the epoch, of each key with a TTL (it may expire on its
 * own in a slow run).
 *
 * A key SCAN listed but of type `none` when its type is read was removed by Spinnaker itself
 * before the migration began: not start state. (Counting it was the CI failures of
 * spinRedisDataIntact with `orca.task.queue.queue`: orca had popped the queue's last message
 * between the SCAN and the member read, and the key without members counted as a lost string.)
 */
export async function startStateOf(redis: Redis): Promise<{ keys: string[]; members: Map<string, string[]>; expiresAt: Map<string, number> }> {
  const scanned = [...(await keysOn(redis))].filter((k) => !k.startsWith('spring:session:'));
  const keys: string[] = [];
  const members = new Map<string, string[]>();
  const expiresAt = new Map<string, number>();
  for (let i = 0; i < scanned.length; i += 500) {
    const batch = scanned.slice(i, i + 500);
    const tp = redis.pipeline();
    for (const k of batch) tp.type(k).pttl(k);
    const read = Date.now();
    const replies = ((await tp.exec()) ?? []) as [Error | null, unknown][];
    const p = redis.pipeline();
    const which: string[] = [];
    batch.forEach((k, j) => {
      const type = replies[2 * j]?.[1];
      const ttl = Number(replies[2 * j + 1]?.[1] ?? -2);
      if (type === 'none' || ttl === -2) return;
      keys.push(k);
      if (ttl > 0) expiresAt.set(k, read + ttl);
      if (type === 'hash') p.hkeys(k);
      else if (type === 'set') p.smembers(k);
      else if (type === 'zset') p.zrange(k, '0', '-1');
      else return;
      which.push(k);
    });
    const results = (await p.exec()) ?? [];
    // A collection emptied between the two reads has no members left to lose: [] (every one removed).
    which.forEach((k, j) => {
      members.set(k, (results[j]?.[1] as string[] | undefined) ?? []);
    });
  }
  return { keys, members, expiresAt };
}

export async function runCase(
  c: Case,
  keys: number,
  spinRedisServer?: string,
): Promise<{
  name: string;
  expected: End;
  actual: End;
  invariants: Record<string, boolean>;
  figures: WorldSnapshot['figures'];
  examples: WorldSnapshot['examples'] & { lostFromStart?: string[] };
  error?: string;
  /** The states that failed, with their error names (the first 8): what a rolled-back case went through. */
  failures?: string[];
  durationMs: number;
}> {
  const started = Date.now();
  // Before the world loads the handlers: their logger reads the level when its module loads.
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
  const world = await startWorld({ keys, creationDelayMs: 300, podStartMs: 150, ...(spinRedisServer ? { spinRedisServer } : {}), ...c.world });
  const logs: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  try {
    const spinRedis = await connectRedis(world.spinRedisEndpoint);
    const { keys: startState, members: startMembers, expiresAt } = await startStateOf(spinRedis);
    spinRedis.disconnect();
    await c.prepare?.(world);
    const calls = new Map<string, number>();
    // Capture every handler log line (they would go to CloudWatch) to look for secrets.
    process.stdout.write = ((chunk: string | Uint8Array) => (logs.push(String(chunk)), true)) as typeof process.stdout.write;
    process.stderr.write = ((chunk: string | Uint8Array) => (logs.push(String(chunk)), true)) as typeof process.stderr.write;
    let result: ExecutionResult;
    try {
      result = await runMigration(world.input, {
        executionName: `fault-${Date.now()}`,
        waitMs: 50,
        retryMs: 20,
        onExecutionStatus: (arn, s) => world.setExecutionStatus(arn, s),
        wrapTask: (name, handler) => {
          const around = c.around?.[name];
          return around
            ? async (event) => {
                const n = (calls.get(name) ?? 0) + 1;
                calls.set(name, n);
                return around(world, handler, event, n);
              }
            : handler;
        },
        ...c.run,
      });
    } finally {
      process.stdout.write = write;
      process.stderr.write = writeErr;
      process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    }
    const dryRun = Boolean((world.input.options as { dryRun?: boolean } | undefined)?.dryRun);
    const actual = endOf(result, dryRun);
    const snapshot = await world.snapshot();
    const migrated = actual === 'succeeded';
    const pointsAtTarget = snapshot.services.filter((s) => s.redis !== undefined).every((s) => s.redis === snapshot.halyard.overrideBaseUrl);
    // With AUTH every connecting service found the token (in the URL's user-info, after resolving the secret in its pod).
    const auth = Boolean((world.input.target as { authTokenSecretArn?: string }).authTokenSecretArn);
    const connectedWithToken = snapshot.services.filter((s) => s.redis !== undefined).every((s) => s.authenticated === auth);
    const where = migrated ? await world.elastiCache.adminClient(SANDBOX_GROUP_ID) : world.spinnaker.spinRedis ? await connectRedis(world.spinRedisEndpoint) : undefined;
    const present = where ? await keysOn(where) : new Set<string>();
    const ledger = world.spinnaker.ledger;
    const expired = (k: string) => (expiresAt.get(k) ?? Number.POSITIVE_INFINITY) <= Date.now();
    const lostFromStart = startState.filter((k) => !present.has(k) && !ledger.deleted(k) && !expired(k) && !(startMembers.get(k) ?? ['(not a collection)']).every((m) => ledger.memberDeleted(k, m)));
    // A lost collection names the start members the ledger saw no deletion of (what a CI failure needs to tell a loss from a gap in the ledger).
    const lostDetail = lostFromStart.map((k) => {
      const members = (startMembers.get(k) ?? []).filter((m) => !ledger.memberDeleted(k, m));
      return members.length > 0 ? `${k} (start members not deleted per the ledger: ${members.slice(0, 3).join(', ')}${members.length > 3 ? `, … ${members.length} in all` : ''})` : k;
    });
    where?.disconnect();
    // Operator installs: the SpinnakerService's service-settings.redis, and its spec.spinnakerConfig byte for byte.
    // Helm installs: the chart's redis.yml, and both ConfigMaps as the chart renders them.
    const operator = world.spinnaker.operator;
    const helm = snapshot.helm;
    const operatorConfig = snapshot.spinnakerService ? (JSON.parse(snapshot.spinnakerService.spinnakerConfig) as { 'service-settings'?: { redis?: Record<string, unknown> } }) : undefined;
    const redisYml = (
      operator ? (operatorConfig?.['service-settings']?.redis ?? {}) : (parseYaml((helm ? helm.configMaps[SERVICE_SETTINGS]?.['redis.yml'] : snapshot.configMap['redis.yml']) ?? '') ?? {})
    ) as Record<string, unknown>;
    const original = spinnakerConfigAsInstalled(world, snapshot);
    const holderAnnotations = operator
      ? (snapshot.spinnakerService?.annotations ?? {})
      : helm
        ? { ...helm.annotations[SERVICE_SETTINGS], ...helm.annotations[PROFILES] }
        : snapshot.configMapAnnotations;
    const invariants: Record<string, boolean> = {
      // Keys a Spinnaker service deleted itself (orca's cleanup, evictions) are not lost data.
      spinRedisDataIntact: lostFromStart.length === 0,
      orcaWritesPresent: snapshot.keys.orcaExecutionsMissing === 0,
      configMapConsistent: migrated
        ? redisYml.skipLifeCycleManagement === true && redisYml.enabled === undefined && String(redisYml.overrideBaseUrl).startsWith('rediss://') && pointsAtTarget && connectedWithToken
        : original,
      spinRedisReplicas: migrated ? snapshot.spinRedis.replicas === 0 : snapshot.spinRedis.replicas === 1 && snapshot.spinRedis.running,
      // The pause ends with every Spinnaker service at its replicas and Ready, and nothing of the quiesce left behind.
      ...(actual === 'rollback failed'
        ? {}
        : {
            spinnakerReplicasRestored:
              snapshot.services.every((s) => s.replicas === 1 && s.ready) &&
              world.kubernetes.store.list('Deployment', 'spinnaker').every((d) => !d.metadata.annotations?.['spin-elasticache.io/quiesced-replicas']),
          }),
      noSecretInOutput: world.secrets.every(
        (s) =>
          !JSON.stringify([
            result.output,
            result.history,
            result.cause,
            snapshot.configMap,
            snapshot.configMapAnnotations,
            snapshot.spinnakerService,
            snapshot.halyard,
            snapshot.helm,
            world.sns.messages,
            logs,
          ]).includes(s),
      ),
      ...(actual === 'rollback failed' ? {} : { lockReleased: !holderAnnotations['spin-elasticache.io/lock'] }),
      ...snapshot.invariants,
      ...(await c.check?.(world, result)),
    };
    return {
      name: c.name,
      expected: c.expected,
      actual,
      invariants: { ...invariants, handlerLogsCaptured: logs.length > 0 },
      figures: snapshot.figures,
      examples: { ...snapshot.examples, ...(lostFromStart.length ? { lostFromStart: lostDetail.slice(0, 10) } : {}) },
      ...(result.error ? { error: result.error } : {}),
      ...(result.history.some((e) => e.error)
        ? {
            failures: result.history
              .filter((e) => e.error)
              .map((e) => `${e.state ?? '(execution)'}: ${e.error}`)
              .slice(0, 8),
          }
        : {}),
      durationMs: Date.now() - started,
    };
  } finally {
    await world.close();
  }
}

export async function runFaultMatrix(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'string' }, only: { type: 'string' }, keys: { type: 'string' }, 'spin-redis-server': { type: 'string' } } });
  const cases = CASES.filter((c) => !values.only || c.name.includes(values.only));
  const results = [];
  for (const c of cases) {
    const r = await runCase(c, Number(values.keys ?? 2000), values['spin-redis-server']);
    const ok = r.expected === r.actual && Object.values(r.invariants).every(Boolean);
    const failed = Object.entries(r.invariants)
      .filter(([, v]) => !v)
      .map(([k]) => k);
    if (!ok && r.failures) process.stderr.write(`      failed states: ${r.failures.join('; ')}\n`);
    process.stderr.write(
      `${ok ? 'PASS' : 'FAIL'}  ${r.name}: expected ${r.expected}, got ${r.actual}${r.error ? ` (${r.error})` : ''}${failed.length ? `; broken: ${failed.join(', ')}` : ''}  [${(r.durationMs / 1000).toFixed(1)} s]\n`,
    );
    const f = r.figures;
    process.stderr.write(
      `      messages processed twice ${f.messagesProcessedTwice}, lost ${f.messagesLost}; keys resurrected ${f.keysResurrected}; stale values ${f.staleValues}; cutover window ${f.cutoverWindowMs === undefined ? 'n/a' : `${f.cutoverWindowMs} ms`}; orca queue longest pause ${f.longestOrcaPollGapMs} ms\n`,
    );
    results.push(r);
  }
  const passed = results.filter((r) => r.expected === r.actual && Object.values(r.invariants).every(Boolean)).length;
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ cases: results }, null, 2)}\n`);
  process.stderr.write(`\n${passed} passed, ${results.length - passed} failed\n`);
  return passed === results.length ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runFaultMatrix(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`fault matrix failed: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
