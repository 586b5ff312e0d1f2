/**
 * The bulk copy: SCAN the source, read many keys per round trip with one Lua call that
 * returns each key's PTTL and DUMP atomically (big keys are only flagged, never dumped),
 * and RESTORE them pipelined on the target, with several batches in flight over several
 * connections. It stops at a deadline and returns a checkpoint to resume from.
 */
import type { Redis } from 'ioredis';
import { CopyFailedError } from '../errors.js';
import { connectRedis, type RedisEndpoint } from '../redis/connect.js';
import { mapRedisError } from '../redis/errors.js';
import { databasesWithKeys } from '../redis/keyspace.js';
import { hasExpired, ownKeys } from './filter.js';
import { copyKeyByType, EXPIRED, type RedisType } from './key-copy.js';
import { readTargetVersion, restoreCommandName, restoreScript } from './restore-expiry.js';
import { addStats, emptyStats, type Checkpoint, type CopyStats, type Progress } from './types.js';

/**
 * Per key: {absolute expiry in ms by the source's clock (0: none), dump} | {-2} when gone |
 * {-4} when it expires this very millisecond (PTTL 0: copying it would drop its TTL) |
 * {-3, type} when its payload is over the limit
 * (copied in chunks instead, so the copier never holds a big value). Atomic per key, so
 * value and TTL match. Two calls per key keep the source's share of the work near MIGRATE's.
 */
export const READ_SCRIPT = `
local out = {}
local maxBytes = tonumber(ARGV[1])
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local clock = now()
for i, key in ipairs(KEYS) do
  local payload = redis.call('DUMP', key)
  -- PTTL counts from the real clock: after a slow (large) DUMP, read the clock again.
  if payload and #payload > 65536 then clock = now() end
  if not payload then out[i] = {-2}
  elseif #payload > maxBytes then out[i] = {-3, redis.call('TYPE', key).ok}
  else
    local pttl = redis.call('PTTL', key)
    if pttl > 0 then out[i] = {clock + pttl, payload} elseif pttl == 0 then out[i] = {-4} else out[i] = {0, payload} end
  end
end
return out`;

export interface BulkOptions {
  checkpoint?: Checkpoint;
  /** Epoch ms after which no new batch starts. */
  deadline?: number;
  scanCount?: number;
  /** Batches in flight at once. */
  inflight?: number;
  /** Connections per side. */
  connections?: number;
  /** Keys whose DUMP payload is bigger are copied in chunks by type. */
  maxPayloadBytes?: number;
  onProgress?: (p: Progress) => void;
  /**
   * Called during a slice with a checkpoint that is safe to resume from (every key before it
   * is on the target), at most every `checkpointEveryMs`. Persisting it lets a slice killed
   * mid-way (a Lambda timeout) resume from there instead of from its start. A rejection
   * aborts the copy.
   */
  onCheckpoint?: (checkpoint: Checkpoint) => Promise<void> | void;
  checkpointEveryMs?: number;
  /** Keys with this prefix are ours (ping probes, temp keys) and are not copied. */
  skipPrefix?: string;
}

export interface SliceResult {
  checkpoint: Checkpoint;
  done: boolean;
  stats: CopyStats;
}

/**
 * The batch RESTORE (lib/copy/restore-expiry.ts) restores a whole batch in one call: one
 * command for the target to parse and one reply, instead of a thousand. Per-key errors come
 * back in place (pcall), so one refused payload does not stop the batch. Expiries go as
 * absolute times, so time spent queued behind other work does not stretch a TTL.
 */
/** Errors a caller routes on by name; anything else becomes a CopyFailedError for this db. */
const PASSED_THROUGH = new Set(['RedisWriteRefusedError', 'RedisAuthError', 'RedisCommandUnsupportedError']);

const RESTORE_VERSION_ERROR = /payload version or checksum are wrong|Bad data format/i;

class Pool {
  private next = 0;
  constructor(readonly clients: Redis[]) {}
  take(): Redis {
    return this.clients[this.next++ % this.clients.length]!;
  }
  close(): void {
    for (const c of this.clients) c.disconnect();
  }
}

async function openPool(endpoint: RedisEndpoint, db: number, count: number, name: string): Promise<Pool> {
  const opened = await Promise.allSettled(
    Array.from({ length: count }, (_, i) => connectRedis(endpoint, { db, connectionName: `spin-elasticache-${name}-${i}`, maxRetriesPerRequest: 3, enableAutoPipelining: false })),
  );
  const clients = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  const refused = opened.find((o) => o.status === 'rejected');
  if (refused) {
    // The connections that did open must not outlive the failure (a process that never exits, a warm Lambda's leak).
    for (const c of clients) c.disconnect();
    throw refused.reason;
  }
  return new Pool(clients);
}

export async function copySlice(sourceEndpoint: RedisEndpoint, targetEndpoint: RedisEndpoint, options: BulkOptions = {}): Promise<SliceResult> {
  const started = Date.now();
  const connections = options.connections ?? 6;
  const probe = await connectRedis(sourceEndpoint, { connectionName: 'spin-elasticache-probe' });
  let checkpoint: Checkpoint;
  try {
    checkpoint = options.checkpoint ?? { dbs: await databasesWithKeys(probe), dbIndex: 0, cursor: '0', stats: emptyStats() };
  } finally {
    probe.disconnect();
  }
  let sliceStats = emptyStats();
  while (checkpoint.dbIndex < checkpoint.dbs.length) {
    const db = checkpoint.dbs[checkpoint.dbIndex]!;
    const source = await openPool(sourceEndpoint, db, connections, 'copy-src');
    let target: Pool | undefined;
    try {
      target = await openPool(targetEndpoint, db, connections, 'copy-dst');
      const base = checkpoint;
      const { cursor, stats, finished, pendingKeys, scanDone } = await copyDatabase(source, target, db, checkpoint.cursor, options, sliceStats, started, {
        pendingKeys: checkpoint.pendingKeys ?? [],
        scanDone: checkpoint.scanDone ?? false,
        report: options.onCheckpoint
          ? (safe) =>
              options.onCheckpoint!({
                ...base,
                cursor: safe.cursor,
                pendingKeys: safe.pendingKeys,
                ...(safe.scanDone ? { scanDone: true } : {}),
                stats: addStats(base.stats, { ...safe.stats, ms: 0 }),
              })
          : undefined,
      });
      sliceStats = addStats(sliceStats, stats);
      if (!finished) {
        checkpoint = {
          dbs: checkpoint.dbs,
          dbIndex: checkpoint.dbIndex,
          cursor,
          ...(pendingKeys.length > 0 ? { pendingKeys } : {}),
          ...(scanDone ? { scanDone: true } : {}),
          stats: addStats(checkpoint.stats, { ...stats, ms: 0 }),
        };
        sliceStats.ms = Date.now() - started;
        checkpoint.stats.ms += sliceStats.ms;
        return { checkpoint, done: false, stats: sliceStats };
      }
      checkpoint = { dbs: checkpoint.dbs, dbIndex: checkpoint.dbIndex + 1, cursor: '0', stats: addStats(checkpoint.stats, { ...stats, ms: 0 }) };
    } finally {
      source.close();
      target?.close();
    }
  }
  sliceStats.ms = Date.now() - started;
  checkpoint.stats.ms += sliceStats.ms;
  return { checkpoint, done: true, stats: sliceStats };
}

interface SafePoint {
  cursor: string;
  pendingKeys: string[];
  scanDone?: boolean;
  stats: CopyStats;
}

async function copyDatabase(
  source: Pool,
  target: Pool,
  db: number,
  startCursor: string,
  options: BulkOptions,
  before: CopyStats,
  started: number,
  resume: { pendingKeys: string[]; scanDone: boolean; report?: (safe: SafePoint) => Promise<void> | void },
): Promise<{ cursor: string; stats: CopyStats; finished: boolean; pendingKeys: string[]; scanDone: boolean }> {
  const stats = emptyStats();
  const scanCount = options.scanCount ?? 1000;
  const inflightLimit = options.inflight ?? 12;
  const maxPayload = options.maxPayloadBytes ?? 4 * 1024 * 1024;
  const isOwn = options.skipPrefix ? ownKeys(options.skipPrefix) : undefined;
  const scanner = source.take();
  const sha = (await scanner.script('LOAD', READ_SCRIPT)) as string;
  const targetVersion = await readTargetVersion(target.take());
  const restoreSha = (await target.take().script('LOAD', restoreScript(targetVersion))) as string;
  const refusal = { command: restoreCommandName(targetVersion), serverVersion: targetVersion.version };
  const inflight = new Set<Promise<void>>();
  let failure: unknown;
  let cursor = resume.scanDone ? '0' : startCursor;
  let scanned = resume.scanDone;
  let outOfTime = false;
  // Every slice moves on before it looks at the deadline (one SCAN page, or one deferred key), as
  // the walks do (walk.ts): a slice whose start-up ate its budget would otherwise copy nothing,
  // and the state machine's loop would run out of iterations without ever finishing.
  let movedOn = false;
  const pastDeadline = () => movedOn && options.deadline !== undefined && Date.now() >= options.deadline;
  let lastReport = Date.now();

  const copyBatch = async (keys: Buffer[]) => {
    const reader = source.take();
    const replies = (await reader.callBuffer('EVALSHA', sha, keys.length, ...keys, String(maxPayload))) as [number | Buffer, Buffer?][];
    const readAt = Date.now();
    const writer = target.take();
    const restoreArgs: (Buffer | string)[] = [];
    const restored: { key: Buffer; bytes: number }[] = [];
    const big: { key: Buffer; type: RedisType }[] = [];
    replies.forEach(([first, second], i) => {
      const key = keys[i]!;
      const code = Number(first);
      if (code === -2) stats.vanished++;
      else if (code === -4) stats.expiredSkipped++;
      else if (code === -3) big.push({ key, type: second!.toString() as RedisType });
      else {
        const expiresAt = code;
        if (hasExpired(expiresAt, readAt)) {
          stats.expiredSkipped++;
          return;
        }
        restoreArgs.push(String(expiresAt), second!);
        restored.push({ key, bytes: second!.length });
      }
    });
    const results = restored.length > 0 ? ((await writer.call('EVALSHA', restoreSha, restored.length, ...restored.map((r) => r.key), ...restoreArgs)) as (number | string)[]) : [];
    for (let i = 0; i < restored.length; i++) {
      const outcome = results[i];
      if (outcome === 1) {
        stats.keys++;
        stats.bytes += restored[i]!.bytes;
      } else if (outcome === 0) stats.expiredSkipped++;
      else if (RESTORE_VERSION_ERROR.test(String(outcome))) {
        big.push({ key: restored[i]!.key, type: (await reader.type(restored[i]!.key)) as RedisType });
        stats.fallbacks++;
      } else throw mapRedisError(new Error(String(outcome)), 'target', refusal);
    }
    // Big keys wait until the batches are done, so their chunked copy never holds up a batch.
    deferred.push(...big.map((b) => ({ ...b, fallback: restored.some((r) => r.key.equals(b.key)) })));
  };
  const deferred: { key: Buffer; type: RedisType; fallback: boolean }[] = [];
  // Big keys left over by a slice that died: copy them first (their type is looked up again).
  for (const encoded of resume.pendingKeys) {
    const key = Buffer.from(encoded, 'base64');
    deferred.push({ key, type: (await source.take().type(key)) as RedisType, fallback: false });
  }
  // Batches still running, by sequence, with the cursor their SCAN started from: resuming
  // from the oldest one's cursor re-copies a little and loses nothing.
  const open = new Map<number, string>();
  let seq = 0;
  let lastSafe = Date.now();
  const safePoint = (): SafePoint => {
    const oldest = open.size > 0 ? Math.min(...open.keys()) : undefined;
    return { cursor: oldest === undefined ? cursor : open.get(oldest)!, pendingKeys: deferred.map((d) => d.key.toString('base64')), stats: { ...stats } };
  };

  try {
    while (!resume.scanDone) {
      if (pastDeadline()) {
        outOfTime = true;
        break;
      }
      const cursorBefore = cursor;
      const [next, found] = (await scanner.scanBuffer(cursor, 'COUNT', scanCount)) as unknown as [Buffer, Buffer[]];
      const keys = isOwn ? found.filter((k) => !isOwn(k)) : found;
      cursor = next.toString();
      scanned = true;
      movedOn = true;
      if (keys.length > 0) {
        const id = seq++;
        open.set(id, cursorBefore);
        const task = copyBatch(keys).then(
          () => void open.delete(id),
          (error: unknown) => {
            failure ??= error;
          },
        );
        inflight.add(task);
        void task.finally(() => inflight.delete(task));
        if (inflight.size >= inflightLimit) await Promise.race(inflight);
      }
      if (failure) break;
      if (resume.report && Date.now() - lastSafe >= (options.checkpointEveryMs ?? 1000)) {
        lastSafe = Date.now();
        await resume.report(safePoint());
      }
      if (options.onProgress && Date.now() - lastReport >= 500) {
        lastReport = Date.now();
        const keysDone = before.keys + stats.keys;
        options.onProgress({ keys: keysDone, bytes: before.bytes + stats.bytes, keysPerSec: Math.round((keysDone * 1000) / Math.max(1, Date.now() - started)), db });
      }
      if (cursor === '0') break;
    }
    await Promise.all(inflight);
    const reader = source.take();
    const writer = target.take();
    // The deferred keys are inside the slice too: past the deadline they wait in the checkpoint.
    while (!outOfTime && deferred.length > 0) {
      if (failure) break;
      if (pastDeadline()) {
        outOfTime = true;
        break;
      }
      const { key, type, fallback } = deferred[0]!;
      const bytes = await copyKeyByType(reader, writer, key, type, targetVersion);
      if (bytes === EXPIRED) stats.expiredSkipped++;
      else if (bytes < 0) stats.vanished++;
      else {
        stats.keys++;
        stats.bytes += bytes;
        if (!fallback) stats.bigKeys++;
      }
      deferred.shift();
      movedOn = true;
      if (resume.report && Date.now() - lastSafe >= (options.checkpointEveryMs ?? 1000)) {
        lastSafe = Date.now();
        await resume.report({ ...safePoint(), scanDone: cursor === '0' });
      }
    }
  } catch (error) {
    failure ??= error;
  }
  if (failure) {
    const mapped = mapRedisError(failure, 'copy');
    throw mapped.retryable || PASSED_THROUGH.has(mapped.name) ? mapped : new CopyFailedError(`Copy of db ${db} failed: ${mapped.message}`, { cause: failure });
  }
  // '0' is both "not started" and "done": only a scan that came back to '0' is done.
  const scanDone = scanned && cursor === '0';
  const pendingKeys = deferred.map((d) => d.key.toString('base64'));
  return { cursor, stats, finished: scanDone && pendingKeys.length === 0, pendingKeys, scanDone };
}
