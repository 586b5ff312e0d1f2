/**
 * `spin-elasticache copy --source URL --target URL [--verify] [--live] [--json FILE]`:
 * the workflow's copy engine as a standalone tool. Passwords may sit in the URLs or come
 * from environment variables; they are never printed.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { copySlice } from '../copy/bulk.js';
import { catchUp } from '../copy/live.js';
import { verifyCopy, type VerifyReport } from '../copy/verify.js';
import { MigrationError } from '../errors.js';
import { redactUrl, type RedisEndpoint } from '../redis/connect.js';

const USAGE = `Usage: spin-elasticache copy --source URL --target URL [options]

  --source URL, --target URL   redis://[:password@]host:port[/db] or rediss://…
  --source-password-env VAR    read the source password from this environment variable
  --target-password-env VAR    likewise for the target
  --ca-file FILE               extra CA for rediss:// (also REDIS_TLS_CA_FILE)
  --verify                     compare every key structurally afterwards (strict)
  --live SECONDS               keep copying changes for this long (needs keyspace
                               notifications 'KA' on the source)
  --json FILE                  write the figures as JSON
  --connections N              connections per side (default 4)
`;

export async function runCopyCommand(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        source: { type: 'string' },
        target: { type: 'string' },
        'source-password-env': { type: 'string' },
        'target-password-env': { type: 'string' },
        'ca-file': { type: 'string' },
        verify: { type: 'boolean' },
        live: { type: 'string' },
        json: { type: 'string' },
        connections: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help || !values.source || !values.target) {
    process.stderr.write(USAGE);
    return values.help ? 0 : 2;
  }
  const endpoint = (url: string, passwordEnv: unknown): RedisEndpoint => {
    const password = typeof passwordEnv === 'string' ? process.env[passwordEnv] : undefined;
    const caFile = typeof values['ca-file'] === 'string' ? values['ca-file'] : undefined;
    return { url, ...(password ? { password } : {}), ...(caFile ? { caFile } : {}) };
  };
  const source = endpoint(String(values.source), values['source-password-env']);
  const target = endpoint(String(values.target), values['target-password-env']);
  const tty = process.stderr.isTTY;
  const started = Date.now();
  const progress = (text: string) => (tty ? process.stderr.write(`\r\x1b[2K${text}`) : process.stderr.write(`${text}\n`));
  try {
    process.stderr.write(`Copying ${redactUrl(source.url)} -> ${redactUrl(target.url)}\n`);
    const result = await copySlice(source, target, {
      ...(values.connections ? { connections: Number(values.connections) } : {}),
      onProgress: (p) => progress(`${p.keys.toLocaleString('en-US')} keys, ${(p.bytes / 1e6).toFixed(1)} MB, ${p.keysPerSec.toLocaleString('en-US')} keys/s (db ${p.db})`),
    });
    if (tty) process.stderr.write('\n');
    const seconds = (Date.now() - started) / 1000;
    const s = result.checkpoint.stats;
    process.stderr.write(`Copied ${s.keys} keys (${(s.bytes / 1e6).toFixed(1)} MB) in ${seconds.toFixed(2)} s: ${Math.round(s.keys / seconds)} keys/s; ${s.bigKeys} big key(s) in chunks, ${s.fallbacks} type-based fallback(s), ${s.expiredSkipped} expired during the copy\n`);
    let live;
    if (values.live) {
      process.stderr.write(`Following changes for ${values.live} s…\n`);
      live = await catchUp(source, target, { until: Date.now() + Number(values.live) * 1000 });
      process.stderr.write(`Live: ${live.events} events, ${live.copied} keys copied, ${live.deleted} deleted\n`);
    }
    let verify: VerifyReport | undefined;
    if (values.verify) {
      verify = await verifyCopy(source, target, { mode: 'strict' });
      process.stderr.write(`Verify: ${verify.ok ? 'OK' : 'MISMATCH'} — ${verify.compared} compared, ${verify.missing} missing, ${verify.extra} extra, ${verify.typeMismatches} type, ${verify.valueMismatches} value, ${verify.ttlMismatches} TTL\n`);
      for (const e of verify.examples.slice(0, 10)) process.stderr.write(`  ${e.kind} db${e.db} ${e.key}: ${e.detail}\n`);
    }
    if (typeof values.json === 'string') {
      writeFileSync(values.json, `${JSON.stringify({ source: redactUrl(source.url), target: redactUrl(target.url), seconds, keys: s.keys, bytes: s.bytes, keysPerSec: Math.round(s.keys / seconds), stats: s, live, verify }, null, 2)}\n`);
    }
    return verify && !verify.ok ? 1 : 0;
  } catch (error) {
    const message = error instanceof MigrationError ? `${error.name}: ${error.message}` : (error as Error).message;
    process.stderr.write(`\ncopy failed: ${message}\n`);
    return 1;
  }
}
