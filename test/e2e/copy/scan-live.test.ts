/**
 * `spin-elasticache copy --method scan --live`: change capture starts before the scan, so what
 * Spinnaker writes during the scan to keys the scan has already read reaches the target
 * (issue 9, item 3: an execution's status, igor's build number, a stage id pushed).
 * Two real redis-server 7.0.15; the command runs in-process.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { runCopyCommand } from '../../../cli/copy-command.js';
import { connectRedis } from '../../../lib/redis/connect.js';
import type { RedisProcess } from '../../../sandbox/redis/redis-process.js';
import { useRedisPair } from '../../support/redis-pair.js';

const pair = useRedisPair('scan-live-');
let source: RedisProcess;
let target: RedisProcess;
let src: Redis;
let dst: Redis;
beforeAll(() => void ({ source, target, src, dst } = pair));

const EXECUTION = 'pipeline:01HZX4Q0J6';
const BUILD = 'igor:jenkins:master:job:builds';
const STAGES = 'pipeline:01HZX4Q0J6:stageIndex';

describe('copy --method scan --live', () => {
  it('writes made during the scan to keys it has already copied all end on the target', async () => {
    await src.config('SET', 'notify-keyspace-events', 'KA');
    // Spinnaker's keys in db 0, read at once; 40,000 others in db 1 keep the scan going.
    await src.hset(EXECUTION, 'status', 'RUNNING', 'application', 'deployer');
    await src.set(BUILD, '41');
    await src.rpush(STAGES, 'stage-1');
    const filler = await connectRedis({ url: `${source.url}/1` });
    for (let i = 0; i < 40_000; i += 2000) {
      const batch = filler.pipeline();
      for (let j = i; j < i + 2000; j++) batch.hset(`clouddriver:filler:${j}`, 'attributes', 'x'.repeat(200));
      await batch.exec();
    }
    filler.disconnect();

    let finished = false;
    const copying = runCopyCommand(['--source', source.url, '--target', target.url, '--method', 'scan', '--live', '3', '--connections', '1']).finally(() => void (finished = true));
    // Wait until the scan has copied the three keys as they were, then change them while it is still running.
    for (let i = 0; i < 3000 && !((await dst.hget(EXECUTION, 'status')) === 'RUNNING' && (await dst.get(BUILD)) === '41' && (await dst.llen(STAGES)) === 1); i++) await sleep(5);
    const db1 = await connectRedis({ url: `${target.url}/1` });
    const stillScanning = (await db1.dbsize()) < 40_000 && !finished;
    await src.hset(EXECUTION, 'status', 'SUCCEEDED');
    await src.set(BUILD, '42');
    await src.rpush(STAGES, 'stage-2');
    const code = await copying;

    expect(code).toBe(0);
    expect(stillScanning).toBe(true);
    expect(await dst.hgetall(EXECUTION)).toEqual({ status: 'SUCCEEDED', application: 'deployer' });
    expect(await dst.get(BUILD)).toBe('42');
    expect(await dst.lrange(STAGES, 0, -1)).toEqual(['stage-1', 'stage-2']);
    expect(await db1.dbsize()).toBe(40_000);
    db1.disconnect();
  }, 60_000);

  it('switches keyspace notifications on for the live phase when the source has them off, and restores them', async () => {
    await src.flushall();
    await dst.flushall();
    await src.config('SET', 'notify-keyspace-events', '');
    await src.set('igor:build', '1');
    const copying = runCopyCommand(['--source', source.url, '--target', target.url, '--method', 'scan', '--live', '2']);
    for (let i = 0; i < 2000 && (await dst.get('igor:build')) !== '1'; i++) await sleep(5);
    await src.set('igor:build', '2');
    await src.hset('pipeline:live', 'status', 'RUNNING');
    expect(await copying).toBe(0);
    expect(await dst.get('igor:build')).toBe('2');
    expect(await dst.hgetall('pipeline:live')).toEqual({ status: 'RUNNING' });
    expect(await src.config('GET', 'notify-keyspace-events')).toEqual(['notify-keyspace-events', '']);
  }, 60_000);

  it('refuses a target that is the source itself, writing nothing', async () => {
    await src.flushall();
    await src.set('k', 'v', 'PX', 60_000);
    const before = Number(/master_repl_offset:(\d+)/.exec(await src.info('replication'))?.[1]);
    const code = await runCopyCommand(['--source', source.url, '--target', source.url.replace('127.0.0.1', 'localhost'), '--live', '1']);
    expect(code).not.toBe(0);
    expect(Number(/master_repl_offset:(\d+)/.exec(await src.info('replication'))?.[1])).toBe(before);
    expect(await src.pttl('k')).toBeGreaterThan(50_000);
  }, 30_000);
});
