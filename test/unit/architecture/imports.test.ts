/**
 * The layers, checked from the code's own imports: handlers/ and lib/ never reach into the
 * sandbox, the tests, the CLI or the benchmarks; a handler never imports another handler;
 * lib/ never imports a handler; and no domain area (anything in lib/ outside lib/workflow/)
 * imports lib/workflow/, which composes the areas into the execution state.
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Every module specifier a file imports: static, `export … from`, side-effect and literal dynamic `import(…)`. */
function importsOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** `from -> to` with the reason, for each import of `file` (repository-relative, `/`-separated) that breaks a rule. */
function violationsOf(file: string, source: string): { edge: string; reason: string }[] {
  const out: { edge: string; reason: string }[] = [];
  for (const specifier of importsOf(source)) {
    if (!specifier.startsWith('.')) continue; // packages and node: builtins
    const target = posix.normalize(posix.join(posix.dirname(file), specifier)).replace(/\.js$/, '.ts');
    const edge = `${file} -> ${target}`;
    const top = target.split('/')[0];
    if (top === 'sandbox' || top === 'test' || top === 'cli' || top === 'bench') out.push({ edge, reason: `${top}/ is outside the shipped code` });
    else if (file.startsWith('handlers/') && target.startsWith('handlers/')) out.push({ edge, reason: 'a handler imports another handler' });
    else if (file.startsWith('lib/') && target.startsWith('handlers/')) out.push({ edge, reason: 'lib/ imports a handler' });
    else if (file.startsWith('lib/') && !file.startsWith('lib/workflow/') && target.startsWith('lib/workflow/')) out.push({ edge, reason: 'a domain area imports lib/workflow/' });
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)).split(sep).join('/'));
}

describe('the import rules', () => {
  it('catch a violating import of each kind, static or dynamic', () => {
    const fake = [
      "import { world } from '../../sandbox/world.js';",
      "import type { Fixture } from '../../test/support/env.js';",
      "export { main } from '../../cli/main.js';",
      "const bench = await import('../../bench/copy.js');",
      "import type { MigrationState } from '../workflow/state.js';",
      "import { handler } from '../../handlers/ping-redis.js';",
      "import { Redis } from 'iovalkey';",
      "import { mapAwsError } from '../aws/errors.js';",
    ].join('\n');
    expect(violationsOf('lib/elasticache/fake.ts', fake).map((v) => v.edge)).toEqual([
      'lib/elasticache/fake.ts -> sandbox/world.ts',
      'lib/elasticache/fake.ts -> test/support/env.ts',
      'lib/elasticache/fake.ts -> cli/main.ts',
      'lib/elasticache/fake.ts -> bench/copy.ts',
      'lib/elasticache/fake.ts -> lib/workflow/state.ts',
      'lib/elasticache/fake.ts -> handlers/ping-redis.ts',
    ]);
    expect(violationsOf('handlers/fake.ts', "import { createHandler } from './copy-bulk.js';")).toEqual([
      { edge: 'handlers/fake.ts -> handlers/copy-bulk.ts', reason: 'a handler imports another handler' },
    ]);
  });

  it('let lib/workflow and the handlers compose the domain areas', () => {
    expect(violationsOf('lib/workflow/resolve.ts', "import { targetEndpoint } from '../elasticache/target-endpoint.js';")).toEqual([]);
    expect(violationsOf('handlers/fake.ts', "import type { MigrationState } from '../lib/workflow/state.js';")).toEqual([]);
  });

  it('hold for every file under lib/ and handlers/', () => {
    const files = [...sourceFiles('lib'), ...sourceFiles('handlers')];
    expect(files.length).toBeGreaterThan(50);
    const found = files.flatMap((file) => violationsOf(file, readFileSync(join(ROOT, file), 'utf8')));
    expect(found.map((v) => `${v.edge} (${v.reason})`)).toEqual([]);
  });
});
