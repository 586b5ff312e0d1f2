// Lint for the test suite: no focused or skipped tests may land (they silently shrink CI).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const offenders = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (path.endsWith('.test.ts')) {
      readFileSync(path, 'utf8')
        .split('\n')
        .forEach((line, i) => /\b(it|test|describe)\.(only|skip)\(|\b(fit|fdescribe|xit|xdescribe)\(/.test(line) && offenders.push(`${path}:${i + 1}: ${line.trim()}`));
    }
  }
};
walk('test');
if (offenders.length) {
  console.error(`Focused or skipped tests:\n${offenders.join('\n')}`);
  process.exit(1);
}
console.log('no focused or skipped tests');
