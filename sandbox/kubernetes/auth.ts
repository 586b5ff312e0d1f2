/**
 * Bearer-token checks of the Kubernetes emulator, as EKS does them: a `k8s-aws-v1.` token
 * must be a presigned STS GetCallerIdentity URL for this cluster (the `x-k8s-aws-id`
 * header is signed), fresh, and correctly signed by the sandbox's credentials. The
 * signature is recomputed, so a token for another cluster or a tampered one fails.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

export interface TokenCheck {
  ok: boolean;
  reason?: string;
  principal?: string;
}

export async function verifyEksToken(token: string, expected: { clusterName: string; region: string; accessKeyId: string; secretAccessKey: string; now?: Date }): Promise<TokenCheck> {
  if (!token.startsWith('k8s-aws-v1.')) return { ok: false, reason: 'not an EKS token' };
  if (token.length > 4096) return { ok: false, reason: 'token longer than 4096 bytes' };
  let url: URL;
  try {
    url = new URL(Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'token is not a base64url URL' };
  }
  const q = url.searchParams;
  if (url.protocol !== 'https:' || !/^sts(\.[a-z0-9-]+)?\.amazonaws\.com$/.test(url.hostname)) return { ok: false, reason: `unexpected host ${url.hostname}` };
  if (q.get('Action') !== 'GetCallerIdentity' || q.get('Version') !== '2011-06-15') return { ok: false, reason: 'not a GetCallerIdentity request' };
  if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') return { ok: false, reason: 'unexpected signing algorithm' };
  const signedHeaders = (q.get('X-Amz-SignedHeaders') ?? '').split(';');
  if (!signedHeaders.includes('host') || !signedHeaders.includes('x-k8s-aws-id')) return { ok: false, reason: 'x-k8s-aws-id is not a signed header' };
  const date = q.get('X-Amz-Date') ?? '';
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date);
  if (!m) return { ok: false, reason: 'bad X-Amz-Date' };
  const signedAt = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  const age = (expected.now ?? new Date()).getTime() - signedAt.getTime();
  if (age > 15 * 60_000 || age < -5 * 60_000) return { ok: false, reason: 'token expired' };
  const expires = Number(q.get('X-Amz-Expires'));
  if (!Number.isFinite(expires) || expires <= 0) return { ok: false, reason: 'missing X-Amz-Expires' };
  const credential = (q.get('X-Amz-Credential') ?? '').split('/');
  if (credential[0] !== expected.accessKeyId) return { ok: false, reason: 'unknown access key' };
  const region = credential[2] ?? expected.region;
  const signer = new SignatureV4({ credentials: { accessKeyId: expected.accessKeyId, secretAccessKey: expected.secretAccessKey }, region, service: 'sts', sha256: Sha256 });
  const request = new HttpRequest({
    method: 'GET',
    protocol: 'https:',
    hostname: url.hostname,
    path: '/',
    query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
    headers: { host: url.hostname, 'x-k8s-aws-id': expected.clusterName },
  });
  const resigned = await signer.presign(request, { signingDate: signedAt, expiresIn: expires, unhoistableHeaders: new Set(['x-k8s-aws-id']) });
  if (resigned.query?.['X-Amz-Signature'] !== q.get('X-Amz-Signature')) return { ok: false, reason: 'signature does not match (wrong cluster or credentials)' };
  return { ok: true, principal: `arn:aws:iam::000000000000:user/${expected.accessKeyId}` };
}
