/**
 * `spin-elasticache start`: help, bad flags and an invalid input are usage errors (2) that start
 * nothing; StartExecution goes to the state machine's own region, with or without AWS_REGION.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, jest } from '@jest/globals';
import { runStartCommand } from '../../../cli/start-command.js';

function quietly<T>(run: () => Promise<T>): Promise<T> {
  const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  return run().finally(() => {
    out.mockRestore();
    err.mockRestore();
  });
}

describe('spin-elasticache start', () => {
  it('--help is not an error; an unknown flag is a usage error', async () => {
    expect(await quietly(() => runStartCommand(['--help']))).toBe(0);
    expect(await quietly(() => runStartCommand(['--bogus']))).toBe(2);
    expect(await quietly(() => runStartCommand([]))).toBe(2);
  });

  it('an input that does not validate, or cannot be read, is refused with 2 before any AWS call', async () => {
    const file = join(tmpdir(), `start-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ cluster: { name: 'x' } }));
    // No credentials and no endpoint: reaching StartExecution would throw, not return 2.
    expect(await quietly(() => runStartCommand(['--input', file, '--state-machine-arn', 'arn:aws:states:us-east-1:1:stateMachine:x']))).toBe(2);
    expect(await quietly(() => runStartCommand(['--input', join(tmpdir(), 'no-such-file.json'), '--state-machine-arn', 'x']))).toBe(2);
  });

  it('a --state-machine-arn that is not one is a usage error (2) before any AWS call; an AWS failure is named, with its hint (1)', async () => {
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const saved = { ...process.env };
    try {
      expect(await runStartCommand(['--input', 'events/migrate.json', '--state-machine-arn', 'foo'])).toBe(2);
      expect(err.mock.calls.map((c) => String(c[0])).join('')).toContain('--state-machine-arn foo: not a state machine ARN');
      // No credentials anywhere (no profile file, no instance metadata): the SDK's CredentialsProviderError, named as the workflow names it.
      for (const k of [
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
        'AWS_SESSION_TOKEN',
        'AWS_PROFILE',
        'AWS_WEB_IDENTITY_TOKEN_FILE',
        'AWS_CONTAINER_CREDENTIALS_FULL_URI',
        'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
      ])
        delete process.env[k];
      Object.assign(process.env, { AWS_EC2_METADATA_DISABLED: 'true', AWS_SHARED_CREDENTIALS_FILE: join(tmpdir(), 'no-such-credentials'), AWS_CONFIG_FILE: join(tmpdir(), 'no-such-config') });
      err.mockClear();
      expect(await runStartCommand(['--input', 'events/migrate.json', '--state-machine-arn', 'arn:aws:states:eu-west-2:123456789012:stateMachine:migrate'])).toBe(1);
      expect(err.mock.calls.map((c) => String(c[0])).join('')).toMatch(/^AwsCredentialsError: StartExecution: .*\(no AWS credentials: set AWS_PROFILE/);
    } finally {
      process.env = saved;
      err.mockRestore();
    }
  });

  it("calls StartExecution in the state machine's region (from its ARN), whatever AWS_REGION says or without it", async () => {
    // A stand-in for the Step Functions endpoint: it records the SigV4 credential scope (…/REGION/states/aws4_request).
    const scopes: string[] = [];
    const server = createServer((req, res) => {
      scopes.push(/Credential=[^/]+\/\d+\/([^/]+)\/states\//.exec(req.headers.authorization ?? '')?.[1] ?? 'none');
      req.resume();
      req.on('end', () => {
        res.setHeader('content-type', 'application/x-amz-json-1.0');
        res.end(JSON.stringify({ executionArn: 'arn:aws:states:eu-west-2:123456789012:execution:migrate:x', startDate: 1 }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const saved = { ...process.env };
    try {
      Object.assign(process.env, { AWS_ENDPOINT_URL_SFN: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, AWS_ACCESS_KEY_ID: 'AKIATEST', AWS_SECRET_ACCESS_KEY: 'test' });
      delete process.env.AWS_REGION;
      delete process.env.AWS_DEFAULT_REGION;
      delete process.env.AWS_PROFILE;
      const arn = 'arn:aws:states:eu-west-2:123456789012:stateMachine:migrate';
      expect(await quietly(() => runStartCommand(['--input', 'events/migrate.json', '--state-machine-arn', arn]))).toBe(0);
      process.env.AWS_REGION = 'us-east-1';
      expect(await quietly(() => runStartCommand(['--input', 'events/migrate.json', '--state-machine-arn', arn, '--name', 'second']))).toBe(0);
      expect(scopes).toEqual(['eu-west-2', 'eu-west-2']);
    } finally {
      process.env = saved;
      server.close();
    }
  });
});
