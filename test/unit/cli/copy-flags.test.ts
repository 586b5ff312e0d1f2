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

  it.each([
    [['--target', 'redis://127.0.0.1:2/3'], 'a database in the URL (/3) is not supported: the copy moves every database of the source into the same database number on the target'],
    [['--target', 'redis://:s3cret-pw@127.0.0.1:2/1?password=other-pw'], 'a database in the URL (/1) is not supported'],
    [['--target', 'http://127.0.0.1:2'], '--target http://127.0.0.1:2: not a Redis URL'],
    [['--target', 'redis://127.0.0.1:2', '--live', 'abc'], '--live must be a number of seconds above 0, not abc'],
    [['--target', 'redis://127.0.0.1:2', '--connections', '0'], '--connections must be a whole number of at least 1, not 0'],
    [['--target', 'redis://127.0.0.1:2', '--json', '/nonexistent-dir-spin/x.json'], '--json /nonexistent-dir-spin/x.json: the directory /nonexistent-dir-spin does not exist'],
  ])('%j is a usage error said before anything connects', async (args, message) => {
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      // Port 1: nothing listens; reaching a connection would fail differently (exit 1).
      expect(await runCopyCommand(['--source', 'redis://127.0.0.1:1', ...args])).toBe(2);
      const text = err.mock.calls.map((c) => String(c[0])).join('');
      expect(text).toContain(message);
      expect(text).not.toMatch(/s3cret-pw|other-pw/);
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
