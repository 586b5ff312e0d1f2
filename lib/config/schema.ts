/**
 * The migration input: one JSON document, validated and defaulted here. The same code
 * runs in the ValidateInput state and in `spin-elasticache validate`, so a user can check
 * a file offline before starting an execution. Rules mirror ElastiCache's own
 * (CreateReplicationGroup, parameter and subnet groups) so that bad input fails here,
 * before anything is created, with a message that names the field and the fix.
 */
import * as z from 'zod';
import { InputValidationError } from '../errors.js';

export const ENGINE_VERSIONS = {
  redis: ['6.0', '6.2', '7.0', '7.1'],
  valkey: ['7.2', '8.0', '8.1', '8.2'],
} as const;

/** Parameter-group family for an engine and version, e.g. redis 7.1 -> redis7. */
export function parameterGroupFamily(engine: 'redis' | 'valkey', engineVersion: string): string {
  const major = engineVersion.split('.')[0] ?? '';
  if (engine === 'valkey') return `valkey${major}`;
  return major === '6' ? 'redis6.x' : `redis${major}`;
}

const ELASTICACHE_NAME = /^[a-zA-Z](?:[a-zA-Z0-9]|-(?!-))*$/;
const AUTH_TOKEN_SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;
/** RFC 1123 label (namespaces, container names): Kubernetes allows 63 characters. */
const K8S_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** RFC 1123 subdomain (ConfigMap and Deployment names): labels joined by dots, 253 characters. */
const K8S_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CONFIGMAP_KEY = /^[-._a-zA-Z0-9]+$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

function elastiCacheName(field: string, max: number) {
  return z
    .string()
    .min(1, `${field} must not be empty`)
    .max(max, `${field} is at most ${max} characters`)
    .refine((v) => ELASTICACHE_NAME.test(v) && !v.endsWith('-'), {
      message: `${field} must start with a letter and contain only letters, digits and single hyphens, with no trailing hyphen`,
    })
    .transform((v) => v.toLowerCase());
}

const k8sLabel = (what: string) =>
  z
    .string()
    .max(63, `${what} is at most 63 characters (a Kubernetes RFC 1123 label)`)
    .regex(K8S_LABEL, `${what} must be a Kubernetes name: lowercase letters, digits and '-', starting and ending with a letter or digit`);
const k8sSubdomain = (what: string) =>
  z
    .string()
    .max(253, `${what} is at most 253 characters (a Kubernetes object name)`)
    .regex(K8S_SUBDOMAIN, `${what} must be a Kubernetes object name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit`);
/** host:port (a name, an IPv4 address or a bracketed IPv6 address, then the port). */
const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([1-9]\d{0,4})$/;
/** A reference to a key of a Kubernetes Secret in the Spinnaker namespace: the value never enters the input. */
const secretRef = z.strictObject({
  name: k8sSubdomain('the Secret name'),
  key: z.string().max(253, 'a Secret key is at most 253 characters').regex(CONFIGMAP_KEY, "a Secret key: letters, digits, '-', '_' and '.'"),
});
/** A label selector as kubectl takes it (`app=spin`, `app in (a,b)`), bounded. */
const labelSelector = (what: string) =>
  z
    .string()
    .min(1, `${what} must not be empty`)
    .max(512, `${what} is at most 512 characters`)
    .regex(/^[A-Za-z0-9=!,._/() -]+$/, `${what} must be a Kubernetes label selector such as app=spin`);

/**
 * A path below the Halyard deployment directory: relative, normalised, no `..`, so nothing is
 * written (or, on rollback, deleted) outside ~/.hal.
 */
const HALYARD_RELATIVE = /^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*\.ya?ml$/;
/** Halyard's home: an absolute, normalised path whose last directory is `.hal` (as ~/.hal). */
const HAL_HOME = /^(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*\/\.hal\/?$/;

const halyardFile = (key: string, path: string) =>
  z
    .strictObject({
      key: z.string().regex(CONFIGMAP_KEY, "a ConfigMap key: letters, digits, '-', '_' and '.'").default(key),
      path: z
        .string()
        .max(255, 'at most 255 characters')
        .regex(HALYARD_RELATIVE, "a path relative to the Halyard deployment directory (no leading '/', no '.' or '..' segments), ending in .yml, such as profiles/gate-local.yml")
        .default(path),
    })
    .prefault({});

/** The install flavours (docs/SPINNAKER-INSTALLS.md); lib/spinnaker/flavor.ts detects and patches them. */
export const FLAVORS = ['halyard', 'halyard-ha', 'helm-stable', 'helm-opsmx', 'operator'] as const;
export type Flavor = (typeof FLAVORS)[number];

const subnetId = z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'a subnet id like subnet-0123abcd');
const securityGroupId = z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'a security group id like sg-0123abcd');

/** The replication group to create (`target`). */
const TargetSchema = z.strictObject({
  replicationGroupId: elastiCacheName('replicationGroupId', 40),
  description: z.string().max(255).default('Spinnaker Redis, migrated by spin-elasticache'),
  engine: z.enum(['redis', 'valkey'], "engine must be 'redis' or 'valkey'").default('valkey'),
  engineVersion: z.string().default('8.0'),
  nodeType: z
    .string()
    .regex(/^cache\.[a-z0-9]+\.[a-z0-9]+$/, 'a cache node type such as cache.r7g.large')
    .default('cache.r7g.large'),
  numCacheClusters: z
    .number()
    .int('numCacheClusters must be a whole number')
    .min(1, 'numCacheClusters is 1 to 6 (one primary plus up to 5 replicas)')
    .max(6, 'numCacheClusters is 1 to 6 (one primary plus up to 5 replicas)')
    .default(2),
  multiAz: z.boolean().default(true),
  automaticFailover: z.boolean().default(true),
  transitEncryption: z.boolean().default(true),
  atRestEncryption: z.boolean().default(true),
  authTokenSecretArn: z.string().regex(AUTH_TOKEN_SECRET_ARN, 'a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)').optional(),
  /** When the secret is JSON, the key that holds the token; otherwise the whole SecretString is the token. */
  authTokenSecretKey: z.string().min(1).optional(),
  port: z.number().int().min(1024).max(65535).default(6379),
  subnetIds: z.array(subnetId).min(1).optional(),
  securityGroupIds: z.array(securityGroupId).min(1).max(5).optional(),
  parameterGroupName: elastiCacheName('parameterGroupName', 255).optional(),
  subnetGroupName: elastiCacheName('subnetGroupName', 255).optional(),
  kmsKeyId: z.string().min(1).optional(),
});

/** Where an engineVersion the engine does not offer points: the other engine (valkey is the default), or no engine at all (before 6.0). */
function engineVersionHint(engine: keyof typeof ENGINE_VERSIONS, version: string): string {
  const other = engine === 'valkey' ? 'redis' : 'valkey';
  if ((ENGINE_VERSIONS[other] as readonly string[]).includes(version)) return `; ${version} is a ${other} version: set engine: ${other}${engine === 'valkey' ? ' (valkey is the default engine)' : ''}`;
  if (Number(version) < 6) return '; ElastiCache creates no new group before Redis OSS 6.0 (an older spin-redis is fine: the copy reads every version from 3.2)';
  return '';
}

/**
 * The rules across the target's fields (ElastiCache's own constraints). Run inside the schema,
 * and also on their own when another part of the input fails, so that one pass names every
 * problem (zod runs a refinement only once the whole object parsed).
 */
function targetRuleIssues(t: z.output<typeof TargetSchema>): { path: string[]; message: string; reads: string[] }[] {
  const issues: { path: string[]; message: string; reads: string[] }[] = [];
  const allowed: readonly string[] = ENGINE_VERSIONS[t.engine];
  if (!allowed.includes(t.engineVersion)) {
    issues.push({
      path: ['target', 'engineVersion'],
      reads: ['engine', 'engineVersion'],
      message: `${t.engine} engineVersion must be one of ${allowed.join(', ')} (got '${t.engineVersion}')${engineVersionHint(t.engine, t.engineVersion)}`,
    });
  }
  if (t.automaticFailover && t.numCacheClusters < 2) {
    issues.push({
      path: ['target', 'numCacheClusters'],
      reads: ['automaticFailover', 'numCacheClusters'],
      message: `automaticFailover needs numCacheClusters >= 2 (a primary and a replica); raise it, or turn automaticFailover off${t.multiAz ? ' and multiAz with it (multiAz needs automaticFailover)' : ''}`,
    });
  }
  if (t.multiAz && !t.automaticFailover) {
    issues.push({
      path: ['target', 'multiAz'],
      reads: ['multiAz', 'automaticFailover'],
      message: 'multiAz needs automaticFailover: true',
    });
  }
  // ElastiCache takes KmsKeyId only for encryption at rest; without it the key would silently do nothing (or CreateReplicationGroup refuses).
  if (t.kmsKeyId !== undefined && !t.atRestEncryption) {
    issues.push({
      path: ['target', 'kmsKeyId'],
      reads: ['kmsKeyId', 'atRestEncryption'],
      message: 'a KMS key needs atRestEncryption: true (it encrypts the data at rest); remove kmsKeyId or turn atRestEncryption on',
    });
  }
  if (t.authTokenSecretArn && !t.transitEncryption) {
    issues.push({
      path: ['target', 'authTokenSecretArn'],
      reads: ['authTokenSecretArn', 'transitEncryption'],
      message: 'an AUTH token needs transitEncryption: true (ElastiCache refuses AUTH without TLS)',
    });
  }
  if (t.authTokenSecretKey && !t.authTokenSecretArn) {
    issues.push({
      path: ['target', 'authTokenSecretKey'],
      reads: ['authTokenSecretKey', 'authTokenSecretArn'],
      message: 'authTokenSecretKey only makes sense with authTokenSecretArn',
    });
  }
  return issues;
}

export const MigrationInputSchema = z
  .strictObject({
    cluster: z.strictObject({
      name: z
        .string()
        .min(1)
        .max(100)
        .regex(/^[0-9A-Za-z][A-Za-z0-9\-_]*$/, 'an EKS cluster name: letters, digits, - and _'),
      region: z.string().regex(REGION, 'an AWS region in lowercase, such as us-east-1'),
    }),
    spinnaker: z
      .strictObject({
        namespace: k8sLabel('namespace').default('spinnaker'),
        halyard: z
          .strictObject({
            configMap: k8sSubdomain('the Halyard ConfigMap name').default('halyard-config'),
            deployment: z
              .string()
              .max(63, 'the Halyard deployment name is at most 63 characters')
              .regex(/^[A-Za-z0-9_-]+$/, "the Halyard deployment name (hal's --deployment, usually 'default'): letters, digits, '-' and '_'")
              .default('default'),
            halHome: z
              .string()
              .max(255, 'halHome is at most 255 characters')
              .regex(HAL_HOME, "halHome must be Halyard's home directory in the pod: an absolute path ending in /.hal, with no '.' or '..' segments (such as /home/spinnaker/.hal)")
              .default('/home/spinnaker/.hal'),
            podSelector: labelSelector('podSelector').default('app=halyard'),
            container: k8sLabel('the Halyard container name').default('halyard'),
            files: z
              .strictObject({
                redisServiceSettings: halyardFile('redis.yml', 'service-settings/redis.yml'),
                gateProfile: halyardFile('gate-local.yml', 'profiles/gate-local.yml'),
                spinnakerProfile: halyardFile('spinnaker-local.yml', 'profiles/spinnaker-local.yml'),
              })
              .prefault({}),
          })
          .prefault({}),
        spinRedis: z
          .strictObject({
            deployment: k8sSubdomain('the spin-redis Deployment name').default('spin-redis'),
            /**
             * spin-redis is this StatefulSet instead of the Deployment (the Bitnami subchart of both
             * Helm charts: `<release>-redis-master`, with a PVC and AOF; its password in Secret
             * `<release>-redis`, key `redis-password`: set passwordSecret too).
             */
            statefulSet: k8sSubdomain('the spin-redis StatefulSet name').optional(),
            /**
             * Override how Lambdas reach spin-redis; by default the pod IP (VPC CNI) and container port.
             * `redis-sentinel://host:port[,host:port…]/<master name>` is the same as `sentinel`'s
             * `addresses` and `masterName` (it becomes them).
             */
            url: z
              .string()
              .max(255, 'at most 255 characters')
              .regex(
                /^(rediss?:\/\/[^/?#@\s]+(\/0)?|redis-sentinel:\/\/[^/?#@\s]+\/[^/?#@\s]+)$/,
                'a redis:// or rediss:// URL of host and port only, such as redis://10.0.0.12:6379, or redis-sentinel://host:26379[,host:port…]/mymaster (no user, password or ?query: a password belongs in a Secret, spinRedis.passwordSecret or spinRedis.sentinel.passwordSecret)',
              )
              .optional(),
            /**
             * spin-redis is Sentinel-managed (Spotahome's RedisFailover, Bitnami's sentinel mode): every
             * step that talks to it asks the sentinels for the master at each invocation
             * (`SENTINEL GET-MASTER-ADDR-BY-NAME`, confirmed by the server's ROLE), so a failover
             * between two slices is followed. The master's password is `passwordSecret`.
             */
            sentinel: z
              .strictObject({
                /** The sentinels as host:port, reachable from the Lambdas (pod IPs with VPC CNI); or `redisFailover`. */
                addresses: z
                  .array(z.string().max(255, 'at most 255 characters').regex(HOST_PORT, 'host:port, such as 10.0.3.17:26379'))
                  .min(1, 'at least one sentinel')
                  .max(9, 'at most 9 sentinels')
                  .optional(),
                /** The name the sentinels monitor (`sentinel monitor <name> …`); Spotahome's operator always uses mymaster. */
                masterName: z
                  .string()
                  .min(1)
                  .max(128, 'at most 128 characters')
                  .regex(/^[A-Za-z0-9._-]+$/, "letters, digits, '.', '_' and '-'")
                  .default('mymaster'),
                /**
                 * Spotahome's RedisFailover of that name (in the Spinnaker namespace): the sentinels are the
                 * Ready pods of its Deployment rfs-<name> (port 26379), the data nodes its StatefulSet
                 * rfr-<name>. ScaleDownSpinRedis leaves it running: the operator would scale it back.
                 */
                redisFailover: k8sLabel('sentinel.redisFailover (the RedisFailover name)').max(48, 'a RedisFailover name is at most 48 characters (the operator refuses longer ones)').optional(),
                /** The sentinels' own password (their requirepass; Spotahome's sentinels have none), as a Kubernetes Secret reference. */
                passwordSecret: secretRef.optional(),
              })
              .optional(),
            /**
             * spin-redis's password, when it has one (Bitnami charts: Secret `<release>-redis`, key
             * `redis-password`): a reference to a Kubernetes Secret in the Spinnaker namespace, read
             * through the Kubernetes API by every step that connects to spin-redis. The value is never
             * in the input, the state or a log.
             */
            passwordSecret: secretRef.optional(),
          })
          .prefault({}),
        /** Label selector for the Spinnaker service Deployments that must roll out. */
        serviceSelector: labelSelector('serviceSelector').default('app=spin'),
        /**
         * How Spinnaker is installed (lib/spinnaker/flavor.ts); detected from the namespace when
         * absent. Only the Halyard flavours are patched today; the others are refused before anything is created.
         */
        flavor: z.enum(FLAVORS, `flavor must be one of ${FLAVORS.join(', ')}`).optional(),
        /**
         * Helm installs (flavor helm-stable or helm-opsmx): the chart's `spinnaker.fullname`
         * (`<release>-spinnaker`, 24 characters at most), which names the ConfigMaps
         * `<fullname>-service-settings` and `<fullname>-additional-profile-config-maps`. Read from the
         * Halyard pod's `app` label when absent.
         */
        helm: z
          .strictObject({
            fullname: k8sSubdomain('the chart fullname').optional(),
          })
          .prefault({}),
        /** The SpinnakerService of an operator install (flavor operator): found by listing when there is one; name it when there are several. */
        operator: z
          .strictObject({
            name: k8sSubdomain('the SpinnakerService name').optional(),
            /** spinnaker.io (the open-source operator) or spinnaker.armory.io (Armory's); both are tried when absent. */
            apiGroup: z.enum(['spinnaker.io', 'spinnaker.armory.io'], "apiGroup must be 'spinnaker.io' or 'spinnaker.armory.io'").optional(),
          })
          .prefault({}),
        /**
         * With AUTH: the Secrets Manager secret (created or updated by the migration, in the cluster's
         * region) whose value is the whole `rediss://:<token>@<primary>:<port>` URL, the value every
         * connecting service's `redis.connection` refers to (kork-secrets resolves it in the pod).
         */
        redisUrlSecret: z
          .strictObject({
            /** Default `spin-elasticache/<replicationGroupId>/redis-url`; the stack may only write below `spin-elasticache/`. */
            name: z
              .string()
              .max(512)
              .regex(/^spin-elasticache\/[A-Za-z0-9/_+=.@-]+$/, "a secret name below 'spin-elasticache/' (the stack may write only there), without '!' (kork-secrets splits on it)")
              .optional(),
            /** A customer managed KMS key for that secret (ARN); the Spinnaker pods then also need kms:Decrypt on it. */
            kmsKeyId: z
              .string()
              .regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/, 'a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)')
              .optional(),
          })
          .prefault({}),
      })
      .prefault({}),
    target: TargetSchema,
    options: z
      .strictObject({
        dryRun: z.boolean().default(false),
        cleanupOnFailure: z.boolean().default(false),
        maxWaitMinutes: z.number().int().min(5).max(240).default(60),
        rolloutTimeoutMinutes: z.number().int().min(1).max(120).default(20),
        /** How long spin-redis may keep foreign clients after the cutover before we give up. */
        drainTimeoutMinutes: z.number().int().min(1).max(120).default(15),
        /** Seconds of work per slice of every keyspace walk (copy, final mirror, verification, copy-back); a Lambda lives 15 minutes at most. */
        copySliceSeconds: z.number().int().min(5).max(780).default(600),
        /**
         * How CopyBulk reads spin-redis. `auto`: as a replica (PSYNC; one pass, exact to the
         * moment it ends) when it fits in one slice, else by SCAN in resumable slices. `s3-seed`:
         * no online copy; Spinnaker is quiesced first, spin-redis's RDB goes to the stack's seed
         * bucket and the group is created from it (SnapshotArns): a write freeze of the snapshot,
         * the upload and the group's creation (the plan's `source.s3Seed` estimates it). `auto`
         * never picks it: the freeze needs the operator's consent.
         */
        copyMethod: z.enum(['auto', 'replication', 'scan', 's3-seed']).default('auto'),
        /**
         * After a replication copy from a spin-redis with disk-based sync and no save points
         * (Redis before 7.0 by default), delete the `dump.rdb` that sync left on its disk (pods/exec:
         * `sh`, `stat`, `rm`). Off: it is only reported (`$.copy.snapshotLeftBehind`). It counts against
         * the container's ephemeral-storage limit, and on an emptyDir a restarted Redis would load it.
         */
        removeSnapshotLeftBehind: z.boolean().default(false),
        /**
         * Consent to the AUTH token in plain text in the Halyard files (the URL's user-info in each
         * `redis.connection`), readable by anyone who can read the ConfigMap. Off: the files hold only
         * a kork-secrets reference to the URL secret (spinnaker.redisUrlSecret).
         */
        plaintextTokenInSpinnakerConfig: z.boolean().default(false),
        /**
         * Skip the pre-flight check that the Spinnaker pods' IAM role may read the URL secret
         * (iam:SimulatePrincipalPolicy): for pods on the node role, or a policy the simulator cannot judge.
         */
        skipSpinnakerSecretAccessCheck: z.boolean().default(false),
        /**
         * Patch the Spinnaker config even when Argo CD or Flux manage the object that holds it (the
         * Halyard ConfigMap or the SpinnakerService). Off: refused before anything is created, with
         * the change to commit instead. RISK: the next sync reverts the patch (Flux every interval,
         * Argo CD when self-heal is on), moving Spinnaker back to spin-redis after it was scaled to 0;
         * turn reconciliation off for that object first, and commit the change before turning it back on.
         */
        allowGitOpsManagedConfig: z.boolean().default(false),
      })
      .prefault({}),
  })
  .superRefine((input, ctx) => {
    for (const { path, message } of targetRuleIssues(input.target)) ctx.addIssue({ code: 'custom', path, message });
    for (const issue of spinRedisRuleIssues(input.spinnaker.spinRedis)) ctx.addIssue({ code: 'custom', ...issue });
  })
  .transform((input) => ({
    ...input,
    spinnaker: {
      ...input.spinnaker,
      spinRedis: withSentinelUrl(input.spinnaker.spinRedis),
      redisUrlSecret: { ...input.spinnaker.redisUrlSecret, name: input.spinnaker.redisUrlSecret.name ?? `spin-elasticache/${input.target.replicationGroupId.toLowerCase()}/redis-url` },
    },
    target: {
      ...input.target,
      parameterGroupName: input.target.parameterGroupName ?? `${input.target.replicationGroupId}-params`,
      subnetGroupName: input.target.subnetGroupName ?? `${input.target.replicationGroupId}-subnets`,
      parameterGroupFamily: parameterGroupFamily(input.target.engine, input.target.engineVersion),
    },
  }));

type SpinRedisInput = { url?: string | undefined; statefulSet?: string | undefined; sentinel?: { addresses?: string[] | undefined; redisFailover?: string | undefined } | undefined };

/** `redis-sentinel://h:p[,h:p…]/<name>` split into the sentinels and the master name. */
export function parseSentinelAddress(url: string): { addresses: string[]; masterName: string } | undefined {
  const match = /^redis-sentinel:\/\/([^/]+)\/([^/]+)$/.exec(url);
  if (!match) return undefined;
  return { addresses: match[1]!.split(',').map((hp) => (hp.includes(':') && !hp.endsWith(']') ? hp : `${hp}:26379`)), masterName: decodeURIComponent(match[2]!) };
}

/** spinRedis's cross-field rules: one way of finding spin-redis, and a sentinel set that can be found. */
function spinRedisRuleIssues(spinRedis: SpinRedisInput): { path: (string | number)[]; message: string }[] {
  const path = ['spinnaker', 'spinRedis'];
  const issues: { path: (string | number)[]; message: string }[] = [];
  const sentinelUrl = spinRedis.url ? parseSentinelAddress(spinRedis.url) : undefined;
  if (spinRedis.url && spinRedis.sentinel)
    issues.push({ path: [...path, 'url'], message: 'spinRedis.url and spinRedis.sentinel both say where spin-redis is: keep sentinel (with addresses or redisFailover) and remove url' });
  if (spinRedis.url?.startsWith('redis-sentinel://') && !sentinelUrl?.addresses.every((a) => HOST_PORT.test(a)))
    issues.push({ path: [...path, 'url'], message: 'each sentinel in a redis-sentinel:// URL is host:port, such as redis-sentinel://10.0.3.17:26379,10.0.4.9:26379/mymaster' });
  const sentinel = spinRedis.sentinel;
  if (sentinel && !sentinel.addresses && !sentinel.redisFailover)
    issues.push({
      path: [...path, 'sentinel'],
      message:
        "say where the sentinels are: addresses (host:port of each, reachable from the Lambdas) or redisFailover (the Spotahome RedisFailover's name: its sentinel pods are found through the Kubernetes API)",
    });
  if (sentinel?.addresses && sentinel.redisFailover)
    issues.push({ path: [...path, 'sentinel', 'addresses'], message: 'addresses and redisFailover both name the sentinels: keep one (redisFailover follows the sentinel pods as they move)' });
  return issues;
}

/** A redis-sentinel:// url becomes `sentinel` (addresses, masterName), so the steps read one shape. */
function withSentinelUrl<T extends SpinRedisInput>(spinRedis: T): T {
  const parsed = spinRedis.url ? parseSentinelAddress(spinRedis.url) : undefined;
  if (!parsed) return spinRedis;
  const { url: _url, ...rest } = spinRedis;
  return { ...rest, sentinel: { ...parsed } } as unknown as T;
}

export type MigrationInput = z.input<typeof MigrationInputSchema>;
export type MigrationConfig = z.output<typeof MigrationInputSchema>;

const SECRET_LOOKING_KEYS = /^(auth[-_]?token|password|token|secret)$/i;

function formatPath(path: readonly PropertyKey[]): string {
  return path.length === 0
    ? '(input)'
    : path
        .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
        .join('.')
        .replace(/\.\[/g, '[');
}

/** The input is a few hundred bytes; these bounds refuse anything else before it is walked. */
export const MAX_INPUT_DEPTH = 8;
export const MAX_INPUT_BYTES = 32 * 1024;
/** Refusals list at most this many problems, each shortened, so the error stays a few KB (Step Functions' payload limit is 256 KB). */
export const MAX_REPORTED_ISSUES = 20;
const MAX_ISSUE_TEXT = 300;

const clip = (text: string, max = MAX_ISSUE_TEXT) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** Depth and size, measured without recursion (a 10,000-deep input must not overflow the stack). */
function checkShape(raw: unknown): string | undefined {
  const stack: { value: unknown; depth: number }[] = [{ value: raw, depth: 0 }];
  let nodes = 0;
  while (stack.length > 0) {
    const { value, depth } = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_INPUT_DEPTH) return `nested deeper than ${MAX_INPUT_DEPTH} levels: the input is a flat document (see the README's input reference)`;
    const children = Object.values(value);
    nodes += children.length;
    if (nodes > 10_000) break; // the size check below refuses it
    for (const child of children) stack.push({ value: child, depth: depth + 1 });
  }
  const bytes = Buffer.byteLength(JSON.stringify(raw) ?? '');
  if (bytes > MAX_INPUT_BYTES) return `${bytes} bytes, more than ${MAX_INPUT_BYTES}: the input is a small document (see the README's input reference)`;
  return undefined;
}

/** Validate and default a migration input; throws InputValidationError listing every bad field. */
export function parseMigrationInput(raw: unknown): MigrationConfig {
  const shape = checkShape(raw);
  if (shape) throw new InputValidationError(`The migration input is ${shape}`, [{ path: '(input)', message: shape }]);
  const secretPaths = findSecretLookingKeys(raw);
  // The validated config carries the derived target.parameterGroupFamily (what `validate` prints,
  // ValidateInput's output, the sandbox's report): taken back as input when it is the same.
  const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  const given = isRecord(raw) ? raw : undefined;
  const target = isRecord(given?.target) ? given.target : undefined;
  const { parameterGroupFamily: family, ...targetWithoutFamily } = target ?? {};
  // reportInput: an issue carries the value it refused, so a wrong type is told from a missing
  // field and a value outside an enum is named (describeIssue).
  const result = MigrationInputSchema.safeParse(target && 'parameterGroupFamily' in target ? { ...given, target: targetWithoutFamily } : raw, { reportInput: true });
  const issues = [
    ...secretPaths.map((path) => ({
      path,
      message: 'never put a secret in the input (execution input is visible to anyone who can read the execution); store it in Secrets Manager and pass target.authTokenSecretArn',
    })),
    ...(result.success ? [] : result.error.issues.map((i) => ({ path: formatPath(i.path), message: describeIssue(i) }))),
    ...(result.success && family !== undefined && family !== result.data.target.parameterGroupFamily
      ? [{ path: 'target.parameterGroupFamily', message: `derived from engine and engineVersion (${JSON.stringify(result.data.target.parameterGroupFamily)} here): leave it out` }]
      : []),
  ];
  // The whole input failed, so zod skipped the target's cross-field rules: run them on the target
  // alone; when some of its own fields are refused, on the others (each refused one named
  // already), keeping only the rules that read none of them, whose verdict the defaults put in
  // their place would decide. One pass then names every problem.
  if (!result.success && target) {
    let parsed = TargetSchema.safeParse(targetWithoutFamily);
    const refused = new Set<string>();
    if (!parsed.success) {
      for (const i of parsed.error.issues) {
        if (typeof i.path[0] === 'string') refused.add(i.path[0]);
        if (i.code === 'unrecognized_keys') for (const key of i.keys) refused.add(key);
      }
      parsed = TargetSchema.safeParse(Object.fromEntries(Object.entries(targetWithoutFamily).filter(([field]) => !refused.has(field))));
    }
    if (parsed.success)
      for (const i of targetRuleIssues(parsed.data))
        if (!i.reads.some((field) => refused.has(field)) && !issues.some((known) => known.path === formatPath(i.path))) issues.push({ path: formatPath(i.path), message: i.message });
  }
  if (issues.length > 0 || !result.success) {
    const shown = issues.slice(0, MAX_REPORTED_ISSUES).map((i) => ({ path: clip(i.path, 200), message: clip(i.message) }));
    const lines = shown.map((i) => `- ${i.path}: ${i.message}`);
    const more = issues.length > shown.length ? `\n- … and ${issues.length - shown.length} more` : '';
    throw new InputValidationError(`The migration input has ${issues.length} problem(s):\n${lines.join('\n')}${more}`, shown);
  }
  return result.data;
}

/** Fields whose value a validation error may repeat: names and ids, never a URL, selector or path (which could carry a password). */
const ECHOED_FIELDS = new Set(['region', 'replicationGroupId', 'nodeType', 'subnetIds', 'securityGroupIds', 'parameterGroupName', 'subnetGroupName']);

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown field(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}: check the spelling against the README's input reference`;
  if (issue.code === 'invalid_type') return `${issue.input === undefined ? 'required: ' : ''}${issue.message.replace(/^Invalid input: /, '')}`;
  // zod says only which values it takes: say which one it was given (never a secret: enums and literals name choices).
  if (issue.code === 'invalid_value' && issue.input !== undefined)
    return `${clip(JSON.stringify(issue.input) ?? String(issue.input), 60)} is not one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  // A string of the wrong shape in a field that never holds a secret (a URL may: never echoed): what was given, and the shape wanted.
  if (issue.code === 'invalid_format' && typeof issue.input === 'string' && issue.path.some((p) => ECHOED_FIELDS.has(String(p))))
    return `${issue.message} (got ${clip(JSON.stringify(issue.input), 60)})`;
  // zod says only "Too small: expected number to be >=5": say the bound and that the README has the range.
  if (issue.code === 'too_small' && issue.origin === 'number' && issue.message.startsWith('Too small'))
    return `too small: at least ${String(issue.minimum)}${issue.inclusive === false ? ' (exclusive)' : ''} (the README's input reference gives the range and the default)`;
  if (issue.code === 'too_big' && issue.origin === 'number' && issue.message.startsWith('Too big'))
    return `too big: at most ${String(issue.maximum)}${issue.inclusive === false ? ' (exclusive)' : ''} (the README's input reference gives the range and the default)`;
  return issue.message;
}

function findSecretLookingKeys(value: unknown, path: string[] = []): string[] {
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const here = [...path, k];
    return SECRET_LOOKING_KEYS.test(k) ? [here.join('.')] : findSecretLookingKeys(v, here);
  });
}
