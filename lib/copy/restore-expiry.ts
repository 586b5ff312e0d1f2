/**
 * "Restore this payload with this absolute expiry on this target", in one place. Redis 5.0
 * added `RESTORE … ABSTTL`; 3.2 and 4.0 answer it with `ERR syntax error`. For those the
 * relative TTL is computed by the target itself at the moment of the write (Lua: TIME), and
 * an entry whose expiry has passed by then is not written: an expired key never comes back.
 * The target's version is read once per copy (INFO server), never guessed from an error.
 */
import type { Redis } from 'ioredis';
import { mapRedisError } from '../redis/errors.js';

export interface TargetVersion {
  /** `redis_version` from INFO server (Valkey reports a Redis-compatible one too). */
  version: string;
  /** RESTORE … ABSTTL (5.0+). */
  absTtl: boolean;
  /** HSET with several field/value pairs (4.0+); HMSET before. */
  multiFieldHset: boolean;
  /** XSETID … ENTRIESADDED … MAXDELETEDID, XGROUP CREATE … ENTRIESREAD (7.0+). */
  streamMetadata: boolean;
  /** XGROUP CREATECONSUMER (6.2+). */
  createConsumer: boolean;
}

export function parseTargetVersion(info: string): TargetVersion {
  const version = /^redis_version:([^\r\n]+)/m.exec(info)?.[1]?.trim() ?? '0.0.0';
  return {
    version,
    absTtl: versionAtLeast(version, 5, 0),
    multiFieldHset: versionAtLeast(version, 4, 0),
    streamMetadata: versionAtLeast(version, 7, 0),
    createConsumer: versionAtLeast(version, 6, 2),
  };
}

export function versionAtLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

/** One INFO server per copy: every writer of the copy then speaks the target's dialect. */
export async function readTargetVersion(target: Redis): Promise<TargetVersion> {
  return parseTargetVersion(String(await target.info('server')));
}

/** 5.0+: the target applies the absolute expiry itself. Per key: 1 restored, or the error text. */
const RESTORE_ABSTTL_SCRIPT = `
local out = {}
for i, key in ipairs(KEYS) do
  local ok, err = pcall(redis.call, 'RESTORE', key, ARGV[2 * i - 1], ARGV[2 * i], 'REPLACE', 'ABSTTL')
  if ok then out[i] = 1 else out[i] = tostring(err and (err.err or err) or 'error') end
end
return out`;

/**
 * Before 5.0: expiry minus the target's TIME, read inside the script (the last moment).
 * replicate_commands() must come before TIME, else 3.2 refuses any write after it (a
 * non-deterministic command) and a replica could get a different TTL. Per key: 1 restored,
 * 0 expired (not written), or the error text.
 */
const RESTORE_RELATIVE_SCRIPT = `
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i, key in ipairs(KEYS) do
  local at = tonumber(ARGV[2 * i - 1])
  if at > 0 and at <= now then
    out[i] = 0
  else
    local ttl = '0'
    if at > 0 then ttl = string.format('%d', at - now) end
    local ok, err = pcall(redis.call, 'RESTORE', key, ttl, ARGV[2 * i], 'REPLACE')
    if ok then out[i] = 1 else out[i] = tostring(err and (err.err or err) or 'error') end
  end
end
return out`;

/**
 * The batch RESTORE script for this target. KEYS: the keys; ARGV: absolute expiry in ms
 * (0: none), payload, … Per key: 1 restored, 0 already expired (not written), or the error text.
 */
export function restoreScript(target: TargetVersion): string {
  return target.absTtl ? RESTORE_ABSTTL_SCRIPT : RESTORE_RELATIVE_SCRIPT;
}

/** The command a refusal came from, for the error message. */
export function restoreCommandName(target: TargetVersion): string {
  return target.absTtl ? 'RESTORE … REPLACE ABSTTL' : 'RESTORE … REPLACE';
}

/** One key (the live sync, a reconciliation): 'restored', or 'expired' when its expiry has passed on the target's clock. */
export async function restoreWithExpiry(client: Redis, target: TargetVersion, key: Buffer, expiresAt: number, payload: Buffer): Promise<'restored' | 'expired'> {
  let reply: unknown;
  try {
    [reply] = (await client.eval(restoreScript(target), 1, key, String(expiresAt), payload)) as unknown[];
  } catch (error) {
    throw mapRedisError(error, 'target', { command: restoreCommandName(target), serverVersion: target.version });
  }
  if (reply === 1) return 'restored';
  if (reply === 0) return 'expired';
  throw mapRedisError(new Error(String(reply)), 'target', { command: restoreCommandName(target), serverVersion: target.version });
}

/**
 * For a raw RESP pipeline (the replication copy, whose payloads may stream from disk and so
 * cannot go through a script): the TTL argument, what follows the payload, and whether a
 * `PEXPIREAT key <expiresAt>` must follow the RESTORE on the same connection. Before 5.0 the
 * RESTORE carries no TTL and that PEXPIREAT sets the absolute expiry; one whose time has
 * passed deletes the key, so an expired entry is never left behind.
 */
export function pipelinedExpiry(target: TargetVersion, expiresAt: number): { ttl: string; tail: string[]; pexpireat: boolean } {
  if (expiresAt <= 0) return { ttl: '0', tail: ['REPLACE'], pexpireat: false };
  if (target.absTtl) return { ttl: String(expiresAt), tail: ['REPLACE', 'ABSTTL'], pexpireat: false };
  return { ttl: '0', tail: ['REPLACE'], pexpireat: true };
}

/** Until the version is read, writers assume a current target. */
export const CURRENT_TARGET: TargetVersion = parseTargetVersion('redis_version:7.0.0');
