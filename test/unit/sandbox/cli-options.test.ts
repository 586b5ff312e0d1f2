/**
 * The rehearsal's option errors name the fix: a near-miss option (`--flavour`), a value npm
 * passed on alone (`npm start --keys 1000` hands over `1000`), and an option npm kept for itself
 * (`npm start --keep` sets npm_config_keep) — each exits 2 before anything starts.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { runRehearsal } from '../../../sandbox/cli.js';

async function stderrOf(argv: string[]): Promise<{ code: number; text: string }> {
  const printed: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => (printed.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await runRehearsal(argv);
    return { code, text: printed.join('') };
  } finally {
    process.stderr.write = write;
  }
}

describe('npm start option errors', () => {
  afterEach(() => {
    delete process.env.npm_config_keep;
  });

  it('suggests the option meant', async () => {
    expect(await stderrOf(['--flavour', 'operator'])).toEqual({ code: 2, text: expect.stringContaining("Unknown option '--flavour'\nDid you mean --flavor?") });
    expect((await stderrOf(['--fail', 'HalDeployApply'])).text).toContain('Did you mean --fail-at?');
  });

  it('says options go after `--` when npm passed a value on alone', async () => {
    const { code, text } = await stderrOf(['1000']);
    expect(code).toBe(2);
    expect(text).toContain('npm passes options on only after `--`: npm start -- --keys 1000');
  });

  it('says npm kept an option for itself', async () => {
    process.env.npm_config_keep = 'true';
    const { code, text } = await stderrOf([]);
    expect(code).toBe(2);
    expect(text).toContain('npm took --keep as its own option');
  });
});
