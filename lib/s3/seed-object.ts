/**
 * The seed object of the s3-seed path in the stack's seed bucket (serverless.yml `SeedBucket`):
 * its key, the multipart upload of a stream (@aws-sdk/lib-storage `Upload`: parts of 8 MiB, four
 * in flight, aborted on failure), the look that makes the upload idempotent, and its removal
 * (with any multipart upload left unfinished under the key, which S3 keeps, and bills, until
 * aborted).
 *
 * ElastiCache reads the object with its own service principal, which the bucket policy grants
 * (AWS, "Tutorial: Seeding a new node-based cluster with an externally created backup",
 * ElastiCache user guide backups-seeding-redis, "Grant ElastiCache read access to the .rdb
 * file"): `<region>.elasticache-snapshot.amazonaws.com` may `s3:GetObject` below `seed/`. The
 * stack writes that policy once; the Lambdas never change a bucket policy.
 */
import { PassThrough } from 'node:stream';
import { AbortMultipartUploadCommand, DeleteObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { awsCall, awsFind } from '../aws/errors.js';

type Client = S3Client;

/** Every seed object lives below this prefix, the only one the bucket policy opens to ElastiCache. */
export const SEED_PREFIX = 'seed/';
export const PART_BYTES = 8 * 1024 * 1024;

export interface SeedObject {
  bucket: string;
  key: string;
  /** `arn:aws:s3:::bucket/key`, as CreateReplicationGroup's SnapshotArns takes it. */
  arn: string;
}

/** One object per execution: a re-run of the step finds its own upload (the execution name is unique for 90 days). */
export function seedObject(bucket: string, executionArn: string): SeedObject {
  const name = executionArn.split(':').pop() ?? 'execution';
  const key = `${SEED_PREFIX}${name}/spin-redis.rdb`;
  return { bucket, key, arn: `arn:aws:s3:::${bucket}/${key}` };
}

/** What the upload reports: sha256 and the RDB facts from the snapshot; `reused` when a previous attempt's object was found. */
export interface SeedUpload {
  bytes: number;
  parts: number;
  etag?: string;
  sha256?: string;
  rdbVersion?: number;
  keys?: number;
  reused: boolean;
}

/**
 * The object if a previous attempt of this execution finished uploading it: a multipart upload
 * only appears once completed, and it carries the execution's name in its metadata (set when the
 * upload began). Spinnaker stays quiesced between the attempts, so that object is still exact.
 */
export async function findSeedObject(client: Client, object: SeedObject, execution: string): Promise<SeedUpload | undefined> {
  const head = await awsFind(`HeadObject ${object.key}`, 'NotFound', () => client.send(new HeadObjectCommand({ Bucket: object.bucket, Key: object.key })));
  if (!head || head.Metadata?.execution !== execution) return undefined;
  return { bytes: head.ContentLength ?? 0, parts: Number(/-(\d+)"?$/.exec(head.ETag ?? '')?.[1] ?? 1), ...(head.ETag ? { etag: head.ETag } : {}), reused: true };
}

/**
 * Uploads what `produce` writes, multipart (one PutObject when under a part), with the
 * execution's name as metadata; the object appears only when complete. A failure of `produce`
 * or of S3 aborts the multipart upload (no parts left behind) and is rethrown, mapped.
 */
export async function uploadSeed<T>(
  client: Client,
  object: SeedObject,
  execution: string,
  produce: (write: (chunk: Buffer) => Promise<void>) => Promise<T>,
): Promise<{ produced: T; parts: number; etag?: string }> {
  const body = new PassThrough({ highWaterMark: PART_BYTES });
  const upload = new Upload({
    client,
    params: { Bucket: object.bucket, Key: object.key, Body: body, ContentType: 'application/octet-stream', ServerSideEncryption: 'AES256', Metadata: { execution } },
    partSize: PART_BYTES,
    queueSize: 4,
    leavePartsOnError: false,
  });
  let parts = 0;
  upload.on('httpUploadProgress', (p) => {
    if (p.part !== undefined) parts = Math.max(parts, p.part);
  });
  const done = awsCall(`upload of ${object.arn}`, () => upload.done());
  // The upload may fail first (S3 refused): stop producing then.
  let uploadFailed: unknown;
  done.catch((error: unknown) => {
    uploadFailed = error;
    body.destroy();
  });
  let produced: T;
  try {
    produced = await produce(async (chunk) => {
      if (uploadFailed) throw uploadFailed;
      if (!body.write(chunk))
        await new Promise<void>((resolve, reject) => {
          body.once('drain', resolve);
          body.once('close', () => (uploadFailed ? reject(uploadFailed) : resolve()));
        });
    });
    body.end();
  } catch (error) {
    // What failed first is the cause; the abort below makes the upload fail too (AbortError).
    const cause = uploadFailed ?? error;
    await upload.abort().catch(() => undefined);
    body.destroy();
    await done.catch(() => undefined);
    throw cause;
  }
  const result = await done;
  return { produced, parts: Math.max(parts, 1), ...('ETag' in result && result.ETag ? { etag: result.ETag } : {}) };
}

/** Removes the object and any unfinished multipart upload under its key. Idempotent. */
export async function deleteSeed(client: Client, object: SeedObject): Promise<{ deleted: boolean; abortedUploads: number }> {
  const existed = (await awsFind(`HeadObject ${object.key}`, 'NotFound', () => client.send(new HeadObjectCommand({ Bucket: object.bucket, Key: object.key })))) !== undefined;
  await awsCall(`DeleteObject ${object.key}`, () => client.send(new DeleteObjectCommand({ Bucket: object.bucket, Key: object.key })));
  const { Uploads } = await awsCall(`ListMultipartUploads ${object.key}`, () => client.send(new ListMultipartUploadsCommand({ Bucket: object.bucket, Prefix: object.key })));
  const mine = (Uploads ?? []).filter((u) => u.Key === object.key && u.UploadId);
  for (const u of mine) await awsCall(`AbortMultipartUpload ${object.key}`, () => client.send(new AbortMultipartUploadCommand({ Bucket: object.bucket, Key: object.key, UploadId: u.UploadId })));
  return { deleted: existed, abortedUploads: mine.length };
}
