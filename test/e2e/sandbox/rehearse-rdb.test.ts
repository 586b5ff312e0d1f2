/**
 * `npm start -- --rdb FILE`: the rehearsal on the user's own data. The "user's dump" is made
 * the way a user makes it: a real redis-server holding a Spinnaker-shaped dataset (plus an
 * execution, keiko messages queued and unacked, and a key already expired when the dump is
 * read), saved to disk, the file read as
 * `redis-cli --rdb` would. The rehearsal must seed spin-redis from it, run the whole
 * migration with the simulated services writing on top, and report the dump's own pipeline
 * history as all there on ElastiCache. A dump too large for the machine is refused before
 * anything starts.
 */
import { describe, expect, it } from '@jest/globals';
import { copyFileSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runRehearsal, type RehearsalReport } from '../../../sandbox/cli.js';
import { availableMemory, dumpFits } from '../../../sandbox/rdb-seed.js';
import { seedSpinnakerData } from '../../../sandbox/seed.js';
import { connectRedis } from '../../../lib/redis/connect.js';
import { orcaHistory } from '../../../lib/spinnaker/audit.js';
import { startRedis } from '../../../sandbox/redis/redis-process.js';
import { fingerprint } from '../../../sandbox/spinnaker/services/orca.js';

const dir = mkdtempSync(join(tmpdir(), 'rehearse-rdb-'));

async function capture(run: () => Promise<number>): Promise<{ code: number; text: string }> {
  const printed: string[] = [];
  const write = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };
  const into = ((chunk: string | Uint8Array) => (printed.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stdout.write = into;
  process.stderr.write = into;
  try {
    return { code: await run(), text: printed.join('') };
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
  }
}

/** A user's spin-redis saved to disk: Spinnaker-shaped keys, one execution of our own, one key that expires before the rehearsal reads the dump. */
async function usersDump(): Promise<{ file: string; executions: number; keys: number }> {
  const server = await startRedis({ dir: join(dir, 'users-spin-redis'), extraArgs: ['--dbfilename', 'users.rdb'] });
  const redis = await connectRedis({ url: server.url });
  try {
    await seedSpinnakerData(redis, { keys: 3000, seed: 7 });
    await redis.hset('pipeline:01USERSOWNEXECUTION0000001', { application: 'users-own-app', status: 'SUCCEEDED', startTime: '1700000000000', endTime: '1700000060000', buildTime: '1700000000000' });
    await redis.set('igor:builds:about-to-expire', 'x', 'PX', 300);
    // A live orca's queue is seldom empty: one message ready, one polled and not yet acked (its
    // ack deadline passed, so orca's retry redelivers it), for an execution since deleted (the
    // handler acks them without writing). Acking them is not a second processing.
    const own = { executionType: 'PIPELINE', executionId: '01USERSDELETEDEXECUTION001', application: 'users-own-app' } as const;
    for (const [message, zset] of [
      [{ kind: 'completeExecution', ...own }, 'orca.task.queue.queue'],
      [{ kind: 'startExecution', ...own }, 'orca.task.queue.unacked'],
    ] as const) {
      await redis.zadd(zset, Date.now() - 1000, fingerprint(message));
      await redis.hset('orca.task.queue.messages', fingerprint(message), JSON.stringify({ ...message, attributes: [{ kind: 'attempts', attempts: 1 }] }));
    }
    const history = await orcaHistory(redis);
    const executions = Object.values(history).reduce((n, a) => n + a.pipelines + a.orchestrations, 0);
    const keys = await redis.dbsize();
    await redis.save();
    const file = join(dir, 'users.rdb');
    copyFileSync(join(dir, 'users-spin-redis', 'users.rdb'), file);
    return { file, executions, keys: keys - 1 };
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

describe('npm start -- --rdb FILE', () => {
  it("seeds spin-redis from the user's dump, migrates it with the services writing on top, and reports its audit parity", async () => {
    const dump = await usersDump();
    await sleep(400); // the 300 ms key is now expired in the dump
    const reportFile = join(dir, 'report.json');
    const { code, text } = await capture(() => runRehearsal(['--rdb', dump.file, '--report', reportFile, '--quiet']));
    expect({ code, tail: code === 0 ? '' : text.slice(-3000) }).toEqual({ code: 0, tail: '' });
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as RehearsalReport & {
      output: { verify: { ok: boolean; audit: { ok: boolean; applications: number; executions: { source: number; target: number } } } };
    };
    expect(report.status).toBe('SUCCEEDED');
    expect(report.seededFrom).toMatchObject({ rdb: dump.file, restored: dump.keys, expiredSkipped: 1 });
    expect(report.keys.seeded).toBe(dump.keys);
    // The audit counts the user's executions (and those the simulated orca wrote during the run) on both sides.
    expect(report.output.verify.audit.ok).toBe(true);
    expect(report.output.verify.audit.executions.source).toBeGreaterThanOrEqual(dump.executions);
    expect(report.output.verify.audit.executions.target).toBe(report.output.verify.audit.executions.source);
    expect(text).toMatch(/Your data: .*users\.rdb \(RDB v10\), \d+ keys restored into spin-redis, 1 already expired in the dump skipped/);
    expect(text).toMatch(/orca history \(audit parity\): .*: all there/);
    // Per application of the user's dump, as it was and on ElastiCache: their own application (which
    // the simulated orca's cleanup never picks: it is not in allJobs) exactly as in the dump.
    expect(report.yourHistory?.length).toBeGreaterThan(1);
    const own = report.yourHistory?.find((a) => a.application === 'users-own-app');
    expect(own).toMatchObject({ dump: { pipelines: 1, completed: 1, averageDurationMs: 60_000 } });
    expect(own?.elastiCache).toEqual(own?.dump);
    expect(text).toMatch(new RegExp(`Your pipeline history, ${report.yourHistory?.length} applications`));
    expect(text).toMatch(/users-own-app +1 executions \(avg 60\.0 s\) -> +1 \(avg 60\.0 s\)/);
    expect(Object.values(report.invariants).every(Boolean)).toBe(true);
  }, 180_000);

  it('refuses a dump too large for the machine before starting anything, stating the rule', async () => {
    const file = join(dir, 'huge.rdb');
    writeFileSync(file, 'REDIS0010');
    // As big as the memory available now (sparse: no disk used): 18 times too big.
    truncateSync(file, availableMemory());
    const check = dumpFits(file);
    expect(check.ok).toBe(false);
    // The rule itself: a 100 MiB dump needs 100 MiB × 6 × 3 + 1 GiB.
    writeFileSync(join(dir, 'small.rdb'), 'REDIS0010');
    truncateSync(join(dir, 'small.rdb'), 100 * 1024 ** 2);
    expect(dumpFits(join(dir, 'small.rdb'), 2 * 1024 ** 3).ok).toBe(false);
    expect(dumpFits(join(dir, 'small.rdb'), 3 * 1024 ** 3).ok).toBe(true);
    const started = Date.now();
    const { code, text } = await capture(() => runRehearsal(['--rdb', file]));
    expect(code).toBe(2);
    expect(text).toMatch(
      /too large to rehearse on this machine: [\d.]+ GiB × 6 \(in memory\) × 3 \(spin-redis, the ElastiCache primary and replica\) \+ 1\.0 GiB = [\d.]+ GiB needed, [\d.]+ GiB available/,
    );
    expect(text).not.toMatch(/starting/);
    expect(Date.now() - started).toBeLessThan(2000);
    // Not an RDB at all: refused the same way.
    const notRdb = join(dir, 'not.rdb');
    writeFileSync(notRdb, 'hello');
    expect((await capture(() => runRehearsal(['--rdb', notRdb]))).code).toBe(2);
  });
});
