/** `spin-elasticache start`: help, bad flags and an invalid input are usage errors (2) that start nothing. */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, jest } from '@jest/globals';
import { runStartCommand } from '../../../cli/start-command.js';

function quietly<T>(run: () => Promise<T>): Promise<T> {
  const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  return run().finally(() => {
    out.mockRestore();
    err.mockRestore();
  });
}

describe('spin-elasticache start', () => {
  it('--help is not an error; an unknown flag is a usage error', async () => {
    expect(await quietly(() => runStartCommand(['--help']))).toBe(0);
    expect(await quietly(() => runStartCommand(['--bogus']))).toBe(2);
    expect(await quietly(() => runStartCommand([]))).toBe(2);
  });

  it('an input that does not validate, or cannot be read, is refused with 2 before any AWS call', async () => {
    const file = join(tmpdir(), `start-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ cluster: { name: 'x' } }));
    // No credentials and no endpoint: reaching StartExecution would throw, not return 2.
    expect(await quietly(() => runStartCommand(['--input', file, '--state-machine-arn', 'arn:aws:states:us-east-1:1:stateMachine:x']))).toBe(2);
    expect(await quietly(() => runStartCommand(['--input', join(tmpdir(), 'no-such-file.json'), '--state-machine-arn', 'x']))).toBe(2);
  });
});
