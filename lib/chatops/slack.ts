/**
 * ChatOps from Slack: a slash command (`/spin-elasticache migrate prod`) reaches an HTTP API
 * Lambda. Slack signs every request (HMAC-SHA256 of `v0:<timestamp>:<body>` with the app's
 * signing secret); anything unsigned, mis-signed or older than five minutes is refused, and
 * only allow-listed Slack users may start anything. What can be started is what was deployed:
 * named inputs in `presets/<name>.json`, checked by the same schema as the console input.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { SlackRequestRejectedError } from '../errors.js';

export const MAX_REQUEST_AGE_SECONDS = 300;

/** Slack's signature of a request (what Slack sends; tests sign with it too). */
export function slackSignature(secret: string, timestamp: string, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export interface SignedRequest {
  timestamp: string;
  signature: string;
}

function header(headers: Record<string, string | undefined>, name: string): string | undefined {
  return Object.entries(headers).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
}

/** The request's timestamp and signature, refused when missing or older than five minutes. */
export function signedRequest(headers: Record<string, string | undefined>, nowSeconds = Math.floor(Date.now() / 1000)): SignedRequest {
  const timestamp = header(headers, 'X-Slack-Request-Timestamp');
  const signature = header(headers, 'X-Slack-Signature');
  if (!timestamp || !signature) throw new SlackRequestRejectedError('not a signed Slack request');
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > MAX_REQUEST_AGE_SECONDS) throw new SlackRequestRejectedError('request too old (replayed?)');
  return { timestamp, signature };
}

/** Whether `signature` is Slack's signature of this request with `secret` (constant time). */
export function signatureMatches(secret: string, request: SignedRequest, body: string): boolean {
  if (secret.length === 0) return false; // anyone can sign with the empty key
  const expected = Buffer.from(slackSignature(secret, request.timestamp, body));
  const given = Buffer.from(request.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export function verifySlackRequest(secret: string, headers: Record<string, string | undefined>, body: string, nowSeconds?: number): void {
  if (!signatureMatches(secret, signedRequest(headers, nowSeconds), body)) throw new SlackRequestRejectedError('bad signature');
}

export type SlackCommand = { verb: 'migrate'; preset: string; dryRun: boolean } | { verb: 'status' } | { verb: 'presets' } | { verb: 'help'; problem?: string };

const PRESET = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function parseSlackCommand(text: string): SlackCommand {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const [verb, preset, ...rest] = words.map((w) => w.toLowerCase());
  switch (verb) {
    case 'migrate':
    case 'plan': {
      if (!preset || !PRESET.test(preset)) return { verb: 'help', problem: `\`${verb}\` needs a preset name (lowercase letters, digits, '-'): see \`presets\`` };
      const dryRun = verb === 'plan' || rest.includes('--dry-run') || rest.includes('dry-run');
      const unknown = rest.filter((w) => w !== '--dry-run' && w !== 'dry-run');
      if (unknown.length > 0) return { verb: 'help', problem: `unexpected \`${unknown.join(' ')}\`` };
      return { verb: 'migrate', preset, dryRun };
    }
    case 'status':
      return { verb: 'status' };
    case 'presets':
      return { verb: 'presets' };
    case undefined:
    case 'help':
      return { verb: 'help' };
    default:
      return { verb: 'help', problem: `unknown command \`${verb}\`` };
  }
}

export const SLACK_HELP = [
  '`/spin-elasticache plan <preset>`: a dry run: what would be created, the Halyard diff, what would be scaled',
  '`/spin-elasticache migrate <preset>`: start the migration (one per Spinnaker at a time)',
  '`/spin-elasticache status`: the last executions',
  '`/spin-elasticache presets`: what can be started (the deployed `presets/*.json`)',
].join('\n');
