/**
 * The s3-seed path (`options.copyMethod: s3-seed`), composed from the copy engine (the snapshot
 * as a replica, lib/copy/rdb-snapshot.ts) and S3 (lib/s3/seed-object.ts): spin-redis's RDB
 * streamed into the stack's seed bucket while Spinnaker is quiesced, for
 * `CreateReplicationGroup … SnapshotArns` (AWS, "Tutorial: Seeding a new node-based cluster with
 * an externally created backup"), and the object's removal once the group has loaded it (or in
 * the rollback). Spinnaker stays quiesced from before the snapshot until the switch: no catch-up
 * follows a seed, so a write to spin-redis after the snapshot would be lost (the strict
 * verification inside the pause would refuse the switch).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { streamRdbSnapshot } from '../copy/rdb-snapshot.js';
import { InvalidAwsResponseError, SeedBucketNotConfiguredError } from '../errors.js';
import type { RedisEndpoint } from '../redis/connect.js';
import { deleteSeed, findSeedObject, type SeedObject, seedObject, type SeedUpload, uploadSeed } from '../s3/seed-object.js';
import type { MigrationState } from './state.js';

/** `$.seed`: where the .rdb is and what it holds. */
export type SeedResult = SeedObject & SeedUpload & { startedAt: string; finishedAt: string; ms: number };
/** `$.seedRemoval`. */
export interface SeedRemoval {
  key: string;
  deleted: boolean;
  abortedUploads: number;
}

/** Lambda's 15 minutes, less a margin for the upload's last parts. */
const SNAPSHOT_TIMEOUT_MS = 13 * 60 * 1000;

function bucketOrThrow(bucket: string | undefined): string {
  if (!bucket)
    throw new SeedBucketNotConfiguredError('options.copyMethod is s3-seed but the function has no SEED_BUCKET: deploy the stack with its SeedBucket (serverless.yml), or choose another copyMethod');
  return bucket;
}

/** The execution's name: the idempotency key the seed object carries. */
const executionName = (state: MigrationState) => state.execution.arn.split(':').pop() ?? state.execution.arn;

/**
 * UploadSeedSnapshot: the snapshot of spin-redis, uploaded; a re-run finds the object a previous
 * attempt of this execution completed and reports it instead (Spinnaker was quiesced all along).
 * @throws SeedBucketNotConfiguredError, InvalidAwsResponseError when Spinnaker is not quiesced,
 *   ReplicationUnavailableError / CopyFailedError from the snapshot, Aws*Error from S3
 */
export async function uploadSeedSnapshot(
  s3: S3Client,
  source: () => Promise<RedisEndpoint>,
  bucket: string | undefined,
  state: MigrationState,
  now: () => Date = () => new Date(),
): Promise<SeedResult> {
  const object = seedObject(bucketOrThrow(bucket), state.execution.arn);
  // The freeze is the whole point: refuse to snapshot a spin-redis Spinnaker may still write.
  if (!state.quiesceCheck?.quiesced) throw new InvalidAwsResponseError('UploadSeedSnapshot ran before CheckSpinnakerQuiesced found Spinnaker quiesced: the seed would miss later writes');
  const startedAt = now();
  const name = executionName(state);
  const found = await findSeedObject(s3, object, name);
  if (found) return { ...object, ...found, startedAt: startedAt.toISOString(), finishedAt: now().toISOString(), ms: now().getTime() - startedAt.getTime() };
  const endpoint = await source();
  const { produced, parts, etag } = await uploadSeed(s3, object, name, (write) => streamRdbSnapshot(endpoint, write, { timeoutMs: SNAPSHOT_TIMEOUT_MS }));
  const finishedAt = now();
  return {
    ...object,
    bytes: produced.bytes,
    parts,
    ...(etag ? { etag } : {}),
    sha256: produced.sha256,
    rdbVersion: produced.rdbVersion,
    keys: produced.keys,
    reused: false,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    ms: finishedAt.getTime() - startedAt.getTime(),
  };
}

/** DeleteSeedSnapshot (and RollbackDeleteSeedSnapshot): the object and any unfinished upload; idempotent. */
export async function deleteSeedSnapshot(s3: S3Client, bucket: string | undefined, state: MigrationState): Promise<SeedRemoval> {
  const object = seedObject(bucketOrThrow(bucket), state.execution.arn);
  const removed = await deleteSeed(s3, object);
  return { key: object.key, ...removed };
}
