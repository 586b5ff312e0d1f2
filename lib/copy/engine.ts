/**
 * The whole copy in one call, by the fastest method the source allows:
 *
 * - `replication`: attach to the source as a replica and turn its snapshot into RESTOREs,
 *   then apply its writes since (replication/replica-copy.ts). Needs PSYNC on the source,
 *   which a self-hosted spin-redis allows and ElastiCache does not.
 * - `scan`: SCAN + atomic Lua DUMP/PTTL reads (bulk.ts). Works against anything, and is
 *   what the state machine's resumable slices use.
 *
 * `auto` tries replication and falls back to scan when the source refuses PSYNC or the
 * target refuses the source's payload version (scan then copies such keys by type).
 */
import { InputValidationError, KeyspaceNotificationsError } from '../errors.js';
import { CAPTURE_FLAGS, type ChangeCaptureResult, enableChangeCapture, restoreChangeCapture } from '../redis/change-capture.js';
import type { RedisEndpoint } from '../redis/connect.js';
import { keyCount, withConnection } from '../redis/keyspace.js';
import { copySlice } from './bulk.js';
import { tryReplication, type CopyMethod } from './fallback.js';
import { assertForkAllowed, decideFork, type ContainerKnowledge, type ForkDecision } from './fork-safety.js';
import { readSourceFacts } from './source-facts.js';
import { copyViaReplication, type ReplicationCopyResult } from './replication/replica-copy.js';
import { type CatchUpStats, startCatchUp } from './live.js';
import type { CopyStats, Progress } from './types.js';

export type { CopyMethod };

export interface CopyAllOptions {
  method?: CopyMethod;
  /** Connections to the target (replication) or per side (scan). */
  connections?: number;
  /**
   * Keep copying the source's writes this long after the bulk copy. With scan, change capture
   * (keyspace notifications, `KA` on the source) starts before the scan, so writes made during
   * it are copied too.
   */
  followMs?: number;
  skipPrefix?: string;
  /** The source's container, for the fork-safety check (default: not in Kubernetes, no limit). */
  container?: ContainerKnowledge;
  onProgress?: (p: Progress & { totalKeys?: number; etaSeconds?: number; phase?: string }) => void;
}

export interface CopyAllResult {
  method: 'replication' | 'scan';
  stats: CopyStats;
  /** Why `auto` did not use replication. */
  fallbackReason?: string;
  replication?: Omit<ReplicationCopyResult, 'stats'>;
  /** Scan method's live phase (keyspace notifications). */
  live?: CatchUpStats;
  /** The fork-safety decision taken before the replication copy. */
  fork?: ForkDecision;
}

/**
 * The source and the target must be two servers (`run_id` of `INFO server` differs; a server
 * that hides it is trusted): a copy onto itself RESTOREs every key over itself, and with
 * `followMs` feeds its own writes back to itself. InputValidationError otherwise.
 */
export async function assertDistinctServers(source: RedisEndpoint, target: RedisEndpoint): Promise<void> {
  const [a, b] = await Promise.all(
    [source, target].map((endpoint) => withConnection(endpoint, { connectionName: 'spin-elasticache-probe' }, async (redis) => /^run_id:(\w+)/m.exec(await redis.info('server'))?.[1])),
  );
  if (a !== undefined && a === b)
    throw new InputValidationError(`The source and the target are the same Redis server (run_id ${a}): nothing to copy. Check the target's host and port.`, [
      { path: 'target', message: 'names the same server as the source' },
    ]);
}

export async function copyAll(source: RedisEndpoint, target: RedisEndpoint, options: CopyAllOptions = {}): Promise<CopyAllResult> {
  await assertDistinctServers(source, target);
  let fork: ForkDecision | undefined;
  const attempt = await tryReplication(options.method ?? 'auto', async () => {
    fork = decideFork(await readSourceFacts(source), options.container ?? { none: true });
    assertForkAllowed(fork);
    return copyViaReplication(source, target, {
      ...(options.connections ? { connections: options.connections } : {}),
      ...(options.followMs ? { followMs: options.followMs } : {}),
      ...(options.skipPrefix ? { skipPrefix: options.skipPrefix } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
  });
  if ('copied' in attempt) {
    const { stats, ...replication } = attempt.copied;
    return { method: 'replication', stats, replication, ...(fork ? { fork } : {}) };
  }
  const { fallbackReason } = attempt;
  const started = Date.now();
  // Change capture listens before the scan starts: a key written after the scan read it is copied again (issue 9, item 3).
  // …which needs keyspace notifications on the source: switched on for the copy (as EnableChangeCapture does) and restored after.
  const notifications = options.followMs ? await enableNotifications(source) : undefined;
  let capture: Awaited<ReturnType<typeof startCatchUp>> | undefined;
  try {
    capture = options.followMs ? await startCatchUp(source, target, options.skipPrefix ? { skipPrefix: options.skipPrefix } : {}) : undefined;
    const totalKeys = await withConnection(source, { connectionName: 'spin-elasticache-probe' }, async (probe) => keyCount(await probe.info('keyspace')));
    const result = await copySlice(source, target, {
      ...(options.connections ? { connections: options.connections } : {}),
      ...(options.skipPrefix ? { skipPrefix: options.skipPrefix } : {}),
      ...(options.onProgress
        ? {
            onProgress: (p: Progress) =>
              options.onProgress!({ ...p, totalKeys, phase: 'scan', ...(p.keysPerSec > 0 ? { etaSeconds: Math.max(0, Math.round((totalKeys - p.keys) / p.keysPerSec)) } : {}) }),
          }
        : {}),
    });
    const stats = { ...result.checkpoint.stats, ms: Date.now() - started };
    const live = capture && options.followMs ? await capture.run({ until: Date.now() + options.followMs, drainAtEnd: true }) : undefined;
    return { method: 'scan', stats, ...(fallbackReason ? { fallbackReason } : {}), ...(live ? { live } : {}), ...(fork ? { fork } : {}) };
  } finally {
    capture?.close();
    if (notifications)
      await withConnection(source, { connectionName: 'spin-elasticache-capture' }, (redis) => restoreChangeCapture(redis, notifications.previousNotifyKeyspaceEvents)).catch(() => undefined);
  }
}

/** Keyspace notifications on for the live phase, or KeyspaceNotificationsError: without them it would follow nothing, silently. */
async function enableNotifications(source: RedisEndpoint): Promise<ChangeCaptureResult> {
  try {
    return await withConnection(source, { connectionName: 'spin-elasticache-capture' }, (redis) => enableChangeCapture(redis));
  } catch (error) {
    throw new KeyspaceNotificationsError(
      `Following live writes needs keyspace notifications on the source (notify-keyspace-events with ${CAPTURE_FLAGS}), and setting them failed (${(error as Error).message}). Set them on the source yourself, or copy without following writes.`,
      { cause: error },
    );
  }
}
