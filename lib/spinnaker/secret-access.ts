/**
 * Pre-flight: may the Spinnaker pods read the Redis URL secret? With AUTH every connecting
 * service resolves `redis.connection: encrypted:secrets-manager!…` at start with its own AWS
 * credentials (kork-secrets-aws, SDK v1 default chain: IRSA web identity on EKS), so a role
 * that cannot read it crash-loops every pod after the cutover. Checked before anything is
 * created, with `iam:SimulatePrincipalPolicy` on the role named by the IRSA annotation
 * `eks.amazonaws.com/role-arn` of each service account the connecting Deployments run as.
 *
 * Without that annotation the pods use the node role (through IMDS), which the cluster does not
 * name: refused with SpinnakerRoleUnknownError unless options.skipSpinnakerSecretAccessCheck.
 */
import { SimulatePrincipalPolicyCommand, type IAMClient } from '@aws-sdk/client-iam';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mapAwsError } from '../aws/errors.js';
import type { MigrationConfig } from '../config/schema.js';
import { SpinnakerRoleUnknownError, SpinnakerSecretAccessDeniedError } from '../errors.js';
import type { ClusterApi } from '../kubernetes/api.js';
import { describeRedisUrlSecret } from '../secrets/redis-url.js';

export const IRSA_ANNOTATION = 'eks.amazonaws.com/role-arn';
/** Deployments Halyard names `spin-<canonical>` (docs/SPINNAKER-INSTALLS.md §3.4), for the services that connect to Redis. */
const CONNECTING = /^spin-(orca|gate|clouddriver(-[a-z-]+)?|igor|fiat|echo(-[a-z]+)?|rosco|kayenta)$/;

/** `$.lock.secretAccess` */
export interface SecretAccessCheck {
  checked: boolean;
  /** Why it was not checked. */
  skipped?: string;
  secret?: string;
  roles: { roleArn: string; serviceAccounts: string[]; deployments: string[] }[];
}

/** Whether the pods need the URL secret at all: AUTH on, and the token not written in plain text. */
export function podsReadUrlSecret(config: MigrationConfig): boolean {
  return Boolean(config.target.authTokenSecretArn) && !config.options.plaintextTokenInSpinnakerConfig;
}

/** The secret's ARN if it exists, else the pattern its ARN will match (`<name>-??????`, Secrets Manager's random suffix). */
export async function urlSecretArn(secrets: Pick<SecretsManagerClient, 'send'>, config: MigrationConfig): Promise<string> {
  const existing = await describeRedisUrlSecret(secrets, config);
  if (existing?.arn) return existing.arn;
  const [, partition = 'aws', , , account = ''] = (config.target.authTokenSecretArn ?? '').split(':');
  return `arn:${partition}:secretsmanager:${config.cluster.region}:${account}:secret:${config.spinnaker.redisUrlSecret.name}-??????`;
}

export async function checkSpinnakerSecretAccess(
  api: Pick<ClusterApi, 'listDeployments' | 'readServiceAccount'>,
  iam: Pick<IAMClient, 'send'>,
  secrets: Pick<SecretsManagerClient, 'send'>,
  config: MigrationConfig,
): Promise<SecretAccessCheck> {
  if (!podsReadUrlSecret(config))
    return { checked: false, skipped: config.target.authTokenSecretArn ? 'the token is written in plain text (options.plaintextTokenInSpinnakerConfig)' : 'no AUTH token', roles: [] };
  if (config.options.skipSpinnakerSecretAccessCheck) return { checked: false, skipped: 'options.skipSpinnakerSecretAccessCheck', roles: [] };
  const { namespace } = config.spinnaker;
  const deployments = (await api.listDeployments(namespace, config.spinnaker.serviceSelector)).filter((d) => CONNECTING.test(d.metadata?.name ?? ''));
  const bySa = new Map<string, string[]>();
  for (const d of deployments) {
    const sa = d.spec?.template?.spec?.serviceAccountName ?? 'default';
    bySa.set(sa, [...(bySa.get(sa) ?? []), d.metadata?.name ?? '?']);
  }
  const byRole = new Map<string, { serviceAccounts: string[]; deployments: string[] }>();
  for (const [sa, names] of bySa) {
    const account = await api.readServiceAccount(namespace, sa);
    const role = account.metadata?.annotations?.[IRSA_ANNOTATION];
    if (!role) {
      throw new SpinnakerRoleUnknownError(
        `Service account ${namespace}/${sa} (used by ${names.join(', ')}) has no ${IRSA_ANNOTATION} annotation: those pods read secrets with the node role, which cannot be checked from here. Grant the node role secretsmanager:GetSecretValue on the secret ${config.spinnaker.redisUrlSecret.name}${config.spinnaker.redisUrlSecret.kmsKeyId ? ' and kms:Decrypt on its key' : ''} (or give the pods an IRSA role), then set options.skipSpinnakerSecretAccessCheck: true.`,
      );
    }
    const entry = byRole.get(role) ?? { serviceAccounts: [], deployments: [] };
    entry.serviceAccounts.push(sa);
    entry.deployments.push(...names);
    byRole.set(role, entry);
  }
  const secretArn = await urlSecretArn(secrets, config);
  const checks: { action: string; resource: string }[] = [{ action: 'secretsmanager:GetSecretValue', resource: secretArn }];
  if (config.spinnaker.redisUrlSecret.kmsKeyId) checks.push({ action: 'kms:Decrypt', resource: config.spinnaker.redisUrlSecret.kmsKeyId });
  const denied: string[] = [];
  for (const [role, { deployments: names }] of byRole) {
    for (const { action, resource } of checks) {
      let decision: string;
      try {
        const result = await iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: role, ActionNames: [action], ResourceArns: [resource] }));
        decision = result.EvaluationResults?.[0]?.EvalDecision ?? 'implicitDeny';
      } catch (error) {
        if ((error as Error).name === 'NoSuchEntityException' || (error as Error).name === 'NoSuchEntity') decision = 'role not found';
        else throw mapAwsError(error, `IAM SimulatePrincipalPolicy for ${role}`);
      }
      if (decision !== 'allowed') denied.push(`${role} (${names.join(', ')}): ${action} on ${resource}: ${decision}`);
    }
  }
  if (denied.length > 0) {
    throw new SpinnakerSecretAccessDeniedError(
      `The Spinnaker pods could not read their Redis connection after the cutover (every pod would crash-loop and the migration roll back):\n- ${denied.join('\n- ')}\nGrant those roles the action(s) on that resource, or set options.skipSpinnakerSecretAccessCheck: true if the simulator cannot judge your policy. Nothing was created.`,
    );
  }
  return { checked: true, secret: secretArn, roles: [...byRole].map(([roleArn, v]) => ({ roleArn, ...v })) };
}
