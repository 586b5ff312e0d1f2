/**
 * `spin-elasticache copy --source URL --target URL [--verify] [--live] [--json FILE]`:
 * the workflow's copy engine as a standalone tool. Passwords come from environment variables
 * or files (or, discouraged, the URLs); none is ever printed (cli/redact.ts).
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { copyAll, type CopyMethod } from '../lib/copy/engine.js';
import { copyFromCluster, verifyClusterCopy } from '../lib/copy/cluster.js';
import { isClusterUrl, openClusterTarget } from '../lib/copy/cluster-target.js';
import { copyFromRdbFile } from '../lib/copy/rdb-file.js';
import { copyFromSentinel, type SentinelEndpoint, verifySentinelCopy } from '../lib/copy/sentinel.js';
import { verifyCopy, type VerifyReport } from '../lib/copy/verify.js';
import { MigrationError } from '../lib/errors.js';
import { parseQuantity } from '../lib/kubernetes/quantity.js';
import { connectRedis, type RedisEndpoint } from '../lib/redis/connect.js';
import { withDumpReference } from './rdb-reference.js';
import { displayUrl, secretsInUrl, withRedactedOutput } from './redact.js';

const USAGE = `Usage: spin-elasticache copy --source URL --target URL [options]

  --source URL, --target URL   redis://[:password@]host:port or rediss://…: every database
                               of the source, each into the same number on the target
  --source file:PATH           an RDB dump (redis-cli --rdb PATH), RDB versions 7 to 12:
                               every key RESTOREd with its absolute expiry, keys already
                               expired skipped and counted, then a strict verification
                               against the dump loaded by a scratch redis-server (on PATH,
                               or SPIN_REFERENCE_REDIS_SERVER)
  --source redis-cluster://HOST:PORT[,HOST:PORT…]
                               a Redis Cluster (rediss-cluster:// with TLS): every master
                               copied (as a replica where PSYNC works, else by scan through
                               MOVED/ASK), settled after a resharding, into one keyspace
                               (database 0); always verified strictly across shards.
                               With --live: every master's writes followed (its replication
                               stream, or its keyspace notifications when copied by scan)
  --target redis-cluster://HOST:PORT[,HOST:PORT…]
                               a cluster-mode-enabled target (rediss-cluster:// with TLS;
                               password and CA as for any target), from any source kind:
                               each key written to its slot's master, MOVED/ASK followed (a
                               resharding of the target during the copy), verified across its
                               shards. Writes the source makes with keys in several slots:
                               DEL/UNLINK/EXISTS/TOUCH/MSET split, RENAME/RENAMENX/COPY moved
                               key by key in order; any other refused (CROSSSLOT, exit 1)
  --source redis-sentinel://HOST:26379[,HOST:PORT…]/MASTER
                               a Sentinel-managed master, resolved through the sentinels;
                               a failover during the copy: re-resolved, copied again from
                               the new master, then mirrored (nothing stale left); verified
                               strictly against the master at the end. The master's password
                               as for any source, the sentinels' own with:
  --sentinel-password-env VAR, --sentinel-password-file FILE
  --source-password-env VAR    read the source password from this environment variable
  --target-password-env VAR    likewise for the target
  --source-password-file FILE  read the source password from this file (one line)
  --target-password-file FILE  likewise for the target
                               Prefer these to a password in the URL: command lines are
                               visible to other users (ps) and kept in shell history.
                               No password is ever printed, from any part of a URL.
  --ca-file FILE               extra CA for rediss:// (also REDIS_TLS_CA_FILE)
  --method auto|replication|scan
                               replication: attach to the source as a replica (PSYNC) and
                               turn its snapshot into RESTOREs, then apply its writes; the
                               fastest, and exact, but the source must allow PSYNC
                               (ElastiCache does not). scan: SCAN + DUMP, works anywhere.
                               auto (default): replication, else scan.
  --verify                     compare every key structurally afterwards (strict)
  --live SECONDS               keep copying the source's writes for this long; with scan
                               this needs keyspace notifications ('KA') on the source
  --json FILE                  write the figures as JSON
  --connections N              connections to the target (replication, default 2) or per
                               side (scan, default 6)
  --memory-limit QUANTITY      the source's memory limit (a Kubernetes quantity such as
                               512Mi): replication forks the source only when the worst-case
                               copy-on-write fits it with 25% to spare (docs/COPY.md,
                               "Fork safety"); else the scan copy, which never forks
`;

/** The passwords this command line gives, from anywhere, so that none is ever printed. */
function givenSecrets(argv: string[]): string[] {
  const after = (flag: string) => argv[argv.indexOf(flag) + 1];
  const fromFile = (file: string | undefined) => {
    try {
      return file ? readPasswordFile(file) : undefined;
    } catch {
      return undefined;
    }
  };
  return [
    ...argv.filter((a) => /^rediss?:\/\//.test(a)).flatMap(secretsInUrl),
    // Multi-host URLs (cluster, sentinel) are not WHATWG URLs: their user-info, by hand.
    ...argv.flatMap(
      (a) =>
        /^rediss?-(?:cluster|sentinel):\/\/([^@/]*)@/
          .exec(a)?.[1]
          ?.split(':')
          .flatMap((s) => (s ? [s, decodeURIComponent(s)] : [])) ?? [],
    ),
    ...['--source-password-env', '--target-password-env', '--sentinel-password-env'].flatMap((f) => (argv.includes(f) ? [process.env[after(f) ?? ''] ?? ''] : [])),
    ...['--source-password-file', '--target-password-file', '--sentinel-password-file'].flatMap((f) => (argv.includes(f) ? [fromFile(after(f)) ?? ''] : [])),
  ];
}

/** How each target is named in the output: a cluster target by its seeds, not by the local endpoint routing into it. */
const targetNames = new WeakMap<RedisEndpoint, string>();
const shownTarget = (target: RedisEndpoint): string => targetNames.get(target) ?? displayUrl(target.url);

function readPasswordFile(file: string): string {
  return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
}

/** `--source file:PATH`: the dump into the target, then the strict verification against the dump (cli/rdb-reference.ts). */
/**
 * Says so when the target already holds keys: a copy replaces the keys the source has and
 * leaves the others, which a wrong --target would not show until --verify counted them extra.
 * Advisory: a target it cannot ask (a cluster URL, a refused INFO) says nothing here.
 */
async function noteKeysOnTarget(target: RedisEndpoint): Promise<number | undefined> {
  const keys = await keysOnTarget(target);
  if (keys) process.stderr.write(`Note: the target already holds ${keys.toLocaleString('en-US')} keys; the source's replace theirs, the others stay (--verify would count them as extra).\n`);
  return keys;
}

/** The keys of every database of a (non-cluster) target, from INFO keyspace; undefined when it cannot be asked. */
async function keysOnTarget(target: RedisEndpoint): Promise<number | undefined> {
  if (isClusterUrl(target.url)) return undefined;
  try {
    const redis = await connectRedis(target, { connectionName: 'spin-elasticache-copy-check' });
    try {
      const keyspace = await redis.info('keyspace');
      return [...keyspace.matchAll(/^db\d+:keys=(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    } finally {
      redis.disconnect();
    }
  } catch {
    return undefined; // the copy itself reports an unreachable target
  }
}

async function copyFromFile(path: string, target: RedisEndpoint, values: Record<string, string | boolean | undefined>): Promise<number> {
  if (values.live || values.method) {
    process.stderr.write('--live and --method do not apply to a file source: a dump has no writes to follow and is read one way\n');
    return 2;
  }
  if (!existsSync(path)) {
    process.stderr.write(`No such RDB file: ${path}\n`);
    return 2;
  }
  // Before anything connects: an RDB file starts with REDIS and four digits of version (rdb.c rdbSaveRio).
  const head = Buffer.alloc(9);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 9, 0);
  } finally {
    closeSync(fd);
  }
  if (!/^REDIS\d{4}$/.test(head.toString('latin1'))) {
    process.stderr.write(`${path} is not an RDB file (no REDIS header); take one with redis-cli --rdb FILE\n`);
    return 2;
  }
  const started = Date.now();
  // Keys on the target before, to say how many a dump cut short or corrupt left there.
  let before: number | undefined;
  try {
    process.stderr.write(`Copying ${path} -> ${shownTarget(target)}\n`);
    before = await noteKeysOnTarget(target);
    const result = await copyFromRdbFile(path, target, {
      ...(values.connections ? { connections: Number(values.connections) } : {}),
      onProgress: (p) => process.stderr.write(`${p.keys.toLocaleString('en-US')} keys, ${((100 * p.bytes) / Math.max(1, p.totalBytes)).toFixed(0)}% of the file read\n`),
    });
    const seconds = (Date.now() - started) / 1000;
    const s = result.stats;
    process.stderr.write(
      `Copied ${s.keys} keys (${(s.bytes / 1e6).toFixed(1)} MB) from an RDB v${result.rdbVersion} dump in ${seconds.toFixed(2)} s; ${s.expiredSkipped} already expired in the dump (skipped), ${s.bigKeys} big key(s) through disk` +
        `${result.payloadVersion < result.rdbVersion ? `; payloads written as RDB v${result.payloadVersion} for the target, ${result.converted} value(s) rewritten` : ''}\n`,
    );
    const verify = await withDumpReference(path, result.rdbVersion, (reference) => verifyCopy(reference, target, { mode: 'strict' }));
    process.stderr.write(
      `Verify against the dump: ${verify.ok ? 'OK' : 'MISMATCH'} — ${verify.compared} compared, ${verify.missing} missing, ${verify.extra} extra, ${verify.typeMismatches} type, ${verify.valueMismatches} value, ${verify.ttlMismatches} TTL\n`,
    );
    for (const e of verify.examples.slice(0, 10)) process.stderr.write(`  ${e.kind} db${e.db} ${e.key}: ${e.detail}\n`);
    if (typeof values.json === 'string') {
      writeFileSync(
        values.json,
        `${JSON.stringify({ source: `file:${path}`, target: shownTarget(target), method: 'rdb-file', seconds, keys: s.keys, bytes: s.bytes, stats: s, rdbVersion: result.rdbVersion, payloadVersion: result.payloadVersion, converted: result.converted, verify }, null, 2)}\n`,
      );
    }
    return verify.ok ? 0 : 1;
  } catch (error) {
    const message = error instanceof MigrationError ? `${error.name}: ${error.message}` : (error as Error).message;
    process.stderr.write(`\ncopy failed: ${message}\n`);
    const after = await keysOnTarget(target);
    if (after !== undefined && after > (before ?? 0))
      process.stderr.write(
        `The target holds part of the dump: ${(after - (before ?? 0)).toLocaleString('en-US')} key(s) more than before the copy. Copy a whole dump again (each key is replaced), or remove them.\n`,
      );
    return 1;
  }
}

/** `--source redis-sentinel://…/name`: the master the sentinels name, failovers survived (lib/copy/sentinel.ts), then verified strictly. */
async function copyFromSentinelCommand(source: SentinelEndpoint, target: RedisEndpoint, method: CopyMethod, values: Record<string, string | boolean | undefined>): Promise<number> {
  const shown = source.url.replace(/\/\/[^@/]*@/, '//');
  const started = Date.now();
  try {
    process.stderr.write(`Copying ${shown} -> ${shownTarget(target)}\n`);
    await noteKeysOnTarget(target);
    const result = await copyFromSentinel(source, target, {
      method,
      container: { none: true },
      ...(values.connections ? { connections: Number(values.connections) } : {}),
      ...(values.live ? { followMs: Number(values.live) * 1000 } : {}),
      onAttempt: (attempt, master) => void process.stderr.write(`${attempt > 1 ? 'Failover: ' : ''}copying from the master ${master.host}:${master.port}\n`),
    });
    const seconds = (Date.now() - started) / 1000;
    for (const i of result.interrupted) process.stderr.write(`  interrupted on ${i.master}: ${i.error}\n`);
    process.stderr.write(
      `Copied ${result.stats.keys} keys by ${result.method} from ${result.master} in ${seconds.toFixed(2)} s${result.mirror ? `; settled after the failover: ${result.mirror.copied} copied again, ${result.mirror.deleted} deleted` : ''}\n`,
    );
    const verify = await verifySentinelCopy(source, target);
    process.stderr.write(
      `Verify against ${verify.master}: ${verify.ok ? 'OK' : 'MISMATCH'} — ${verify.compared} compared, ${verify.missing} missing, ${verify.extra} extra, ${verify.typeMismatches} type, ${verify.valueMismatches} value, ${verify.ttlMismatches} TTL\n`,
    );
    for (const e of verify.examples.slice(0, 10)) process.stderr.write(`  ${e.kind} db${e.db} ${e.key}: ${e.detail}\n`);
    if (typeof values.json === 'string')
      writeFileSync(
        values.json,
        `${JSON.stringify({ source: shown, target: shownTarget(target), method: result.method, master: result.master, interrupted: result.interrupted, mirror: result.mirror, seconds, keys: result.stats.keys, stats: result.stats, verify }, null, 2)}\n`,
      );
    return verify.ok ? 0 : 1;
  } catch (error) {
    const message = error instanceof MigrationError ? `${error.name}: ${error.message}` : (error as Error).message;
    process.stderr.write(`\ncopy failed: ${message}\n`);
    return 1;
  }
}

/** `--source redis-cluster://…`: every master into the target, settled, then verified across shards (lib/copy/cluster.ts). */
async function copyFromClusterCommand(source: RedisEndpoint, target: RedisEndpoint, method: CopyMethod, values: Record<string, string | boolean | undefined>): Promise<number> {
  const shown = source.url.replace(/\/\/[^@/]*@/, '//');
  const started = Date.now();
  try {
    process.stderr.write(`Copying ${shown} -> ${shownTarget(target)}\n`);
    await noteKeysOnTarget(target);
    const result = await copyFromCluster(source, target, {
      method,
      ...(values.connections ? { connections: Number(values.connections) } : {}),
      ...(values.live ? { followMs: Number(values.live) * 1000 } : {}),
    });
    const live = (m: (typeof result.masters)[number]) =>
      !m.live
        ? ''
        : 'commandsApplied' in m.live
          ? `; live: ${m.live.commandsApplied} writes from its stream`
          : `; live: ${m.live.events} notifications, ${m.live.copied} keys copied, ${m.live.deleted} deleted`;
    for (const m of result.masters)
      process.stderr.write(`  master ${m.master}: ${m.stats.keys} keys by ${m.method}${m.fallbackReason ? ` (replication not possible: ${m.fallbackReason})` : ''}${live(m)}\n`);
    const seconds = (Date.now() - started) / 1000;
    process.stderr.write(
      `Copied ${result.stats.keys} keys from ${result.masters.length} masters in ${seconds.toFixed(2)} s; settled in ${result.settle.passes} pass(es): ${result.settle.recopied} copied again, ${result.settle.deleted} deleted${result.settle.converged ? '' : ' (still changing: the cluster is being written)'}\n`,
    );
    const verify = await verifyClusterCopy(source, target);
    process.stderr.write(
      `Verify across shards: ${verify.ok ? 'OK' : 'MISMATCH'} — ${verify.compared} compared, ${verify.missing} missing, ${verify.extra} extra, ${verify.typeMismatches} type, ${verify.valueMismatches} value, ${verify.ttlMismatches} TTL\n`,
    );
    for (const e of verify.examples.slice(0, 10)) process.stderr.write(`  ${e.kind} db${e.db} ${e.key}: ${e.detail}\n`);
    if (typeof values.json === 'string')
      writeFileSync(
        values.json,
        `${JSON.stringify({ source: shown, target: shownTarget(target), method: 'cluster', seconds, keys: result.stats.keys, stats: result.stats, masters: result.masters, settle: result.settle, verify }, null, 2)}\n`,
      );
    return verify.ok ? 0 : 1;
  } catch (error) {
    const message = error instanceof MigrationError ? `${error.name}: ${error.message}` : (error as Error).message;
    process.stderr.write(`\ncopy failed: ${message}\n`);
    return 1;
  }
}

export async function runCopyCommand(argv: string[]): Promise<number> {
  return withRedactedOutput(givenSecrets(argv), () => copyCommand(argv));
}

/**
 * A mistake in the command line, said as its fix, or undefined: a URL of another kind; a
 * database in a URL (the copy moves every database of the source into the same number on the
 * target, as the migration does: a `/db` would be ignored, and was, silently); a `--live` or
 * `--connections` that is not a number; a `--json` file whose directory does not exist.
 */
function commandLineMistake(values: Record<string, string | boolean | undefined>): string | undefined {
  for (const side of ['source', 'target'] as const) {
    const url = String(values[side]);
    if (!/^(rediss?(-cluster|-sentinel)?:\/\/|file:)/.test(url))
      return `--${side} ${displayUrl(url)}: not a Redis URL (redis://, rediss://, redis-cluster://, redis-sentinel://${side === 'source' ? ', or file:PATH' : ''})`;
    if (side === 'target' && url.startsWith('file:')) return '--target file:…: the target is a Redis server; a dump can only be a source';
    // The path only (never the query, which may carry a password); /0 is the default database anyway.
    const db = /^rediss?:\/\/[^/?#]*\/([^?#]*)/.exec(url)?.[1] ?? '';
    if (db !== '' && db !== '0')
      return `--${side} ${displayUrl(url)}: a database in the URL (/${db}) is not supported: the copy moves every database of the source into the same database number on the target; remove it`;
  }
  if (values.live !== undefined && !(Number(values.live) > 0)) return `--live must be a number of seconds above 0, not ${String(values.live)}`;
  if (values.connections !== undefined && !(Number.isInteger(Number(values.connections)) && Number(values.connections) >= 1))
    return `--connections must be a whole number of at least 1, not ${String(values.connections)}`;
  if (typeof values.json === 'string') {
    const dir = dirname(resolve(values.json));
    if (!existsSync(dir) || !statSync(dir).isDirectory()) return `--json ${values.json}: the directory ${dir} does not exist`;
  }
  return undefined;
}

async function copyCommand(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        source: { type: 'string' },
        target: { type: 'string' },
        'source-password-env': { type: 'string' },
        'target-password-env': { type: 'string' },
        'source-password-file': { type: 'string' },
        'target-password-file': { type: 'string' },
        'sentinel-password-env': { type: 'string' },
        'sentinel-password-file': { type: 'string' },
        'ca-file': { type: 'string' },
        verify: { type: 'boolean' },
        live: { type: 'string' },
        json: { type: 'string' },
        connections: { type: 'string' },
        method: { type: 'string' },
        'memory-limit': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help || !values.source || !values.target) {
    (values.help ? process.stdout : process.stderr).write(values.help ? USAGE : `Missing ${!values.source ? '--source URL' : '--target URL'}.\n${USAGE}`);
    return values.help ? 0 : 2;
  }
  const endpoint = (url: string, passwordEnv: unknown, passwordFile?: unknown): RedisEndpoint => {
    if (secretsInUrl(url).length > 0)
      process.stderr.write(`Warning: ${displayUrl(url)} carries credentials on the command line; use --source-password-env/-file or --target-password-env/-file instead.\n`);
    // A variable named but unset (or empty) is a mistake, not "no password": said now, not as NOAUTH later.
    if (typeof passwordEnv === 'string' && !process.env[passwordEnv]) throw new Error(`the environment variable ${passwordEnv} is not set (or empty)`);
    const password = typeof passwordFile === 'string' ? readPasswordFile(passwordFile) : typeof passwordEnv === 'string' ? process.env[passwordEnv] : undefined;
    const caFile = typeof values['ca-file'] === 'string' ? values['ca-file'] : undefined;
    return { url, ...(password ? { password } : {}), ...(caFile ? { caFile } : {}) };
  };
  const method = (values.method ?? 'auto') as CopyMethod;
  if (!['auto', 'replication', 'scan'].includes(method)) {
    process.stderr.write(`--method must be auto, replication or scan, not ${String(values.method)}\n`);
    return 2;
  }
  // Everything the command line can get wrong is said before anything connects or copies.
  const wrong = commandLineMistake(values);
  if (wrong) {
    process.stderr.write(`${wrong}\n`);
    return 2;
  }
  let source: RedisEndpoint;
  let target: RedisEndpoint;
  try {
    source = endpoint(String(values.source), values['source-password-env'], values['source-password-file']);
    target = endpoint(String(values.target), values['target-password-env'], values['target-password-file']);
  } catch (error) {
    process.stderr.write(`Cannot read a password: ${(error as Error).message}\n`);
    return 2;
  }
  const memoryLimitBytes = typeof values['memory-limit'] === 'string' ? parseQuantity(values['memory-limit']) : undefined;
  if (values['memory-limit'] !== undefined && memoryLimitBytes === undefined) {
    process.stderr.write(`--memory-limit must be a quantity such as 512Mi or 2G, not ${String(values['memory-limit'])}\n`);
    return 2;
  }
  if (isClusterUrl(target.url)) return intoClusterTarget(source, target, method, values, memoryLimitBytes);
  return copyInto(source, target, method, values, memoryLimitBytes);
}

/**
 * `--target redis-cluster://…`: every source kind and method as into one server, through a
 * local endpoint that routes each key to its slot's master (lib/copy/cluster-target.ts).
 */
async function intoClusterTarget(
  source: RedisEndpoint,
  target: RedisEndpoint,
  method: CopyMethod,
  values: Record<string, string | boolean | undefined>,
  memoryLimitBytes: number | undefined,
): Promise<number> {
  let routed: Awaited<ReturnType<typeof openClusterTarget>>;
  try {
    routed = await openClusterTarget(target);
  } catch (error) {
    const message = error instanceof MigrationError ? `${error.name}: ${error.message}` : (error as Error).message;
    process.stderr.write(`\ncopy failed: ${message}\n`);
    return 1;
  }
  targetNames.set(routed.endpoint, `${target.url.replace(/\/\/[^@/]*@/, '//')} (${routed.figures.masters.length} masters)`);
  const started = Date.now();
  try {
    const code = await copyInto(source, routed.endpoint, method, values, memoryLimitBytes);
    const f = routed.figures;
    process.stderr.write(
      `Cluster target: ${f.commands.toLocaleString('en-US')} commands routed by slot to ${f.masters.length} masters; multi-key commands across slots: ${f.split} split, ${f.emulated} emulated (RENAME/COPY), ${f.refused} refused (CROSSSLOT)\n`,
    );
    // Only into the figures this run wrote (a failed run leaves an older file as it was).
    if (typeof values.json === 'string' && existsSync(values.json) && statSync(values.json).mtimeMs >= started - 1000) {
      const figures = JSON.parse(readFileSync(values.json, 'utf8')) as Record<string, unknown>;
      writeFileSync(values.json, `${JSON.stringify({ ...figures, targetCluster: f }, null, 2)}\n`);
    }
    return code;
  } finally {
    await routed.close();
  }
}

async function copyInto(source: RedisEndpoint, target: RedisEndpoint, method: CopyMethod, values: Record<string, string | boolean | undefined>, memoryLimitBytes: number | undefined): Promise<number> {
  const tty = process.stderr.isTTY;
  const started = Date.now();
  if (/^rediss?-sentinel:\/\//.test(source.url)) {
    let sentinelPassword: string | undefined;
    try {
      sentinelPassword =
        typeof values['sentinel-password-file'] === 'string'
          ? readPasswordFile(values['sentinel-password-file'])
          : typeof values['sentinel-password-env'] === 'string'
            ? process.env[values['sentinel-password-env']]
            : undefined;
    } catch (error) {
      process.stderr.write(`Cannot read a password: ${(error as Error).message}\n`);
      return 2;
    }
    return copyFromSentinelCommand({ ...source, ...(sentinelPassword ? { sentinelPassword } : {}) }, target, method, values);
  }
  if (/^rediss?-cluster:\/\//.test(source.url)) return copyFromClusterCommand(source, target, method, values);
  if (/^file:/.test(source.url)) return copyFromFile(source.url.replace(/^file:(\/\/)?/, ''), target, values);
  // Not a terminal (a log): a line only when it says something new (following writes repeats itself while nothing is written).
  let lastLine = '';
  const progress = (text: string) => {
    if (tty) process.stderr.write(`\r\x1b[2K${text}`);
    else if (text !== lastLine) process.stderr.write(`${text}\n`);
    lastLine = text;
  };
  try {
    process.stderr.write(`Copying ${displayUrl(source.url)} -> ${shownTarget(target)}\n`);
    await noteKeysOnTarget(target);
    const result = await copyAll(source, target, {
      method,
      container: { none: true, ...(memoryLimitBytes === undefined ? {} : { memoryLimitBytes }) },
      ...(values.connections ? { connections: Number(values.connections) } : {}),
      ...(values.live ? { followMs: Number(values.live) * 1000 } : {}),
      onProgress: (p) => {
        const total = p.totalKeys ? ` of ${p.totalKeys.toLocaleString('en-US')}` : '';
        const eta = p.etaSeconds !== undefined ? `, ETA ${p.etaSeconds} s` : '';
        progress(
          p.phase === 'stream'
            ? `following writes: ${p.keys.toLocaleString('en-US')} keys copied, on the target as they change`
            : `${p.keys.toLocaleString('en-US')}${total} keys, ${(p.bytes / 1e6).toFixed(1)} MB, ${p.keysPerSec.toLocaleString('en-US')} keys/s${eta}`,
        );
      },
    });
    if (tty) process.stderr.write('\n');
    const seconds = (Date.now() - started) / 1000;
    // The rate is the copy's: the time spent following writes (--live) is not copying keys.
    const copySeconds = Math.max(0.001, seconds - (values.live ? Number(values.live) : 0));
    const s = result.stats;
    if (result.fork) {
      // Allowed to fork is not forked: a source that then refused PSYNC was copied by scan.
      const verdict = !result.fork.fork ? 'not forking the source' : result.method === 'replication' ? 'forked the source' : 'the source may fork, but the replication copy did not start';
      process.stderr.write(`Fork safety: ${verdict}: ${result.fork.reason}\n`);
    }
    for (const note of result.fork?.notes ?? []) process.stderr.write(`  note: ${note}\n`);
    if (result.fallbackReason) process.stderr.write(`Replication copy not possible (${result.fallbackReason}); used the scan copy\n`);
    process.stderr.write(
      `Copied ${s.keys} keys (${(s.bytes / 1e6).toFixed(1)} MB) by ${result.method} in ${copySeconds.toFixed(2)} s: ${Math.round(s.keys / copySeconds)} keys/s; ${s.bigKeys} big key(s) ${result.method === 'scan' ? 'in chunks' : 'through disk'}, ${s.fallbacks} type-based fallback(s), ${s.expiredSkipped} expired during the copy\n`,
    );
    if (result.replication)
      process.stderr.write(
        `Replication: ${result.replication.commandsApplied} write(s) made during the copy${values.live ? ` and the ${values.live} s of --live` : ''} applied, consistent with the source at offset ${result.replication.offset}\n`,
      );
    const live = result.live;
    if (live) process.stderr.write(`Live (${values.live} s): ${live.events} events, ${live.copied} keys copied, ${live.deleted} deleted\n`);
    let verify: VerifyReport | undefined;
    if (values.verify) {
      verify = await verifyCopy(source, target, { mode: 'strict' });
      process.stderr.write(
        `Verify: ${verify.ok ? 'OK' : 'MISMATCH'} — ${verify.compared} compared, ${verify.missing} missing, ${verify.extra} extra, ${verify.typeMismatches} type, ${verify.valueMismatches} value, ${verify.ttlMismatches} TTL\n`,
      );
      for (const e of verify.examples.slice(0, 10)) process.stderr.write(`  ${e.kind} db${e.db} ${e.key}: ${e.detail}\n`);
    }
    if (typeof values.json === 'string') {
      writeFileSync(
        values.json,
        `${JSON.stringify({ source: displayUrl(source.url), target: shownTarget(target), method: result.method, fallbackReason: result.fallbackReason, seconds, copySeconds, keys: s.keys, bytes: s.bytes, keysPerSec: Math.round(s.keys / copySeconds), stats: s, replication: result.replication, fork: result.fork, live, verify }, null, 2)}\n`,
      );
    }
    return verify && !verify.ok ? 1 : 0;
  } catch (error) {
    const message = error instanceof MigrationError ? `${error.name}: ${error.message}` : (error as Error).message;
    process.stderr.write(`\ncopy failed: ${message}\n`);
    return 1;
  }
}
