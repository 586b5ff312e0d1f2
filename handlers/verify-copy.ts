/**
 * VerifyCopy (`$.verify`, VPC): structural comparison of every key in both directions, and
 * orca's history per application on both sides. Not ok stops the migration before
 * spin-redis is scaled down (the rollback path takes over).
 */
import { VerificationFailedError } from '../lib/errors.js';
import { auditParity } from '../lib/spinnaker/audit.js';
import { defaultResolvers, type EndpointResolvers } from '../lib/workflow/endpoints.js';
import { verifyCopy } from '../lib/copy/verify.js';
import { defineHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(resolvers: EndpointResolvers) {
  return defineHandler('VerifyCopy', async (state: MigrationState) => {
    const [source, target] = await Promise.all([resolvers.source(state), resolvers.target(state)]);
    const report = await verifyCopy(source, target, { mode: 'live', maxExamples: 5 });
    const audit = await auditParity(source, target);
    if (!report.ok || !audit.parity.ok) {
      const examples = report.examples.map((e) => `${e.kind} ${e.key}: ${e.detail}`).join('; ');
      throw new VerificationFailedError(
        `Verification failed: ${report.missing} missing, ${report.typeMismatches} type, ${report.valueMismatches} value, ${report.ttlMismatches} TTL mismatch(es) of ${report.compared} keys${audit.parity.ok ? '' : '; orca history differs'}. ${examples}`,
      );
    }
    return { ...report, audit: audit.parity };
  });
}

export const handler = createHandler(defaultResolvers);
