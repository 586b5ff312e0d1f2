/** `spin-elasticache copy` refuses flags that cannot mean what they say, before connecting anywhere. */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, jest } from '@jest/globals';
import { runCopyCommand } from '../../../cli/copy-command.js';

describe('spin-elasticache copy flags', () => {
  it('a password variable that is not set is a usage error, not "no password" (which failed later as NOAUTH)', async () => {
    delete process.env.SPIN_TEST_UNSET_PASSWORD;
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      // Port 1: nothing listens; reaching a connection would fail differently (exit 1).
      expect(await runCopyCommand(['--source', 'redis://127.0.0.1:1', '--target', 'redis://127.0.0.1:2', '--source-password-env', 'SPIN_TEST_UNSET_PASSWORD'])).toBe(2);
      expect(err.mock.calls.map((c) => String(c[0])).join('')).toContain('SPIN_TEST_UNSET_PASSWORD is not set');
    } finally {
      err.mockRestore();
    }
  });

  it('a file source that is not an RDB is refused before anything connects', async () => {
    const file = join(tmpdir(), `not-a-dump-${process.pid}.rdb`);
    writeFileSync(file, 'hello, not a dump');
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await runCopyCommand(['--source', `file:${file}`, '--target', 'redis://127.0.0.1:1'])).toBe(2);
      expect(err.mock.calls.map((c) => String(c[0])).join('')).toContain('is not an RDB file (no REDIS header)');
    } finally {
      err.mockRestore();
    }
  });
});
