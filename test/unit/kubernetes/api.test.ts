/**
 * The exec half of createClusterApi, with client-node's Exec replaced: how a refused WebSocket
 * upgrade, a lost connection and hal's exit status come back. No network: Exec never connects.
 */
import { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { V1Status } from '@kubernetes/client-node';

type ExecCall = (
  namespace: string,
  pod: string,
  container: string,
  command: string[],
  stdout: Writable,
  stderr: Writable,
  stdin: unknown,
  tty: boolean,
  status: (s: V1Status) => void,
) => Promise<EventEmitter>;
let execBehaviour: ExecCall = () => Promise.reject(new Error('not set'));

const actual = await import('@kubernetes/client-node');
jest.unstable_mockModule('@kubernetes/client-node', () => ({
  ...actual,
  Exec: class {
    exec(...args: Parameters<ExecCall>) {
      return execBehaviour(...args);
    }
  },
}));
const { createClusterApi, exitCodeOf } = await import('../../../lib/kubernetes/api.js');

const eks = {
  send: async () => ({
    cluster: {
      name: 'spinnaker',
      status: 'ACTIVE',
      endpoint: 'https://eks.invalid',
      certificateAuthority: { data: Buffer.from('not a real CA').toString('base64') },
      resourcesVpcConfig: { vpcId: 'vpc-1', subnetIds: ['subnet-1'] },
    },
  }),
};

/** A WebSocket stand-in that reports `status` (if any) and closes, after writing `stdout`. */
function finishes(status: V1Status | undefined, stdout = ''): ExecCall {
  return async (_ns, _pod, _container, _command, out, _err, _stdin, _tty, onStatus) => {
    const ws = new EventEmitter();
    setImmediate(() => {
      if (stdout) out.write(Buffer.from(stdout));
      if (status) onStatus(status);
      ws.emit('close');
    });
    return ws;
  };
}

/** Exec refused before any WebSocket opened (the upgrade answered with an HTTP status, or no connection). */
function refused(message: string): ExecCall {
  return () => Promise.reject(new Error(message));
}

describe('ClusterApi.exec', () => {
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  beforeAll(() => {
    // The EKS token is presigned from environment credentials, never fetched.
    process.env.AWS_ACCESS_KEY_ID = 'AKIAEXAMPLE000000001';
    process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  });
  afterAll(() => {
    for (const [name, value] of [
      ['AWS_ACCESS_KEY_ID', saved.id],
      ['AWS_SECRET_ACCESS_KEY', saved.secret],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  const api = () => createClusterApi({ clusterName: 'spinnaker', region: 'us-east-1', eks: () => eks as never });

  it('a refused upgrade "Unexpected server response: 403" -> KubernetesForbiddenError', async () => {
    execBehaviour = refused('Unexpected server response: 403');
    await expect(api().exec('spinnaker', 'halyard-0', 'halyard', ['hal', 'deploy', 'apply'])).rejects.toMatchObject({
      name: 'KubernetesForbiddenError',
      message: expect.stringMatching(/^exec hal in spinnaker\/halyard-0: 403 Unexpected server response: 403\. Check the EKS access entry/),
    });
  });

  it('"Unexpected server response: 503" -> KubernetesUnavailableError (retried)', async () => {
    execBehaviour = refused('Unexpected server response: 503');
    await expect(api().exec('spinnaker', 'halyard-0', 'halyard', ['cat', '/x'])).rejects.toMatchObject({ name: 'KubernetesUnavailableError', retryable: true });
  });

  it('a network failure before the upgrade -> KubernetesUnavailableError', async () => {
    execBehaviour = refused('connect ECONNREFUSED 10.0.0.1:443');
    await expect(api().exec('spinnaker', 'halyard-0', 'halyard', ['cat', '/x'])).rejects.toMatchObject({
      name: 'KubernetesUnavailableError',
      message: 'exec cat in spinnaker/halyard-0: connect ECONNREFUSED 10.0.0.1:443',
    });
  });

  it('any other refused status -> PodExecError naming it', async () => {
    execBehaviour = refused('Unexpected server response: 404');
    await expect(api().exec('spinnaker', 'halyard-0', 'halyard', ['cat', '/x'])).rejects.toMatchObject({
      name: 'PodExecError',
      message: 'exec cat in spinnaker/halyard-0: 404 Unexpected server response: 404',
    });
  });

  it('a connection that closes without an exit status -> PodExecError', async () => {
    execBehaviour = finishes(undefined);
    await expect(api().exec('spinnaker', 'halyard-0', 'halyard', ['hal', 'deploy', 'apply'])).rejects.toMatchObject({
      name: 'PodExecError',
      message: 'exec hal in spinnaker/halyard-0: the connection closed without an exit status',
    });
  });

  it('returns stdout and the exit code from the status', async () => {
    execBehaviour = finishes({ status: 'Success' }, 'Deploy succeeded\n');
    await expect(api().exec('spinnaker', 'halyard-0', 'halyard', ['hal', 'deploy', 'apply'])).resolves.toEqual({ exitCode: 0, stdout: 'Deploy succeeded\n', stderr: '' });
    execBehaviour = finishes({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '2' }] } });
    await expect(api().exec('spinnaker', 'halyard-0', 'halyard', ['cat', '/missing'])).resolves.toMatchObject({ exitCode: 2 });
  });
});

describe('exitCodeOf', () => {
  it.each<[string, number, V1Status]>([
    ['Success', 0, { status: 'Success' }],
    ['the ExitCode cause', 127, { status: 'Failure', details: { causes: [{ reason: 'ExitCode', message: '127' }] } }],
    ['a failure without an ExitCode cause', 1, { status: 'Failure', message: 'command terminated' }],
    ['a non-numeric ExitCode', 1, { status: 'Failure', details: { causes: [{ reason: 'ExitCode', message: 'x' }] } }],
  ])('%s -> %i', (_, code, status) => {
    expect(exitCodeOf(status)).toBe(code);
  });
});
