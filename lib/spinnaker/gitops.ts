/**
 * Is the object that holds Spinnaker's config (the Halyard ConfigMap, the SpinnakerService)
 * managed by Argo CD or Flux? Then our change would be reverted by their next sync (Flux every
 * interval; Argo CD when self-heal is on, which is not visible on the object), so the migration
 * is refused before anything is created and the user commits the change instead.
 *
 * Markers (docs/SPINNAKER-INSTALLS.md §6):
 * - Argo CD: the annotation `argocd.argoproj.io/tracking-id` (annotation tracking, default in 3.x),
 *   any other `argocd.argoproj.io/*` label or annotation (a custom instance label key such as
 *   `argocd.argoproj.io/instance`), or a `managedFields` manager `argocd-controller`. The label
 *   `app.kubernetes.io/instance` alone is no proof (Helm and Bitnami set it too) and is ignored.
 * - Flux: the labels `kustomize.toolkit.fluxcd.io/name`/`namespace` (kustomize-controller) and
 *   `helm.toolkit.fluxcd.io/name`/`namespace` (helm-controller), or a `managedFields` manager
 *   `kustomize-controller`/`helm-controller`. `kustomize.toolkit.fluxcd.io/reconcile: disabled`
 *   stops kustomize-controller from applying it (fluxcd/kustomize-controller 0.17.0): not managed.
 */

export interface ObjectMeta {
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
  managedFields?: { manager?: string | undefined }[] | undefined;
}

export interface GitOpsManagement {
  /** `OpsMx Halyard GitOps`: the OpsMx chart's `halyard.gitops.enabled`, where the Halyard pod takes ~/.hal from git or S3 (lib/spinnaker/helm.ts). */
  tool: 'Argo CD' | 'Flux' | 'OpsMx Halyard GitOps';
  /** The label, annotation or manager found, as `label key=value`. */
  markers: string[];
}

const ARGO_MANAGERS = new Set(['argocd-controller', 'argocd-application-controller']);
const FLUX_MANAGERS = new Set(['kustomize-controller', 'helm-controller']);
const FLUX_KEYS = ['kustomize.toolkit.fluxcd.io/name', 'kustomize.toolkit.fluxcd.io/namespace', 'helm.toolkit.fluxcd.io/name', 'helm.toolkit.fluxcd.io/namespace'];

/** The GitOps tools that manage an object, from its metadata; empty when none. */
export function gitOpsManagement(metadata: ObjectMeta | undefined): GitOpsManagement[] {
  const labels = metadata?.labels ?? {};
  const annotations = metadata?.annotations ?? {};
  const managers = (metadata?.managedFields ?? []).map((f) => f.manager ?? '');
  const found: GitOpsManagement[] = [];

  const argo = [
    ...Object.entries(annotations)
      .filter(([k]) => k.startsWith('argocd.argoproj.io/') && k !== 'argocd.argoproj.io/compare-options' && k !== 'argocd.argoproj.io/sync-options')
      .map(([k, v]) => `annotation ${k}=${v}`),
    ...Object.entries(labels)
      .filter(([k]) => k.startsWith('argocd.argoproj.io/'))
      .map(([k, v]) => `label ${k}=${v}`),
    ...managers.filter((m) => ARGO_MANAGERS.has(m)).map((m) => `managedFields manager ${m}`),
  ];
  if (argo.length > 0) found.push({ tool: 'Argo CD', markers: argo });

  const kustomizeDisabled = annotations['kustomize.toolkit.fluxcd.io/reconcile'] === 'disabled';
  const flux = [
    ...FLUX_KEYS.filter((k) => labels[k] !== undefined && !(kustomizeDisabled && k.startsWith('kustomize.'))).map((k) => `label ${k}=${labels[k]}`),
    ...managers.filter((m) => FLUX_MANAGERS.has(m) && !(kustomizeDisabled && m === 'kustomize-controller')).map((m) => `managedFields manager ${m}`),
  ];
  if (flux.length > 0) found.push({ tool: 'Flux', markers: flux });
  return found;
}

/** One sentence for the plan and the refusal. */
export function describeGitOps(holder: string, found: GitOpsManagement[]): string {
  return `${holder} is managed by ${found.map((f) => `${f.tool} (${f.markers.join(', ')})`).join(' and ')}: a change made in the cluster would be reverted by the next sync.`;
}
