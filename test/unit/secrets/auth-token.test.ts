/** The AUTH token from Secrets Manager: plain or JSON secrets, ElastiCache's token rule, error mapping, memoizing; the token never appears in a message. */
import { afterEach, describe, expect, it } from '@jest/globals';
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient, SecretsManagerServiceException } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { parseMigrationInput } from '../../../lib/config/schema.js';
import { checkAuthToken, clearAuthTokenCache, getAuthToken } from '../../../lib/secrets/auth-token.js';

const secretsManager = mockClient(SecretsManagerClient);
afterEach(() => {
  secretsManager.reset();
  clearAuthTokenCache();
});

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:spin-redis-auth-AbCdEf';
const TOKEN = 'Sup3r-s3cret&Token#2026';
const configWith = (target: Record<string, unknown> = {}) =>
  parseMigrationInput({ cluster: { name: 'prod', region: 'us-east-1' }, target: { replicationGroupId: 'spin-redis', transitEncryption: true, authTokenSecretArn: ARN, ...target } });
const client = () => new SecretsManagerClient({ region: 'us-east-1' });
const meta = { $metadata: { httpStatusCode: 400 } };

/** The error `promise` rejects with; fails the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<Error & { retryable?: boolean; issues?: unknown }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('checkAuthToken', () => {
  it.each(['a'.repeat(16), 'A'.repeat(128), 'letters1DIGITS2!&#$^<>-'])('accepts %s', (token) => {
    expect(() => checkAuthToken(token, 'where')).not.toThrow();
  });

  it.each([
    ['15 characters', 'a'.repeat(15), 'where: the AUTH token must be 16-128 characters: letters, digits and only ! & # $ ^ < > - (it has 15 characters)'],
    ['129 characters', 'a'.repeat(129), 'where: the AUTH token must be 16-128 characters: letters, digits and only ! & # $ ^ < > - (it has 129 characters)'],
    ['an @', 'abcdefghijklmnop@', 'where: the AUTH token must be 16-128 characters: letters, digits and only ! & # $ ^ < > - (it has 17 characters and a character ElastiCache refuses)'],
    ['a space', 'abcdefgh ijklmnop', 'where: the AUTH token must be 16-128 characters: letters, digits and only ! & # $ ^ < > - (it has 17 characters and a character ElastiCache refuses)'],
  ])('refuses a token with %s, without quoting it', (_, token, message) => {
    let error: Error | undefined;
    try {
      checkAuthToken(token, 'where');
    } catch (e) {
      error = e as Error;
    }
    expect(error).toMatchObject({ name: 'InputValidationError', message, issues: [{ path: 'target.authTokenSecretArn', message: 'the secret holds a token ElastiCache refuses' }] });
    expect(error?.message).not.toContain(token);
  });
});

describe('getAuthToken', () => {
  it('is undefined without a secret ARN, and asks nothing', async () => {
    const config = parseMigrationInput({ cluster: { name: 'prod', region: 'us-east-1' }, target: { replicationGroupId: 'spin-redis' } });
    await expect(getAuthToken(client(), config)).resolves.toBeUndefined();
    expect(secretsManager.calls()).toHaveLength(0);
  });

  it('reads a plain secret, once per ARN', async () => {
    secretsManager.on(GetSecretValueCommand, { SecretId: ARN }).resolves({ SecretString: TOKEN });
    await expect(getAuthToken(client(), configWith())).resolves.toBe(TOKEN);
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: 'a-different-token-now' });
    await expect(getAuthToken(client(), configWith())).resolves.toBe(TOKEN);
  });

  it('reads a field of a JSON secret', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ username: 'default', token: TOKEN }) });
    await expect(getAuthToken(client(), configWith({ authTokenSecretKey: 'token' }))).resolves.toBe(TOKEN);
  });

  it.each([
    ['not JSON although a key is given', { SecretString: TOKEN }, { authTokenSecretKey: 'token' }, `Secret ${ARN} is not JSON, but target.authTokenSecretKey 'token' was given`],
    ['no such field', { SecretString: JSON.stringify({ password: TOKEN }) }, { authTokenSecretKey: 'token' }, `Secret ${ARN} has no string field 'token'`],
    ['a field that is not a string', { SecretString: JSON.stringify({ token: 1234567890123456 }) }, { authTokenSecretKey: 'token' }, `Secret ${ARN} has no string field 'token'`],
    ['a binary secret', { SecretBinary: Buffer.from(TOKEN) }, {}, `Secret ${ARN} has no SecretString (binary secrets are not supported)`],
  ])('a secret with %s -> SecretUnavailableError', async (_, output, target, message) => {
    secretsManager.on(GetSecretValueCommand).resolves(output);
    const error = await rejection(getAuthToken(client(), configWith(target)));
    expect(error).toMatchObject({ name: 'SecretUnavailableError', message });
    expect(error.message).not.toContain(TOKEN);
  });

  it('a token ElastiCache would refuse -> InputValidationError naming the secret, not the token', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: 'short' });
    const error = await rejection(getAuthToken(client(), configWith()));
    expect(error).toMatchObject({ name: 'InputValidationError', message: `Secret ${ARN}: the AUTH token must be 16-128 characters: letters, digits and only ! & # $ ^ < > - (it has 5 characters)` });
  });

  it.each([
    ['missing', new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", ...meta }), 'ResourceNotFoundException'],
    ['not readable by the role', new SecretsManagerServiceException({ name: 'AccessDeniedException', $fault: 'client', message: 'not authorized', ...meta }), 'AccessDeniedException'],
  ])('a secret %s -> SecretUnavailableError (fatal)', async (_, exception, name) => {
    secretsManager.on(GetSecretValueCommand).rejects(exception);
    const error = await rejection(getAuthToken(client(), configWith()));
    expect(error).toMatchObject({
      name: 'SecretUnavailableError',
      retryable: false,
      message: `Cannot read the AUTH token secret ${ARN}: ${name}. Check that it exists and that it is the secret the stack was deployed for (the authTokenSecretId parameter): only that one is readable by the Redis-facing functions.`,
    });
  });

  it('throttling stays a retryable AwsThrottlingError, and nothing is memoized', async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .rejectsOnce(new SecretsManagerServiceException({ name: 'ThrottlingException', $fault: 'client', message: 'Rate exceeded', ...meta }))
      .resolves({ SecretString: TOKEN });
    await expect(getAuthToken(client(), configWith())).rejects.toMatchObject({ name: 'AwsThrottlingError', retryable: true });
    await expect(getAuthToken(client(), configWith())).resolves.toBe(TOKEN);
  });
});
