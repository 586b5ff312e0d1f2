/**
 * One bounded slice of a walk that reads both sides database by database (the verification,
 * the mirror reconciliation and the copy-back): in each database the `from` side is scanned
 * and its keys compared with the other side's (`forward`), then the other side is scanned for
 * keys only it has (`back`). Like the bulk copy (bulk-slice.ts), it stops starting SCAN pages
 * at the deadline and returns a Checkpoint (database, pass, SCAN cursor, running counts) that
 * the state machine hands to the next slice. Given the same checkpoint, a slice re-does the
 * same range with the same counts as a start: a retried slice counts nothing twice.
 */
import type { Redis } from 'ioredis';
import type { RedisEndpoint } from '../redis/connect.js';
import { databasesOnEither, withConnection } from '../redis/keyspace.js';
import type { ScanRange, ScanStop } from './compare.js';
import type { Checkpoint } from './types.js';

/** One pass over one database: scans from `range.cursor`, counts into `stats`, and says where it stopped. */
export type WalkPass<S> = (from: Redis, to: Redis, db: number, stats: S, range: ScanRange) => Promise<ScanStop>;

export interface WalkSlice<S> {
  checkpoint: Checkpoint<S>;
  done: boolean;
}

/**
 * Runs the passes from `previous` (or from the start, with `fresh()` counts) until the walk
 * is over or `deadline` (epoch ms) has passed. `stats` in the checkpoint are the counts of the
 * whole walk so far; `previous` is not modified.
 */
export async function walkSlice<S>(
  fromEndpoint: RedisEndpoint,
  toEndpoint: RedisEndpoint,
  previous: Checkpoint<S> | undefined,
  options: { fresh: () => S; forward: WalkPass<S>; back?: WalkPass<S>; deadline?: number; connectionName: string },
): Promise<WalkSlice<S>> {
  const { connectionName, deadline } = options;
  let checkpoint: Checkpoint<S> = previous ? structuredClone(previous) : { dbs: await databasesOnEither(fromEndpoint, toEndpoint, connectionName), dbIndex: 0, cursor: '0', stats: options.fresh() };
  const stats = checkpoint.stats;
  let movedOn = false;
  while (checkpoint.dbIndex < checkpoint.dbs.length) {
    // Each pass reads at least one SCAN page before it looks at the deadline: every slice moves on.
    if (movedOn && deadline !== undefined && Date.now() >= deadline) return { checkpoint, done: false };
    movedOn = true;
    const db = checkpoint.dbs[checkpoint.dbIndex]!;
    const at: Checkpoint<S> = checkpoint;
    const stop = await withConnection(fromEndpoint, { db, connectionName }, (from) =>
      withConnection(toEndpoint, { db, connectionName }, async (to): Promise<Checkpoint<S> | undefined> => {
        let pass = at.pass;
        let cursor = at.cursor;
        if (pass !== 'back') {
          const forward = await options.forward(from, to, db, stats, { cursor, ...(deadline !== undefined ? { deadline } : {}) });
          if (!forward.done) return { ...at, cursor: forward.cursor, stats };
          pass = 'back';
          cursor = '0';
        }
        if (options.back) {
          const back = await options.back(from, to, db, stats, { cursor, ...(deadline !== undefined ? { deadline } : {}) });
          if (!back.done) return { ...at, pass, cursor: back.cursor, stats };
        }
        return undefined;
      }),
    );
    if (stop) return { checkpoint: stop, done: false };
    checkpoint = { dbs: checkpoint.dbs, dbIndex: checkpoint.dbIndex + 1, cursor: '0', stats };
  }
  return { checkpoint, done: true };
}
