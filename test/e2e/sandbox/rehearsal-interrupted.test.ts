/**
 * `npm start` stopped before its end, as a user stops it: Ctrl-C (SIGINT to the whole process
 * group, the servers included) at any moment, and the output piped into a reader that leaves
 * (`npm start | head`: EPIPE). Either way the sandbox is torn down: no process of the group is
 * left, the exit code is the shell's, and stderr says so. (An unhandled EPIPE once left
 * spin-redis running; under the tsx CLI a Ctrl-C while the event loop was busy got the process
 * SIGKILLed by tsx's signal relay, leaving .sandbox/<id>: `npm start` runs node with tsx as a loader.)
 * A SIGKILL leaves the servers running: the next world sweeps them (sweepAbandonedSandboxes).
 */
import { describe, expect, it } from '@jest/globals';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sweepAbandonedSandboxes } from '../../../sandbox/world.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** `npm start`'s command, in a process group of its own (as a terminal's foreground job). */
function rehearse(args: string[]): { child: ChildProcess; stdout: string[]; stderr: string[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'sandbox/cli.ts', 'rehearse', ...args], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout, stderr, exited };
}

/** Whether any process of the group is still there (kill 0 to -pgid). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function settled(pgid: number, ms = 10_000): Promise<boolean> {
  for (const until = Date.now() + ms; Date.now() < until; ) {
    if (!groupAlive(pgid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !groupAlive(pgid);
}

describe('the rehearsal stopped early', () => {
  it.each([
    ['while the sandbox starts', /seeding ~/],
    ['while the migration runs', /✔ ValidateInput/],
  ])(
    'Ctrl-C %s: torn down, exit 130',
    async (_when, after) => {
      const run = rehearse(['--keys', '20000']);
      await new Promise<void>((resolve) =>
        run.child.stdout!.on('data', (d: Buffer) => {
          run.stdout.push(d.toString());
          if (after.test(run.stdout.join(''))) resolve();
        }),
      );
      process.kill(-run.child.pid!, 'SIGINT');
      expect(await run.exited).toBe(130);
      expect(run.stderr.join('')).toMatch(/stopped by SIGINT.*the sandbox's servers and files are gone/);
      expect(await settled(run.child.pid!)).toBe(true);
    },
    90_000,
  );

  it('killed (SIGKILL, nothing can tear down): the next world sweeps its servers and files', async () => {
    const run = rehearse(['--keys', '20000']);
    await new Promise<void>((resolve) =>
      run.child.stdout!.on('data', (d: Buffer) => {
        run.stdout.push(d.toString());
        if (/✔ ValidateInput/.test(run.stdout.join(''))) resolve();
      }),
    );
    process.kill(run.child.pid!, 'SIGKILL');
    await run.exited;
    // Its redis-servers (spin-redis, ElastiCache's primary and replica) outlive it, in its process group.
    expect(groupAlive(run.child.pid!)).toBe(true);
    // Its sandbox names it as owner (another test's world may sweep it first: the end state is what counts).
    const root = join(ROOT, '.sandbox');
    const ours = readdirSync(root).filter((d) => {
      try {
        return readFileSync(join(root, d, 'owner.pid'), 'utf8') === String(run.child.pid);
      } catch {
        return false;
      }
    });
    sweepAbandonedSandboxes(root);
    expect(await settled(run.child.pid!)).toBe(true);
    for (const d of ours) expect(existsSync(join(root, d))).toBe(false);
  }, 90_000);

  it('output closed (EPIPE): torn down, exit 141', async () => {
    const run = rehearse(['--keys', '2000']);
    await new Promise<void>((resolve) => run.child.stdout!.once('data', () => resolve()));
    // The reader leaves, as `head` does.
    run.child.stdout!.destroy();
    expect(await run.exited).toBe(141);
    expect(run.stderr.join('')).toMatch(/its output was closed \(EPIPE\).*gone/);
    expect(await settled(run.child.pid!)).toBe(true);
  }, 90_000);
});
