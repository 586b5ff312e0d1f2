/**
 * The `dump.rdb` a disk-based full sync leaves on spin-redis's disk. With
 * `repl-diskless-sync no` (the default before Redis 7.0) the master answers `PSYNC ? -1` by
 * forking a BGSAVE into `dir`/`dbfilename` and sending that file (replication.c,
 * startBgsaveForReplication → rdbSaveBackground); with no save points nothing else ever uses
 * or removes it. On Halyard's spin-redis that is the container's writable layer, counted
 * against its ephemeral-storage limit (the kubelet evicts the pod past it); on an emptyDir it
 * also survives a container restart, and Redis loads it on start (server.c loadDataFromDisk):
 * a restarted spin-redis would come back with the data of the copy's moment, not empty and
 * not current.
 *
 * Before the fork, the free space where the snapshot lands is read the same way (`df -Pk`),
 * since neither Redis nor the pod spec shows it (readFreeDisk).
 *
 * Removed only when the user asks (options.removeSnapshotLeftBehind), through the pods/exec
 * API (`sh` with `stat` and `rm`, present in the redis, bitnami/redis and redis-cluster
 * images), and only a file no older than the copy that wrote it.
 */
import type { ClusterApi } from './api.js';
import type { SourceContainer } from '../copy/fork-safety.js';

/** `$.copy.snapshotLeftBehind`. */
export interface SnapshotLeftBehind {
  /** `dir`/`dbfilename` on spin-redis. */
  path: string;
  /** `removed`: deleted; `kept`: the user did not ask; `absent`: no file there; `older`: written before this copy (someone else's, kept); `failed`: the exec failed (reason given; the copy is not affected). */
  outcome: 'removed' | 'kept' | 'absent' | 'older' | 'failed';
  /** The file's size when removed, bytes. */
  bytes?: number;
  reason?: string;
}

/** The pod's clock and the Lambda's may differ: a file this much older than the copy still counts as the copy's. */
const CLOCK_SKEW_SECONDS = 300;

/* One script, arguments positional so that no path is ever interpolated into shell text. */
const SCRIPT = [
  'f="$1"; since="$2"',
  '[ -e "$f" ] || { echo absent; exit 0; }',
  'm=$(stat -c %Y -- "$f") || exit 3',
  '[ "$m" -ge "$since" ] || { echo "older $m"; exit 0; }',
  's=$(stat -c %s -- "$f") || exit 3',
  'rm -f -- "$f" || exit 4',
  'echo "removed $s"',
].join('\n');

/**
 * Remove `path` in spin-redis's container if it was written at or after `copyStartedAt`
 * (less CLOCK_SKEW_SECONDS). Never throws for the exec itself: the copy is done and exact
 * whether or not the file goes; a failure is reported as `failed` with the reason.
 */
export async function removeSnapshotLeftBehind(api: Pick<ClusterApi, 'exec'>, namespace: string, container: SourceContainer, path: string, copyStartedAt: Date): Promise<SnapshotLeftBehind> {
  const since = Math.floor(copyStartedAt.getTime() / 1000) - CLOCK_SKEW_SECONDS;
  let result: Awaited<ReturnType<ClusterApi['exec']>>;
  try {
    result = await api.exec(namespace, container.pod, container.container, ['sh', '-c', SCRIPT, 'sh', path, String(since)]);
  } catch (error) {
    return { path, outcome: 'failed', reason: `exec in ${namespace}/${container.pod} failed: ${error instanceof Error ? error.message : String(error)}` };
  }
  const out = result.stdout.trim();
  if (result.exitCode !== 0) return { path, outcome: 'failed', reason: `exit ${result.exitCode}: ${(result.stderr || out).trim().split('\n')[0] ?? ''}` };
  const removed = /^removed (\d+)$/.exec(out);
  if (removed) return { path, outcome: 'removed', bytes: Number(removed[1]) };
  if (out === 'absent') return { path, outcome: 'absent' };
  if (out.startsWith('older')) return { path, outcome: 'older', reason: `modified at ${new Date(Number(out.slice(6)) * 1000).toISOString()}, before this copy started` };
  return { path, outcome: 'failed', reason: `unexpected output: ${out.slice(0, 200)}` };
}

/**
 * Bytes available to an unprivileged writer on the filesystem holding `dir` in spin-redis's
 * container (`df -Pk`, POSIX output: the fourth column of the second line, in KiB).
 * Undefined when it cannot be read (no `df` in the image, exec refused): the fork decision then
 * goes by the limits it knows.
 */
export async function readFreeDisk(api: Pick<ClusterApi, 'exec'>, namespace: string, container: SourceContainer, dir: string): Promise<number | undefined> {
  try {
    const { exitCode, stdout } = await api.exec(namespace, container.pod, container.container, ['df', '-Pk', '--', dir]);
    const fields = exitCode === 0 ? stdout.trim().split('\n')[1]?.trim().split(/\s+/) : undefined;
    const kib = Number(fields?.[3]);
    return Number.isFinite(kib) && kib >= 0 ? kib * 1024 : undefined;
  } catch {
    return undefined;
  }
}
