/** GitOps markers on the config's holder, and the SpinnakerService patch as pure functions. */
import { describe, expect, it } from '@jest/globals';
import { gitOpsManagement } from '../../../lib/spinnaker/gitops.js';
import { mergePatchBetween, patchSpinnakerConfig } from '../../../lib/spinnaker/operator.js';

describe('GitOps markers', () => {
  it('finds Argo CD by its tracking annotation, a custom instance label or its field manager', () => {
    expect(gitOpsManagement({ annotations: { 'argocd.argoproj.io/tracking-id': 'spin:/ConfigMap:spinnaker/halyard-config' } })).toEqual([
      { tool: 'Argo CD', markers: ['annotation argocd.argoproj.io/tracking-id=spin:/ConfigMap:spinnaker/halyard-config'] },
    ]);
    expect(gitOpsManagement({ labels: { 'argocd.argoproj.io/instance': 'spinnaker' } })[0]?.tool).toBe('Argo CD');
    expect(gitOpsManagement({ managedFields: [{ manager: 'argocd-controller' }] })[0]?.tool).toBe('Argo CD');
  });

  it('finds Flux by the kustomize- and helm-controller labels, unless kustomize reconciliation is disabled', () => {
    expect(gitOpsManagement({ labels: { 'kustomize.toolkit.fluxcd.io/name': 'spinnaker', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' } })[0]?.markers).toHaveLength(2);
    expect(gitOpsManagement({ labels: { 'helm.toolkit.fluxcd.io/name': 'spinnaker' } })[0]?.tool).toBe('Flux');
    expect(gitOpsManagement({ labels: { 'kustomize.toolkit.fluxcd.io/name': 'spinnaker' }, annotations: { 'kustomize.toolkit.fluxcd.io/reconcile': 'disabled' } })).toEqual([]);
  });

  it('does not take app.kubernetes.io/instance, Helm or Halyard labels for GitOps', () => {
    expect(
      gitOpsManagement({
        labels: { 'app.kubernetes.io/instance': 'spinnaker', 'app.kubernetes.io/managed-by': 'Helm', app: 'halyard' },
        annotations: { 'meta.helm.sh/release-name': 'spinnaker', 'argocd.argoproj.io/compare-options': 'IgnoreExtraneous' },
        managedFields: [{ manager: 'kubectl-client-side-apply' }, { manager: 'helm' }],
      }),
    ).toEqual([]);
  });
});

describe('the SpinnakerService patch', () => {
  const target = { baseUrl: 'rediss://master.example:6379', connection: 'encrypted:secrets-manager!r:us-east-1!s:spin-elasticache/x/redis-url', plaintext: false };
  const before = { config: { version: '1.35.0' }, profiles: { gate: { server: { port: 8084 } } }, 'service-settings': { redis: { skipLifeCycleManagement: false } } };

  it('sets what the Halyard patch sets, as objects, and leaves everything else alone', () => {
    const after = patchSpinnakerConfig(before, target);
    expect(after['service-settings']).toEqual({ redis: { skipLifeCycleManagement: true, overrideBaseUrl: target.baseUrl } });
    expect((after.profiles as Record<string, unknown>).gate).toEqual({ server: { port: 8084 }, redis: { connection: target.connection, configuration: { secure: true } } });
    expect(Object.keys(after.profiles as object).sort()).toEqual(['clouddriver', 'echo', 'fiat', 'gate', 'igor', 'kayenta', 'orca', 'rosco']);
    expect(after.config).toEqual(before.config);
    expect(JSON.stringify(after)).not.toContain('enabled');
    expect(before['service-settings'].redis.skipLifeCycleManagement).toBe(false); // not mutated
  });

  it('is one merge patch holding only the changes, idempotent on patched content', () => {
    const after = patchSpinnakerConfig(before, target);
    const patch = mergePatchBetween(before, after) as Record<string, unknown>;
    expect(Object.keys(patch).sort()).toEqual(['profiles', 'service-settings']);
    expect((patch.profiles as Record<string, unknown>).gate).toEqual({ redis: { connection: target.connection, configuration: { secure: true } } });
    expect(mergePatchBetween(after, patchSpinnakerConfig(after, target))).toEqual({});
  });

  it('sets a dotted spelling of the same property too (Spring reads redis.connection: x as redis: {connection: x}, and Go sorts it after redis)', () => {
    const dotted = { profiles: { orca: { 'redis.connection': 'redis://spin-redis:6379' }, gate: { redis: { 'configuration.secure': false, timeout: 1 } } } };
    const after = patchSpinnakerConfig(dotted, target).profiles as Record<string, Record<string, unknown>>;
    expect(after.orca).toEqual({ 'redis.connection': target.connection, redis: { connection: target.connection } });
    expect(after.gate).toEqual({ redis: { 'configuration.secure': true, timeout: 1, connection: target.connection, configuration: { secure: true } } });
    expect(() => patchSpinnakerConfig({ profiles: { orca: { 'redis.connection': { host: 'x' } } } }, target)).toThrow(
      expect.objectContaining({ name: 'SpinnakerConfigRejectedError', message: expect.stringContaining('profiles.orca.redis.connection (Spring reads it as redis.connection)') }),
    );
  });

  it('refuses a profile that is not an object', () => {
    expect(() => patchSpinnakerConfig({ profiles: { orca: 'redis: {}' } }, target)).toThrow(expect.objectContaining({ name: 'SpinnakerConfigRejectedError' }));
  });
});
