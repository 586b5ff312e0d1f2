/**
 * `copy --source redis-sentinel://…/mymaster`: a real Sentinel-managed master (redis-server
 * master and replica with a password, a sentinel with its own) failed over in the middle of
 * the copy, by `SENTINEL FAILOVER` during the replication copy's catch-up and by killing the
 * master during a scan copy, while a client (ioredis in Sentinel mode) keeps writing. The copy
 * must re-resolve the master, start again from it, and end with the target equal to the new
 * master: nothing lost, nothing duplicated (an RPUSH log whose entries are unique), by the
 * strict verification and by a direct comparison.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { runCopyCommand } from '../../../cli/copy-command.js';
import { copyFromSentinel, verifySentinelCopy } from '../../../lib/copy/sentinel.js';
import { connectRedis } from '../../../lib/redis/connect.js';
import { startRedis, type RedisProcess } from '../../../sandbox/redis/redis-process.js';
import { seedAllTypes } from '../../support/redis-data.js';
import { diffDatasets, readDataset } from '../../support/fullsync-expected.js';
import { MASTER_PASSWORD, SENTINEL_PASSWORD, startSentinelSetup, type TestSentinel } from '../../support/redis-sentinel.js';

const dir = mkdtempSync(join(tmpdir(), 'sentinel-source-'));
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

async function setup(name: string): Promise<{ s: TestSentinel; target: RedisProcess }> {
  const [s, target] = await Promise.all([startSentinelSetup(join(dir, name)), startRedis({ dir: join(dir, name, 'target') })]);
  cleanup.push(() => Promise.all([s.stop(), target.stop()]).then(() => undefined));
  const m = await connectRedis({ url: s.master.url, password: MASTER_PASSWORD });
  await seedAllTypes(m);
  const pipeline = m.pipeline();
  for (let i = 0; i < 20_000; i++) {
    if (i % 4 === 0) pipeline.set(`task:${i}`, `value-${i}`.repeat(8), 'PX', 3_600_000);
    else pipeline.set(`task:${i}`, `value-${i}`.repeat(8));
  }
  await pipeline.exec();
  // The replica holds it all before anything fails over (its first full sync waits for repl-diskless-sync-delay).
  const r = await connectRedis({ url: s.replica.url, password: MASTER_PASSWORD });
  const offset = (info: string) => Number(/master_repl_offset:(\d+)/.exec(info)?.[1]);
  for (let i = 0; i < 300; i++) {
    const [mi, ri] = await Promise.all([m.info('replication'), r.info('replication')]);
    if (/master_link_status:up/.test(ri) && offset(ri) === offset(mi) && (await r.dbsize()) === (await m.dbsize())) break;
    await sleep(100);
  }
  r.disconnect();
  m.disconnect();
  return { s, target };
}

/** A Spinnaker-like writer on the Sentinel-managed master: follows failovers (READONLY: reconnect). */
function startWriter(s: TestSentinel): { stop: () => Promise<number> } {
  const client = new Redis({
    sentinels: [{ host: '127.0.0.1', port: s.sentinelPort }],
    name: 'mymaster',
    sentinelPassword: SENTINEL_PASSWORD,
    password: MASTER_PASSWORD,
    reconnectOnError: (error) => (/READONLY/.test(error.message) ? 2 : false),
    // A write is sent once, when connected, or fails: none is replayed later, after the copy settled.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
  });
  client.on('error', () => undefined);
  let running = true;
  let acked = 0;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      try {
        await client.multi().rpush('log', `entry-${i}`).set(`written:${i}`, String(i)).exec();
        acked++;
      } catch {
        await sleep(50);
      }
      await sleep(2);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      client.disconnect();
      return acked;
    },
  };
}

async function endsEqualToTheNewMaster(s: TestSentinel, target: RedisProcess, master: string): Promise<void> {
  const report = await verifySentinelCopy({ url: s.url, password: MASTER_PASSWORD, sentinelPassword: SENTINEL_PASSWORD }, { url: target.url });
  expect({ ok: report.ok, examples: report.examples, master: report.master }).toEqual({ ok: true, examples: [], master });
  const [m, t] = await Promise.all([connectRedis({ url: `redis://${master}`, password: MASTER_PASSWORD }), connectRedis({ url: target.url })]);
  try {
    expect(diffDatasets(await readDataset(m), await readDataset(t))).toEqual([]);
    const log = await t.lrange('log', 0, -1);
    expect(log.length).toBeGreaterThan(0);
    expect(new Set(log).size).toBe(log.length); // nothing applied twice
  } finally {
    m.disconnect();
    t.disconnect();
  }
}

describe('copy from a Sentinel-managed master that fails over in the middle', () => {
  it('SENTINEL FAILOVER during the replication copy: the new master re-resolved, the target settled from it', async () => {
    const { s, target } = await setup('failover');
    const writer = startWriter(s);
    let writerStopped: Promise<number> | undefined;
    const result = await copyFromSentinel(
      { url: s.url, password: MASTER_PASSWORD, sentinelPassword: SENTINEL_PASSWORD },
      { url: target.url },
      {
        method: 'replication',
        followMs: 3000,
        onAttempt: async (attempt) => {
          const sentinel = await s.sentinel();
          if (attempt === 1) setTimeout(() => void sentinel.call('SENTINEL', 'FAILOVER', 'mymaster').finally(() => sentinel.disconnect()), 1000);
          else {
            sentinel.disconnect();
            // The writer goes on into the second attempt's catch-up, then stops: its last writes come through the stream.
            setTimeout(() => (writerStopped = writer.stop()), 1500);
          }
        },
      },
    );
    const acked = await (writerStopped ?? writer.stop());
    expect(acked).toBeGreaterThan(0);
    // Redis 7.0 does not drop a demoted master's replicas at once (replication.c replicationSetMaster),
    // so the copy may end against the demoted master, not interrupted; either way it ends settled from the new master.
    expect(result.interrupted.length).toBeLessThanOrEqual(1);
    for (const i of result.interrupted) expect(i.master).toBe(`127.0.0.1:${s.master.port}`);
    expect(result.master).toBe(`127.0.0.1:${s.replica.port}`);
    expect(result.mirror).toBeDefined();
    expect(result.method).toBe('replication');
    await endsEqualToTheNewMaster(s, target, result.master);
  }, 120_000);

  it('the master killed during a scan copy, through the CLI with both passwords from the environment', async () => {
    const { s, target } = await setup('killed');
    const writer = startWriter(s);
    await sleep(300);
    process.env.SENTINEL_TEST_MASTER_PASSWORD = MASTER_PASSWORD;
    process.env.SENTINEL_TEST_SENTINEL_PASSWORD = SENTINEL_PASSWORD;
    const json = join(dir, 'killed.json');
    const killing = sleep(150).then(() => s.master.kill());
    const copying = runCopyCommand([
      '--source',
      s.url,
      '--target',
      target.url,
      '--method',
      'scan',
      '--source-password-env',
      'SENTINEL_TEST_MASTER_PASSWORD',
      '--sentinel-password-env',
      'SENTINEL_TEST_SENTINEL_PASSWORD',
      '--json',
      json,
    ]);
    await killing;
    // Stop writing once the failover is done, so the copy's last pass sees the final state.
    const stopWriter = (async () => {
      const sentinel = await s.sentinel();
      try {
        for (let i = 0; i < 300; i++) {
          const [, port] = (await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'mymaster')) as [string, string];
          if (Number(port) === s.replica.port) break;
          await sleep(100);
        }
      } finally {
        sentinel.disconnect();
      }
      return writer.stop();
    })();
    const [code, acked] = await Promise.all([copying, stopWriter]);
    const figures = JSON.parse(readFileSync(json, 'utf8')) as { master: string; interrupted: unknown[]; verify: { ok: boolean } };
    expect(acked).toBeGreaterThan(0);
    expect({ code, master: figures.master, interrupted: figures.interrupted.length }).toEqual({ code: 0, master: `127.0.0.1:${s.replica.port}`, interrupted: 1 });
    expect(JSON.stringify(figures)).not.toContain(MASTER_PASSWORD);
    await endsEqualToTheNewMaster(s, target, figures.master);
  }, 120_000);
});
