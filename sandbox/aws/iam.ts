/**
 * IAM (query protocol, XML): SimulatePrincipalPolicy over the identity policies the emulator
 * holds per role. Evaluation follows IAM's policy evaluation logic (AWS IAM User Guide,
 * "Policy evaluation logic"): an explicit Deny wins, else an Allow whose Action and Resource
 * match (`*` and `?` wildcards, case-insensitive actions), else `implicitDeny`. Conditions are
 * not evaluated (a statement with a Condition is reported as not matching, as the simulator
 * does when the context keys are missing). `allows()` is the same check for the sandbox's pods.
 */
import { AwsFault, FaultInjector, list, type Listening, listen, parseForm, sendXml, sendXmlError } from './http.js';

export interface PolicyStatement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: unknown;
}

export interface IamEmulator extends Listening {
  /** The role's identity policy (replaces what it had). */
  setRolePolicy(roleArn: string, statements: PolicyStatement[]): void;
  /** The decision IAM would give (`allowed`, `explicitDeny`, `implicitDeny`). */
  decide(roleArn: string, action: string, resource: string): 'allowed' | 'explicitDeny' | 'implicitDeny';
  faults: FaultInjector;
}

const wildcard = (pattern: string, caseInsensitive: boolean) =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    caseInsensitive ? 'i' : '',
  );
const asList = (v: string | string[]) => (Array.isArray(v) ? v : [v]);

export async function startIamEmulator(): Promise<IamEmulator> {
  const policies = new Map<string, PolicyStatement[]>();
  const faults = new FaultInjector();
  const decide: IamEmulator['decide'] = (roleArn, action, resource) => {
    const matching = (policies.get(roleArn) ?? []).filter(
      (s) => s.Condition === undefined && asList(s.Action).some((a) => wildcard(a, true).test(action)) && asList(s.Resource).some((r) => wildcard(r, false).test(resource)),
    );
    if (matching.some((s) => s.Effect === 'Deny')) return 'explicitDeny';
    return matching.some((s) => s.Effect === 'Allow') ? 'allowed' : 'implicitDeny';
  };
  const ns = 'https://iam.amazonaws.com/doc/2010-05-08/';
  const server = await listen(async (req, body, res) => {
    const p = parseForm(body, req.url);
    const action = p.get('Action') ?? '';
    try {
      const injected = faults.take(action);
      if (injected) throw injected;
      if (action !== 'SimulatePrincipalPolicy') throw new AwsFault('InvalidAction', `Unsupported action ${action}`);
      const source = p.get('PolicySourceArn') ?? '';
      if (!policies.has(source)) throw new AwsFault('NoSuchEntity', `The role with name ${source.split('/').pop()} cannot be found.`, 404);
      const actions = list(p, 'ActionNames');
      const resources = list(p, 'ResourceArns');
      const results = actions.flatMap((a) => (resources.length ? resources : ['*']).map((r) => ({ EvalActionName: a, EvalResourceName: r, EvalDecision: decide(source, a, r) })));
      sendXml(res, action, ns, { EvaluationResults: results, IsTruncated: false });
    } catch (error) {
      sendXmlError(res, error instanceof AwsFault ? error : new AwsFault('ServiceFailure', String(error), 500, 'Receiver'));
    }
  });
  return { ...server, faults, decide, setRolePolicy: (roleArn, statements) => void policies.set(roleArn, statements) };
}
