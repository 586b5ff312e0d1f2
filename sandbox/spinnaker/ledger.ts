/**
 * The write ledger of the simulated Spinnaker: every write every service instance makes
 * (time, Redis url, key, field or member, a hash of the value or a deletion) and every keiko
 * message pushed, polled and acked, and from it the invariants a person running Spinnaker
 * cares about, computed against the Redis Spinnaker points to at the end:
 *   - noMessageProcessedTwice: no keiko message is acked more often than it was pushed as a
 *     new queue entry (a runTask re-push while it is being handled is a new entry, as in
 *     keiko's RedisQueue.push: dedupe looks at the queue zset only);
 *   - noMessageLost: a message with fewer acks than pushes is still in the queue or unacked
 *     zset (and its JSON in the messages hash) on the final Redis;
 *   - noDeletedKeyResurrected: a key, field or member whose last write was a deletion (or
 *     whose TTL ran out) is absent;
 *   - lastWriteWins: everything else holds the value of its last write by wall-clock order,
 *     across both Redis servers.
 *
 * Memory is bounded: per key and field only the last write is kept (a 12-hex-digit hash,
 * never the value), plus the hashes of writes that overlapped it in time (either may win).
 * Past `maxKeys` tracked keys new keys are counted but not tracked (`truncated`).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export type LedgerOp =
  | { op: 'set'; key: string; value: string | Buffer; ttlMs?: number; keepTtl?: boolean }
  | { op: 'hset'; key: string; fields: Record<string, string | Buffer> }
  | { op: 'hdel'; key: string; fields: string[] }
  | { op: 'sadd'; key: string; members: string[] }
  | { op: 'srem'; key: string; members: string[] }
  | { op: 'zadd'; key: string; members: [score: number, member: string][] }
  | { op: 'zrem'; key: string; members: string[] }
  /** The whole content of a list after the write (the writer knows it: it is the only writer). */
  | { op: 'list'; key: string; items: string[] }
  /** A key that must exist, content not compared (lists appended to by RPUSH/LPUSH). */
  | { op: 'touch'; key: string }
  | { op: 'del'; key: string }
  | { op: 'expire'; key: string; ttlMs: number }
  | { op: 'rename'; from: string; to: string };

type Kind = 'string' | 'hash' | 'set' | 'zset' | 'list' | 'touch';

interface Write {
  t0: number;
  t1: number;
  url: string;
  /** null: deleted. */
  hash: string | null;
  /** Hashes of writes that overlapped this one in time, or may have been applied (a failed call). */
  alts?: (string | null)[];
  /** The record() call it came from: writes of one call are ordered, never concurrent. */
  batch: number;
}

interface KeyEntry {
  kind: Kind;
  /** string, list, touch: the key's value; collections: key-level existence after a DEL. */
  whole?: Write;
  fields?: Map<string, Write>;
  /** Time of the last key-level deletion (DEL, RENAME away, expiry). */
  deletedAt?: number;
  expiresAt?: number;
  lastAt: number;
}

export interface MessageCount {
  pushes: number;
  acks: number;
  /** Instances that acked it (pod names), for the report. */
  by: string[];
  /**
   * Acks whose call failed (the pod deleted mid-EXEC): Redis may have applied them. Such a
   * message may be gone from the queue without a certain ack; had the ack not applied, it is
   * still in the unacked set (and redelivered).
   */
  maybeAcks?: number;
}

export const valueHash = (value: string | Buffer): string => createHash('sha1').update(value).digest('hex').slice(0, 12);
const scoreHash = (score: number | string) => String(Number(score));
const MEMBER = '1';
/**
 * What a key, field or member held before a write that failed (READONLY during a failover, a
 * dropped connection) when the ledger saw no earlier write to it (seeded before the run): unknown,
 * so "not applied" accepts whatever is there. Without it such a failed SREM read as a certain
 * deletion, and the member still there as resurrected.
 */
const UNKNOWN = '\u0000unknown';

export class WriteLedger {
  readonly keys = new Map<string, KeyEntry>();
  readonly messages = new Map<string, MessageCount>();
  writes = 0;
  uncertainWrites = 0;
  untracked = 0;
  /** Orca polls: each poll's time, folded into the longest gap with no orca instance polling. */
  private lastPollAt?: number;
  private pollStartedAt?: number;
  longestPollGapMs = 0;
  longestPollGap?: { from: number; to: number };
  /** Redis-using instances started and stopped: for the cutover window. */
  readonly instanceEvents: { t: number; service: string; pod: string; url: string; event: 'start' | 'stop' }[] = [];
  /** Times the Halyard ConfigMap's data changed. */
  readonly configPatches: number[] = [];

  private batch = 0;

  constructor(private readonly maxKeys = 200_000) {}

  /** Writes that Redis acknowledged, made between t0 and t1 (ms since the epoch). */
  record(url: string, ops: LedgerOp[], t0: number, t1 = Date.now()): void {
    this.batch++;
    for (const op of ops) this.apply(url, op, t0, t1, false);
  }

  /** Writes whose call failed: they may or may not have been applied; both outcomes are accepted. */
  maybe(url: string, ops: LedgerOp[], t0: number, t1 = Date.now()): void {
    this.batch++;
    for (const op of ops) this.apply(url, op, t0, t1, true);
  }

  push(fingerprint: string, created: boolean): void {
    const m = this.message(fingerprint);
    if (created) m.pushes++;
  }

  ack(fingerprint: string, pod: string): void {
    const m = this.message(fingerprint);
    m.acks++;
    if (m.by.length < 4) m.by.push(pod);
  }

  /** An ack whose call failed: it may have been applied. */
  ackMaybe(fingerprint: string): void {
    const m = this.message(fingerprint);
    m.maybeAcks = (m.maybeAcks ?? 0) + 1;
  }

  /** A poll an orca instance completed (whether or not a message was ready). */
  poll(t = Date.now()): void {
    if (this.lastPollAt !== undefined && t - this.lastPollAt > this.longestPollGapMs) {
      this.longestPollGapMs = t - this.lastPollAt;
      this.longestPollGap = { from: this.lastPollAt, to: t };
    }
    this.pollStartedAt ??= t;
    this.lastPollAt = t;
  }

  /** Close the poll-gap measure at `t` (traffic stopped): a gap still open counts until then. */
  closePolls(t = Date.now()): void {
    if (this.lastPollAt !== undefined && t - this.lastPollAt > this.longestPollGapMs) {
      this.longestPollGapMs = t - this.lastPollAt;
      this.longestPollGap = { from: this.lastPollAt, to: t };
    }
  }

  instance(event: 'start' | 'stop', service: string, pod: string, url: string, t = Date.now()): void {
    this.instanceEvents.push({ t, service, pod, url, event });
  }

  /** Whether the last thing a writer did to `key` was to delete it (DEL, RENAME away, or a TTL it set ran out by `at`). */
  deleted(key: string, at = Date.now()): boolean {
    const e = this.keys.get(key);
    if (!e) return false;
    if (e.expiresAt !== undefined && e.expiresAt <= at) return true;
    const gone = (w: Write | undefined) => w?.hash === null || (w?.hash === UNKNOWN && (w.alts ?? []).includes(null));
    return e.kind === 'string' || e.kind === 'list' || e.kind === 'touch' ? gone(e.whole) : e.deletedAt !== undefined && [...(e.fields?.values() ?? [])].every(gone);
  }

  /** Members or fields of `key` the ledger last saw present (possibly present, for uncertain writes). */
  liveMembers(key: string): string[] {
    const fields = this.keys.get(key)?.fields;
    return fields ? [...fields].filter(([, w]) => w.hash !== null || (w.alts ?? []).some((h) => h !== null)).map(([m]) => m) : [];
  }

  /**
   * A field or member of a collection key that may be gone by its writers' doing: its last
   * recorded write removed it (HDEL, SREM, ZREM; or possibly, for a call that failed), or the
   * whole key was deleted or expired after it. A collection whose every member is gone this way
   * has vanished legitimately (Redis deletes an emptied hash, set or zset).
   */
  memberDeleted(key: string, member: string, at = Date.now()): boolean {
    const e = this.keys.get(key);
    if (!e) return false;
    if (e.expiresAt !== undefined && e.expiresAt <= at) return true;
    const w = e.fields?.get(member);
    if (w) return w.hash === null || w.hash === UNKNOWN || (w.alts ?? []).includes(null);
    return e.deletedAt !== undefined;
  }

  private message(fingerprint: string): MessageCount {
    let m = this.messages.get(fingerprint);
    if (!m) {
      m = { pushes: 0, acks: 0, by: [] };
      this.messages.set(fingerprint, m);
    }
    return m;
  }

  private entry(key: string, kind: Kind, t: number): KeyEntry | undefined {
    let e = this.keys.get(key);
    if (!e) {
      if (this.keys.size >= this.maxKeys) {
        this.untracked++;
        return undefined;
      }
      e = { kind, lastAt: t };
      this.keys.set(key, e);
    }
    settle(e, t);
    // A key re-created with another type (after a DEL) takes the new kind.
    if (e.kind !== kind && kind !== 'touch') {
      e.kind = kind;
      e.fields = undefined;
      e.whole = undefined;
    }
    e.lastAt = Math.max(e.lastAt, t);
    return e;
  }

  private apply(url: string, op: LedgerOp, t0: number, t1: number, uncertain: boolean): void {
    this.writes++;
    if (uncertain) this.uncertainWrites++;
    const batch = this.batch;
    const put = (current: Write | undefined, hash: string | null): Write => {
      if (uncertain) {
        const base = current ?? { t0, t1, url, hash: UNKNOWN, batch };
        return { ...base, alts: [...(base.alts ?? []), hash].slice(-4) };
      }
      // Overlapping in time with the previous write of another call: either may have been applied last.
      const alts = current && current.batch !== batch && current.t1 >= t0 ? [current.hash, ...(current.alts ?? [])].slice(0, 4) : undefined;
      return { t0, t1, url, hash, batch, ...(alts ? { alts } : {}) };
    };
    const fieldsOf = (e: KeyEntry) => {
      e.fields ??= new Map();
      return e.fields;
    };
    switch (op.op) {
      case 'set': {
        const e = this.entry(op.key, 'string', t0);
        if (!e) return;
        e.whole = put(e.whole, valueHash(op.value));
        if (!uncertain && !op.keepTtl) e.expiresAt = op.ttlMs ? t0 + op.ttlMs : undefined;
        return;
      }
      case 'touch': {
        const e = this.entry(op.key, 'touch', t0);
        if (!e) return;
        e.whole = put(e.whole, MEMBER);
        return;
      }
      case 'list': {
        const e = this.entry(op.key, 'list', t0);
        if (!e) return;
        e.whole = put(e.whole, op.items.length ? valueHash(op.items.join('\u0000')) : null);
        return;
      }
      case 'hset':
      case 'sadd':
      case 'zadd': {
        const kind = op.op === 'hset' ? 'hash' : op.op === 'sadd' ? 'set' : 'zset';
        const e = this.entry(op.key, kind, t0);
        if (!e) return;
        const fields = fieldsOf(e);
        const pairs: [string, string][] =
          op.op === 'hset' ? Object.entries(op.fields).map(([f, v]) => [f, valueHash(v)]) : op.op === 'sadd' ? op.members.map((m) => [m, MEMBER]) : op.members.map(([s, m]) => [m, scoreHash(s)]);
        for (const [f, h] of pairs) fields.set(f, put(fields.get(f), h));
        return;
      }
      case 'hdel':
      case 'srem':
      case 'zrem': {
        const e = this.entry(op.key, op.op === 'hdel' ? 'hash' : op.op === 'srem' ? 'set' : 'zset', t0);
        if (!e) return;
        const fields = fieldsOf(e);
        for (const f of op.op === 'hdel' ? op.fields : op.members) fields.set(f, put(fields.get(f), null));
        return;
      }
      case 'del': {
        const e = this.keys.get(op.key) ?? this.entry(op.key, 'touch', t0);
        if (!e) return;
        settle(e, t0);
        deleteKey(e, t0, put, uncertain);
        e.lastAt = Math.max(e.lastAt, t0);
        return;
      }
      case 'expire': {
        const e = this.keys.get(op.key);
        if (!e) return;
        settle(e, t0);
        if (!uncertain) e.expiresAt = t0 + op.ttlMs;
        return;
      }
      case 'rename': {
        const from = this.keys.get(op.from);
        if (!from) return;
        settle(from, t0);
        const to = this.entry(op.to, from.kind, t0);
        if (!to) return;
        // The destination takes the source's content, TTL and all; what it held before is gone.
        deleteKey(to, t0, put, uncertain);
        if (from.whole) to.whole = put(to.whole, from.whole.hash);
        if (from.fields) {
          const fields = fieldsOf(to);
          for (const [f, w] of from.fields) if (w.hash !== null) fields.set(f, put(fields.get(f), w.hash));
        }
        to.expiresAt = from.expiresAt;
        deleteKey(from, t0, put, uncertain);
        return;
      }
    }
  }
}

/** Apply an expiry that happened before `t` as a deletion at its time. */
function settle(e: KeyEntry, t: number): void {
  if (e.expiresAt !== undefined && e.expiresAt <= t) {
    const at = e.expiresAt;
    deleteKey(e, at, (_w, hash) => ({ t0: at, t1: at, url: 'expired', hash, batch: -1 }), false);
  }
}

function deleteKey(e: KeyEntry, t: number, put: (current: Write | undefined, hash: string | null) => Write, uncertain: boolean): void {
  if (e.fields) for (const [f, w] of e.fields) e.fields.set(f, put(w, null));
  e.whole = put(e.whole, null);
  if (!uncertain) {
    e.deletedAt = t;
    e.expiresAt = undefined;
  }
}

/** What one key looks like on the final Redis: its type, and the hashes of what the ledger tracks. */
export interface FinalKey {
  type: 'none' | 'string' | 'hash' | 'set' | 'zset' | 'list' | 'other';
  /** string or list: hash of the value (list items joined by NUL). */
  whole?: string;
  /** Tracked fields/members: hash of the value (zset: the score; set: '1'), null if absent. */
  fields?: Map<string, string | null>;
  /** After a key-level deletion: every field or member the key holds now. */
  all?: string[];
}

export interface Violation {
  key: string;
  field?: string;
  detail: string;
}

export interface InvariantReport {
  noMessageProcessedTwice: boolean;
  noMessageLost: boolean;
  noDeletedKeyResurrected: boolean;
  lastWriteWins: boolean;
  figures: {
    messagesPushed: number;
    messagesAcked: number;
    messagesProcessedTwice: number;
    messagesLost: number;
    keysResurrected: number;
    staleValues: number;
    keysTracked: number;
    writes: number;
    uncertainWrites: number;
    keysSkippedNearExpiry: number;
    longestOrcaPollGapMs: number;
  };
  examples: { processedTwice: string[]; lost: string[]; resurrected: Violation[]; stale: Violation[] };
}

/** Queue state on the final Redis for the fingerprints that are not fully acked. */
export interface FinalQueue {
  /** fingerprint -> in queue or unacked zset, with its JSON in the messages hash. */
  present: Map<string, boolean>;
}

/** Fingerprints whose pushes outnumber their acks: what must still be queued at the end. */
export function outstandingMessages(ledger: WriteLedger): string[] {
  return [...ledger.messages].filter(([, m]) => m.pushes > m.acks + (m.maybeAcks ?? 0)).map(([fp]) => fp);
}

const accepted = (w: Write) => [w.hash, ...(w.alts ?? [])];
/** The outcomes `w` allows include `seen` (anything, when the value before a failed write is unknown). */
const allows = (w: Write, seen: string | null) => w.hash === UNKNOWN || accepted(w).includes(seen);

/**
 * The invariants, from the ledger and what the final Redis holds (read by `readFinalState`).
 * `now` is when the final state was read; keys whose TTL ends within `marginMs` of it are skipped.
 */
export function computeInvariants(ledger: WriteLedger, final: Map<string, FinalKey>, queue: FinalQueue, now: number, marginMs = 1500): InvariantReport {
  const processedTwice: string[] = [];
  let twice = 0;
  let pushed = 0;
  let acked = 0;
  for (const [fp, m] of ledger.messages) {
    pushed += m.pushes;
    acked += m.acks;
    if (m.acks > m.pushes) {
      twice += m.acks - m.pushes;
      if (processedTwice.length < 10) processedTwice.push(`${fp} pushed ${m.pushes}, acked ${m.acks} (${m.by.join(', ')})`);
    }
  }
  const lost = outstandingMessages(ledger).filter((fp) => !queue.present.get(fp));

  const resurrected: Violation[] = [];
  const stale: Violation[] = [];
  let skipped = 0;
  for (const [key, entry] of ledger.keys) {
    // Judge a copy: the ledger itself stays as recorded (the check may run more than once).
    const e: KeyEntry = { ...entry, ...(entry.fields ? { fields: new Map(entry.fields) } : {}) };
    settle(e, now - marginMs);
    if (e.expiresAt !== undefined && e.expiresAt <= now + marginMs) {
      skipped++;
      continue;
    }
    const f = final.get(key) ?? { type: 'none' };
    const present = f.type !== 'none';
    if (e.kind === 'string' || e.kind === 'list' || e.kind === 'touch') {
      const w = e.whole;
      if (!w || w.hash === UNKNOWN) continue;
      const ok = accepted(w);
      if (w.hash === null) {
        if (present && !ok.includes(e.kind === 'touch' ? MEMBER : (f.whole ?? MEMBER))) resurrected.push({ key, detail: `deleted ${iso(w.t0)} on ${w.url}, present` });
        continue;
      }
      const seen = !present ? null : e.kind === 'touch' ? MEMBER : (f.whole ?? null);
      if (!ok.includes(seen)) stale.push({ key, detail: present ? `value differs from the last write (${iso(w.t0)} on ${w.url})` : `absent; last written ${iso(w.t0)} on ${w.url}` });
      continue;
    }
    for (const [field, w] of e.fields ?? []) {
      const seen = f.fields?.get(field) ?? null;
      if (allows(w, seen)) continue;
      if (w.hash === null) resurrected.push({ key, field, detail: `deleted ${iso(w.t0)} on ${w.url}, present` });
      else stale.push({ key, field, detail: seen === null ? `absent; last written ${iso(w.t0)} on ${w.url}` : `value differs from the last write (${iso(w.t0)} on ${w.url})` });
    }
    if (e.deletedAt !== undefined && f.all) {
      for (const field of f.all) if (!e.fields?.has(field)) resurrected.push({ key, field, detail: `key deleted ${iso(e.deletedAt)}, field back` });
    }
  }
  return {
    noMessageProcessedTwice: twice === 0,
    noMessageLost: lost.length === 0,
    noDeletedKeyResurrected: resurrected.length === 0,
    lastWriteWins: stale.length === 0,
    figures: {
      messagesPushed: pushed,
      messagesAcked: acked,
      messagesProcessedTwice: twice,
      messagesLost: lost.length,
      keysResurrected: resurrected.length,
      staleValues: stale.length,
      keysTracked: ledger.keys.size,
      writes: ledger.writes,
      uncertainWrites: ledger.uncertainWrites,
      keysSkippedNearExpiry: skipped,
      longestOrcaPollGapMs: ledger.longestPollGapMs,
    },
    examples: { processedTwice, lost: lost.slice(0, 10), resurrected: resurrected.slice(0, 10), stale: stale.slice(0, 10) },
  };
}

const iso = (t: number) => new Date(t).toISOString().slice(11, 23);

/** Read, on the final Redis, what the ledger needs: every tracked key, pipelined in batches. */
export async function readFinalState(redis: Redis, ledger: WriteLedger, queueName = 'orca.task.queue'): Promise<{ keys: Map<string, FinalKey>; queue: FinalQueue }> {
  const keys = new Map<string, FinalKey>();
  const entries = [...ledger.keys];
  for (let i = 0; i < entries.length; i += 500) {
    const batch = entries.slice(i, i + 500);
    const types = ((await redis.pipeline(batch.map(([k]) => ['type', k])).exec()) ?? []) as [Error | null, string][];
    const p = redis.pipeline();
    const plan: ((results: [Error | null, unknown][], at: number) => number)[] = [];
    batch.forEach(([key, e], j) => {
      const type = (types[j]?.[1] ?? 'none') as FinalKey['type'];
      const known = ['none', 'string', 'hash', 'set', 'zset', 'list'].includes(type) ? type : 'other';
      const fk: FinalKey = { type: known };
      keys.set(key, fk);
      const fields = [...(e.fields?.keys() ?? [])];
      const wantAll = e.deletedAt !== undefined;
      if (known === 'string') {
        p.getBuffer(key);
        plan.push((r, at) => ((fk.whole = valueHash((r[at]?.[1] as Buffer | null) ?? '')), 1));
      } else if (known === 'list') {
        p.lrange(key, 0, -1);
        plan.push((r, at) => ((fk.whole = valueHash(((r[at]?.[1] as string[]) ?? []).join('\u0000'))), 1));
      } else if (known === 'hash' || known === 'set' || known === 'zset') {
        fk.fields = new Map();
        let n = 0;
        if (fields.length) {
          if (known === 'hash') p.hmgetBuffer(key, ...fields);
          else if (known === 'zset') for (const f of fields) p.zscore(key, f);
          else for (const f of fields) p.sismember(key, f);
          n = known === 'hash' ? 1 : fields.length;
        }
        if (wantAll) {
          if (known === 'hash') p.hkeys(key);
          else if (known === 'zset') p.zrange(key, '0', '-1');
          else p.smembers(key);
        }
        plan.push((r, at) => {
          if (known === 'hash' && fields.length) {
            const values = (r[at]?.[1] as (Buffer | null)[]) ?? [];
            fields.forEach((f, x) => {
              fk.fields!.set(f, values[x] ? valueHash(values[x]!) : null);
            });
          } else if (fields.length) {
            fields.forEach((f, x) => {
              const v = r[at + x]?.[1];
              fk.fields!.set(f, known === 'zset' ? (v === null || v === undefined ? null : scoreHash(v as string)) : v === 1 ? MEMBER : null);
            });
          }
          if (wantAll) fk.all = (r[at + n]?.[1] as string[]) ?? [];
          return n + (wantAll ? 1 : 0);
        });
      } else plan.push(() => 0);
    });
    const results = ((await p.exec()) ?? []) as [Error | null, unknown][];
    let at = 0;
    for (const step of plan) at += step(results, at);
  }
  const present = new Map<string, boolean>();
  const outstanding = outstandingMessages(ledger);
  for (let i = 0; i < outstanding.length; i += 500) {
    const batch = outstanding.slice(i, i + 500);
    const p = redis.pipeline();
    for (const fp of batch) p.zscore(`${queueName}.queue`, fp).zscore(`${queueName}.unacked`, fp).hexists(`${queueName}.messages`, fp);
    const r = ((await p.exec()) ?? []) as [Error | null, unknown][];
    batch.forEach((fp, j) => {
      present.set(fp, (r[j * 3]?.[1] !== null || r[j * 3 + 1]?.[1] !== null) && r[j * 3 + 2]?.[1] === 1);
    });
  }
  return { keys, queue: { present } };
}

/**
 * The cutover window: from the first change of the Halyard ConfigMap to the first moment
 * after it when every Redis-using service that ran before the patch again had a pod running,
 * and every running pod was on a Redis other than `sourceUrl` (spin-redis): the last pod on
 * the new Redis is up and the last old pod is gone. Measured even if the run rolled back later.
 * Undefined when there was no patch or that moment never came (before `until`).
 */
export function cutoverWindow(ledger: WriteLedger, sourceUrl: string, until: number): { patchAt: string; allOnTargetAt: string; ms: number } | undefined {
  const patchAt = ledger.configPatches[0];
  if (patchAt === undefined) return undefined;
  const live = new Map<string, { service: string; url: string }>();
  const services = new Set<string>();
  for (const ev of ledger.instanceEvents) {
    if (ev.t > until) break;
    if (ev.t < patchAt) services.add(ev.service);
    if (ev.event === 'start') live.set(ev.pod, { service: ev.service, url: ev.url });
    else live.delete(ev.pod);
    if (ev.t < patchAt) continue;
    const running = [...live.values()];
    if (running.every((p) => p.url !== sourceUrl) && [...services].every((s) => running.some((p) => p.service === s))) {
      return { patchAt: new Date(patchAt).toISOString(), allOnTargetAt: new Date(ev.t).toISOString(), ms: ev.t - patchAt };
    }
  }
  return undefined;
}
