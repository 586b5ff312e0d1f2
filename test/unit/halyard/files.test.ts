/** Syncing the Halyard files into the Halyard pod through the four exec commands, against an in-memory pod. */
import { describe, expect, it } from '@jest/globals';
import { parseMigrationInput } from '../../../lib/config/schema.js';
import { filesFromData, findHalyardPod, managedFiles, syncPodFiles } from '../../../lib/halyard/files.js';
import type { ClusterApi, ExecResult, Pod } from '../../../lib/kubernetes/api.js';

const config = parseMigrationInput({ cluster: { name: 'prod', region: 'us-east-1' }, target: { replicationGroupId: 'spin-redis' } });
const HAL = '/home/spinnaker/.hal/default';
const REDIS_YML = `${HAL}/service-settings/redis.yml`;
const GATE_YML = `${HAL}/profiles/gate-local.yml`;
const SPINNAKER_YML = `${HAL}/profiles/spinnaker-local.yml`;

const readyPod = (name: string, overrides: { phase?: string; ready?: string; container?: string; deleting?: boolean } = {}): Pod => ({
  metadata: { name, ...(overrides.deleting ? { deletionTimestamp: new Date() } : {}) },
  spec: { containers: [{ name: overrides.container ?? 'halyard' }] },
  status: { phase: overrides.phase ?? 'Running', conditions: [{ type: 'Ready', status: overrides.ready ?? 'True' }] },
});

/** A Halyard pod whose file system is a Map; runs exactly the commands ARCHITECTURE.md lists, and records them. */
function fakePod(files: Record<string, string>, options: { pods?: Pod[]; failWrites?: boolean; garbleWrites?: boolean } = {}) {
  const fs = new Map(Object.entries(files));
  const commands: string[] = [];
  const ok = (stdout = ''): ExecResult => ({ exitCode: 0, stdout, stderr: '' });
  const api: Pick<ClusterApi, 'listPods' | 'exec'> = {
    async listPods(namespace, selector) {
      expect([namespace, selector]).toStrictEqual(['spinnaker', 'app=halyard']);
      return options.pods ?? [readyPod('halyard-0')];
    },
    async exec(namespace, pod, container, command, stdin) {
      expect([namespace, pod, container]).toStrictEqual(['spinnaker', 'halyard-0', 'halyard']);
      commands.push(command.join(' '));
      const [program, ...args] = command;
      if (program === 'cat') return fs.has(args[0]!) ? ok(fs.get(args[0]!)) : { exitCode: 1, stdout: '', stderr: `cat: ${args[0]}: No such file or directory` };
      if (program === 'mkdir') return ok();
      if (program === 'rm') {
        fs.delete(args[1]!);
        return ok();
      }
      if (program === 'sh') {
        if (options.failWrites) return { exitCode: 1, stdout: '', stderr: 'sh: read-only file system' };
        const path = /^cat > '(.*)'$/.exec(args[1]!)![1]!.replace(/'\\''/g, "'");
        fs.set(path, options.garbleWrites ? `${stdin}garbled` : stdin!);
        return ok();
      }
      throw new Error(`unexpected command ${command.join(' ')}`);
    },
  };
  return { api, fs, commands };
}

describe('managedFiles and filesFromData', () => {
  it('manages redis.yml, spinnaker-local.yml and the profile of every service that connects to Redis, keyed as in the ConfigMap', () => {
    const profiles = ['orca', 'clouddriver', 'igor', 'fiat', 'echo', 'rosco', 'kayenta'].map((s) => ({ key: `${s}-local.yml`, path: `profiles/${s}-local.yml` }));
    expect(managedFiles(config)).toStrictEqual([
      { key: 'redis.yml', path: 'service-settings/redis.yml' },
      { key: 'gate-local.yml', path: 'profiles/gate-local.yml' },
      { key: 'spinnaker-local.yml', path: 'profiles/spinnaker-local.yml' },
      ...profiles,
    ]);
    const none = Object.fromEntries(profiles.map((p) => [p.key, undefined]));
    expect(filesFromData(config, { 'redis.yml': 'a: 1\n', 'other.yml': 'x' })).toStrictEqual({ 'redis.yml': 'a: 1\n', 'gate-local.yml': undefined, 'spinnaker-local.yml': undefined, ...none });
    expect(filesFromData(config, undefined)).toStrictEqual({ 'redis.yml': undefined, 'gate-local.yml': undefined, 'spinnaker-local.yml': undefined, ...none });
  });
});

describe('findHalyardPod', () => {
  it('takes the first Running, Ready pod with the Halyard container that is not being deleted', async () => {
    const pods = [
      readyPod('old', { deleting: true }),
      readyPod('starting', { ready: 'False' }),
      readyPod('pending', { phase: 'Pending' }),
      readyPod('sidecar', { container: 'other' }),
      readyPod('halyard-0'),
    ];
    const { api } = fakePod({}, { pods });
    await expect(findHalyardPod(api, config)).resolves.toMatchObject({ metadata: { name: 'halyard-0' } });
  });

  it('none -> HalyardPodNotFoundError saying how many matched', async () => {
    const { api } = fakePod({}, { pods: [readyPod('starting', { ready: 'False' })] });
    await expect(findHalyardPod(api, config)).rejects.toMatchObject({
      name: 'HalyardPodNotFoundError',
      message: "No Running and Ready pod with container 'halyard' matches 'app=halyard' in spinnaker (1 pod(s) matched). Check spinnaker.halyard.podSelector.",
    });
  });
});

describe('syncPodFiles', () => {
  it('writes what differs, creates what is missing, removes what must not exist, and reports those paths', async () => {
    const pod = fakePod({ [REDIS_YML]: 'old\n', [GATE_YML]: 'same\n', [SPINNAKER_YML]: 'remove me\n' });
    const written = await syncPodFiles(pod.api, config, { 'redis.yml': 'new\n', 'gate-local.yml': 'same\n', 'spinnaker-local.yml': undefined });
    expect(written).toStrictEqual([REDIS_YML, SPINNAKER_YML]);
    expect(Object.fromEntries(pod.fs)).toStrictEqual({ [REDIS_YML]: 'new\n', [GATE_YML]: 'same\n' });
    expect(pod.commands).toStrictEqual([
      `cat ${REDIS_YML}`,
      `mkdir -p ${HAL}/service-settings`,
      `sh -c cat > '${REDIS_YML}'`,
      `cat ${REDIS_YML}`,
      `cat ${GATE_YML}`,
      `cat ${SPINNAKER_YML}`,
      `rm -f ${SPINNAKER_YML}`,
      ...['orca', 'clouddriver', 'igor', 'fiat', 'echo', 'rosco', 'kayenta'].map((s) => `cat ${HAL}/profiles/${s}-local.yml`),
    ]);
  });

  it('changes nothing when the pod already matches (a retried step is a no-op)', async () => {
    const pod = fakePod({ [REDIS_YML]: 'r\n', [GATE_YML]: 'g\n' });
    await expect(syncPodFiles(pod.api, config, { 'redis.yml': 'r\n', 'gate-local.yml': 'g\n', 'spinnaker-local.yml': undefined })).resolves.toStrictEqual([]);
    expect(pod.commands.every((c) => c.startsWith('cat '))).toBe(true);
  });

  it('a failed write -> PodExecError with the shell error', async () => {
    const pod = fakePod({}, { failWrites: true });
    await expect(syncPodFiles(pod.api, config, { 'redis.yml': 'r\n', 'gate-local.yml': undefined, 'spinnaker-local.yml': undefined })).rejects.toMatchObject({
      name: 'PodExecError',
      message: `writing ${REDIS_YML} in halyard-0 exited 1: sh: read-only file system`,
    });
  });

  it('a file that does not read back as written -> PodExecError', async () => {
    const pod = fakePod({}, { garbleWrites: true });
    await expect(syncPodFiles(pod.api, config, { 'redis.yml': 'r\n', 'gate-local.yml': undefined, 'spinnaker-local.yml': undefined })).rejects.toMatchObject({
      name: 'PodExecError',
      message: `${REDIS_YML} in halyard-0 does not read back as written`,
    });
  });

  it('quotes a path with a single quote for the shell', async () => {
    // The input schema refuses such a home (defence in depth: the quoting must hold anyway).
    const odd = parseMigrationInput({ cluster: { name: 'prod', region: 'us-east-1' }, target: { replicationGroupId: 'spin-redis' } });
    odd.spinnaker.halyard.halHome = "/home/o'neil/.hal";
    const pod = fakePod({});
    await syncPodFiles(pod.api, odd, { 'redis.yml': 'r\n', 'gate-local.yml': undefined, 'spinnaker-local.yml': undefined });
    expect(pod.commands).toContain(`sh -c cat > '/home/o'\\''neil/.hal/default/service-settings/redis.yml'`);
    expect(pod.fs.get("/home/o'neil/.hal/default/service-settings/redis.yml")).toBe('r\n');
  });
});
