/**
 * VerifyCopy's policy: the structural comparison of every key (lib/copy/verify.ts) and orca's
 * history per application (lib/spinnaker/audit.ts) must both hold, or the migration resumes
 * Spinnaker on spin-redis before anything is switched. Strict: it runs inside the pause, with
 * neither side written by Spinnaker, so the target must equal spin-redis exactly (extra keys
 * and lost deletions included). Here because it composes two areas.
 */
import { verifyCopy, type VerifyReport } from '../copy/verify.js';
import { VerificationFailedError } from '../errors.js';
import type { RedisEndpoint } from '../redis/connect.js';
import { auditParity, type AuditParity } from '../spinnaker/audit.js';

export async function verifyMigration(source: RedisEndpoint, target: RedisEndpoint): Promise<VerifyReport & { audit: AuditParity }> {
  const report = await verifyCopy(source, target, { mode: 'strict', maxExamples: 5 });
  const audit = await auditParity(source, target);
  if (!report.ok || !audit.parity.ok) {
    const examples = report.examples.map((e) => `${e.kind} ${e.key}: ${e.detail}`).join('; ');
    throw new VerificationFailedError(
      `Verification failed: ${report.missing} missing, ${report.extra} extra, ${report.typeMismatches} type, ${report.valueMismatches} value, ${report.ttlMismatches} TTL mismatch(es) of ${report.compared} keys${audit.parity.ok ? '' : '; orca history differs'}. ${examples}`,
    );
  }
  return { ...report, audit: audit.parity };
}
