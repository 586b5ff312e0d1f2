/** Slack request signatures (checked against Slack's documented example) and the slash-command grammar. */
import { describe, expect, it } from '@jest/globals';
import { MAX_REQUEST_AGE_SECONDS, parseSlackCommand, slackSignature, verifySlackRequest } from '../../../lib/chatops/slack.js';
import { SlackRequestRejectedError } from '../../../lib/errors.js';

// The worked example in Slack's "Verifying requests from Slack" (api.slack.com/authentication/verifying-requests-from-slack).
const SLACK_EXAMPLE = {
  secret: '8f742231b10e8888abcd99yyyzzz85a5',
  timestamp: '1531420618',
  body: 'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
  signature: 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
};
const now = Number(SLACK_EXAMPLE.timestamp) + 10;
const signedHeaders = (signature = SLACK_EXAMPLE.signature, timestamp = SLACK_EXAMPLE.timestamp) => ({ 'X-Slack-Request-Timestamp': timestamp, 'X-Slack-Signature': signature });

/** The error `verify` throws, or undefined when it accepts the request. */
function rejection(verify: () => void): SlackRequestRejectedError | undefined {
  try {
    verify();
    return undefined;
  } catch (error) {
    return error as SlackRequestRejectedError;
  }
}

describe('slackSignature', () => {
  it("matches Slack's documented example", () => {
    expect(slackSignature(SLACK_EXAMPLE.secret, SLACK_EXAMPLE.timestamp, SLACK_EXAMPLE.body)).toBe(SLACK_EXAMPLE.signature);
  });
});

describe('verifySlackRequest', () => {
  it("accepts Slack's documented example within five minutes", () => {
    expect(rejection(() => verifySlackRequest(SLACK_EXAMPLE.secret, signedHeaders(), SLACK_EXAMPLE.body, now))).toBeUndefined();
  });

  it('finds the headers whatever their case (API Gateway lower-cases them)', () => {
    const lower = { 'x-slack-request-timestamp': SLACK_EXAMPLE.timestamp, 'x-slack-signature': SLACK_EXAMPLE.signature };
    const mixed = { 'X-Slack-Request-TIMESTAMP': SLACK_EXAMPLE.timestamp, 'x-Slack-Signature': SLACK_EXAMPLE.signature };
    expect(rejection(() => verifySlackRequest(SLACK_EXAMPLE.secret, lower, SLACK_EXAMPLE.body, now))).toBeUndefined();
    expect(rejection(() => verifySlackRequest(SLACK_EXAMPLE.secret, mixed, SLACK_EXAMPLE.body, now))).toBeUndefined();
  });

  it.each([
    ['another secret', () => verifySlackRequest('another-secret', signedHeaders(), SLACK_EXAMPLE.body, now)],
    ['a changed body', () => verifySlackRequest(SLACK_EXAMPLE.secret, signedHeaders(), SLACK_EXAMPLE.body.replace('text=', 'text=migrate+prod'), now)],
    ['a signature of another length', () => verifySlackRequest(SLACK_EXAMPLE.secret, signedHeaders('v0=abc'), SLACK_EXAMPLE.body, now)],
    ['an upper-case signature', () => verifySlackRequest(SLACK_EXAMPLE.secret, signedHeaders(SLACK_EXAMPLE.signature.toUpperCase()), SLACK_EXAMPLE.body, now)],
    ['the signature of another timestamp', () => verifySlackRequest(SLACK_EXAMPLE.secret, signedHeaders(SLACK_EXAMPLE.signature, String(now)), SLACK_EXAMPLE.body, now)],
  ])('rejects %s as a bad signature', (_, verify) => {
    const error = rejection(verify);
    expect(error).toBeInstanceOf(SlackRequestRejectedError);
    expect(error?.message).toBe('bad signature');
  });

  it(`accepts a request exactly ${MAX_REQUEST_AGE_SECONDS} s old and rejects one a second older, or as far in the future`, () => {
    const sent = Number(SLACK_EXAMPLE.timestamp);
    expect(MAX_REQUEST_AGE_SECONDS).toBe(300);
    expect(rejection(() => verifySlackRequest(SLACK_EXAMPLE.secret, signedHeaders(), SLACK_EXAMPLE.body, sent + 300))).toBeUndefined();
    expect(rejection(() => verifySlackRequest(SLACK_EXAMPLE.secret, signedHeaders(), SLACK_EXAMPLE.body, sent + 301))?.message).toBe('request too old (replayed?)');
    expect(rejection(() => verifySlackRequest(SLACK_EXAMPLE.secret, signedHeaders(), SLACK_EXAMPLE.body, sent - 301))?.message).toBe('request too old (replayed?)');
  });

  it('rejects a timestamp that is not a whole number of seconds, even with a matching signature', () => {
    const timestamp = `${SLACK_EXAMPLE.timestamp}.0`;
    const signature = slackSignature(SLACK_EXAMPLE.secret, timestamp, SLACK_EXAMPLE.body);
    expect(rejection(() => verifySlackRequest(SLACK_EXAMPLE.secret, signedHeaders(signature, timestamp), SLACK_EXAMPLE.body, now))?.message).toBe('request too old (replayed?)');
  });

  it.each([
    ['no headers', {}],
    ['no signature', { 'X-Slack-Request-Timestamp': SLACK_EXAMPLE.timestamp }],
    ['no timestamp', { 'X-Slack-Signature': SLACK_EXAMPLE.signature }],
    ['an empty signature', { 'X-Slack-Request-Timestamp': SLACK_EXAMPLE.timestamp, 'X-Slack-Signature': '' }],
  ])('rejects a request with %s as unsigned', (_, headers) => {
    const error = rejection(() => verifySlackRequest(SLACK_EXAMPLE.secret, headers, SLACK_EXAMPLE.body, now));
    expect(error).toBeInstanceOf(SlackRequestRejectedError);
    expect(error?.name).toBe('SlackRequestRejectedError');
    expect(error?.message).toBe('not a signed Slack request');
  });
});

describe('parseSlackCommand', () => {
  it.each([
    ['', { verb: 'help' }],
    ['   ', { verb: 'help' }],
    ['help', { verb: 'help' }],
    ['status', { verb: 'status' }],
    ['STATUS now', { verb: 'status' }],
    ['presets', { verb: 'presets' }],
    ['migrate prod', { verb: 'migrate', preset: 'prod', dryRun: false }],
    ['  Migrate   PROD-eu-1  ', { verb: 'migrate', preset: 'prod-eu-1', dryRun: false }],
    ['plan prod', { verb: 'migrate', preset: 'prod', dryRun: true }],
    ['migrate prod --dry-run', { verb: 'migrate', preset: 'prod', dryRun: true }],
    ['migrate prod dry-run', { verb: 'migrate', preset: 'prod', dryRun: true }],
    ['plan prod --dry-run', { verb: 'migrate', preset: 'prod', dryRun: true }],
    [`migrate a${'b'.repeat(62)}`, { verb: 'migrate', preset: `a${'b'.repeat(62)}`, dryRun: false }],
  ])('%j -> %j', (text, command) => {
    expect(parseSlackCommand(text)).toEqual(command);
  });

  it.each([
    ['migrate', "`migrate` needs a preset name (lowercase letters, digits, '-'): see `presets`"],
    ['plan', "`plan` needs a preset name (lowercase letters, digits, '-'): see `presets`"],
    ['migrate prod_eu', "`migrate` needs a preset name (lowercase letters, digits, '-'): see `presets`"],
    ['migrate -prod', "`migrate` needs a preset name (lowercase letters, digits, '-'): see `presets`"],
    ['migrate ../prod', "`migrate` needs a preset name (lowercase letters, digits, '-'): see `presets`"],
    [`migrate a${'b'.repeat(63)}`, "`migrate` needs a preset name (lowercase letters, digits, '-'): see `presets`"],
    ['migrate prod now', 'unexpected `now`'],
    ['migrate prod --force --dry-run yes', 'unexpected `--force yes`'],
    ['deploy prod', 'unknown command `deploy`'],
  ])('%j -> help: %s', (text, problem) => {
    expect(parseSlackCommand(text)).toEqual({ verb: 'help', problem });
  });
});
