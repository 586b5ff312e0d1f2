/** The EKS token as `aws eks get-token` makes it, and as the sandbox's API server checks it. */
import { describe, expect, it } from '@jest/globals';
import { createEksToken } from '../../../lib/eks/token.js';
import { verifyEksToken } from '../../../sandbox/kubernetes/auth.js';

const credentials = { accessKeyId: 'AKIAEXAMPLE000000001', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const now = new Date('2026-11-22T12:00:00Z');

describe('createEksToken', () => {
  it('presigns STS GetCallerIdentity with the cluster name in a signed header', async () => {
    const token = await createEksToken({ clusterName: 'spinnaker-prod', region: 'eu-west-1', credentials, now });
    expect(token.startsWith('k8s-aws-v1.')).toBe(true);
    expect(token).not.toMatch(/=/);
    expect(token.length).toBeLessThanOrEqual(4096);
    const url = new URL(Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').toString());
    expect(url.hostname).toBe('sts.eu-west-1.amazonaws.com');
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      Action: 'GetCallerIdentity',
      Version: '2011-06-15',
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Expires': '60',
      'X-Amz-SignedHeaders': 'host;x-k8s-aws-id',
      'X-Amz-Date': '20261122T120000Z',
      'X-Amz-Credential': 'AKIAEXAMPLE000000001/20261122/eu-west-1/sts/aws4_request',
    });
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is accepted for its own cluster, and refused for another cluster, other keys, or when stale', async () => {
    const token = await createEksToken({ clusterName: 'spinnaker-prod', region: 'us-east-1', credentials, now });
    const expected = { clusterName: 'spinnaker-prod', region: 'us-east-1', ...credentials, now };
    await expect(verifyEksToken(token, expected)).resolves.toMatchObject({ ok: true });
    await expect(verifyEksToken(token, { ...expected, clusterName: 'other' })).resolves.toMatchObject({ ok: false, reason: expect.stringContaining('signature') });
    await expect(verifyEksToken(token, { ...expected, secretAccessKey: 'x' })).resolves.toMatchObject({ ok: false });
    await expect(verifyEksToken(token, { ...expected, now: new Date('2026-11-22T12:20:00Z') })).resolves.toMatchObject({ ok: false, reason: 'token expired' });
  });
});
