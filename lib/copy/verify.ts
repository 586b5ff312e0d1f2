/**
 * Verification: every key on both sides, in both directions, by structural digest and
 * absolute expiry. Strict mode (the `copy --verify` command, the benchmark) demands
 * equality. Live mode (the migration, with Spinnaker writing to the target) accepts what
 * the conflict rule allows: the target may hold more members/fields than the source, newer
 * values for keys Spinnaker rewrote after the cutover, and later expiries (renewed TTLs).
 */
import type { Redis } from 'ioredis';
import type { RedisEndpoint } from '../redis/connect.js';
import { existing, scanBatches, scanPairs } from './compare.js';
import { OWN_KEY_PREFIX, ownKeys } from './filter.js';
import { digestKey, type KeyDigest, sameContent, streamDifferences } from './digest.js';
import type { Checkpoint } from './types.js';
import { type WalkPass, walkSlice } from './walk.js';
import { BothSides, countTarget } from './target-count.js';

export interface VerifyOptions {
  mode?: 'strict' | 'live';
  ttlToleranceMs?: number;
  skipPrefix?: string;
  maxExamples?: number;
}

export interface Mismatch {
  db: number;
  key: string;
  kind: 'missing' | 'extra' | 'type' | 'value' | 'ttl';
  detail: string;
}

export interface VerifyReport {
  ok: boolean;
  mode: 'strict' | 'live';
  compared: number;
  missing: number;
  extra: number;
  typeMismatches: number;
  valueMismatches: number;
  ttlMismatches: number;
  /** Live mode: differences the conflict rule resolves in favour of the target. */
  targetNewer: number;
  expiringSkipped: number;
  /**
   * Strict mode: databases whose target was proven to hold no key but those found on both sides
   * by counting (countTarget), so the walk for keys only on the target was not needed.
   */
  targetWalksCounted?: number;
  examples: Mismatch[];
  ms: number;
}

export function printableKey(key: Buffer): string {
  const text = key.toString('utf8');
  return Buffer.from(text, 'utf8').equals(key) && !/[\x00-\x1f]/.test(text) ? text : `hex:${key.toString('hex')}`;
}

async function supersetOf(target: Redis, source: Redis, key: Buffer, type: string): Promise<boolean> {
  // Cheap and exact enough for the live check: every source member/field is on the target.
  let cursor = '0';
  do {
    const [next, items] =
      type === 'set'
        ? ((await source.sscanBuffer(key, cursor, 'COUNT', 1000)) as unknown as [Buffer, Buffer[]])
        : type === 'hash'
          ? ((await source.hscanBuffer(key, cursor, 'COUNT', 1000)) as unknown as [Buffer, Buffer[]])
          : ((await source.zscanBuffer(key, cursor, 'COUNT', 1000)) as unknown as [Buffer, Buffer[]]);
    cursor = next.toString();
    const members = type === 'set' ? items : items.filter((_, i) => i % 2 === 0);
    if (members.length === 0) continue;
    const pipeline = target.pipeline();
    for (const m of members) {
      if (type === 'set') pipeline.sismember(key, m);
      else if (type === 'hash') pipeline.hexists(key, m);
      else pipeline.zscore(key, m);
    }
    const results = (await pipeline.exec()) ?? [];
    if (results.some(([err, value]) => err || value === 0 || value === null)) return false;
  } while (cursor !== '0');
  return true;
}

/** Counts of a verification not yet over (the report without its verdict). */
export const emptyReport = (mode: 'strict' | 'live'): VerifyReport => ({
  ok: false,
  mode,
  compared: 0,
  missing: 0,
  extra: 0,
  typeMismatches: 0,
  valueMismatches: 0,
  ttlMismatches: 0,
  targetNewer: 0,
  expiringSkipped: 0,
  targetWalksCounted: 0,
  examples: [],
  ms: 0,
});

export interface VerifySliceOptions extends VerifyOptions {
  /** Epoch ms: no new SCAN page from then on (options.copySliceSeconds in the workflow). */
  deadline?: number;
  /**
   * Source keys the caller wants back (orca's executions, for the audit): those the forward pass
   * of a database read, when that pass ran whole in this slice, so the caller needs no walk of
   * its own (VerifySlice.remembered). Up to REMEMBERED_MAX keys per database, else none.
   */
  remember?: (key: Buffer) => boolean;
}

/** Keys `remember` may keep per database (Buffers of the source's keys, held until the slice ends). */
const REMEMBERED_MAX = 250_000;

/** One slice of a verification: the report so far (`ok` once `done` and clean) and where the next slice resumes. */
export interface VerifySlice {
  report: VerifyReport;
  checkpoint: Checkpoint<VerifyReport>;
  done: boolean;
  /** Per database whose forward pass ran whole in this slice: the source keys `remember` kept (each as SCAN returned it, so possibly twice). */
  remembered?: { db: number; keys: Buffer[] }[];
}

/**
 * One bounded slice of the verification (lib/copy/walk.ts), resuming from `previous`: source
 * keys compared with the target's, then, in strict mode, target keys looked for on the source.
 * The report's counts and `ms` are those of the whole verification so far.
 */
export async function verifySlice(
  sourceEndpoint: RedisEndpoint,
  targetEndpoint: RedisEndpoint,
  previous: Checkpoint<VerifyReport> | undefined,
  options: VerifySliceOptions = {},
): Promise<VerifySlice> {
  const started = Date.now();
  const mode = options.mode ?? 'strict';
  const tolerance = options.ttlToleranceMs ?? 500;
  const maxExamples = options.maxExamples ?? 20;
  const skip = ownKeys(options.skipPrefix);
  const note = (report: VerifyReport, m: Mismatch) => report.examples.length < maxExamples && report.examples.push(m);
  // The keys of the database being walked that are on both sides, when its forward pass runs whole in this slice.
  let onBoth: BothSides | undefined;
  const remembered: { db: number; keys: Buffer[] }[] = [];
  // Source -> target: everything must be there and equal (both sides read a batch per round trip, lib/copy/compare.ts).
  const forward: WalkPass<VerifyReport> = async (source, target, db, report, range) => {
    const tracked: BothSides | undefined = mode === 'strict' && (range.cursor ?? '0') === '0' ? new BothSides(db) : undefined;
    onBoth = tracked;
    let kept: Buffer[] | undefined = options.remember && (range.cursor ?? '0') === '0' ? [] : undefined;
    const stop = await scanPairs(
      source,
      target,
      skip,
      async (pairs) => {
        for (const { key, from: s, to: t } of pairs) {
          if (kept && s && options.remember!(key)) {
            if (kept.length < REMEMBERED_MAX) kept.push(key);
            else kept = undefined;
          }
          if (!s) {
            // Gone from the source since SCAN (expired), not (yet) from the target.
            if (tracked && t) tracked.notCompared(key);
            continue;
          }
          // A key is decoded (printableKey) only for an example: decoding every key cost more than
          // the comparison, and so did a closure per key that would decode it.
          if (s.expiresAt >= 0 && s.expiresAt - Date.now() < tolerance * 2) {
            // Gone from both sides in a moment, unless the copy outlives it (issue 9, item 5).
            if (t && outlives(s, t, tolerance, mode)) {
              report.compared++;
              report.ttlMismatches++;
              if (tracked) tracked.compared(key, t.expiresAt);
              note(report, { db, key: printableKey(key), kind: 'ttl', detail: `expires ${describeExpiry(s)} on the source, ${describeExpiry(t)} on the target` });
            } else {
              report.expiringSkipped++;
              if (tracked && t) tracked.notCompared(key);
            }
            continue;
          }
          report.compared++;
          if (tracked && t) tracked.compared(key, t.expiresAt);
          if (!t) {
            report.missing++;
            note(report, { db, key: printableKey(key), kind: 'missing', detail: `${s.type} missing on the target` });
            continue;
          }
          if (s.type !== t.type) {
            report.typeMismatches++;
            note(report, { db, key: printableKey(key), kind: 'type', detail: `${s.type} on the source, ${t.type} on the target` });
            continue;
          }
          if (!sameContent(s, t)) {
            if (mode === 'live' && (await acceptableLiveDifference(source, target, key, s, t))) report.targetNewer++;
            else {
              report.valueMismatches++;
              const differences = s.type === 'stream' ? streamDifferences(s, t) : [];
              note(report, {
                db,
                key: printableKey(key),
                kind: 'value',
                detail: differences.length > 0 ? `stream: ${differences.join('; ')}` : `${s.type}: ${s.size} element(s) on the source, ${t.size} on the target`,
              });
            }
            continue;
          }
          if (!ttlMatches(s, t, tolerance, mode)) {
            report.ttlMismatches++;
            note(report, { db, key: printableKey(key), kind: 'ttl', detail: `expires ${describeExpiry(s)} on the source, ${describeExpiry(t)} on the target` });
          }
        }
      },
      range,
    );
    if (tracked) tracked.complete = stop.done;
    if (kept && stop.done) remembered.push({ db, keys: kept });
    return stop;
  };
  // Target -> source: nothing extra (in live mode, keys Spinnaker created after the cutover are expected).
  // Keys of the target not found on both sides by the forward pass: on the source after all, or
  // expiring this very moment (gone from the source a few ms earlier), or extra.
  const onlyOnTarget = async (source: Redis, target: Redis, db: number, report: VerifyReport, keys: Buffer[]) => {
    const onSource = await existing(source, keys);
    for (const [i, key] of keys.entries()) {
      if (onSource[i]) continue;
      const t = await digestKey(target, key);
      if (!t) continue;
      if (t.expiresAt >= 0 && t.expiresAt - Date.now() < tolerance * 2) {
        report.expiringSkipped++;
        continue;
      }
      report.extra++;
      note(report, { db, key: printableKey(key), kind: 'extra', detail: `${t.type} only on the target` });
    }
  };
  const back: WalkPass<VerifyReport> = async (source, target, db, report, range) => {
    const both = (range.cursor ?? '0') === '0' && onBoth?.db === db && onBoth.complete && !onBoth.overflow ? onBoth : undefined;
    const counted = both ? await countTarget(target, both, options.skipPrefix ?? OWN_KEY_PREFIX) : undefined;
    if (counted?.holdsOnly) {
      report.targetWalksCounted = (report.targetWalksCounted ?? 0) + 1;
      if (counted.uncomparedLeft.length > 0) await onlyOnTarget(source, target, db, report, counted.uncomparedLeft);
      return { cursor: '0', done: true };
    }
    // Else every key of the target is looked for on the source (the forward pass remembers keys by
    // hash, which cannot say for sure that a key was seen).
    return scanBatches(target, skip, (keys) => onlyOnTarget(source, target, db, report, keys), range);
  };
  const walked = await walkSlice(sourceEndpoint, targetEndpoint, previous, {
    fresh: () => emptyReport(mode),
    forward,
    ...(mode === 'live' ? {} : { back }),
    ...(options.deadline !== undefined ? { deadline: options.deadline } : {}),
    connectionName: 'spin-elasticache-verify',
  });
  const report = walked.checkpoint.stats;
  report.ms += Date.now() - started;
  report.ok = walked.done && report.missing === 0 && report.typeMismatches === 0 && report.valueMismatches === 0 && report.ttlMismatches === 0 && report.extra === 0;
  return { report: { ...report, examples: [...report.examples] }, checkpoint: walked.checkpoint, done: walked.done, ...(options.remember ? { remembered } : {}) };
}

/** The whole verification in one call (the `copy --verify` command, the benchmarks): slices without a deadline. */
export async function verifyCopy(sourceEndpoint: RedisEndpoint, targetEndpoint: RedisEndpoint, options: VerifyOptions = {}): Promise<VerifyReport> {
  const { report } = await verifySlice(sourceEndpoint, targetEndpoint, undefined, options);
  return report;
}

function describeExpiry(d: KeyDigest): string {
  return d.expiresAt < 0 ? 'never' : new Date(d.expiresAt).toISOString();
}

/**
 * For a source key expiring this moment (not compared otherwise): whether the target's copy
 * would outlive it, with no expiry or (strict) a later one. Such a copy is a key that comes
 * back from the dead; one that expires with the source, or sooner, is not.
 */
export function outlives(s: KeyDigest, t: KeyDigest, tolerance: number, mode: 'strict' | 'live' = 'strict'): boolean {
  if (t.expiresAt < 0) return true;
  return mode === 'strict' && t.expiresAt - s.expiresAt > tolerance;
}

function ttlMatches(s: KeyDigest, t: KeyDigest, tolerance: number, mode: 'strict' | 'live'): boolean {
  if (s.expiresAt < 0 || t.expiresAt < 0) return s.expiresAt === t.expiresAt || (mode === 'live' && t.expiresAt < 0 && s.expiresAt < 0);
  if (Math.abs(s.expiresAt - t.expiresAt) <= tolerance) return true;
  return mode === 'live' && t.expiresAt > s.expiresAt; // renewed on the target after the cutover
}

async function acceptableLiveDifference(source: Redis, target: Redis, key: Buffer, s: KeyDigest, t: KeyDigest): Promise<boolean> {
  if (s.type === 'set' || s.type === 'hash' || s.type === 'zset') return supersetOf(target, source, key, s.type);
  // A stream written after the cutover only grows: every source entry still there, every group
  // still there, none behind the source's. Anything else lost consumer state (named by the caller).
  if (s.type === 'stream') return streamContinues(source, target, key, s, t);
  // Strings, lists: the target holds a value Spinnaker wrote after the cutover.
  return t.size > 0;
}

/** The target's stream is the source's plus later writes: same entries up to the source's last, same groups, none behind. */
async function streamContinues(source: Redis, target: Redis, key: Buffer, s: KeyDigest, t: KeyDigest): Promise<boolean> {
  if (t.size < s.size) return false;
  let start = '-';
  for (;;) {
    const ours = (await source.xrangeBuffer(key, start, '+', 'COUNT', 1000)) as unknown as [Buffer, Buffer[]][];
    if (ours.length === 0) break;
    const last = ours.at(-1)![0].toString();
    const theirs = (await target.xrangeBuffer(key, start, last)) as unknown as [Buffer, Buffer[]][];
    const encode = (entries: [Buffer, Buffer[]][]) => entries.map(([id, fields]) => [id.toString('base64'), ...fields.map((f) => f.toString('base64'))].join(',')).join(';');
    if (encode(theirs) !== encode(ours)) return false;
    if (ours.length < 1000) break;
    start = `${last.split('-')[0]}-${Number(last.split('-')[1]) + 1}`;
  }
  const idOf = (value: string | undefined) => (value ?? '0-0').split('-').map(Number) as [number, number];
  const notBehind = (a: string | undefined, b: string | undefined) => {
    const [x1, x2] = idOf(a);
    const [y1, y2] = idOf(b);
    return x1 > y1 || (x1 === y1 && x2 >= y2);
  };
  for (const part of Object.keys(s.parts ?? {})) {
    const group = /^group (.*): last delivered id$/.exec(part)?.[1];
    if (group === undefined) continue;
    if (!notBehind(t.parts?.[part], s.parts?.[part])) return false;
  }
  return true;
}
