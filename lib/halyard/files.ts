/**
 * Getting the Halyard files into the Halyard pod. A ConfigMap reaches a pod's files only
 * after the kubelet syncs it (about a minute), never with `subPath`, and the Helm chart
 * copies it into ~/.hal only at start: so we read each file through exec and rewrite it
 * when it differs. Only these exec commands are used: cat, mkdir -p, sh -c "cat > 'path'",
 * rm -f.
 */
import type { MigrationConfig } from '../config/schema.js';
import { HalyardPodNotFoundError, PodExecError } from '../errors.js';
import type { ClusterApi, Pod } from '../kubernetes/api.js';
import { podPath, profileKey, REDIS_CLIENT_SERVICES, type HalyardFileSet } from './patch.js';

/** The Halyard files the migration may change (and the rollback restores): redis.yml and the profiles of the connecting services. */
export function managedFiles(config: MigrationConfig): { key: string; path: string }[] {
  const f = config.spinnaker.halyard.files;
  const files = [f.redisServiceSettings, f.gateProfile, f.spinnakerProfile, ...REDIS_CLIENT_SERVICES.map((s) => profileKey(config, s))];
  return files.filter((file, i) => files.findIndex((other) => other.key === file.key) === i);
}

export function filesFromData(config: MigrationConfig, data: Record<string, string> | undefined): HalyardFileSet {
  return Object.fromEntries(managedFiles(config).map(({ key }) => [key, data?.[key]]));
}

export async function findHalyardPod(api: Pick<ClusterApi, 'listPods'>, config: MigrationConfig): Promise<Pod> {
  const { namespace } = config.spinnaker;
  const { podSelector, container } = config.spinnaker.halyard;
  const pods = await api.listPods(namespace, podSelector);
  const ready = pods.filter(
    (p) =>
      p.status?.phase === 'Running' &&
      !p.metadata?.deletionTimestamp &&
      p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') &&
      p.spec?.containers.some((c) => c.name === container),
  );
  const pod = ready[0];
  if (!pod?.metadata?.name) {
    throw new HalyardPodNotFoundError(
      `No Running and Ready pod with container '${container}' matches '${podSelector}' in ${namespace} (${pods.length} pod(s) matched). Check spinnaker.halyard.podSelector.`,
    );
  }
  return pod;
}

function shellQuote(path: string): string {
  return `'${path.replace(/'/g, `'\\''`)}'`;
}

/** Make the pod's files equal the given contents (undefined: the file must not exist). Returns the paths written or removed. */
export async function syncPodFiles(api: Pick<ClusterApi, 'listPods' | 'exec'>, config: MigrationConfig, files: HalyardFileSet): Promise<string[]> {
  const pod = await findHalyardPod(api, config);
  const { namespace } = config.spinnaker;
  const { container } = config.spinnaker.halyard;
  const name = pod.metadata!.name!;
  const run = async (command: string[], stdin?: string) => {
    const result = await api.exec(namespace, name, container, command, stdin);
    return result;
  };
  const written: string[] = [];
  for (const { key, path } of managedFiles(config)) {
    const absolute = podPath(config, path);
    const wanted = files[key];
    const current = await run(['cat', absolute]);
    const exists = current.exitCode === 0;
    if (wanted === undefined) {
      if (exists) {
        const removed = await run(['rm', '-f', absolute]);
        if (removed.exitCode !== 0) throw new PodExecError(`rm ${absolute} in ${name} exited ${removed.exitCode}: ${removed.stderr.trim()}`);
        written.push(absolute);
      }
      continue;
    }
    if (exists && current.stdout === wanted) continue;
    const dir = absolute.slice(0, absolute.lastIndexOf('/'));
    const mkdir = await run(['mkdir', '-p', dir]);
    if (mkdir.exitCode !== 0) throw new PodExecError(`mkdir ${dir} in ${name} exited ${mkdir.exitCode}: ${mkdir.stderr.trim()}`);
    const write = await run(['sh', '-c', `cat > ${shellQuote(absolute)}`], wanted);
    if (write.exitCode !== 0) throw new PodExecError(`writing ${absolute} in ${name} exited ${write.exitCode}: ${write.stderr.trim()}`);
    const check = await run(['cat', absolute]);
    if (check.stdout !== wanted) throw new PodExecError(`${absolute} in ${name} does not read back as written`);
    written.push(absolute);
  }
  return written;
}
