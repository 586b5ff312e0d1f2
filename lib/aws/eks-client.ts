/**
 * The EKS client of the Kubernetes calls, alone in its module so that lib/kubernetes/default-api.ts
 * can load it with `import()`: a function that never reaches Kubernetes (a copy step with a
 * known spin-redis URL) does not evaluate the SDK's EKS client at its cold start. Handlers that
 * call EKS themselves use `eks` from clients.ts.
 */
import { EKSClient } from '@aws-sdk/client-eks';

let client: EKSClient | undefined;
let madeFor: string | undefined;

/** One client per warm Lambda (a fresh one when AWS_ENDPOINT_URL_EKS changes, as in the tests). */
export function eksForKubernetes(): EKSClient {
  const endpoint = process.env.AWS_ENDPOINT_URL_EKS ?? '';
  if (!client || madeFor !== endpoint) {
    client = new EKSClient({ maxAttempts: 3 });
    madeFor = endpoint;
  }
  return client;
}
