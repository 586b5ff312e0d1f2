/** The named migration inputs Slack may start: `presets/<name>.json`, deployed with the Lambda. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Presets {
  names(): string[];
  read(name: string): unknown;
}

export function presetsIn(dir: string): Presets {
  return {
    names: () =>
      existsSync(dir)
        ? readdirSync(dir)
            .filter((f) => /^[a-z0-9][a-z0-9-]*\.json$/.test(f))
            .map((f) => f.replace(/\.json$/, ''))
            .sort()
        : [],
    read: (name) => {
      const file = join(dir, `${name}.json`);
      return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as unknown) : undefined;
    },
  };
}
