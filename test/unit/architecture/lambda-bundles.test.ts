/**
 * Each function's bundle, built as serverless-esbuild ships it (bench/lambda-bundle.ts), stays
 * small: what a function carries is paid on every cold start, and the Kubernetes client is
 * evaluated on the first Kubernetes call, not at import. Functions that never talk to
 * Kubernetes carry no Kubernetes client and stay under 1 MB minified. The others carry
 * @kubernetes/client-node, bundled with deploy/esbuild-plugins.cjs (only the operations, models
 * and parts of undici our calls reach), and stay under 2 MB (issue 13's goal; they measure
 * 1.4–1.96 MB).
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleAll, KUBERNETES_CLIENT_INPUTS, readServerless, root } from '../../../bench/lambda-bundle.js';

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

  it('lib/kubernetes/api.ts calls the client-node API classes only as `core.x(`, `apps.x(`, `custom.x(` (the operations deploy/esbuild-plugins.cjs keeps)', () => {
    const source = readFileSync(join(root, 'lib/kubernetes/api.ts'), 'utf8');
    // Each use is a call, the destructuring of clients(), or where the client is made.
    const other = [...source.matchAll(/\b(core|apps|custom)\b(\.\w+\()?(.{0,30})/g)]
      .filter(([, , call]) => !call)
      .map(([, name, , after]) => `${name}${after}`)
      .filter((use) => !/^\w+ \} = await clients\(\)/.test(use) && !/^\w+: kc\.makeApiClient\(/.test(use) && !/^\w+: (CoreV1Api|AppsV1Api|CustomObjectsApi);/.test(use));
    expect(other).toEqual([]);
  });

  it('carry a Kubernetes client only where Kubernetes is called, and stay under their size budget', async () => {
    const bundles = await bundleAll(sls.functions, sls.custom.esbuild);
    expect(Object.keys(bundles).sort()).toEqual(Object.keys(sls.functions).sort());
    const problems = Object.entries(bundles).flatMap(([name, { bytes, inputs, kubernetesClient, evaluatedAtImport }]) => {
      const out: string[] = [];
      // The client is loaded with import() on the first Kubernetes call (lib/kubernetes/default-api.ts);
      // a value imported from lib/kubernetes/api.ts anywhere else would evaluate it at every cold start.
      const eager = evaluatedAtImport.filter((i) => KUBERNETES_CLIENT_INPUTS.some((k) => i.includes(k)));
      if (eager.length) out.push(`${name} evaluates ${eager.slice(0, 2).join(', ')} at import`);
      const withoutKubernetes = WITHOUT_KUBERNETES.includes(name);
      if (withoutKubernetes && kubernetesClient)
        out.push(
          `${name} carries a Kubernetes client (${inputs
            .filter((i) => i.includes('kubernetes'))
            .slice(0, 3)
            .join(', ')})`,
        );
      const budget = withoutKubernetes ? 1 * MB : 2 * MB;
      if (bytes > budget) out.push(`${name} is ${(bytes / MB).toFixed(2)} MB minified, over ${budget / MB} MB`);
      return out;
    });
    expect(problems).toEqual([]);
    // esbuild bundles every function: a minute on a quiet machine, more on a loaded one.
  }, 300_000);
});
