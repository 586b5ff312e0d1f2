/**
 * The install flavour, detected from what is in the namespace, and the pre-flight check that
 * the Spinnaker pods' IRSA role may read the Redis URL secret (against the sandbox's IAM
 * emulator, which evaluates the role's policies as SimulatePrincipalPolicy does).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { IAMClient } from '@aws-sdk/client-iam';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parseMigrationInput } from '../../../lib/config/schema.js';
import type { ClusterApi, Deployment, Pod } from '../../../lib/kubernetes/api.js';
import { detectFlavor, spinnakerConfigFlavor } from '../../../lib/spinnaker/flavor.js';
import { checkSpinnakerSecretAccess } from '../../../lib/spinnaker/secret-access.js';
import { type IamEmulator, startIamEmulator } from '../../../sandbox/aws/iam.js';
import { type SecretsManagerEmulator, startSecretsManagerEmulator } from '../../../sandbox/aws/services.js';

const TOKEN_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:spinnaker/redis-auth-AbCdEf';
const input = { cluster: { name: 'prod', region: 'us-east-1' }, target: { replicationGroupId: 'spinnaker-redis', authTokenSecretArn: TOKEN_ARN } };
const config = parseMigrationInput(input);
const ROLE = 'arn:aws:iam::000000000000:role/spinnaker-pods';

function cluster(options: { deployments?: string[]; labels?: Record<string, Record<string, string>>; pods?: Record<string, Pod[]>; serviceAccounts?: Record<string, Record<string, string>> }) {
  const deployments: Deployment[] = (options.deployments ?? []).map((name) => ({
    metadata: { name, labels: options.labels?.[name] ?? { app: 'spin' } },
    spec: { selector: {}, template: { spec: { serviceAccountName: 'spinnaker', containers: [] } } },
  }));
  return {
    listDeployments: async () => deployments,
    listPods: async (_ns: string, selector: string) => options.pods?.[selector] ?? [],
    readServiceAccount: async (_ns: string, name: string) => ({ metadata: { name, annotations: options.serviceAccounts?.[name] ?? {} } }),
  } as unknown as ClusterApi;
}

describe('detectFlavor', () => {
  it('tells plain Halyard, HA clouddriver, the two charts and the operator apart, and lets the input win', async () => {
    expect(await detectFlavor(cluster({ deployments: ['spin-orca', 'spin-clouddriver'] }), config)).toMatchObject({ flavor: 'halyard', source: 'detected' });
    expect(await detectFlavor(cluster({ deployments: ['spin-orca', 'spin-clouddriver-rw', 'spin-clouddriver-caching'] }), config)).toMatchObject({
      flavor: 'halyard-ha',
      evidence: ['HA clouddriver Deployments: spin-clouddriver-rw, spin-clouddriver-caching'],
    });
    const halyardPod = { 'component=halyard': [{ metadata: { name: 'spin-spinnaker-halyard-0' } }] };
    expect(await detectFlavor(cluster({ deployments: ['spin-orca'], pods: halyardPod }), config)).toMatchObject({ flavor: 'helm-stable' });
    expect(await detectFlavor(cluster({ deployments: ['spin-orca'], pods: { ...halyardPod, 'app.kubernetes.io/name=redis': [{}] } }), config)).toMatchObject({ flavor: 'helm-opsmx' });
    expect(await detectFlavor(cluster({ deployments: ['spin-orca'], labels: { 'spin-orca': { 'app.kubernetes.io/managed-by': 'spinnaker-operator' } } }), config)).toMatchObject({
      flavor: 'operator',
    });
    const given = parseMigrationInput({ ...input, spinnaker: { flavor: 'halyard' } });
    expect(await detectFlavor(cluster({ deployments: ['spin-clouddriver-rw'] }), given)).toMatchObject({ flavor: 'halyard', source: 'input' });
  });

  it('has a module for every flavour; the Helm ones check that their change still holds before spin-redis is scaled down', () => {
    for (const flavor of ['halyard', 'halyard-ha', 'helm-stable', 'helm-opsmx', 'operator'] as const) expect(spinnakerConfigFlavor(flavor).flavor).toBe(flavor);
    expect(spinnakerConfigFlavor('helm-opsmx').assertChangeHolds).toBeDefined();
    expect(spinnakerConfigFlavor('halyard').assertChangeHolds).toBeUndefined();
  });
});

describe("the pre-flight check of the pods' role", () => {
  let iamEmulator: IamEmulator;
  let secretsEmulator: SecretsManagerEmulator;
  let iam: IAMClient;
  let secrets: SecretsManagerClient;
  const credentials = { accessKeyId: 'AKIATEST', secretAccessKey: 'test' };
  const pods = cluster({ deployments: ['spin-orca', 'spin-gate', 'spin-deck'], serviceAccounts: { spinnaker: { 'eks.amazonaws.com/role-arn': ROLE } } });

  beforeAll(async () => {
    iamEmulator = await startIamEmulator();
    secretsEmulator = await startSecretsManagerEmulator('us-east-1');
    iam = new IAMClient({ region: 'us-east-1', endpoint: iamEmulator.url, credentials });
    secrets = new SecretsManagerClient({ region: 'us-east-1', endpoint: secretsEmulator.url, credentials });
  });
  afterAll(async () => {
    await iamEmulator.close();
    await secretsEmulator.close();
  });

  it('passes when the role may read the secret (a name pattern before it exists)', async () => {
    iamEmulator.setRolePolicy(ROLE, [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:spin-elasticache/*' }]);
    await expect(checkSpinnakerSecretAccess(pods, iam, secrets, config)).resolves.toEqual({
      checked: true,
      secret: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:spin-elasticache/spinnaker-redis/redis-url-??????',
      roles: [{ roleArn: ROLE, serviceAccounts: ['spinnaker'], deployments: ['spin-orca', 'spin-gate'] }],
    });
  });

  it('checks the real ARN once the secret exists, and kms:Decrypt for a customer key', async () => {
    const arn = secretsEmulator.putSecret('spin-elasticache/spinnaker-redis/redis-url', 'rediss://:x@h:6379', { 'spin-elasticache:managed': 'true' });
    iamEmulator.setRolePolicy(ROLE, [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: arn }]);
    await expect(checkSpinnakerSecretAccess(pods, iam, secrets, config)).resolves.toMatchObject({ checked: true, secret: arn });
    const kms = parseMigrationInput({ ...input, spinnaker: { redisUrlSecret: { kmsKeyId: 'arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab' } } });
    await expect(checkSpinnakerSecretAccess(pods, iam, secrets, kms)).rejects.toMatchObject({ name: 'SpinnakerSecretAccessDeniedError', message: expect.stringContaining('kms:Decrypt') });
  });

  it('refuses with a named error when the role may not, or when an explicit Deny wins', async () => {
    iamEmulator.setRolePolicy(ROLE, [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:other/*' }]);
    await expect(checkSpinnakerSecretAccess(pods, iam, secrets, config)).rejects.toMatchObject({
      name: 'SpinnakerSecretAccessDeniedError',
      message: expect.stringContaining(`${ROLE} (spin-orca, spin-gate): secretsmanager:GetSecretValue`),
    });
    iamEmulator.setRolePolicy(ROLE, [
      { Effect: 'Allow', Action: 'secretsmanager:*', Resource: '*' },
      { Effect: 'Deny', Action: 'secretsmanager:GetSecretValue', Resource: '*' },
    ]);
    await expect(checkSpinnakerSecretAccess(pods, iam, secrets, config)).rejects.toMatchObject({ message: expect.stringContaining('explicitDeny') });
  });

  it('cannot judge the node role: refused unless the check is skipped; nothing to check without AUTH or with the plaintext consent', async () => {
    const noIrsa = cluster({ deployments: ['spin-orca'] });
    await expect(checkSpinnakerSecretAccess(noIrsa, iam, secrets, config)).rejects.toMatchObject({ name: 'SpinnakerRoleUnknownError', message: expect.stringContaining('node role') });
    const skip = parseMigrationInput({ ...input, options: { skipSpinnakerSecretAccessCheck: true } });
    await expect(checkSpinnakerSecretAccess(noIrsa, iam, secrets, skip)).resolves.toMatchObject({ checked: false, skipped: 'options.skipSpinnakerSecretAccessCheck' });
    const plaintext = parseMigrationInput({ ...input, options: { plaintextTokenInSpinnakerConfig: true } });
    await expect(checkSpinnakerSecretAccess(noIrsa, iam, secrets, plaintext)).resolves.toMatchObject({ checked: false });
    const noAuth = parseMigrationInput({ ...input, target: { replicationGroupId: 'spinnaker-redis' } });
    await expect(checkSpinnakerSecretAccess(noIrsa, iam, secrets, noAuth)).resolves.toMatchObject({ checked: false, skipped: 'no AUTH token' });
  });
});
