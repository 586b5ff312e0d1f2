/** Kubernetes ApiException (its `name` is plain `Error`) -> our named errors. */
import { KubernetesConflictError, KubernetesForbiddenError, KubernetesNotFoundError, KubernetesRequestError, KubernetesUnavailableError, MigrationError } from '../errors.js';

export function mapKubernetesError(error: unknown, context: string): MigrationError {
  if (error instanceof MigrationError) return error;
  const e = error as { code?: number | string; body?: unknown; message?: string };
  const status = typeof e.code === 'number' ? e.code : undefined;
  const reason = statusMessage(e.body) ?? e.message ?? String(error);
  const message = `${context}: ${status ?? e.code ?? ''} ${reason}`.trim();
  if (status === 409) return new KubernetesConflictError(`${message} (someone else changed it; re-reading and retrying)`, { cause: error });
  if (status === 401 || status === 403) {
    return new KubernetesForbiddenError(`${message}. Check the EKS access entry for the Lambda role: it needs edit rights (ConfigMaps, Deployments/scale, pods/exec) in the Spinnaker namespace.`, {
      cause: error,
    });
  }
  if (status === 404) return new KubernetesNotFoundError(message, { cause: error });
  if (status === 429 || (status !== undefined && status >= 500)) return new KubernetesUnavailableError(message, { cause: error });
  if (status === undefined) return new KubernetesUnavailableError(`${context}: ${reason}`, { cause: error });
  return new KubernetesRequestError(message, { cause: error });
}

function statusMessage(body: unknown): string | undefined {
  if (typeof body === 'string') {
    try {
      return (JSON.parse(body) as { message?: string }).message ?? body.slice(0, 300);
    } catch {
      return body.slice(0, 300);
    }
  }
  if (body && typeof body === 'object' && 'message' in body) return String((body as { message: unknown }).message);
  return undefined;
}

export async function kubeCall<T>(context: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw mapKubernetesError(error, context);
  }
}
