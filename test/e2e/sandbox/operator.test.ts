/**
 * An operator install end to end: the Kubernetes emulator serves the SpinnakerService CRD, the
 * simulated operator reconciles it, the workflow patches it (merge patch, resourceVersion
 * precondition) and waits for the operator; kubectl sees the result as a user would.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { parseMigrationInput } from '../../../lib/config/schema.js';
import { clusterApiFor } from '../../../lib/kubernetes/default-api.js';
import { authorized, rolesIn } from '../../../sandbox/kubernetes/rbac.js';
import type { ExecutionResult } from '../../../sandbox/runner.js';
import type { SandboxWorld } from '../../../sandbox/world.js';
import { leakedSecrets, rehearse } from '../../support/sandbox.js';

const run = promisify(execFile);
const has = async (cmd: string) =>
  run('sh', ['-c', `command -v ${cmd}`]).then(
    () => true,
    () => false,
  );

describe('the operator flavour', () => {
  let world: SandboxWorld;
  let result: ExecutionResult;
  beforeAll(async () => {
    ({ world, result } = await rehearse({ keys: 1000, flavor: 'operator', auth: true }));
  }, 120_000);
  afterAll(async () => world?.close());

  it('migrates with no Halyard pod and no ConfigMap, every connecting service on the group with the token from the URL secret', async () => {
    expect(result.status).toBe('SUCCEEDED');
    expect((result.output as { lock?: { flavor?: string } }).lock?.flavor).toBe('operator');
    expect(world.kubernetes.store.get('ConfigMap', 'spinnaker', 'halyard-config')).toBeUndefined();
    expect(world.kubernetes.store.list('Pod', 'spinnaker', 'app=halyard')).toEqual([]);
    const snapshot = await world.snapshot();
    const connecting = snapshot.services.filter((s) => s.redis !== undefined);
    expect(connecting.map((s) => s.name).sort()).toEqual(['spin-clouddriver', 'spin-echo', 'spin-fiat', 'spin-gate', 'spin-igor', 'spin-orca', 'spin-rosco']);
    expect(connecting.every((s) => s.redis === snapshot.halyard.overrideBaseUrl && s.authenticated)).toBe(true);
    expect(leakedSecrets(world, result.output, result.history, snapshot.spinnakerService)).toEqual([]);
  });

  it('kubectl get spinsvc -o yaml shows the patched config, its status OK and no secret value', async () => {
    if (!(await has('kubectl'))) return console.warn('skipped: kubectl is not installed');
    const kubectl = (...args: string[]) => run('kubectl', ['--kubeconfig', world.endpoints.kubeconfig, '-n', 'spinnaker', ...args]);
    const { stdout: table } = await kubectl('get', 'spinsvc');
    expect(table).toMatch(/^spinnaker\s+1\.35\.0\s+\S+\s+OK\s+9\s+/m);
    const { stdout } = await kubectl('get', 'spinsvc', 'spinnaker', '-o', 'yaml');
    const cr = parse(stdout) as {
      metadata: { annotations?: Record<string, string> };
      spec: { spinnakerConfig: { 'service-settings': { redis: Record<string, unknown> }; profiles: Record<string, { redis?: { connection?: string } }> } };
      status: { status: string };
    };
    expect(cr.spec.spinnakerConfig['service-settings'].redis).toEqual({ overrideBaseUrl: snapshotUrl(world), skipLifeCycleManagement: true });
    for (const svc of ['orca', 'gate', 'clouddriver', 'igor', 'fiat', 'echo', 'rosco', 'kayenta'])
      expect(cr.spec.spinnakerConfig.profiles[svc]?.redis?.connection).toBe('encrypted:secrets-manager!r:us-east-1!s:spin-elasticache/spinnaker-redis/redis-url');
    expect(cr.status.status).toBe('OK');
    expect(Object.keys(cr.metadata.annotations ?? {}).filter((k) => k.startsWith('spin-elasticache.io/'))).toEqual([]);
    expect(leakedSecrets(world, stdout)).toEqual([]);
    const { stdout: events } = await kubectl('get', 'events', '--field-selector', 'involvedObject.kind=SpinnakerService');
    expect(events).toMatch(/DeploySuccess/);
  }, 30_000);

  it('refuses a strategic merge patch with 415, as the API server does for custom resources', async () => {
    if (!(await has('kubectl'))) return console.warn('skipped: kubectl is not installed');
    const refused = await run('kubectl', [
      '--kubeconfig',
      world.endpoints.kubeconfig,
      '-n',
      'spinnaker',
      'patch',
      'spinsvc',
      'spinnaker',
      '--type',
      'strategic',
      '-p',
      '{"metadata":{"labels":{"x":"y"}}}',
    ]).catch((error: { stderr?: string }) => error);
    expect(String((refused as { stderr?: string }).stderr)).toMatch(/unknown format|UnsupportedMediaType|415/i);
  }, 30_000);

  it('answers a merge patch with a stale resourceVersion with 409, which the workflow names KubernetesConflictError (retried)', async () => {
    const api = clusterApiFor(parseMigrationInput(world.input));
    const [cr] = await api.listSpinnakerServices('spinnaker', 'spinnaker.io');
    expect(await api.listSpinnakerServices('spinnaker', 'spinnaker.armory.io')).toEqual([]);
    const stale = String(Number(cr!.metadata!.resourceVersion) - 1);
    await expect(api.patchSpinnakerService('spinnaker', 'spinnaker', 'spinnaker.io', { metadata: { resourceVersion: stale, labels: { x: 'y' } } }, 'merge')).rejects.toMatchObject({
      name: 'KubernetesConflictError',
    });
  }, 30_000);
});

describe('the RBAC for operator installs (deploy/kubernetes-rbac.yaml, enforced by the emulator)', () => {
  it('allows reading and patching SpinnakerServices in both API groups and listing Events, and nothing more', () => {
    const rules = rolesIn();
    for (const apiGroup of ['spinnaker.io', 'spinnaker.armory.io'])
      for (const verb of ['get', 'list', 'patch']) expect({ apiGroup, verb, ok: authorized(rules, { verb, apiGroup, resource: 'spinnakerservices' }) }).toEqual({ apiGroup, verb, ok: true });
    expect(authorized(rules, { verb: 'list', apiGroup: '', resource: 'events' })).toBe(true);
    expect(authorized(rules, { verb: 'delete', apiGroup: 'spinnaker.io', resource: 'spinnakerservices' })).toBe(false);
    expect(authorized(rules, { verb: 'update', apiGroup: 'spinnaker.io', resource: 'spinnakerservices' })).toBe(false);
    expect(authorized(rules, { verb: 'patch', apiGroup: 'spinnaker.io', resource: 'spinnakerservices/status' })).toBe(false);
    expect(authorized(rules, { verb: 'create', apiGroup: '', resource: 'events' })).toBe(false);
  });
});

function snapshotUrl(world: SandboxWorld): string {
  const primary = world.elastiCache.nodes('spinnaker-redis').find((n) => n.role === 'primary');
  return `rediss://${new URL(primary!.process.url).host}`;
}
