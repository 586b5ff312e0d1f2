/**
 * Fork safety against a real redis-server: a source whose memory limit leaves no room for a
 * snapshot's copy-on-write is never forked (its `sync_full` stays where it was) and is copied
 * by scan; `replication` refuses with ForkUnsafeError; without a limit the copy forks once.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { copyBulkSlice } from '../../../lib/copy/bulk-slice.js';
import { copyAll } from '../../../lib/copy/engine.js';
import { readSourceFacts } from '../../../lib/copy/source-facts.js';
import { useRedisPair } from '../../support/redis-pair.js';

const pair = useRedisPair('fork-safety-');
let src: Redis;
let dst: Redis;
beforeAll(() => void ({ src, dst } = pair));

const syncFull = async () => Number(/sync_full:(\d+)/.exec(await src.info('stats'))?.[1]);

async function seed(): Promise<void> {
  const p = src.pipeline();
  for (let i = 0; i < 2000; i++) p.hmset(`pipeline:${i}`, { application: 'app', status: 'SUCCEEDED', context: 'x'.repeat(200) });
  await p.exec();
}

describe('fork safety', () => {
  it('reads the figures the decision needs from INFO and CONFIG', async () => {
    await seed();
    const facts = await readSourceFacts({ url: pair.source.url });
    expect(facts.server).toMatchObject({ engine: 'redis', rdbVersion: expect.any(Number) });
    expect(facts.memory.usedMemoryRss).toBeGreaterThan(facts.memory.usedMemoryDataset ?? 0);
    expect(facts.keys).toBe(2000);
    expect(facts.persistence).toMatchObject({ aofEnabled: false, rdbBgsaveInProgress: false, save: '', dbfilename: 'dump.rdb' });
  });

  it('a tight memory limit: copied by scan, the source never forked', async () => {
    await seed();
    const before = await syncFull();
    const result = await copyAll({ url: pair.source.url }, { url: pair.target.url }, { container: { none: true, memoryLimitBytes: 4 * 1024 * 1024 } });
    expect(result.method).toBe('scan');
    expect(result.fork?.fork).toBe(false);
    expect(result.fallbackReason).toMatch(/not forking spin-redis: .*over the 4 MiB memory limit/);
    expect(await dst.dbsize()).toBe(2000);
    expect(await syncFull()).toBe(before);
  });

  it('with copyMethod replication it refuses (ForkUnsafeError) rather than fork', async () => {
    await seed();
    const before = await syncFull();
    await expect(copyAll({ url: pair.source.url }, { url: pair.target.url }, { method: 'replication', container: { none: true, memoryLimitBytes: 4 * 1024 * 1024 } })).rejects.toMatchObject({
      name: 'ForkUnsafeError',
    });
    expect(await dst.dbsize()).toBe(0);
    expect(await syncFull()).toBe(before);
  });

  it("the workflow's slice: a pod whose limit could not be read is not forked either; the state records why", async () => {
    await seed();
    const before = await syncFull();
    const state = await copyBulkSlice({ url: pair.source.url }, { url: pair.target.url }, undefined, {
      method: 'auto',
      deadline: Date.now() + 30_000,
      progressId: 'fork-test',
      container: { unknown: 'KubernetesNotFoundError: read Deployment spinnaker/spin-redis: not found' },
    });
    expect(state).toMatchObject({ method: 'scan', done: true, fork: { fork: false, reason: expect.stringMatching(/could not be read/) } });
    expect(await syncFull()).toBe(before);
  });

  it('room for the worst case: the copy forks once, by replication', async () => {
    await seed();
    const before = await syncFull();
    const result = await copyAll({ url: pair.source.url }, { url: pair.target.url }, { container: { none: true, memoryLimitBytes: 4 * 1024 ** 3 } });
    expect(result.method).toBe('replication');
    expect(result.fork).toMatchObject({ fork: true, reason: expect.stringMatching(/within the 4096 MiB memory limit/) });
    expect(await syncFull()).toBe(before + 1);
  });
});
