/**
 * The replication copy: connect to the source as a replica (PSYNC), receive its RDB
 * snapshot, turn every key into a pipelined `RESTORE … REPLACE [ABSTTL]` on the target,
 * then apply the write commands the source made since the snapshot, up to the source's
 * current replication offset. The result is the source as of the end of the copy; keys
 * deleted, expired or renewed meanwhile are deleted, expired or renewed on the target too.
 *
 * Why: the source does almost nothing (a forked child streams the snapshot), so the copy
 * is bound by the target's RESTORE rate, which is what MIGRATE is bound by too, minus
 * MIGRATE's per-batch round trip. RedisShake's "sync" mode works the same way.
 * ElastiCache refuses PSYNC, so this only works from a self-hosted source like spin-redis;
 * callers fall back to the scan copy on ReplicationUnavailableError.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { type MigrationError, ReplicationUnavailableError, TargetRefusedPayloadError } from '../../errors.js';
import { connectRedis, redactUrl, type RedisEndpoint } from '../../redis/connect.js';
import { mapRedisError } from '../../redis/errors.js';
import { databasesWithKeys, keyCount } from '../../redis/keyspace.js';
import { RespConnection, RespError } from '../../redis/resp.js';
import { hasExpired, OWN_KEY_PREFIX, ownKeys } from '../filter.js';
import { parseTargetVersion } from '../restore-expiry.js';
import { emptyStats, type CopyStats, type Progress } from '../types.js';
import { CommandForwarder } from './command-forwarder.js';
import { crc64Bytes, crc64Into, crc64Start, crc64Update } from './crc64.js';
import { FullSyncFraming } from './full-sync-framing.js';
import { RdbSplitter, type RdbEntry } from './rdb-splitter.js';
import { ReplicaSession } from './replica-session.js';
import { printable, REFUSED_PAYLOAD, RestoreLane, SpillLane, waitForReplies } from './restore-writer.js';

/**
 * How long a snapshot entry found expired at restore lives on the target until the end of the
 * copy settles it from the source: longer than any copy, so a renewal in the stream is never
 * applied to a key that expired meanwhile; if the copy dies first, the stale key still goes.
 */
const EXPIRED_ENTRY_GRACE_MS = 30 * 60_000;
/**
 * An entry expiring this soon is treated as expired too: its RESTORE … ABSTTL may reach the
 * target after that moment (restores are pipelined, and queue on a loaded target), and Redis
 * then silently creates nothing, so a renewal in the stream would hit a missing key.
 */
const EXPIRING_AT_RESTORE_MS = 10_000;

export interface ReplicationCopyOptions {
  /** Connections to the target carrying RESTOREs. */
  connections?: number;
  /** Keep applying the source's writes this long after the snapshot is in (live mode). */
  followMs?: number;
  /** Stop following early when this returns true (checked every 100 ms). */
  stopFollowing?: () => boolean;
  /** Keys with this prefix are ours and are not copied. */
  skipPrefix?: string;
  /** Values bigger than this go through a temporary file instead of memory. */
  spillAboveBytes?: number;
  onProgress?: (p: Progress & { phase: 'snapshot' | 'stream'; totalKeys: number; etaSeconds?: number }) => void;
  /** Give up (ReplicationUnavailableError) if the snapshot has not started by then. */
  startTimeoutMs?: number;
  /** Epoch ms by which the snapshot must be in (a Lambda slice); else ReplicationUnavailableError. */
  deadline?: number;
  /** Payload version to claim instead of the source's RDB version (tests use it to make a target refuse). */
  payloadVersion?: number;
}

export interface ReplicationCopyResult {
  stats: CopyStats;
  rdbVersion: number;
  rdbBytes: number;
  /** Write commands applied from the replication stream after the snapshot. */
  commandsApplied: number;
  /** The source's replication offset the target is consistent with. */
  offset: number;
  /** The source's replication id: with `offset`, where a later follow (PSYNC) continues. */
  replid: string;
  /** The stream's database at `offset` (the last SELECT forwarded; 0 before any). */
  db: number;
  /**
   * Snapshot entries expired by the time they were restored that the source still held at
   * the end (their expiry was renewed after the snapshot began): kept, with the source's expiry.
   * The others count in `stats.expiredSkipped`.
   */
  expiredKeptBySource: number;
  /** Whether the source streamed its snapshot straight to us (no RDB file on its disk). */
  diskless: boolean;
  /** Where the time went: until the snapshot started, reading it, last RESTORE replies, the write stream. */
  phasesMs: { handshake: number; snapshot: number; restoreTail: number; stream: number };
}

interface SourceSettings {
  totalKeys: number;
  diskless: boolean;
  /** Settings changed for the snapshot, put back as soon as it has forked. */
  changed: [name: string, value: string][];
}

/**
 * Reads what the copy needs from the source, and makes a diskless sync start at once
 * instead of waiting `repl-diskless-sync-delay` seconds for more replicas. The setting is
 * put back as soon as the snapshot has started. (Turning LZF off as well was measured:
 * the source's child gets faster, but the bigger snapshot costs as much on our side.)
 */
async function prepareSource(control: Redis): Promise<SourceSettings> {
  const totalKeys = keyCount(await control.info('keyspace'));
  const changed: [string, string][] = [];
  try {
    const [, diskless] = (await control.config('GET', 'repl-diskless-sync')) as string[];
    const [, delay] = (await control.config('GET', 'repl-diskless-sync-delay')) as string[];
    if (diskless === 'yes' && delay !== undefined && delay !== '0') {
      await control.config('SET', 'repl-diskless-sync-delay', '0');
      changed.push(['repl-diskless-sync-delay', delay]);
    }
    return { totalKeys, diskless: diskless === 'yes', changed };
  } catch {
    // CONFIG is renamed or forbidden: a disk-based sync with the source's settings still works.
    return { totalKeys, diskless: false, changed };
  }
}

/** Unacknowledged RESTORE bytes per connection before the source socket is paused. */
const HIGH_WATER = 8 * 1024 * 1024;

/** Copies everything from `sourceEndpoint` to `targetEndpoint` through the replication protocol. */
export async function copyViaReplication(sourceEndpoint: RedisEndpoint, targetEndpoint: RedisEndpoint, options: ReplicationCopyOptions = {}): Promise<ReplicationCopyResult> {
  const run = new ReplicationCopy(sourceEndpoint, targetEndpoint, options);
  try {
    await run.connectToSource();
    await run.prepareSource();
    await run.openWriters();
    await run.checkTargetAcceptsPayloads();
    await run.attachAsReplica();
    await run.startFullSync();
    await run.receiveSnapshot();
    await run.finishRestores();
    await run.applyWritesSince();
    return run.result();
  } catch (error) {
    throw run.failure(error);
  } finally {
    await run.close();
  }
}

/** One replication copy's connections and progress; each method is a step of `copyViaReplication`. */
class ReplicationCopy {
  private readonly started = Date.now();
  private readonly where: string;
  private readonly stats = emptyStats();
  private readonly lanes: RestoreLane[] = [];
  private readonly spill: SpillLane;
  private control: Redis | undefined;
  private session: ReplicaSession | undefined;
  private apply: RespConnection | undefined;
  private settings: SourceSettings | undefined;
  private readonly deadlineTimer: NodeJS.Timeout | undefined;
  private timedOut = false;
  private finishSnapshot!: () => void;
  private failSnapshot!: (error: Error) => void;
  private readonly snapshotDone: Promise<void>;
  private readonly splitter: RdbSplitter;
  private readonly framing: FullSyncFraming;
  /** The payload version RESTOREs claim: the source's RDB version unless overridden. */
  private version = Buffer.alloc(2);
  private forwarder: CommandForwarder | undefined;
  /** Snapshot entries already expired when restored, per database (key base64 -> key). */
  private readonly expiredAtRestore = new Map<number, Map<string, Buffer>>();
  private expiredKeptBySource = 0;
  /** Stream bytes that arrive before the RESTOREs are all in, applied after them. */
  private held: Buffer[] = [];
  private nextLane = 0;
  private lastProgress = 0;
  private replid = '';
  private startOffset = 0;
  private readonly at = { snapshotStarted: 0, snapshotEnded: 0, restoresDone: 0 };

  constructor(
    private readonly source: RedisEndpoint,
    private readonly target: RedisEndpoint,
    private readonly options: ReplicationCopyOptions,
  ) {
    this.where = redactUrl(source.url);
    this.spill = new SpillLane(target);
    this.snapshotDone = new Promise<void>((resolve, reject) => {
      this.finishSnapshot = resolve;
      this.failSnapshot = reject;
    });
    this.snapshotDone.catch(() => undefined); // awaited later; a late rejection must not crash the process
    // The deadline covers everything up to the end of the snapshot, a blocked source included:
    // it closes our connections, and whatever was waiting on them fails.
    if (options.deadline) {
      this.deadlineTimer = setTimeout(
        () => {
          this.timedOut = true;
          this.failSnapshot(this.timeoutError());
          this.control?.disconnect();
          this.session?.close();
          for (const lane of this.lanes) lane.connection.close();
        },
        Math.max(0, options.deadline - Date.now()),
      );
      this.deadlineTimer.unref();
    }
    const isOwn = options.skipPrefix ? ownKeys(options.skipPrefix) : undefined;
    this.splitter = new RdbSplitter(
      {
        entry: (entry) => {
          if (isOwn?.(entry.key)) return;
          const now = Date.now();
          if (hasExpired(entry.expireAt, now + EXPIRING_AT_RESTORE_MS)) {
            // Expired (or about to) by the snapshot's expiry, which is as of the fork: the application may
            // have renewed it since (the PEXPIREAT is in the stream) or be about to write to
            // it. Restored with a grace expiry and settled from the source once the stream is
            // in (applyWritesSince), so neither is applied to a missing key (docs/COPY.md).
            const byName = this.expiredAtRestore.get(entry.db) ?? new Map<string, Buffer>();
            byName.set(entry.key.toString('base64'), Buffer.from(entry.key));
            this.expiredAtRestore.set(entry.db, byName);
            entry.expireAt = now + EXPIRED_ENTRY_GRACE_MS;
          }
          this.restore(entry);
        },
        spill: (chunk, entry) => this.spill.write(chunk, entry.type),
        start: (rdbVersion) => {
          this.version = Buffer.alloc(2);
          this.version.writeUInt16LE(options.payloadVersion ?? rdbVersion);
        },
      },
      { ...(options.spillAboveBytes ? { spillAboveBytes: options.spillAboveBytes } : {}) },
    );
    const splitter = this.splitter;
    this.framing = new FullSyncFraming(
      {
        rdb: (chunk) => this.takeSnapshotBytes(chunk),
        get rdbFinished() {
          return splitter.finished;
        },
        snapshotEnded: () => this.finishSnapshot(),
        stream: (chunk) => (this.forwarder ? this.forwarder.push(chunk) : this.held.push(chunk)),
      },
      this.where,
    );
  }

  private timeoutError(): ReplicationUnavailableError {
    return new ReplicationUnavailableError(`${this.where}: the snapshot did not finish within the time allowed; the scan copy works in resumable slices`);
  }

  /** 1. The control connection: INFO, CONFIG and the probe's DUMP. */
  async connectToSource(): Promise<void> {
    this.control = await connectRedis(this.source, { connectionName: 'spin-elasticache-copy-control' });
  }

  /** 2. How many keys, diskless or not, and no diskless sync delay. */
  async prepareSource(): Promise<void> {
    this.settings = await prepareSource(this.control!);
  }

  /** 3. The RESTORE lanes and the ordered connection the stream's writes go to. */
  async openWriters(): Promise<void> {
    const count = this.options.connections ?? 2;
    const first = await RespConnection.open(this.target, 'spin-elasticache-copy-0', 0);
    const info = await first.call(['INFO', 'server']);
    const targetVersion = parseTargetVersion(info instanceof Buffer ? info.toString() : '');
    this.spill.targetVersion = targetVersion;
    this.lanes.push(new RestoreLane(first, targetVersion));
    for (let i = 1; i < count; i++) this.lanes.push(new RestoreLane(await RespConnection.open(this.target, `spin-elasticache-copy-${i}`, 0), targetVersion));
    this.apply = await RespConnection.open(this.target, 'spin-elasticache-copy-stream', 0);
  }

  /** 4. A target older than the source refuses its payloads: find out before copying anything. */
  async checkTargetAcceptsPayloads(): Promise<void> {
    await probeTargetAcceptsPayloads(this.control!, this.lanes[0]!.connection, this.options.payloadVersion, this.options.skipPrefix ?? OWN_KEY_PREFIX);
  }

  /** 5. A replica connection to the source. */
  async attachAsReplica(): Promise<void> {
    this.session = await ReplicaSession.open(this.source, { diskless: this.settings!.diskless });
    if (this.timedOut) throw this.timeoutError();
  }

  /** 6. `PSYNC ? -1`: the source answers FULLRESYNC and starts its snapshot; its settings go back at once. */
  async startFullSync(): Promise<void> {
    const session = this.session!;
    session.connection.onError = (error) =>
      this.failSnapshot(
        new ReplicationUnavailableError(
          /no reply within/.test(error.message)
            ? `${this.where} went silent during the full sync (${error.message}); a Redis replica gives up after repl-timeout too`
            : `${this.where} dropped the replication link (${error.message}); check client-output-buffer-limit replica on the source`,
        ),
      );
    const psync = await session.psync('?', '-1', {
      timeoutMs: this.options.startTimeoutMs ?? 30_000,
      accepted: (reply) => !(reply instanceof RespError),
      onBytes: (chunk) => this.onSnapshotBytes(chunk),
    });
    if (psync instanceof RespError || !Buffer.isBuffer(psync)) {
      throw new ReplicationUnavailableError(`${this.where} refused to replicate to us (${psync instanceof RespError ? psync.message : 'unexpected reply'}); it may be ElastiCache or forbid SYNC`);
    }
    const [mode, replid = '', offsetText] = psync.toString('latin1').split(' ');
    if (mode !== 'FULLRESYNC') throw new ReplicationUnavailableError(`${this.where} answered PSYNC with ${mode}`);
    this.replid = replid;
    this.startOffset = Number(offsetText);
    await this.restoreSettings();
    this.at.snapshotStarted = Date.now();
  }

  /** 7. Until the whole snapshot is parsed into RESTOREs (or the deadline passes). */
  async receiveSnapshot(): Promise<void> {
    try {
      await this.snapshotDone;
    } finally {
      clearTimeout(this.deadlineTimer);
    }
    this.at.snapshotEnded = Date.now();
    for (const lane of this.lanes) lane.flush();
  }

  /**
   * 8. Every RESTORE answered. The source's writes since wait in its replication buffer, not
   * in our memory, until then.
   */
  async finishRestores(): Promise<void> {
    this.session!.connection.socket.pause();
    await Promise.all([...this.lanes.map((lane) => waitForReplies(lane.connection)), this.spill.done()]);
    const refused = this.lanes.find((lane) => lane.refused)?.refused ?? this.spill.refused;
    if (refused) throw new TargetRefusedPayloadError(`the target refused the source's RDB v${this.splitter.version} payload (key ${printable(refused)})`);
    const failure = this.lanes.find((lane) => lane.failure)?.failure ?? this.spill.failure;
    if (failure) throw failure;
    this.at.restoresDone = Date.now();
  }

  /** 9. The writes made since the snapshot: those held, then the stream, up to where the source is now. */
  async applyWritesSince(): Promise<void> {
    const session = this.session!;
    const forwarder = (this.forwarder = new CommandForwarder(this.apply!, this.startOffset, (offset) => session.ack(offset), this.source));
    for (const chunk of this.held) forwarder.push(chunk);
    this.held = [];
    session.ack(this.startOffset);
    session.connection.socket.resume();
    session.startAcks(() => forwarder.offset);
    try {
      const followUntil = Date.now() + (this.options.followMs ?? 0);
      while (Date.now() < followUntil && !this.options.stopFollowing?.()) {
        await sleep(100);
        if (session.lost) throw new ReplicationUnavailableError(`${this.where} dropped the replication link while following writes`);
        if (forwarder.failure) throw forwarder.failure;
        this.reportProgress('stream');
      }
      await session.catchUpToSource(this.control!, () => forwarder.offset, { pauseMs: 5, withinMs: 60_000, mustArrive: true });
      const restoredExpired = [...this.expiredAtRestore.values()].reduce((n, m) => n + m.size, 0);
      if (restoredExpired > 0) {
        const alive = await forwarder.settleExpiries(this.expiredAtRestore);
        this.expiredKeptBySource = alive;
        this.stats.expiredSkipped += restoredExpired - alive;
      }
      await waitForReplies(this.apply!);
      if (forwarder.failure) throw forwarder.failure;
    } finally {
      session.stopAcks();
    }
  }

  /** 10. What was copied, and where the source's stream continues. */
  result(): ReplicationCopyResult {
    const { stats, lanes, spill, at } = this;
    stats.keys = lanes.reduce((n, l) => n + l.acknowledged, 0) + spill.restored;
    stats.bytes = lanes.reduce((n, l) => n + l.acknowledgedBytes, 0) + spill.bytes;
    stats.bigKeys = spill.restored;
    stats.ms = Date.now() - this.started;
    const phasesMs = {
      handshake: at.snapshotStarted - this.started,
      snapshot: at.snapshotEnded - at.snapshotStarted,
      restoreTail: at.restoresDone - at.snapshotEnded,
      stream: Date.now() - at.restoresDone,
    };
    const forwarder = this.forwarder!;
    return {
      stats,
      rdbVersion: this.splitter.version,
      rdbBytes: this.framing.rdbBytes,
      commandsApplied: forwarder.applied,
      offset: forwarder.offset,
      replid: this.replid,
      db: forwarder.offsetDb,
      expiredKeptBySource: this.expiredKeptBySource,
      diskless: this.framing.diskless,
      phasesMs,
    };
  }

  failure(error: unknown): MigrationError {
    if (this.timedOut) return this.timeoutError();
    return mapRedisError(error, 'replication copy');
  }

  /** Every connection, timer and temporary file, whatever happened; the source's settings put back. */
  async close(): Promise<void> {
    clearTimeout(this.deadlineTimer);
    await this.restoreSettings();
    this.session?.close();
    this.apply?.close();
    this.forwarder?.close();
    for (const lane of this.lanes) lane.connection.close();
    await this.spill.close();
    this.control?.disconnect();
  }

  private async restoreSettings(): Promise<void> {
    const changed = this.settings?.changed.splice(0) ?? [];
    if (changed.length === 0) return;
    // The control connection may be the one a deadline just closed.
    const client = this.control?.status === 'ready' ? this.control : await connectRedis(this.source, { connectionName: 'spin-elasticache-copy-control' }).catch(() => undefined);
    for (const [name, value] of changed) await client?.config('SET', name, value).catch(() => undefined);
    if (client !== this.control) client?.disconnect();
  }

  private restore(entry: RdbEntry): void {
    if (entry.spilled) {
      this.spill.finish(entry, this.version);
      return;
    }
    const version = this.version;
    const lane = this.lanes[this.nextLane++ % this.lanes.length]!;
    lane.restore(entry.db, entry.key, entry.expireAt, 1 + entry.length + 10, (buf, offset) => {
      // DUMP payload: type, body, RDB version (2 bytes LE), CRC-64 of all that (8 bytes LE).
      buf[offset] = entry.type;
      let at = offset + 1;
      for (const part of entry.parts) {
        buf.set(part, at);
        at += part.length;
      }
      buf[at] = version[0]!;
      buf[at + 1] = version[1]!;
      crc64Into(buf, offset, at + 2, buf, at + 2);
    });
  }

  /** Snapshot bytes into the splitter, RESTOREs out; the source is paused while the target lags. */
  private takeSnapshotBytes(chunk: Buffer): number {
    const used = this.splitter.push(chunk);
    for (const lane of this.lanes) lane.flush();
    if (this.lanes.some((lane) => lane.backlog > HIGH_WATER)) {
      const socket = this.session!.connection.socket;
      socket.pause();
      void Promise.all(this.lanes.map((lane) => lane.connection.drained())).then(() => socket.resume());
    }
    this.reportProgress('snapshot');
    return used;
  }

  private onSnapshotBytes(chunk: Buffer): void {
    try {
      this.framing.push(chunk);
    } catch (error) {
      this.session!.connection.socket.pause();
      this.failSnapshot(error as Error);
    }
  }

  private reportProgress(phase: 'snapshot' | 'stream'): void {
    const { onProgress } = this.options;
    if (!onProgress || Date.now() - this.lastProgress < 500) return;
    this.lastProgress = Date.now();
    const totalKeys = this.settings!.totalKeys;
    const keys = this.stats.keys + this.lanes.reduce((n, l) => n + l.acknowledged, 0) + this.spill.restored;
    if (phase === 'stream') {
      onProgress({ phase, keys, bytes: this.framing.rdbBytes, keysPerSec: 0, db: 0, totalKeys });
      return;
    }
    const perSec = Math.round((keys * 1000) / Math.max(1, Date.now() - this.started));
    onProgress({ phase, keys, bytes: this.framing.rdbBytes, keysPerSec: perSec, db: 0, totalKeys, ...(perSec > 0 ? { etaSeconds: Math.max(0, Math.round((totalKeys - keys) / perSec)) } : {}) });
  }
}

/**
 * Before anything is copied: does the target accept a payload of the source's RDB version?
 * A newer source (say 7.2 into 7.0) fails here, so `auto` switches to the scan copy with
 * nothing half-done. The version comes from a DUMP of any source key.
 */
async function probeTargetAcceptsPayloads(control: Redis, target: RespConnection, override: number | undefined, prefix: string): Promise<void> {
  const dbs = await databasesWithKeys(control);
  let version = override;
  for (const db of dbs) {
    if (version !== undefined) break;
    await control.select(db);
    const key = await control.randomkeyBuffer();
    // A cluster node answers MOVED/ASK for a key of a slot it is importing or migrating: try another.
    const dump = key ? await control.dumpBuffer(key).catch((error: Error) => (/^(MOVED|ASK) /.test(error.message) ? null : Promise.reject(error))) : null;
    if (dump && dump.length >= 10) version = dump.readUInt16LE(dump.length - 10);
  }
  await control.select(0);
  if (version === undefined) return; // an empty source: nothing to refuse
  // A one-byte string: type 0, length 1, 'x', version, CRC-64.
  const body = Buffer.from([0x00, 0x01, 0x78, version & 0xff, version >> 8]);
  const payload = Buffer.concat([body, crc64Bytes(crc64Update(crc64Start(), body))]);
  const key = `${prefix}payload-probe:${process.pid}:${Date.now()}`;
  const reply = await target.call(['RESTORE', key, '1000', payload, 'REPLACE']);
  await target.call(['DEL', key]);
  if (reply instanceof RespError) {
    if (REFUSED_PAYLOAD.test(reply.message)) throw new TargetRefusedPayloadError(`the target refuses RDB v${version} payloads (the source is newer): ${reply.message}`);
    throw mapRedisError(new Error(reply.message), 'target');
  }
}
