/**
 * A spin-redis with disk-based sync and no save points (Redis before 7.0 by default) writes
 * its snapshot to `dir`/dump.rdb for the replication copy and leaves it there: reported in
 * `$.copy.snapshotLeftBehind`, and removed through pods/exec when the input asks; the free
 * disk there is read (df, pods/exec) before the fork.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { connectRedis } from '../../../lib/redis/connect.js';
import type { SandboxWorld } from '../../../sandbox/world.js';
import { rehearse } from '../../support/sandbox.js';

let world: SandboxWorld | undefined;
afterEach(async () => world?.close());

/** Disk-based sync on the sandbox's spin-redis; returns where its snapshot lands. */
async function diskBasedSync(w: SandboxWorld): Promise<string> {
  const redis = await connectRedis({ url: w.endpoints.sourceRedis });
  try {
    await redis.config('SET', 'repl-diskless-sync', 'no');
    const [, dir] = (await redis.config('GET', 'dir')) as [string, string];
    const [, file] = (await redis.config('GET', 'dbfilename')) as [string, string];
    return join(dir, file);
  } finally {
    redis.disconnect();
  }
}

describe("the snapshot a disk-based sync leaves on spin-redis's disk", () => {
  it('is reported and kept by default', async () => {
    let path = '';
    const run = await rehearse({ keys: 1000 }, {}, async (w) => void (path = await diskBasedSync(w)));
    world = run.world;
    expect(run.result.status).toBe('SUCCEEDED');
    const copy = (run.result.output as { copy: { method: string; snapshotLeftBehind?: unknown; fork?: { figures: { disk?: { freeBytes?: number } } } } }).copy;
    expect(copy.method).toBe('replication');
    // Free disk read with df in the spin-redis container before the fork.
    expect(copy.fork?.figures.disk?.freeBytes).toBeGreaterThan(0);
    expect(copy.snapshotLeftBehind).toEqual({ path, outcome: 'kept', reason: 'options.removeSnapshotLeftBehind is off' });
    expect(existsSync(path)).toBe(true);
  }, 120_000);

  it('is removed through pods/exec with options.removeSnapshotLeftBehind, the migration unaffected', async () => {
    let path = '';
    const run = await rehearse({ keys: 1000 }, {}, async (w) => {
      path = await diskBasedSync(w);
      w.input.options = { ...w.input.options, removeSnapshotLeftBehind: true };
    });
    world = run.world;
    expect(run.result.status).toBe('SUCCEEDED');
    const left = (run.result.output as { copy: { snapshotLeftBehind?: { path: string; outcome: string; bytes?: number } } }).copy.snapshotLeftBehind;
    expect(left).toMatchObject({ path, outcome: 'removed' });
    expect(left?.bytes).toBeGreaterThan(1000);
    expect(existsSync(path)).toBe(false);
  }, 120_000);
});
