/**
 * The ElastiCache emulator's `CreateReplicationGroup … SnapshotArns` checks, as AWS's "Tutorial:
 * Seeding a new node-based cluster with an externally created backup" (ElastiCache user guide,
 * backups-seeding-redis) and the CreateReplicationGroup API reference describe them:
 *
 * - at the call: each ARN is `arn:aws:s3:::bucket/key` (API reference: "SnapshotArns … The Amazon
 *   S3 object name in the ARN cannot contain any commas"); a cluster-mode-disabled group takes one
 *   file; the object must exist and ElastiCache must be able to read it (tutorial, "Grant
 *   ElastiCache read access to the .rdb file"). Refused with `InvalidParameterValue` (the fault
 *   ElastiCache returns for a snapshot it cannot fetch; its exact wording is not documented, so
 *   the message here names bucket, key and the fix);
 * - at the restore: the .rdb must fit the node ("You must ensure that your backup data doesn't
 *   exceed the resources of the node … If the backup is too large, the resulting cluster has a
 *   status of restore-failed"), and be a format the engine reads (a newer RDB version than the
 *   engine writes is refused by redis-server itself, `rdbLoad`: "Can't handle RDB format
 *   version"). Either leaves the group `restore-failed`, with an event saying why.
 */
import { targetRdbVersion } from '../../lib/copy/source-facts.js';
import { AwsFault } from './http.js';

export interface SeedReader {
  readableByElastiCache(bucket: string, key: string, region: string): { body: Buffer } | { refused: 'missing' | 'denied' };
}

export interface SeedSnapshot {
  arn: string;
  body: Buffer;
}

/**
 * Memory per node (GiB), from AWS's "Supported node types" table (ElastiCache user guide,
 * CacheNodes.SupportedTypes); the ones this project's inputs and tests use.
 */
export const NODE_MEMORY_GIB: Record<string, number> = {
  'cache.t3.micro': 0.5,
  'cache.t4g.micro': 0.5,
  'cache.t3.small': 1.37,
  'cache.t4g.small': 1.37,
  'cache.t3.medium': 3.09,
  'cache.t4g.medium': 3.09,
  'cache.m6g.large': 6.38,
  'cache.m7g.large': 6.38,
  'cache.r6g.large': 13.07,
  'cache.r7g.large': 13.07,
  'cache.r7g.xlarge': 26.32,
  'cache.r7g.2xlarge': 52.82,
};
/** `reserved-memory-percent`, 25 by default (ElastiCache user guide, "Managing reserved memory"). */
export const RESERVED_MEMORY_PERCENT = 25;

const S3_ARN = /^arn:aws[a-z-]*:s3:::([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/([^,]+)$/;

/** The checks made by the call itself; the object's bytes when it passes. */
export function checkSeed(arns: string[], options: { s3: SeedReader | undefined; region: string }): SeedSnapshot | undefined {
  if (arns.length === 0) return undefined;
  if (arns.length > 1) throw new AwsFault('InvalidParameterCombination', 'A replication group with cluster mode disabled is seeded from exactly one .rdb file.');
  const arn = arns[0]!;
  const m = S3_ARN.exec(arn);
  if (!m) throw new AwsFault('InvalidParameterValue', `Invalid snapshot ARN ${arn}: expected arn:aws:s3:::bucket/key, without commas in the key.`);
  const [, bucket = '', key = ''] = m;
  const read = options.s3?.readableByElastiCache(bucket, key, options.region) ?? { refused: 'missing' as const };
  if ('refused' in read) {
    throw new AwsFault(
      'InvalidParameterValue',
      read.refused === 'missing'
        ? `Unable to fetch the .rdb file from S3 for bucket: ${bucket} and key: ${key} (no such object).`
        : `No permission to access S3 object ${bucket}/${key}: grant ${options.region}.elasticache-snapshot.amazonaws.com s3:GetObject on it (bucket policy).`,
    );
  }
  return { arn, body: read.body };
}

/** The RDB version in a dump's header (`REDIS0011` → 11), or undefined when it is not an RDB. */
export function rdbHeaderVersion(body: Buffer): number | undefined {
  const header = body.toString('latin1', 0, 9);
  return /^REDIS\d{4}$/.test(header) ? Number(header.slice(5)) : undefined;
}

/** Why the restore fails (the group ends restore-failed), or undefined when the node can load it. */
export function restoreRefusal(seed: SeedSnapshot, group: { engine: string; engineVersion: string; nodeType: string; nodeMemoryBytes?: Record<string, number> }): string | undefined {
  const version = rdbHeaderVersion(seed.body);
  if (version === undefined) return `${seed.arn} is not a Redis .rdb file (no REDIS header)`;
  const engineRdb = targetRdbVersion(group.engine === 'valkey' ? 'valkey' : 'redis', group.engineVersion);
  if (engineRdb !== undefined && version > engineRdb)
    return `${seed.arn} is RDB version ${version}, newer than ${group.engine} ${group.engineVersion} reads (RDB ${engineRdb}): seed from a dump of the same or an older Redis version, or choose a newer engine`;
  const memory = group.nodeMemoryBytes?.[group.nodeType] ?? (NODE_MEMORY_GIB[group.nodeType] ?? Number.POSITIVE_INFINITY) * 1024 ** 3;
  const usable = memory * (1 - RESERVED_MEMORY_PERCENT / 100);
  // The .rdb is the data at its most compact: if even that exceeds the node's memory, it cannot load.
  if (seed.body.length > usable)
    return `the backup (${seed.body.length} bytes) does not fit a ${group.nodeType} node (${Math.floor(usable)} bytes usable after reserved-memory-percent ${RESERVED_MEMORY_PERCENT}): choose a larger node type`;
  return undefined;
}
