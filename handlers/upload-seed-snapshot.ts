/**
 * UploadSeedSnapshot (`$.seed`, VPC; options.copyMethod s3-seed): spin-redis's RDB, taken as a
 * replica with Spinnaker quiesced, streamed into the stack's seed bucket (SEED_BUCKET) for
 * CreateReplicationGroup's SnapshotArns (lib/workflow/seed.ts).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { s3 } from '../lib/aws/clients.js';
import { defaultResolvers, type EndpointResolvers } from '../lib/workflow/endpoints.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import { uploadSeedSnapshot } from '../lib/workflow/seed.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { s3: () => S3Client; resolvers: EndpointResolvers; bucket: () => string | undefined }) {
  return defineStepHandler('UploadSeedSnapshot', (state: MigrationState) => uploadSeedSnapshot(deps.s3(), () => deps.resolvers.source(state), deps.bucket(), state));
}

export const handler = createHandler({ s3, resolvers: defaultResolvers, bucket: () => process.env.SEED_BUCKET });
