/** Shared shapes of the copy engine. */
export interface CopyStats {
  keys: number;
  bytes: number;
  bigKeys: number;
  fallbacks: number;
  expiredSkipped: number;
  vanished: number;
  ms: number;
}

export const emptyStats = (): CopyStats => ({ keys: 0, bytes: 0, bigKeys: 0, fallbacks: 0, expiredSkipped: 0, vanished: 0, ms: 0 });

export function addStats(a: CopyStats, b: CopyStats): CopyStats {
  return {
    keys: a.keys + b.keys,
    bytes: a.bytes + b.bytes,
    bigKeys: a.bigKeys + b.bigKeys,
    fallbacks: a.fallbacks + b.fallbacks,
    expiredSkipped: a.expiredSkipped + b.expiredSkipped,
    vanished: a.vanished + b.vanished,
    ms: a.ms + b.ms,
  };
}

/**
 * Resumable position of a walk over the keyspace, with its running counts `S`: the bulk copy's
 * (CopyStats), the verification's and the mirror's. Small enough to travel in the Step
 * Functions state; a slice given the same checkpoint re-does its own range only.
 */
export interface Checkpoint<S = CopyStats> {
  /** Logical databases with keys, from INFO keyspace at the start. */
  dbs: number[];
  /** Index into `dbs` of the database being scanned. */
  dbIndex: number;
  /** SCAN cursor within that database ('0' = not started). */
  cursor: string;
  /** Big keys already scanned but not yet copied (base64), copied first on resume. */
  pendingKeys?: string[];
  /** The scan of this database is over; only `pendingKeys` are left (the slice's deadline came first). */
  scanDone?: boolean;
  /**
   * Walks that read both sides (verification, mirror): 'back' once every key of the scanned
   * side of this database was compared, while the other side is scanned for keys only it has.
   */
  pass?: 'back';
  stats: S;
}

export interface Progress {
  keys: number;
  bytes: number;
  keysPerSec: number;
  db: number;
}

/** Where the copy reports what it did (the Lambda logger fits); every call is optional. */
export interface CopyLog {
  info(message: string, details: Record<string, unknown>): void;
  warn(message: string, details: Record<string, unknown>): void;
}
