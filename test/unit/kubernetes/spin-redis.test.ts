/** Reaching spin-redis: its pod, its password from a Kubernetes Secret (never in errors), its container's resources. */
import { describe, expect, it } from '@jest/globals';
import { parseMigrationInput } from '../../../lib/config/schema.js';
import type { ClusterApi, Pod, Secret } from '../../../lib/kubernetes/api.js';
import { readSourceContainer, resolveSourceEndpoint } from '../../../lib/kubernetes/spin-redis.js';
import { mapKubernetesError } from '../../../lib/kubernetes/errors.js';

const PASSWORD = 'bitnami-Pa55word';
const pod: Pod = {
  metadata: { name: 'spin-redis-7d9f-abcde' },
  spec: { containers: [{ name: 'redis', ports: [{ containerPort: 6379 }], resources: { limits: { memory: '1Gi' } } }] },
  status: { phase: 'Running', podIP: '10.1.2.3', conditions: [{ type: 'Ready', status: 'True' }] },
};

function api(secrets: Record<string, Secret> = {}, pods: Pod[] = [pod]): Pick<ClusterApi, 'readWorkload' | 'listPods' | 'readSecret'> {
  return {
    readWorkload: async () => ({ spec: { selector: { matchLabels: { app: 'spin', cluster: 'spin-redis' } }, template: {} } }),
    listPods: async () => pods,
    readSecret: async (_ns, name) => {
      const secret = secrets[name];
      if (!secret) throw mapKubernetesError({ code: 404, body: { message: `secrets "${name}" not found` } }, `read Secret spinnaker/${name}`);
      return secret;
    },
  };
}

const input = (spinRedis: Record<string, unknown>) => parseMigrationInput({ cluster: { name: 'prod', region: 'us-east-1' }, spinnaker: { spinRedis }, target: { replicationGroupId: 'spin' } });

describe('resolveSourceEndpoint', () => {
  it('takes the password from the Secret the input names (base64 data, as the API returns it)', async () => {
    const config = input({ passwordSecret: { name: 'spinnaker-redis', key: 'redis-password' } });
    const endpoint = await resolveSourceEndpoint(config, api({ 'spinnaker-redis': { data: { 'redis-password': Buffer.from(PASSWORD).toString('base64') } } }));
    expect(endpoint).toEqual({ url: 'redis://10.1.2.3:6379', password: PASSWORD });
  });

  it('with a configured URL too', async () => {
    const config = input({ url: 'redis://spin-redis.spinnaker:6379', passwordSecret: { name: 'spinnaker-redis', key: 'redis-password' } });
    const endpoint = await resolveSourceEndpoint(config, api({ 'spinnaker-redis': { data: { 'redis-password': Buffer.from(PASSWORD).toString('base64') } } }));
    expect(endpoint).toEqual({ url: 'redis://spin-redis.spinnaker:6379', password: PASSWORD });
  });

  it('names the Secret and key, never a value, when the key is missing or the Secret is not there', async () => {
    const config = input({ passwordSecret: { name: 'spinnaker-redis', key: 'redis-password' } });
    await expect(resolveSourceEndpoint(config, api({ 'spinnaker-redis': { data: { other: Buffer.from(PASSWORD).toString('base64') } } }))).rejects.toMatchObject({
      name: 'RedisAuthError',
      message: "Secret spinnaker/spinnaker-redis has no key 'redis-password' (spinnaker.spinRedis.passwordSecret)",
    });
    await expect(resolveSourceEndpoint(config, api())).rejects.toMatchObject({ name: 'KubernetesNotFoundError' });
  });

  it('refuses a password in the input itself', () => {
    expect(() => input({ password: PASSWORD })).toThrow(/never put a secret in the input/);
    expect(() => input({ url: `redis://:${PASSWORD}@10.0.0.1:6379` })).toThrow(/no user, password/);
  });
});

describe('readSourceContainer', () => {
  it("gives the Redis container's memory limit", async () => {
    expect(await readSourceContainer(input({}), api())).toEqual({ container: { pod: 'spin-redis-7d9f-abcde', container: 'redis', memoryLimitBytes: 1024 ** 3, mounts: [] } });
  });
  it('is unknown (so nothing forks) when no Ready pod can be read', async () => {
    expect(await readSourceContainer(input({}), api({}, []))).toEqual({ unknown: expect.stringMatching(/^RedisUnreachableError: No Ready spin-redis pod/) });
  });
});

describe("a RedisFailover's sentinels", () => {
  it("are looked up by the operator's labels, and none Running is a transient RedisFailoverError naming the selector", async () => {
    const selectors: string[] = [];
    const failover = input({ sentinel: { redisFailover: 'spin-redis' } });
    const pending: Pod = { metadata: { name: 'rfs-spin-redis-1' }, status: { phase: 'Pending' } };
    const cluster = { ...api(), listPods: async (_ns: string, selector: string) => (selectors.push(selector), [pending]) };
    await expect(resolveSourceEndpoint(failover, cluster)).rejects.toMatchObject({
      name: 'RedisFailoverError',
      retryable: true,
      message: expect.stringContaining('No Running sentinel pod of RedisFailover spinnaker/spin-redis'),
    });
    expect(selectors).toEqual(['app.kubernetes.io/name=spin-redis,app.kubernetes.io/component=sentinel,app.kubernetes.io/part-of=redis-failover']);
  });
});
