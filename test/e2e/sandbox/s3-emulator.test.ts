/**
 * The S3 emulator (sandbox/aws/s3.ts) against the real clients: @aws-sdk/client-s3 and
 * @aws-sdk/lib-storage through lib/s3/seed-object.ts (a multipart upload of a stream, the re-run
 * that finds it, the removal with an unfinished upload aborted), S3's part-size rule, and the
 * official `aws s3` CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { deleteSeed, findSeedObject, PART_BYTES, seedObject, uploadSeed } from '../../../lib/s3/seed-object.js';
import { type S3Emulator, startS3Emulator } from '../../../sandbox/aws/s3.js';

const run = promisify(execFile);
const BUCKET = 'seed-test';
const EXECUTION = 'arn:aws:states:us-east-1:000000000000:execution:spin-elasticache:run-1';

describe('the S3 emulator with the real clients', () => {
  let s3: S3Emulator;
  let client: S3Client;
  const credentials = { accessKeyId: 'AKIATEST', secretAccessKey: 'secret' };
  beforeAll(async () => {
    s3 = await startS3Emulator();
    s3.createBucket(BUCKET);
    client = new S3Client({ region: 'us-east-1', endpoint: s3.url, forcePathStyle: true, credentials });
  });
  afterAll(async () => {
    client?.destroy();
    await s3?.close();
  });

  it('takes a stream as a multipart upload (lib-storage), byte for byte, and a re-run finds it', async () => {
    const object = seedObject(BUCKET, EXECUTION);
    const data = Buffer.alloc(2 * PART_BYTES + 12345);
    for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i, i);
    const result = await uploadSeed(client, object, 'run-1', async (write) => {
      for (let i = 0; i < data.length; i += 1 << 20) await write(data.subarray(i, i + (1 << 20)));
      return 'done';
    });
    expect(result).toMatchObject({ produced: 'done', parts: 3 });
    expect(s3.object(BUCKET, object.key)?.body.equals(data)).toBe(true);
    expect(s3.object(BUCKET, object.key)?.etag).toMatch(/-3"$/);
    expect(s3.requestLog.map((r) => r.operation)).toEqual(expect.arrayContaining(['CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload']));
    expect(await findSeedObject(client, object, 'run-1')).toMatchObject({ bytes: data.length, parts: 3, reused: true });
    // Another execution's object is not this one's.
    expect(await findSeedObject(client, object, 'run-2')).toBeUndefined();
  }, 60_000);

  it('aborts the multipart upload when the producer fails, leaving no object and no parts', async () => {
    const object = seedObject(BUCKET, `${EXECUTION}-failing`);
    await expect(
      uploadSeed(client, object, 'failing', async (write) => {
        await write(Buffer.alloc(PART_BYTES + 1));
        throw new Error('the snapshot broke');
      }),
    ).rejects.toThrow('the snapshot broke');
    expect(s3.object(BUCKET, object.key)).toBeUndefined();
    expect(s3.pendingUploads(BUCKET).filter((u) => u.key === object.key)).toEqual([]);
  }, 60_000);

  it('refuses a part under 5 MiB that is not the last (EntityTooSmall), and the removal aborts the unfinished upload', async () => {
    const object = seedObject(BUCKET, `${EXECUTION}-small`);
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: object.key }));
    const parts = [];
    for (const n of [1, 2]) {
      const { ETag } = await client.send(new UploadPartCommand({ Bucket: BUCKET, Key: object.key, UploadId, PartNumber: n, Body: Buffer.alloc(1024, n) }));
      parts.push({ ETag, PartNumber: n });
    }
    await expect(client.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: object.key, UploadId, MultipartUpload: { Parts: parts } }))).rejects.toMatchObject({ name: 'EntityTooSmall' });
    expect(s3.pendingUploads(BUCKET).map((u) => u.key)).toContain(object.key);
    expect(await deleteSeed(client, object)).toEqual({ deleted: false, abortedUploads: 1 });
    expect(s3.pendingUploads(BUCKET).map((u) => u.key)).not.toContain(object.key);
    // Idempotent: nothing left to do.
    expect(await deleteSeed(client, object)).toEqual({ deleted: false, abortedUploads: 0 });
  }, 30_000);

  it('the aws CLI copies, lists, reads and removes objects (aws --endpoint-url … s3)', async () => {
    const has = await run('sh', ['-c', 'command -v aws']).then(
      () => true,
      () => false,
    );
    if (!has) return console.warn('skipped: the aws CLI is not installed');
    const env = { ...process.env, AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey, AWS_DEFAULT_REGION: 'us-east-1', AWS_PAGER: '' };
    const aws = (...args: string[]) => run('aws', ['--endpoint-url', s3.url, 's3', ...args], { env });
    const dir = mkdtempSync(join(tmpdir(), 's3-cli-'));
    // Over the CLI's 8 MiB multipart threshold: it uploads in parts.
    const big = Buffer.alloc(9 * 1024 * 1024, 7);
    writeFileSync(join(dir, 'dump.rdb'), big);
    await aws('cp', join(dir, 'dump.rdb'), `s3://${BUCKET}/cli/dump.rdb`);
    expect(s3.object(BUCKET, 'cli/dump.rdb')?.body.equals(big)).toBe(true);
    expect((await aws('ls', `s3://${BUCKET}/cli/`)).stdout).toMatch(/9437184 dump\.rdb/);
    expect((await aws('ls')).stdout).toContain(BUCKET);
    await aws('cp', `s3://${BUCKET}/cli/dump.rdb`, join(dir, 'back.rdb'));
    expect(readFileSync(join(dir, 'back.rdb')).equals(big)).toBe(true);
    await aws('rm', `s3://${BUCKET}/cli/dump.rdb`);
    expect(s3.object(BUCKET, 'cli/dump.rdb')).toBeUndefined();
  }, 60_000);
});
