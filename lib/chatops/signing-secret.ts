/**
 * Slack's signing secret, read from Secrets Manager and kept for a few minutes. A secret that
 * is missing, binary or empty refuses every request (an empty HMAC key is one anyone can sign
 * with). A request that does not match is checked once more against a freshly read secret,
 * so a rotated secret is taken at once and the old one stops matching; the re-read happens at
 * most every REFRESH_MIN_MS, so a flood of forged requests cannot flood Secrets Manager.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { awsCall } from '../aws/errors.js';
import { SlackRequestRejectedError } from '../errors.js';
import { logger } from '../logger.js';

export interface SigningSecret {
  /** Resolves when `matches` holds for the current secret; throws SlackRequestRejectedError otherwise. */
  verify(matches: (secret: string) => boolean): Promise<void>;
}

/** How long a secret is used without reading it again. */
export const SECRET_TTL_MS = 5 * 60_000;
/** The shortest time between two reads caused by a signature that does not match. */
export const REFRESH_MIN_MS = 10_000;

export function signingSecretFrom(client: () => Pick<SecretsManagerClient, 'send'>, secretId: () => string | undefined, now: () => number = () => Date.now()): SigningSecret {
  let cached: { id: string; value: string; readAt: number } | undefined;

  async function read(id: string): Promise<string> {
    const secret = await awsCall('GetSecretValue (Slack signing secret)', () => client().send(new GetSecretValueCommand({ SecretId: id })));
    const value = secret.SecretString;
    if (value === undefined || value.trim().length === 0) {
      cached = undefined;
      const what = value === undefined ? (secret.SecretBinary ? 'binary (SecretBinary)' : 'missing') : 'empty';
      logger.error('the Slack signing secret is unusable: every Slack request is refused', { secretId: id, problem: what, fix: "store Slack's signing secret as the secret's string value" });
      throw new SlackRequestRejectedError(`the Slack signing secret ${id} is ${what}: no request can be verified`);
    }
    cached = { id, value, readAt: now() };
    return value;
  }

  return {
    async verify(matches) {
      const id = secretId();
      if (!id) {
        logger.error('SLACK_SIGNING_SECRET_ARN is not set: every Slack request is refused');
        throw new SlackRequestRejectedError('SLACK_SIGNING_SECRET_ARN is not set: Slack requests cannot be verified');
      }
      const fresh = cached?.id === id && now() - cached.readAt < SECRET_TTL_MS;
      const value = fresh && cached ? cached.value : await read(id);
      if (matches(value)) return;
      // Perhaps the secret was rotated since it was read.
      if (cached && now() - cached.readAt >= REFRESH_MIN_MS && matches(await read(id))) return;
      throw new SlackRequestRejectedError('bad signature');
    },
  };
}
