/**
 * `spin-elasticache copy` that cannot authenticate must fail and exit by itself: every
 * connection and timer opened before the failure is closed (issue 15: it printed
 * `copy failed: RedisAuthError` and hung; in a warm Lambda that leaks connections).
 * The command runs in a child process, so an open handle shows as a process that never exits.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis } from '../../../lib/redis/connect.js';
import { startRedis, type RedisProcess } from '../../../sandbox/redis/redis-process.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'copy-cli-failure-'));
let open: RedisProcess;
let guarded: RedisProcess;

beforeAll(async () => {
  [open, guarded] = await Promise.all([startRedis({ dir: join(dir, 'open') }), startRedis({ dir: join(dir, 'guarded'), password: 'right' })]);
  const seed = await connectRedis({ url: open.url });
  await seed.set('k', 'v');
  seed.disconnect();
});
afterAll(async () => {
  await Promise.all([open.stop(), guarded.stop()]);
});

/** Runs the shipped command; resolves with its exit code, or null if it had not exited within 10 s. */
function runCopy(args: string[]): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'spin-elasticache.js'), 'copy', ...args], { cwd: ROOT, env: { ...process.env, WRONG: 'wrong' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: null, stderr, ms: Date.now() - started });
    }, 10_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, ms: Date.now() - started });
    });
  });
}

describe('spin-elasticache copy with a wrong password', () => {
  for (const method of ['replication', 'scan', 'auto']) {
    it(`exits non-zero by itself within 10 s (--method ${method}, wrong target password)`, async () => {
      const { code, stderr } = await runCopy(['--source', open.url, '--target', guarded.url, '--target-password-env', 'WRONG', '--method', method]);
      expect(stderr).toContain('copy failed: RedisAuthError');
      expect(code).toBe(1);
    }, 20_000);
  }

  it('exits non-zero by itself within 10 s (wrong source password)', async () => {
    const { code, stderr } = await runCopy(['--source', guarded.url, '--source-password-env', 'WRONG', '--target', open.url]);
    expect(stderr).toContain('copy failed: RedisAuthError');
    expect(code).toBe(1);
  }, 20_000);
});

describe('spin-elasticache copy from a source that refuses PSYNC', () => {
  it('copies by scan, and does not say it forked a source it never forked', async () => {
    // Managed and hardened Redis servers rename PSYNC away (ElastiCache refuses it too).
    const refusing = await startRedis({ dir: join(dir, 'no-psync'), extraArgs: ['--rename-command', 'PSYNC', '', '--rename-command', 'SYNC', ''] });
    const target = await startRedis({ dir: join(dir, 'no-psync-target') });
    try {
      const seed = await connectRedis({ url: refusing.url });
      await seed.set('k', 'v');
      seed.disconnect();
      const { code, stderr } = await runCopy(['--source', refusing.url, '--target', target.url]);
      expect(code).toBe(0);
      expect(stderr).toMatch(/Fork safety: the source may fork, but the replication copy did not start: /);
      expect(stderr).toMatch(/Replication copy not possible \(.*\); used the scan copy/);
      const check = await connectRedis({ url: target.url });
      expect(await check.get('k')).toBe('v');
      check.disconnect();
    } finally {
      await Promise.all([refusing.stop(), target.stop()]);
    }
  }, 30_000);
});
