/**
 * Kubernetes RBAC in the emulator: the Lambdas' EKS identity is authorized against the Roles
 * shipped in deploy/kubernetes-rbac.yaml (the sandbox has one identity for every function, so
 * it holds the union of the writer and reader Roles; which function gets which Role is checked
 * statically against the packaged template in test/e2e/package/iam.test.ts, KUBERNETES_WRITERS). A call outside them is 403 Forbidden, as
 * on EKS, so the rehearsal and the fault matrix prove the Roles are enough.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export interface RbacRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export const RBAC_MANIFEST = fileURLToPath(new URL('../../deploy/kubernetes-rbac.yaml', import.meta.url));

/** The rules of every Role in the manifest. */
export function rolesIn(file = RBAC_MANIFEST): RbacRule[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as { kind?: string; rules?: RbacRule[] } | null)
    .filter((d) => d?.kind === 'Role')
    .flatMap((d) => d?.rules ?? []);
}

export interface RbacRequest {
  verb: string;
  /** '' for the core group. */
  apiGroup: string;
  /** With the subresource: `deployments/scale`, `pods/exec`. */
  resource: string;
  name?: string;
}

/**
 * Follows Kubernetes' RBAC rule matching (kubernetes/pkg/apis/rbac/v1/evaluation_helpers.go,
 * RuleAllows: VerbMatches, APIGroupMatches, ResourceMatches with `resource/subresource`,
 * ResourceNameMatches). A rule with resourceNames never allows a request without a name
 * (list, watch, create), as on a real API server.
 */
export function authorized(rules: readonly RbacRule[], request: RbacRequest): boolean {
  return rules.some(
    (r) =>
      (r.apiGroups.includes(request.apiGroup) || r.apiGroups.includes('*')) &&
      (r.resources.includes(request.resource) || r.resources.includes('*')) &&
      (r.verbs.includes(request.verb) || r.verbs.includes('*')) &&
      (!r.resourceNames || r.resourceNames.length === 0 || (request.name !== undefined && r.resourceNames.includes(request.name))),
  );
}
