import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { runValidateCommand } from '../../../cli/validate-command.js';

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

describe('spin-elasticache validate', () => {
  it('exits 1 on bad input and names every bad field, without a stack trace', async () => {
    const out = capture();
    const err = capture();
    const code = await runValidateCommand(['--input', 'events/invalid.json'], out, err);
    expect(code).toBe(1);
    for (const field of ['cluster.region', 'target.replicationGroupId', 'target.engineVersion', 'target.numCacheClusters', 'target.authTokenSecretArn']) {
      expect(err.text).toContain(`- ${field}:`);
    }
    expect(err.text).not.toMatch(/\n\s+at /);
  });

  it('exits 0 on a good input and prints the defaulted config', async () => {
    const out = capture();
    const code = await runValidateCommand(['--input', 'events/migrate-minimal.json'], out, capture());
    expect(code).toBe(0);
    expect(out.text).toContain('"parameterGroupName": "spinnaker-redis-params"');
  });

  it('exits 2 (the command line is wrong) when the file is missing or cannot be read', async () => {
    const err = capture();
    expect(await runValidateCommand(['--input', 'events/no-such-input.json'], capture(), err)).toBe(2);
    expect(err.text).toBe('events/no-such-input.json: no such file\n');
    const dir = mkdtempSync(join(tmpdir(), 'validate-'));
    const dirErr = capture();
    expect(await runValidateCommand(['--input', dir], capture(), dirErr)).toBe(2);
    expect(dirErr.text).toBe(`${dir}: cannot be read (EISDIR)\n`);
  });

  it('explains a file that is not JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'validate-'));
    writeFileSync(join(dir, 'bad.json'), '{ not json');
    const err = capture();
    expect(await runValidateCommand(['--input', join(dir, 'bad.json')], capture(), err)).toBe(1);
    expect(err.text).toContain('not valid JSON');
  });

  it('exits 2 without --input', async () => {
    expect(await runValidateCommand([], capture(), capture())).toBe(2);
  });
});
