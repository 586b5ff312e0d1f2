/**
 * The migration input: one JSON document, validated and defaulted here. The same code
 * runs in the ValidateInput state and in `spin-elasticache validate`, so a user can check
 * a file offline before starting an execution. Rules mirror ElastiCache's own
 * (CreateReplicationGroup, parameter and subnet groups) so that bad input fails here,
 * before anything is created, with a message that names the field and the fix.
 */
import { z } from 'zod';
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
const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
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

const k8sName = (what: string) =>
  z.string().max(253).regex(K8S_NAME, `${what} must be a Kubernetes name: lowercase letters, digits and '-'`);

const halyardFile = (key: string, path: string) =>
  z
    .strictObject({
      key: z.string().regex(CONFIGMAP_KEY, "a ConfigMap key: letters, digits, '-', '_' and '.'").default(key),
      path: z
        .string()
        .regex(/^[^/].*\.ya?ml$/, 'a path relative to the Halyard deployment directory, ending in .yml')
        .default(path),
    })
    .prefault({});

const subnetId = z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'a subnet id like subnet-0123abcd');
const securityGroupId = z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'a security group id like sg-0123abcd');

export const MigrationInputSchema = z
  .strictObject({
    cluster: z.strictObject({
      name: z
        .string()
        .min(1)
        .max(100)
        .regex(/^[0-9A-Za-z][A-Za-z0-9\-_]*$/, 'an EKS cluster name: letters, digits, - and _'),
      region: z.string().regex(REGION, 'an AWS region such as us-east-1'),
    }),
    spinnaker: z
      .strictObject({
        namespace: k8sName('namespace').default('spinnaker'),
        halyard: z
          .strictObject({
            configMap: k8sName('the Halyard ConfigMap name').default('halyard-config'),
            deployment: z.string().regex(/^[A-Za-z0-9_-]+$/).default('default'),
            halHome: z.string().regex(/^\/.+/, 'an absolute path').default('/home/spinnaker/.hal'),
            podSelector: z.string().min(1).default('app=halyard'),
            container: k8sName('the Halyard container name').default('halyard'),
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
            deployment: k8sName('the spin-redis Deployment name').default('spin-redis'),
            /** Override how Lambdas reach spin-redis; by default the pod IP (VPC CNI) and container port. */
            url: z
              .string()
              .regex(/^rediss?:\/\/[^/]+(\/0)?$/, 'a redis:// or rediss:// URL without a password')
              .refine((v) => !/:\/\/[^@/]*:[^@/]*@/.test(v), 'must not carry a password')
              .optional(),
          })
          .prefault({}),
        /** Label selector for the Spinnaker service Deployments that must roll out. */
        serviceSelector: z.string().min(1).default('app=spin'),
      })
      .prefault({}),
    target: z.strictObject({
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
      authTokenSecretArn: z
        .string()
        .regex(AUTH_TOKEN_SECRET_ARN, 'a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)')
        .optional(),
      /** When the secret is JSON, the key that holds the token; otherwise the whole SecretString is the token. */
      authTokenSecretKey: z.string().min(1).optional(),
      port: z.number().int().min(1024).max(65535).default(6379),
      subnetIds: z.array(subnetId).min(1).optional(),
      securityGroupIds: z.array(securityGroupId).min(1).max(5).optional(),
      parameterGroupName: elastiCacheName('parameterGroupName', 255).optional(),
      subnetGroupName: elastiCacheName('subnetGroupName', 255).optional(),
      kmsKeyId: z.string().min(1).optional(),
    }),
    options: z
      .strictObject({
        dryRun: z.boolean().default(false),
        cleanupOnFailure: z.boolean().default(false),
        maxWaitMinutes: z.number().int().min(5).max(240).default(60),
        rolloutTimeoutMinutes: z.number().int().min(1).max(120).default(20),
        /** How long spin-redis may keep foreign clients after the cutover before we give up. */
        drainTimeoutMinutes: z.number().int().min(1).max(120).default(15),
        /** Seconds of work per copy slice; a Lambda lives 15 minutes at most. */
        copySliceSeconds: z.number().int().min(5).max(780).default(600),
        /**
         * How CopyBulk reads spin-redis. `auto`: as a replica (PSYNC; one pass, exact to the
         * moment it ends) when it fits in one slice, else by SCAN in resumable slices.
         */
        copyMethod: z.enum(['auto', 'replication', 'scan']).default('auto'),
      })
      .prefault({}),
  })
  .superRefine((input, ctx) => {
    const t = input.target;
    const allowed: readonly string[] = ENGINE_VERSIONS[t.engine];
    if (!allowed.includes(t.engineVersion)) {
      ctx.addIssue({
        code: 'custom',
        path: ['target', 'engineVersion'],
        message: `${t.engine} engineVersion must be one of ${allowed.join(', ')} (got '${t.engineVersion}')`,
      });
    }
    if (t.automaticFailover && t.numCacheClusters < 2) {
      ctx.addIssue({
        code: 'custom',
        path: ['target', 'numCacheClusters'],
        message: 'automaticFailover needs numCacheClusters >= 2 (a primary and a replica); raise it or turn automaticFailover off',
      });
    }
    if (t.multiAz && !t.automaticFailover) {
      ctx.addIssue({
        code: 'custom',
        path: ['target', 'multiAz'],
        message: 'multiAz needs automaticFailover: true',
      });
    }
    if (t.authTokenSecretArn && !t.transitEncryption) {
      ctx.addIssue({
        code: 'custom',
        path: ['target', 'authTokenSecretArn'],
        message: 'an AUTH token needs transitEncryption: true (ElastiCache refuses AUTH without TLS)',
      });
    }
    if (t.authTokenSecretKey && !t.authTokenSecretArn) {
      ctx.addIssue({
        code: 'custom',
        path: ['target', 'authTokenSecretKey'],
        message: 'authTokenSecretKey only makes sense with authTokenSecretArn',
      });
    }
  })
  .transform((input) => ({
    ...input,
    target: {
      ...input.target,
      parameterGroupName: input.target.parameterGroupName ?? `${input.target.replicationGroupId}-params`,
      subnetGroupName: input.target.subnetGroupName ?? `${input.target.replicationGroupId}-subnets`,
      parameterGroupFamily: parameterGroupFamily(input.target.engine, input.target.engineVersion),
    },
  }));

export type MigrationInput = z.input<typeof MigrationInputSchema>;
export type MigrationConfig = z.output<typeof MigrationInputSchema>;

const SECRET_LOOKING_KEYS = /^(auth[-_]?token|password|token|secret)$/i;

function formatPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(input)' : path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');
}

/** Validate and default a migration input; throws InputValidationError listing every bad field. */
export function parseMigrationInput(raw: unknown): MigrationConfig {
  const secretPaths = findSecretLookingKeys(raw);
  const result = MigrationInputSchema.safeParse(raw);
  const issues = [
    ...secretPaths.map((path) => ({
      path,
      message: 'never put a secret in the input (execution input is visible to anyone who can read the execution); store it in Secrets Manager and pass target.authTokenSecretArn',
    })),
    ...(result.success ? [] : result.error.issues.map((i) => ({ path: formatPath(i.path), message: describeIssue(i) }))),
  ];
  if (issues.length > 0 || !result.success) {
    const lines = issues.map((i) => `- ${i.path}: ${i.message}`);
    throw new InputValidationError(`The migration input has ${issues.length} problem(s):\n${lines.join('\n')}`, issues);
  }
  return result.data;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown field(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}: check the spelling against the README's input reference`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return `required: ${issue.message.replace(/^Invalid input: /, '')}`;
  return issue.message;
}

function findSecretLookingKeys(value: unknown, path: string[] = []): string[] {
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const here = [...path, k];
    return SECRET_LOOKING_KEYS.test(k) ? [here.join('.')] : findSecretLookingKeys(v, here);
  });
}
