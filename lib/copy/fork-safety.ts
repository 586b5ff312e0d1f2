/**
 * Whether spin-redis may fork for the replication copy. `PSYNC ? -1` makes it fork a child
 * that writes its snapshot; until the child exits, every page the parent writes is copied
 * (copy-on-write), so the container can need up to twice its memory. Over its memory limit
 * the kernel kills Redis, Kubernetes restarts it empty, and a spin-redis without a volume
 * (Halyard's) has lost every pipeline execution. So the fork happens only when the worst
 * case fits the limit with a margin; otherwise the scan copy runs, which never forks.
 * The formula and the margin are explained in docs/COPY.md ("Fork safety").
 */
import { ForkUnsafeError } from '../errors.js';
import type { SourceFacts } from './source-facts.js';
import { redisDisablesThp } from './source-facts.js';

/** spin-redis's container as its pod spec says (lib/kubernetes/spin-redis.ts reads it). */
export interface SourceContainer {
  pod: string;
  container: string;
  /** `resources.limits.memory`, bytes; undefined when the container has none. */
  memoryLimitBytes?: number;
  memoryRequestBytes?: number;
  /** `resources.limits.ephemeral-storage`, bytes. */
  ephemeralStorageLimitBytes?: number;
  /** The container's volume mounts: where a disk-based snapshot lands. */
  mounts: { path: string; volume: string; kind: 'emptyDir' | 'memory' | 'persistentVolumeClaim' | 'other'; sizeLimitBytes?: number }[];
}

/**
 * What is known of the container: its spec (`container`), or why it could not be read
 * (`unknown`: then nothing forks), or `none`: not in Kubernetes (the `copy` command, with
 * an optional `--memory-limit`).
 */
export type ContainerKnowledge = { container: SourceContainer } | { unknown: string } | { none: true; memoryLimitBytes?: number };

/** Snapshot throughput assumed for the duration estimate: a quarter of what this machine measured (docs/COPY.md). */
export const SNAPSHOT_BYTES_PER_SEC = 16 * 1024 * 1024;
/** Pages a write dirties in the parent: the value and the key's dict entry. */
export const PAGES_PER_WRITE = 2;
/** Copy-on-write granularity: 4 KiB pages, or 2 MiB when transparent huge pages may be on (Redis before 6.2). */
export const SMALL_PAGE = 4096;
export const HUGE_PAGE = 2 * 1024 * 1024;
/** The expire cycle, lazy frees and allocator housekeeping touch pages with no write: at least this share of RSS. */
export const MIN_COW_SHARE = 0.1;
/** The child's own buffers and page tables. */
export const CHILD_OVERHEAD_BYTES = 16 * 1024 * 1024;
/** Headroom over the estimate (docs/COPY.md): need × (1 + margin) must fit the limit. */
export const FORK_MARGIN = 0.25;

export interface ForkFigures {
  /** max(used_memory_rss, used_memory_peak): what the parent holds. */
  baseBytes: number;
  /** Estimated bytes of the snapshot (used_memory_dataset, else used_memory: RDB is smaller). */
  snapshotBytes: number;
  /** How long the child lives: snapshotBytes / 16 MiB/s + 1 s, or the last BGSAVE's time if longer. */
  snapshotSeconds: number;
  /** max(instantaneous_ops_per_sec, sampled commands/s). */
  writesPerSec: number;
  pageBytes: number;
  /** min(base, max(writes × seconds × 2 pages, 10% of base, last fork's COW)). */
  copyOnWriteBytes: number;
  /** Input bytes/s × seconds, at most the replica output buffer's hard limit. */
  replicationBufferBytes: number;
  /** A disk-based snapshot on a memory-backed volume counts as memory. */
  snapshotInMemoryBytes: number;
  /** base + copy-on-write + replication buffer + snapshot in memory + child overhead. */
  needBytes: number;
  memoryLimitBytes?: number;
  memoryRequestBytes?: number;
  marginPercent: number;
  diskless: boolean;
  /** Disk-based: where the snapshot lands and what it needs there. */
  disk?: {
    path: string;
    on: 'container filesystem' | 'emptyDir' | 'memory' | 'persistentVolumeClaim' | 'other';
    needBytes: number;
    limitBytes?: number /** `df` in the container, when it could be read. */;
    freeBytes?: number;
  };
}

export interface ForkDecision {
  fork: boolean;
  /** One sentence: why it forks or not. */
  reason: string;
  figures: ForkFigures;
  /** Warnings that do not stop the fork (a request exceeded, a dump.rdb left on disk). */
  notes: string[];
  /** Disk-based sync with no save points: the snapshot stays on the source's disk afterwards. */
  dumpLeftBehind?: string;
}

const MiB = (n: number) => `${(n / 1048576).toFixed(0)} MiB`;

/**
 * The decision, from the figures alone (no I/O): see docs/COPY.md for the formula. `disk.freeBytes`:
 * what `df` says is free where a disk-based snapshot lands (lib/kubernetes/source-snapshot.ts readFreeDisk).
 */
export function decideFork(facts: SourceFacts, knowledge: ContainerKnowledge, disk: { freeBytes?: number } = {}): ForkDecision {
  const { memory, persistence, writes } = facts;
  const baseBytes = Math.max(memory.usedMemoryRss, memory.usedMemoryPeak);
  const snapshotBytes = memory.usedMemoryDataset ?? memory.usedMemory;
  const snapshotSeconds = Math.max(snapshotBytes / SNAPSHOT_BYTES_PER_SEC + 1, persistence.lastBgsaveSeconds ?? 0);
  const writesPerSec = Math.max(writes.instantaneousOpsPerSec, writes.commandsPerSec);
  const pageBytes = redisDisablesThp(facts.server, persistence.disableThp) ? SMALL_PAGE : HUGE_PAGE;
  const boundByWrites = writesPerSec * snapshotSeconds * PAGES_PER_WRITE * pageBytes;
  const copyOnWriteBytes = Math.round(Math.min(baseBytes, Math.max(boundByWrites, baseBytes * MIN_COW_SHARE, persistence.lastCowBytes ?? 0)));
  const bufferCap = persistence.replicaOutputBufferHardBytes || Number.POSITIVE_INFINITY;
  const replicationBufferBytes = Math.round(Math.min(bufferCap, writes.inputBytesPerSec * snapshotSeconds));
  const diskless = persistence.disklessSync === true;
  const container = 'container' in knowledge ? knowledge.container : undefined;
  const path = persistence.dir && persistence.dbfilename ? `${persistence.dir.replace(/\/$/, '')}/${persistence.dbfilename}` : undefined;
  const mount = container && persistence.dir ? mountOf(container, persistence.dir) : undefined;
  const snapshotInMemoryBytes = !diskless && mount?.kind === 'memory' ? snapshotBytes : 0;
  const needBytes = baseBytes + copyOnWriteBytes + replicationBufferBytes + snapshotInMemoryBytes + CHILD_OVERHEAD_BYTES;
  const memoryLimitBytes = container ? container.memoryLimitBytes : 'none' in knowledge ? knowledge.memoryLimitBytes : undefined;
  const figures: ForkFigures = {
    baseBytes,
    snapshotBytes,
    snapshotSeconds: Math.round(snapshotSeconds * 10) / 10,
    writesPerSec,
    pageBytes,
    copyOnWriteBytes,
    replicationBufferBytes,
    snapshotInMemoryBytes,
    needBytes,
    ...(memoryLimitBytes === undefined ? {} : { memoryLimitBytes }),
    ...(container?.memoryRequestBytes === undefined ? {} : { memoryRequestBytes: container.memoryRequestBytes }),
    marginPercent: FORK_MARGIN * 100,
    diskless,
  };
  const notes: string[] = [];
  // Disk: the snapshot is written next to the one already there (temp-<pid>.rdb, then renamed over it).
  if (!diskless && path) {
    const diskNeed = Math.round(snapshotBytes * (persistence.save ? 2 : 1) * (1 + FORK_MARGIN));
    const on = mount ? mount.kind : 'container filesystem';
    const limitBytes =
      on === 'container filesystem'
        ? container?.ephemeralStorageLimitBytes
        : on === 'emptyDir' || on === 'memory'
          ? (mount?.sizeLimitBytes ?? (on === 'emptyDir' ? container?.ephemeralStorageLimitBytes : undefined))
          : undefined;
    figures.disk = { path, on, needBytes: diskNeed, ...(limitBytes === undefined ? {} : { limitBytes }), ...(disk.freeBytes === undefined ? {} : { freeBytes: disk.freeBytes }) };
  }
  const decision = (fork: boolean, reason: string): ForkDecision => {
    const dumpLeftBehind = fork && !diskless && path && !persistence.save ? path : undefined;
    if (dumpLeftBehind)
      notes.push(
        `a disk-based snapshot stays on spin-redis's disk afterwards (${dumpLeftBehind}, about ${MiB(snapshotBytes)}); it has no save points, so nothing else uses the file; options.removeSnapshotLeftBehind deletes it after the copy`,
      );
    return { fork, reason, figures, notes, ...(dumpLeftBehind ? { dumpLeftBehind } : {}) };
  };

  if ('unknown' in knowledge) return decision(false, `spin-redis's memory limit could not be read (${knowledge.unknown}); the scan copy never forks`);
  if (persistence.rdbBgsaveInProgress || persistence.aofRewriteInProgress)
    return decision(
      false,
      `spin-redis is already forked (${persistence.rdbBgsaveInProgress ? 'BGSAVE' : 'AOF rewrite'} in progress): its memory already carries one child's copy-on-write; the scan copy never forks`,
    );
  const withMargin = Math.round(needBytes * (1 + FORK_MARGIN));
  if (figures.disk?.limitBytes !== undefined && figures.disk.needBytes > figures.disk.limitBytes)
    return decision(
      false,
      `a disk-based snapshot needs about ${MiB(figures.disk.needBytes)} on ${figures.disk.on} (${figures.disk.path}), over its ${MiB(figures.disk.limitBytes)} limit (past it the kubelet evicts the pod); the scan copy never forks`,
    );
  if (figures.disk?.freeBytes !== undefined && figures.disk.needBytes > figures.disk.freeBytes)
    return decision(
      false,
      `a disk-based snapshot needs about ${MiB(figures.disk.needBytes)} in ${figures.disk.path}, and only ${MiB(figures.disk.freeBytes)} is free there (df): a full disk fails the snapshot, and the node's may evict pods; the scan copy never forks`,
    );
  if (container?.memoryRequestBytes !== undefined && withMargin > container.memoryRequestBytes)
    notes.push(`the fork takes spin-redis past its memory request (${MiB(withMargin)} > ${MiB(container.memoryRequestBytes)}): if its node runs short of memory, the kubelet evicts such pods first`);
  if (memoryLimitBytes === undefined) {
    const where = container ? `container ${container.container} of pod ${container.pod} has no memory limit` : 'no memory limit was given';
    return decision(true, `${where}: the fork needs about ${MiB(needBytes)} at worst (${MiB(baseBytes)} held, ${MiB(copyOnWriteBytes)} copy-on-write), bounded by the node`);
  }
  if (withMargin <= memoryLimitBytes)
    return decision(true, `the fork needs at worst ${MiB(needBytes)} + ${figures.marginPercent}% = ${MiB(withMargin)}, within the ${MiB(memoryLimitBytes)} memory limit`);
  return decision(
    false,
    `the fork could need ${MiB(needBytes)} + ${figures.marginPercent}% = ${MiB(withMargin)} (${MiB(baseBytes)} held, ${MiB(copyOnWriteBytes)} copy-on-write, ${MiB(replicationBufferBytes)} replication buffer), over the ${MiB(memoryLimitBytes)} memory limit: past it the kernel kills spin-redis; the scan copy never forks`,
  );
}

/** The mount holding `dir` (the longest mount path that is a prefix of it). */
function mountOf(container: SourceContainer, dir: string): SourceContainer['mounts'][number] | undefined {
  const normalised = dir.replace(/\/+$/, '') || '/';
  return container.mounts
    .filter((m) => {
      const path = m.path.replace(/\/+$/, '') || '/';
      return normalised === path || normalised.startsWith(path === '/' ? '/' : `${path}/`);
    })
    .sort((a, b) => b.path.length - a.path.length)[0];
}

/** Throws ForkUnsafeError unless the decision allows forking; `auto` then copies by scan. */
export function assertForkAllowed(decision: ForkDecision): void {
  if (!decision.fork) throw new ForkUnsafeError(`not forking spin-redis: ${decision.reason}`);
}

/**
 * Whether `PSYNC <replid> <offset+1>` would continue the stream. When it would not, the
 * source answers `+FULLRESYNC` and has already forked for a snapshot nobody reads, so the
 * catch-up asks first (Redis's masterTryPartialResynchronization: the id is the current
 * `master_replid`, or `master_replid2` up to `second_repl_offset`; `run_id` for 3.2, whose
 * PSYNC v1 has no replication id; and the offset is inside the backlog). A backlog that is
 * full moves on with every write: the offset must then be clear of its start by an eighth of
 * it, for the moment between this check and the PSYNC. Returns why not, or undefined.
 */
export function whyStreamCannotContinue(info: string, position: { replid: string; offset: number }): string | undefined {
  const fields = new Map<string, string>();
  for (const line of info.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  const n = (name: string) => Number(fields.get(name) ?? Number.NaN);
  const wanted = position.offset + 1;
  const replid = fields.get('master_replid');
  const sameStream = replid ? position.replid === replid || (position.replid === fields.get('master_replid2') && wanted <= n('second_repl_offset')) : position.replid === fields.get('run_id');
  if (!sameStream) return `spin-redis's replication id is no longer ${position.replid.slice(0, 8)}… (restarted?)`;
  if (fields.get('repl_backlog_active') !== '1') return 'spin-redis has no replication backlog';
  const first = n('repl_backlog_first_byte_offset');
  const length = n('repl_backlog_histlen');
  const size = n('repl_backlog_size');
  const cushion = length >= size ? Math.floor(size / 8) : 0;
  if (!(wanted >= first + cushion && wanted <= first + length)) return `offset ${position.offset} is no longer in spin-redis's backlog (${first}–${first + length})`;
  return undefined;
}
