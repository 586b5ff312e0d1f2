/**
 * The copy engine is Redis → Redis and nothing else: lib/copy may import only itself,
 * lib/redis, lib/errors.ts, node built-ins and ioredis (no EKS, ElastiCache, Secrets
 * Manager, Spinnaker or workflow knowledge).
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const COPY = join(ROOT, 'lib', 'copy');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('lib/copy imports', () => {
  it('reach only lib/copy, lib/redis, lib/errors, node and ioredis', () => {
    const outside: string[] = [];
    for (const file of sources(COPY)) {
      for (const [, spec] of readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^'"]*from\s+'([^']+)'/gm)) {
        if (spec!.startsWith('node:') || spec === 'ioredis') continue;
        const target = relative(ROOT, resolve(dirname(file), spec!));
        if (/^lib\/(copy|redis)\//.test(target) || target === 'lib/errors.js') continue;
        outside.push(`${relative(ROOT, file)} -> ${spec}`);
      }
    }
    expect(outside).toEqual([]);
    expect(sources(COPY).length).toBeGreaterThan(10);
  });
});
