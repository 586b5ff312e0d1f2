/**
 * The EKS bearer token, made the way `aws eks get-token` makes it: a presigned STS
 * GetCallerIdentity URL with the cluster name in the signed `x-k8s-aws-id` header,
 * base64url-encoded behind `k8s-aws-v1.`. No network call: the API server verifies it.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

export const TOKEN_PREFIX = 'k8s-aws-v1.';
const CLUSTER_HEADER = 'x-k8s-aws-id';

export interface EksTokenOptions {
  clusterName: string;
  region: string;
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  now?: Date;
}

export async function createEksToken(options: EksTokenOptions): Promise<string> {
  const hostname = `sts.${options.region}.amazonaws.com`;
  const signer = new SignatureV4({ credentials: options.credentials ?? fromNodeProviderChain(), region: options.region, service: 'sts', sha256: Sha256 });
  const request = new HttpRequest({
    method: 'GET',
    protocol: 'https:',
    hostname,
    path: '/',
    query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
    headers: { host: hostname, [CLUSTER_HEADER]: options.clusterName },
  });
  const signed = await signer.presign(request, { expiresIn: 60, unhoistableHeaders: new Set([CLUSTER_HEADER]), ...(options.now ? { signingDate: options.now } : {}) });
  const query = Object.entries(signed.query ?? {})
    .flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v ?? '']]))
    .map(([k, v]) => `${encodeURIComponent(k!)}=${encodeURIComponent(v!)}`)
    .join('&');
  const url = `https://${hostname}/?${query}`;
  return TOKEN_PREFIX + Buffer.from(url).toString('base64url');
}
