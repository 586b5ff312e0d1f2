/**
 * The ElastiCache emulator's SnapshotArns checks (sandbox/aws/elasticache-seed.ts) and the S3
 * bucket-policy evaluation they rely on (sandbox/aws/s3.ts), each as AWS documents it: the object
 * must exist and be readable by `<region>.elasticache-snapshot.amazonaws.com`; the .rdb must fit
 * the node and be a format the engine reads, else the group ends restore-failed.
 */
import { describe, expect, it } from '@jest/globals';
import { checkSeed, rdbHeaderVersion, restoreRefusal } from '../../../sandbox/aws/elasticache-seed.js';
import { AwsFault } from '../../../sandbox/aws/http.js';
import { decodeAwsChunked, policyAllowsService } from '../../../sandbox/aws/s3.js';
import { seedBucketPolicy } from '../../../sandbox/world.js';

const REGION = 'us-east-1';
const rdb = (version: number, size = 64) => Buffer.concat([Buffer.from(`REDIS${String(version).padStart(4, '0')}`), Buffer.alloc(size - 9, 0xff)]);
const policy = JSON.stringify(seedBucketPolicy('seeds', REGION));

function fault(run: () => unknown): AwsFault {
  try {
    run();
  } catch (error) {
    if (error instanceof AwsFault) return error;
    throw error;
  }
  throw new Error('no fault');
}

describe('the seed bucket policy', () => {
  it("lets the region's elasticache-snapshot principal read below seed/, nothing else", () => {
    expect(policyAllowsService(policy, `${REGION}.elasticache-snapshot.amazonaws.com`, 's3:GetObject', 'arn:aws:s3:::seeds/seed/x/spin-redis.rdb')).toBe(true);
    expect(policyAllowsService(policy, 'eu-west-1.elasticache-snapshot.amazonaws.com', 's3:GetObject', 'arn:aws:s3:::seeds/seed/x/spin-redis.rdb')).toBe(false);
    expect(policyAllowsService(policy, `${REGION}.elasticache-snapshot.amazonaws.com`, 's3:GetObject', 'arn:aws:s3:::seeds/other/x.rdb')).toBe(false);
    expect(policyAllowsService(policy, `${REGION}.elasticache-snapshot.amazonaws.com`, 's3:PutObject', 'arn:aws:s3:::seeds/seed/x.rdb')).toBe(false);
    expect(policyAllowsService(undefined, `${REGION}.elasticache-snapshot.amazonaws.com`, 's3:GetObject', 'arn:aws:s3:::seeds/seed/x.rdb')).toBe(false);
  });

  it('an explicit Deny wins over the Allow', () => {
    const denied = JSON.parse(policy) as { Statement: unknown[] };
    denied.Statement.push({ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: 'arn:aws:s3:::seeds/*' });
    expect(policyAllowsService(JSON.stringify(denied), `${REGION}.elasticache-snapshot.amazonaws.com`, 's3:GetObject', 'arn:aws:s3:::seeds/seed/x.rdb')).toBe(false);
  });
});

describe('CreateReplicationGroup SnapshotArns, at the call', () => {
  const s3 = (answer: { body: Buffer } | { refused: 'missing' | 'denied' }) => ({ readableByElastiCache: () => answer });

  it('takes one readable object and hands its bytes to the primary', () => {
    expect(checkSeed([], { s3: s3({ refused: 'missing' }), region: REGION })).toBeUndefined();
    expect(checkSeed(['arn:aws:s3:::seeds/seed/a.rdb'], { s3: s3({ body: rdb(10) }), region: REGION })?.body.length).toBe(64);
  });

  it('refuses a missing object, an unreadable one, a malformed ARN and two files, naming the fault', () => {
    const missing = fault(() => checkSeed(['arn:aws:s3:::seeds/seed/a.rdb'], { s3: s3({ refused: 'missing' }), region: REGION }));
    expect([missing.code, missing.message]).toEqual(['InvalidParameterValue', expect.stringContaining('bucket: seeds and key: seed/a.rdb')]);
    const denied = fault(() => checkSeed(['arn:aws:s3:::seeds/seed/a.rdb'], { s3: s3({ refused: 'denied' }), region: REGION }));
    expect([denied.code, denied.message]).toEqual(['InvalidParameterValue', expect.stringContaining(`${REGION}.elasticache-snapshot.amazonaws.com`)]);
    expect(fault(() => checkSeed(['s3://seeds/a.rdb'], { s3: s3({ body: rdb(10) }), region: REGION })).code).toBe('InvalidParameterValue');
    expect(fault(() => checkSeed(['arn:aws:s3:::seeds/a,b.rdb'], { s3: s3({ body: rdb(10) }), region: REGION })).code).toBe('InvalidParameterValue');
    expect(fault(() => checkSeed(['arn:aws:s3:::seeds/a.rdb', 'arn:aws:s3:::seeds/b.rdb'], { s3: s3({ body: rdb(10) }), region: REGION })).code).toBe('InvalidParameterCombination');
  });
});

describe('the restore (the group ends restore-failed when refused)', () => {
  const group = { engine: 'redis', engineVersion: '7.0', nodeType: 'cache.r7g.large' };

  it('loads an RDB of the engine version or older', () => {
    expect(rdbHeaderVersion(rdb(10))).toBe(10);
    expect(restoreRefusal({ arn: 'a', body: rdb(10) }, group)).toBeUndefined();
    expect(restoreRefusal({ arn: 'a', body: rdb(9) }, group)).toBeUndefined();
  });

  it('refuses a newer RDB version than the engine reads, a file that is not an RDB, and a backup larger than the node', () => {
    expect(restoreRefusal({ arn: 'a', body: rdb(11) }, group)).toMatch(/RDB version 11, newer than redis 7.0 reads \(RDB 10\)/);
    expect(restoreRefusal({ arn: 'a', body: Buffer.from('not a dump at all') }, group)).toMatch(/not a Redis .rdb file/);
    // 1000 bytes of memory, 750 usable after the default reserved-memory-percent of 25.
    expect(restoreRefusal({ arn: 'a', body: rdb(10, 751) }, { ...group, nodeMemoryBytes: { 'cache.r7g.large': 1000 } })).toMatch(/does not fit a cache.r7g.large node \(750 bytes usable/);
    expect(restoreRefusal({ arn: 'a', body: rdb(10, 750) }, { ...group, nodeMemoryBytes: { 'cache.r7g.large': 1000 } })).toBeUndefined();
  });
});

describe('aws-chunked bodies (the SDK and CLI streaming uploads)', () => {
  it('decodes chunks with signatures and a trailing checksum', () => {
    const body = Buffer.from('5;chunk-signature=abc\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n');
    expect(decodeAwsChunked(body).toString()).toBe('hello world');
  });
});
