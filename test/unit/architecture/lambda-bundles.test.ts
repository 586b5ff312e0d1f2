/**
 * Each function's bundle, built as serverless-esbuild ships it (bench/lambda-bundle.ts), stays
 * small: what a function carries is paid on every cold start. Functions that never talk to
 * Kubernetes carry no Kubernetes client and stay under 1 MB minified. The others carry
 * @kubernetes/client-node (every API group plus undici: 1.9 MB by itself; the house keeps the
 * maintained client over one of our own, so issue 13's 2 MB goal is not met) and stay under 4 MB,
 * a guard against anything else creeping in (they measure 2.9–3.5 MB).
 */
import { describe, expect, it } from '@jest/globals';
import { bundleAll, readServerless } from '../../../bench/lambda-bundle.js';

/** The functions whose work never reaches the Kubernetes API (AWS APIs, Redis, Slack only). */
const WITHOUT_KUBERNETES = [
  'validateInput',
  'ensureParameterGroup',
  'ensureSubnetGroup',
  'ensureReplicationGroup',
  'describeReplicationGroup',
  'cleanupCreatedResources',
  'notifyOutcome',
  'pingRedis',
  'slackCommand',
];
const MB = 1_000_000;

describe('Lambda bundles', () => {
  const sls = readServerless();

  it('every function in the list exists in serverless.yml', () => {
    expect(WITHOUT_KUBERNETES.filter((name) => !sls.functions[name])).toEqual([]);
  });

  it('carry a Kubernetes client only where Kubernetes is called, and stay under their size budget', async () => {
    const bundles = await bundleAll(sls.functions, sls.custom.esbuild);
    expect(Object.keys(bundles).sort()).toEqual(Object.keys(sls.functions).sort());
    const problems = Object.entries(bundles).flatMap(([name, { bytes, inputs, kubernetesClient }]) => {
      const out: string[] = [];
      const withoutKubernetes = WITHOUT_KUBERNETES.includes(name);
      if (withoutKubernetes && kubernetesClient)
        out.push(
          `${name} carries a Kubernetes client (${inputs
            .filter((i) => i.includes('kubernetes'))
            .slice(0, 3)
            .join(', ')})`,
        );
      const budget = withoutKubernetes ? 1 * MB : 4 * MB;
      if (bytes > budget) out.push(`${name} is ${(bytes / MB).toFixed(2)} MB minified, over ${budget / MB} MB`);
      return out;
    });
    expect(problems).toEqual([]);
    // esbuild bundles every function: a minute on a quiet machine, more on a loaded one.
  }, 300_000);
});
