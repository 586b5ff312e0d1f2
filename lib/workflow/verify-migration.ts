/**
 * VerifyCopy's policy: the structural comparison of every key (lib/copy/verify.ts) and orca's
 * history per application (lib/spinnaker/audit.ts) must both hold, or the migration resumes
 * Spinnaker on spin-redis before anything is switched. Strict: it runs inside the pause, with
 * neither side written by Spinnaker, so the target must equal spin-redis exactly (extra keys
 * and lost deletions included). Here because it composes two areas.
 */
import type { Checkpoint } from '../copy/types.js';
import { type VerifyReport, verifySlice } from '../copy/verify.js';
import { VerificationFailedError } from '../errors.js';
import { type RedisEndpoint, redisOptions } from '../redis/connect.js';
import { auditParity, type AuditParity, isExecutionKey } from '../spinnaker/audit.js';

/** An orca execution's key (`p`ipeline:…, `o`rchestration:…), tested on the first byte before it is decoded. */
const isExecution = (key: Buffer): boolean => (key[0] === 0x70 || key[0] === 0x6f) && isExecutionKey(key.toString());

/**
 * `$.verify`: the report so far, slice by slice; once `done`, the whole report and the audit.
 * `checkpoint` (while not done) is where the next slice resumes.
 */
export type VerifyState = VerifyReport & { done: boolean; slices: number; longestSliceMs: number; checkpoint?: Checkpoint<VerifyReport>; audit?: AuditParity };

function failure(report: VerifyReport, audit?: AuditParity): VerificationFailedError {
  const examples = report.examples.map((e) => `${e.kind} ${e.key}: ${e.detail}`).join('; ');
  return new VerificationFailedError(
    `Verification failed: ${report.missing} missing, ${report.extra} extra, ${report.typeMismatches} type, ${report.valueMismatches} value, ${report.ttlMismatches} TTL mismatch(es) of ${report.compared} keys${audit && !audit.ok ? '; orca history differs' : ''}. ${examples}`,
  );
}

/**
 * One slice of the strict verification, resuming from `previous` (`$.verify` of the last slice);
 * the audit runs once every key was compared (in the next slice when this one's deadline has
 * passed: the walk's checkpoint then says it is over), on the execution keys the walk read when
 * it read its database whole in this slice, else on a SCAN of its own. A difference fails at the end of the slice that
 * found it (the rest of the pause is not spent on a migration already refused).
 * @throws VerificationFailedError naming the counts and a few examples
 */
export async function verifyMigration(source: RedisEndpoint, target: RedisEndpoint, previous?: VerifyState, options: { deadline?: number } = {}): Promise<VerifyState> {
  const started = Date.now();
  // The walk keeps orca's execution keys as it reads them, so the audit reads those on both sides and scans nothing.
  const slice = await verifySlice(source, target, previous?.done ? undefined : previous?.checkpoint, { mode: 'strict', maxExamples: 5, remember: isExecution, ...options });
  const { report } = slice;
  const progress = { done: slice.done, slices: (previous?.done ? 0 : (previous?.slices ?? 0)) + 1 };
  if (report.missing + report.extra + report.typeMismatches + report.valueMismatches + report.ttlMismatches > 0) throw failure(report);
  // The audit scans orca's keys on both sides: past the deadline it waits for a slice of its own.
  const auditWaits = slice.done && options.deadline !== undefined && Date.now() >= options.deadline;
  if (!slice.done || auditWaits)
    return { ...report, done: false, slices: progress.slices, longestSliceMs: Math.max(previous?.longestSliceMs ?? 0, Date.now() - started), checkpoint: slice.checkpoint };
  const db = redisOptions(source).db ?? 0;
  const read = slice.remembered?.find((r) => r.db === db);
  // Keys as the SCAN of the audit would give them (decoded), each once (SCAN may repeat one).
  const audit = await auditParity(source, target, read ? [...new Set(read.keys.map((k) => k.toString()))] : undefined);
  if (!audit.parity.ok) throw failure(report, audit.parity);
  return { ...report, ...progress, longestSliceMs: Math.max(previous?.longestSliceMs ?? 0, Date.now() - started), audit: audit.parity };
}
