/** Every deployed ChatOps preset must be a valid migration input (Slack would start it). */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parseMigrationInput } from '../../../lib/config/schema.js';
import { ROOT } from '../../../sandbox/runner.js';

const presets = readdirSync(join(ROOT, 'presets')).filter((f) => f.endsWith('.json'));
const inputs = [...presets.map((f) => join('presets', f)), 'events/health-check.json'];

describe('deployed inputs', () => {
  it.each(inputs)('%s is a valid migration input', (file) => {
    expect(() => parseMigrationInput(JSON.parse(readFileSync(join(ROOT, file), 'utf8')))).not.toThrow();
  });
});
