/**
 * The reference a copy from an RDB file is verified against: the same dump loaded by a real
 * redis-server (a scratch process on a free loopback port, nothing persisted), which decodes
 * every value on its own, independently of the copy's RESTOREs. `verifyCopy` then compares it
 * with the target key by key, strictly. A dump newer than that server (Valkey 8's RDB 11 into
 * Debian's 7.0.15) is first rewritten for it (lib/copy/rdb-file.ts rewriteRdbFile).
 *
 * The server is `redis-server` on PATH, or SPIN_REFERENCE_REDIS_SERVER. It holds the whole
 * dataset in memory while the verification runs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { rewriteRdbFile } from '../lib/copy/rdb-file.js';
import { ReferenceServerError } from '../lib/errors.js';
import { rdbVersionOf } from '../lib/copy/source-facts.js';
import { connectRedis, type RedisEndpoint } from '../lib/redis/connect.js';
import { startRedis } from '../sandbox/redis/redis-process.js';

/** The reference binary and the RDB version it reads (from `redis-server --version`). */
export function referenceServer(): { binary: string; rdbVersion: number | undefined } {
  const binary = process.env.SPIN_REFERENCE_REDIS_SERVER ?? 'redis-server';
  let text: string;
  try {
    text = execFileSync(binary, ['--version'], { encoding: 'utf8' });
  } catch (error) {
    throw new ReferenceServerError(
      `the copy is done, but verifying it against the dump needs a redis-server to load the dump (${binary}: ${(error as Error).message.split('\n')[0]}); install one or set SPIN_REFERENCE_REDIS_SERVER`,
    );
  }
  const version = /v=(\d+\.\d+\.\d+)/.exec(text)?.[1] ?? '0.0.0';
  return { binary, rdbVersion: rdbVersionOf(/valkey/i.test(text) ? 'valkey' : 'redis', version) };
}

/** Runs `use` with an endpoint serving the dump at `path`; the process and its files are removed afterwards. */
export async function withDumpReference<T>(path: string, rdbVersion: number, use: (reference: RedisEndpoint) => Promise<T>): Promise<T> {
  const { binary, rdbVersion: readable } = referenceServer();
  const dir = mkdtempSync(join(tmpdir(), 'spin-elasticache-reference-'));
  try {
    if (readable !== undefined && rdbVersion > readable) await rewriteRdbFile(path, join(dir, 'dump.rdb'), readable);
    else symlinkSync(resolve(path), join(dir, 'dump.rdb'));
    const server = await startRedis({ dir, binary, extraArgs: ['--dbfilename', 'dump.rdb'] });
    try {
      const endpoint = { url: server.url };
      await untilLoaded(endpoint);
      return await use(endpoint);
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A server still loading its RDB answers `-LOADING`; wait until it serves. */
async function untilLoaded(endpoint: RedisEndpoint): Promise<void> {
  const client = await connectRedis(endpoint, { connectionName: 'spin-elasticache-reference' });
  try {
    for (;;) {
      const info = await client.info('persistence').catch((error: Error) => (/LOADING/.test(error.message) ? 'loading:1' : Promise.reject(error)));
      if (/^loading:0/m.test(info)) return;
      await sleep(100);
    }
  } finally {
    client.disconnect();
  }
}
