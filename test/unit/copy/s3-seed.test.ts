/**
 * The rule that says when seeding ElastiCache from S3 would be chosen over the online copy
 * (lib/copy/s3-seed.ts): only when the live catch-up cannot converge, or the online copy would
 * take more than a day while the freeze would not.
 */
import { describe, expect, it } from '@jest/globals';
import { adviseS3Seed, MAX_ONLINE_COPY_SECONDS, REPLICATION_BYTES_PER_SECOND, S3_SEED_CREATE_SECONDS, SCAN_BYTES_PER_SECOND } from '../../../lib/copy/s3-seed.js';

const GB = 1e9;

describe('adviseS3Seed', () => {
  it('keeps the online copy for a usual spin-redis (2 GB, a few hundred KB/s of writes)', () => {
    const advice = adviseS3Seed({ datasetBytes: 2 * GB, inputBytesPerSec: 300e3, fork: true, sliceSeconds: 600 });
    expect(advice).toMatchObject({ chosen: false, online: { method: 'replication', seconds: 20, catchUpConverges: true } });
    expect(advice.freezeSeconds).toBe(20 + 20 + S3_SEED_CREATE_SECONDS);
    expect(advice.freeze).toEqual({ dumpSeconds: 20, uploadSeconds: 20, createSeconds: S3_SEED_CREATE_SECONDS });
    expect(advice.reason).toMatch(/online replication copy takes about 20 s/);
  });

  it('goes by scan when the snapshot does not fit in one slice, or spin-redis must not fork', () => {
    expect(adviseS3Seed({ datasetBytes: REPLICATION_BYTES_PER_SECOND * 600 + 1, inputBytesPerSec: 0, fork: true, sliceSeconds: 600 }).online.method).toBe('scan');
    expect(adviseS3Seed({ datasetBytes: GB, inputBytesPerSec: 0, fork: false, sliceSeconds: 600 }).online).toMatchObject({ method: 'scan', seconds: GB / SCAN_BYTES_PER_SECOND });
  });

  it('chooses the S3 seed when writes come in at half the copy rate or more: the catch-up would not converge', () => {
    const advice = adviseS3Seed({ datasetBytes: 10 * GB, inputBytesPerSec: SCAN_BYTES_PER_SECOND / 2, fork: false, sliceSeconds: 600 });
    expect(advice).toMatchObject({ chosen: true, online: { catchUpConverges: false } });
    expect(advice.reason).toMatch(/would not converge/);
    expect(adviseS3Seed({ datasetBytes: 10 * GB, inputBytesPerSec: SCAN_BYTES_PER_SECOND / 2 - 1, fork: false, sliceSeconds: 600 }).chosen).toBe(false);
  });

  it('chooses the S3 seed when the online copy would take more than a day and the freeze less', () => {
    const bytes = SCAN_BYTES_PER_SECOND * (MAX_ONLINE_COPY_SECONDS + 3600);
    const advice = adviseS3Seed({ datasetBytes: bytes, inputBytesPerSec: 1e6, fork: false, sliceSeconds: 600, lastBgsaveSeconds: 3600 });
    expect(advice.chosen).toBe(true);
    expect(advice.freezeSeconds).toBeLessThan(advice.online.seconds);
    expect(advice.reason).toMatch(/more than 24\.0 h/);
  });
});
