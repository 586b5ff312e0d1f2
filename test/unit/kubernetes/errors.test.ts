/** Kubernetes ApiException codes -> our named errors (docs/ARCHITECTURE.md "Errors"), with client-node's own ApiException. */
import { describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import { kubeCall, mapKubernetesError } from '../../../lib/kubernetes/errors.js';
import { KubernetesNotFoundError, MigrationError, PodExecError } from '../../../lib/errors.js';

/** What client-node throws for a non-2xx answer: the API server's Status object as the body. */
const apiException = (code: number, message: string) =>
  new ApiException(code, 'HTTP error', { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code }, { 'content-type': 'application/json' });

describe('mapKubernetesError', () => {
  it.each([
    [409, 'KubernetesConflictError', true],
    [401, 'KubernetesForbiddenError', false],
    [403, 'KubernetesForbiddenError', false],
    [404, 'KubernetesNotFoundError', false],
    [429, 'KubernetesUnavailableError', true],
    [500, 'KubernetesUnavailableError', true],
    [503, 'KubernetesUnavailableError', true],
    [504, 'KubernetesUnavailableError', true],
    [400, 'KubernetesRequestError', false],
    [410, 'KubernetesRequestError', false],
    [422, 'KubernetesRequestError', false],
  ])('ApiException %i -> %s (retryable: %s)', (code, name, retryable) => {
    const error = apiException(code, 'the server said no');
    const mapped = mapKubernetesError(error, 'read ConfigMap spinnaker/halyard-config');
    expect(mapped.name).toBe(name);
    expect(mapped.retryable).toBe(retryable);
    expect(mapped.cause).toBe(error);
  });

  it('names the context, the status and the API server message', () => {
    const mapped = mapKubernetesError(apiException(404, 'configmaps "halyard-config" not found'), 'read ConfigMap spinnaker/halyard-config');
    expect(mapped).toBeInstanceOf(KubernetesNotFoundError);
    expect(mapped.message).toBe('read ConfigMap spinnaker/halyard-config: 404 configmaps "halyard-config" not found');
  });

  it('409 says the step re-reads and retries', () => {
    const mapped = mapKubernetesError(apiException(409, 'the object has been modified'), 'update ConfigMap spinnaker/halyard-config');
    expect(mapped.message).toBe('update ConfigMap spinnaker/halyard-config: 409 the object has been modified (someone else changed it; re-reading and retrying)');
  });

  it('401 and 403 point at the EKS access entry', () => {
    const mapped = mapKubernetesError(apiException(403, 'pods "halyard-0" is forbidden'), 'exec hal in spinnaker/halyard-0');
    expect(mapped.message).toBe(
      'exec hal in spinnaker/halyard-0: 403 pods "halyard-0" is forbidden. Check the EKS access entry for the Lambda role: it needs edit rights (ConfigMaps, Deployments/scale, pods/exec) in the Spinnaker namespace.',
    );
  });

  it('reads the message from a JSON string body, and keeps a non-JSON body (cut at 300 characters)', () => {
    expect(mapKubernetesError({ code: 422, body: '{"kind":"Status","message":"spec.replicas: Invalid value: -1"}' }, 'scale').message).toBe('scale: 422 spec.replicas: Invalid value: -1');
    expect(mapKubernetesError({ code: 502, body: '<html>Bad Gateway</html>' }, 'list pods').message).toBe('list pods: 502 <html>Bad Gateway</html>');
    const long = mapKubernetesError({ code: 500, body: 'x'.repeat(1000) }, 'ctx');
    expect(long.message).toBe(`ctx: 500 ${'x'.repeat(300)}`);
    expect(mapKubernetesError({ code: 400, body: '{"kind":"Status"}' }, 'ctx').message).toBe('ctx: 400 {"kind":"Status"}');
  });

  it('falls back to the error message when there is no body', () => {
    expect(mapKubernetesError({ code: 404, message: 'HTTP-Code: 404' }, 'ctx').message).toBe('ctx: 404 HTTP-Code: 404');
  });

  it.each([
    ['ECONNREFUSED', Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' })],
    ['ETIMEDOUT', Object.assign(new Error('connect ETIMEDOUT 10.0.0.1:443'), { code: 'ETIMEDOUT' })],
    ['a fetch failure with no code', new TypeError('fetch failed')],
  ])('a network failure (%s, no HTTP status) -> KubernetesUnavailableError', (_, error) => {
    const mapped = mapKubernetesError(error, 'list Deployments in spinnaker');
    expect(mapped.name).toBe('KubernetesUnavailableError');
    expect(mapped.retryable).toBe(true);
    expect(mapped.message).toBe(`list Deployments in spinnaker: ${error.message}`);
  });

  it('a refused exec WebSocket upgrade, as lib/kubernetes/api.ts hands it over, is a 403', () => {
    // api.ts turns "Unexpected server response: 403" into { code: 403, message } before mapping.
    const mapped = mapKubernetesError({ code: 403, message: 'Unexpected server response: 403' }, 'exec hal in spinnaker/halyard-0');
    expect(mapped.name).toBe('KubernetesForbiddenError');
    expect(mapped.message).toMatch(/^exec hal in spinnaker\/halyard-0: 403 Unexpected server response: 403\. Check the EKS access entry/);
  });

  it('passes our own errors through untouched', () => {
    const ours = new PodExecError('exec failed');
    expect(mapKubernetesError(ours, 'ctx')).toBe(ours);
  });
});

describe('kubeCall', () => {
  it('returns what the call returns, and throws the mapped error', async () => {
    await expect(kubeCall('ctx', async () => 'ok')).resolves.toBe('ok');
    const call = kubeCall('update ConfigMap spinnaker/halyard-config', async () => {
      throw apiException(409, 'the object has been modified');
    });
    await expect(call).rejects.toBeInstanceOf(MigrationError);
    await expect(call).rejects.toMatchObject({ name: 'KubernetesConflictError' });
  });
});
