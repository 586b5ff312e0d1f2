/**
 * DeleteSeedSnapshot (`$.seedRemoval`): the seed object removed once the group has loaded it, and
 * in the rollback (RollbackDeleteSeedSnapshot), with any unfinished multipart upload (lib/workflow/seed.ts).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { s3 } from '../lib/aws/clients.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import { deleteSeedSnapshot } from '../lib/workflow/seed.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { s3: () => S3Client; bucket: () => string | undefined }) {
  return defineStepHandler('DeleteSeedSnapshot', (state: MigrationState) => deleteSeedSnapshot(deps.s3(), deps.bucket(), state));
}

export const handler = createHandler({ s3, bucket: () => process.env.SEED_BUCKET });
