/**
 * `osls package --stage test`, once per source state: the package tests (template.test.ts,
 * iam.test.ts) run in different jest workers, and packaging is the slowest thing they do
 * (about 20 s alone, minutes on a loaded machine). The output goes to a temp directory named
 * by a hash of everything that goes into the template; a second worker waits on a lock
 * directory instead of packaging again. SLS_PACKAGE_DIR points at an existing output.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = join(import.meta.dirname, '..', '..');
const INPUTS = ['serverless.yml', 'package.json', 'statemachine', 'handlers', 'lib', 'presets', 'events'];
const TEMPLATE = 'cloudformation-template-update-stack.json';

function hashTree(hash: ReturnType<typeof createHash>, path: string): void {
  if (!existsSync(path)) return;
  if (statSync(path).isDirectory()) {
    for (const entry of readdirSync(path).sort()) hashTree(hash, join(path, entry));
    return;
  }
  hash.update(path.slice(ROOT.length)).update(readFileSync(path));
}

/** The directory holding the packaged stack (its CloudFormation template and zips). */
export async function packagedStack(timeoutMs = 600_000): Promise<string> {
  if (process.env.SLS_PACKAGE_DIR) return process.env.SLS_PACKAGE_DIR;
  const hash = createHash('sha256');
  for (const input of INPUTS) hashTree(hash, join(ROOT, input));
  const out = join(tmpdir(), `spin-elasticache-package-${hash.digest('hex').slice(0, 16)}`);
  const lock = `${out}.lock`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(join(out, TEMPLATE))) return out;
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for another worker to package ${out}`);
      await sleep(500);
    }
  }
  try {
    if (existsSync(join(out, TEMPLATE))) return out;
    const env = { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '' };
    execFileSync(join(ROOT, 'node_modules', '.bin', 'osls'), ['package', '--stage', 'test', '--package', out], { cwd: ROOT, env, stdio: 'pipe', timeout: timeoutMs });
    return out;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** The packaged CloudFormation template, parsed. */
export async function packagedTemplate<T>(): Promise<T> {
  return JSON.parse(readFileSync(join(await packagedStack(), TEMPLATE), 'utf8')) as T;
}
