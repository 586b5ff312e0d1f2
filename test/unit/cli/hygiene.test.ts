/**
 * CLI hygiene: no command prints a password, whether it came in a URL's user-info, its query
 * or the environment, and a failed copy exits non-zero promptly; the exit statuses are
 * distinct and documented in --help.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { runCopyCommand } from '../../../cli/copy-command.js';
import { runHealthCommand } from '../../../cli/health-command.js';
import { main } from '../../../cli/main.js';
import { displayUrl } from '../../../cli/redact.js';

const PASSWORDS = { userInfo: 'Us3rInfo-Secret-1', query: 'Qu3ry-Secret-2', env: 'Env-Secret-3', file: 'F1le-Secret-4' };

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Everything the command writes to stdout and stderr. */
async function captured(run: () => Promise<number>): Promise<{ code: number; output: string; seconds: number }> {
  let output = '';
  const writes = [process.stdout.write, process.stderr.write];
  const capture = ((chunk: string | Uint8Array) => ((output += String(chunk)), true)) as typeof process.stdout.write;
  process.stdout.write = capture;
  process.stderr.write = capture;
  const started = Date.now();
  try {
    const code = await run();
    return { code, output, seconds: (Date.now() - started) / 1000 };
  } finally {
    [process.stdout.write, process.stderr.write] = writes as [typeof process.stdout.write, typeof process.stderr.write];
  }
}

function capture(): Writable & { text: string } {
  const sink = new Writable({
    write(chunk, _enc, done) {
      sink.text += String(chunk);
      done();
    },
  }) as Writable & { text: string };
  sink.text = '';
  return sink;
}

describe('the CLI never prints a password', () => {
  it('shows URLs as scheme, host, port and db only', () => {
    expect(displayUrl(`rediss://user:${PASSWORDS.userInfo}@host:6380/0?password=${PASSWORDS.query}#x`)).toBe('rediss://host:6380/0');
  });

  it('copy to an unreachable Redis fails non-zero within 10 s, with no password in its output, wherever the passwords came from', async () => {
    const port = await closedPort();
    const dir = mkdtempSync(join(tmpdir(), 'cli-'));
    writeFileSync(join(dir, 'source-password'), `${PASSWORDS.file}\n`);
    process.env.CLI_TEST_TARGET_PASSWORD = PASSWORDS.env;
    const { code, output, seconds } = await captured(() =>
      runCopyCommand([
        '--source',
        `redis://:${PASSWORDS.userInfo}@127.0.0.1:${port}`,
        '--source-password-file',
        join(dir, 'source-password'),
        '--target',
        `redis://127.0.0.1:${port}/0?password=${PASSWORDS.query}`,
        '--target-password-env',
        'CLI_TEST_TARGET_PASSWORD',
        '--json',
        join(dir, 'out.json'),
      ]),
    );
    expect(code).not.toBe(0);
    expect(seconds).toBeLessThan(10);
    expect(output).toMatch(/copy failed/);
    expect(output).toMatch(/carries credentials on the command line/);
    for (const password of Object.values(PASSWORDS)) expect(output).not.toContain(password);
  }, 30_000);
});

describe('exit statuses', () => {
  it('documents them in --help, with where passwords come from', async () => {
    const { code, output } = await captured(() => main(['--help']));
    expect(code).toBe(0);
    expect(output).toMatch(/Exit status:\n\s+0 +success[\s\S]*1 +internal error[\s\S]*2 +usage error[\s\S]*3 +health: degraded[\s\S]*4 +health: unhealthy/);
    expect(output).toMatch(/--source-password-file FILE/);
  });

  it('answers usage errors with 2, apart from degraded (3), unhealthy (4) and internal errors (1)', async () => {
    const err = capture();
    expect(await runHealthCommand([], capture(), err)).toBe(2);
    expect(err.text).toMatch(/Exit status/);
    expect(await runHealthCommand(['--input', 'events/invalid.json'], capture(), capture())).toBe(2);
    expect((await captured(() => main(['no-such-command']))).code).toBe(2);
  });
});
