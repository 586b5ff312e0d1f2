/**
 * When seeding ElastiCache from an RDB file in S3 (`CreateReplicationGroup … SnapshotArns`)
 * would be the better way in than copying through Lambda: the decision rule the plan reports
 * (`source.s3Seed` of PlanMigration). The path itself is `options.copyMethod: s3-seed`
 * (lib/workflow/seed.ts, the state machine's seed branch). `auto` never takes it: it turns a
 * migration with a pause of seconds into a write freeze of minutes to hours, which the operator
 * must choose knowingly; when this rule says `chosen`, the plan recommends it with the freeze.
 *
 * The two ways cost different things:
 * - the online copy (replication or scan, then the live catch-up) keeps Spinnaker running; only
 *   the short pause of the switch stops it. It works while the catch-up converges: the keys
 *   Spinnaker changes per second must be copied again faster than they change.
 * - the S3 seed needs spin-redis frozen for writes from the moment its RDB is taken until
 *   Spinnaker is switched (AWS, "Seeding a new cluster with an externally created backup";
 *   ElastiCache takes no replication stream after the seed, and refuses PSYNC), so Spinnaker is
 *   paused for the dump, the upload and the group's creation.
 *
 * So the S3 seed is chosen only when the online copy cannot do the job:
 *   1. the catch-up would not converge: spin-redis takes in (`total_net_input_bytes` per second)
 *      at least half of what the copy moves per second, or
 *   2. the online copy would take longer than MAX_ONLINE_COPY_SECONDS (a day of exposure to
 *      failures and of two Redis servers to pay for), while the freeze would not.
 * Rates are this project's measurements on loopback (docs/COPY.md, "Figures": replication
 * 101 MB/s, scan at parity with MIGRATE, 52.6 MB/s); in a VPC the network may be the bound,
 * which only makes the online copy slower, never the rule wrong in the S3 seed's favour.
 */

/** Bytes per second moved by the replication copy (docs/COPY.md, "Figures"). */
export const REPLICATION_BYTES_PER_SECOND = 100e6;
/** Bytes per second moved by the scan copy (the same figures: at parity with MIGRATE). */
export const SCAN_BYTES_PER_SECOND = 50e6;
/** Upload of the RDB to S3 from inside the cluster, bytes per second (an assumption: one stream, same region). */
export const S3_UPLOAD_BYTES_PER_SECOND = 100e6;
/** CreateReplicationGroup from a snapshot until `available`: an assumption, to be measured on a real account. */
export const S3_SEED_CREATE_SECONDS = 20 * 60;
/** Beyond this, an online copy is not worth its exposure. */
export const MAX_ONLINE_COPY_SECONDS = 24 * 3600;

export interface S3SeedFacts {
  /** The dataset's bytes (`used_memory_dataset`, else `used_memory`). */
  datasetBytes: number;
  /** What spin-redis takes in per second (`total_net_input_bytes` over the sample). */
  inputBytesPerSec: number;
  /** Whether the copy may fork spin-redis (fork-safety.ts): replication, else scan. */
  fork: boolean;
  /** The Lambda slice the replication snapshot must fit in, seconds. */
  sliceSeconds: number;
  /** How long spin-redis's last BGSAVE took, seconds (undefined before the first). */
  lastBgsaveSeconds?: number;
}

export interface S3SeedAdvice {
  /** Whether the S3 seed would be chosen. */
  chosen: boolean;
  reason: string;
  /** The online copy: how it would go, at what rate (bytes/s), and how long the bulk copy would take (s). */
  online: { method: 'replication' | 'scan'; bytesPerSecond: number; seconds: number; catchUpConverges: boolean };
  /** The S3 seed's write freeze: dump, upload, creation (s). */
  freezeSeconds: number;
  /** Its parts (s): the snapshot (the last BGSAVE's time, else the replication rate), the upload, the group's creation (an assumption until measured on a real account). */
  freeze: { dumpSeconds: number; uploadSeconds: number; createSeconds: number };
}

export function adviseS3Seed(f: S3SeedFacts): S3SeedAdvice {
  // Replication only when the snapshot fits in one slice (else the workflow goes by scan slices).
  const replication = f.fork && f.datasetBytes <= REPLICATION_BYTES_PER_SECOND * f.sliceSeconds;
  const bytesPerSecond = replication ? REPLICATION_BYTES_PER_SECOND : SCAN_BYTES_PER_SECOND;
  const seconds = Math.ceil(f.datasetBytes / bytesPerSecond);
  const catchUpConverges = f.inputBytesPerSec * 2 < bytesPerSecond;
  const dumpSeconds = f.lastBgsaveSeconds ?? Math.ceil(f.datasetBytes / REPLICATION_BYTES_PER_SECOND);
  const uploadSeconds = Math.ceil(f.datasetBytes / S3_UPLOAD_BYTES_PER_SECOND);
  const freezeSeconds = dumpSeconds + uploadSeconds + S3_SEED_CREATE_SECONDS;
  const freeze = { dumpSeconds, uploadSeconds, createSeconds: S3_SEED_CREATE_SECONDS };
  const online = { method: replication ? ('replication' as const) : ('scan' as const), bytesPerSecond, seconds, catchUpConverges };
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB/s`;
  const time = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${Math.round(s / 60)} min` : `${s} s`);
  if (!catchUpConverges)
    return {
      chosen: true,
      reason: `spin-redis takes in ${mb(f.inputBytesPerSec)}, at least half the ${online.method} copy's ${mb(bytesPerSecond)}: the live catch-up would not converge; seed from S3 (options.copyMethod: s3-seed) with writes frozen for about ${time(freezeSeconds)}`,
      online,
      freezeSeconds,
      freeze,
    };
  if (seconds > MAX_ONLINE_COPY_SECONDS && freezeSeconds < seconds)
    return {
      chosen: true,
      reason: `the ${online.method} copy would take about ${time(seconds)} (more than ${time(MAX_ONLINE_COPY_SECONDS)}); seeding from S3 (options.copyMethod: s3-seed) freezes writes for about ${time(freezeSeconds)} instead`,
      online,
      freezeSeconds,
      freeze,
    };
  return {
    chosen: false,
    reason: `the online ${online.method} copy takes about ${time(seconds)} with Spinnaker running (its catch-up converges: ${mb(f.inputBytesPerSec)} in against ${mb(bytesPerSecond)} copied); seeding from S3 would freeze writes for about ${time(freezeSeconds)}`,
    online,
    freezeSeconds,
    freeze,
  };
}
