/**
 * Relative expiries in a replayed replication stream. Sources up to 6.2 replicate EXPIRE,
 * PEXPIRE, SETEX, PSETEX, SET … EX/PX, GETEX and RESTORE with a relative TTL as they were
 * sent: replayed seconds late, each would live that much longer on the target. After such a
 * command we copy the source's absolute expiry instead (TIME and PTTL read in one script).
 * Scripts (EVAL/EVALSHA, replicated whole by 3.2/4.0) may set TTLs too: their declared keys
 * are refreshed the same way.
 */
import calculateSlot from 'cluster-key-slot';
import type { Redis } from 'ioredis';
import type { StreamCommand } from './stream-command.js';

const lower = (b: Buffer | undefined) => b?.toString('latin1').toLowerCase() ?? '';

/** The keys whose TTL `command` set relative to "now" (or may have, for a script). */
export function relativeExpiryKeys(command: StreamCommand): Buffer[] {
  const { name, args } = command;
  switch (name) {
    case 'expire':
    case 'pexpire':
    case 'setex':
    case 'psetex':
      return args[0] ? [args[0]] : [];
    case 'set':
    case 'getex':
      return args[0] && args.slice(1).some((a) => ['ex', 'px'].includes(lower(a))) ? [args[0]] : [];
    case 'restore':
      return args[0] && lower(args[1]) !== '0' && !args.slice(3).some((a) => lower(a) === 'absttl') ? [args[0]] : [];
    case 'eval':
    case 'evalsha': {
      const count = Number(lower(args[1]));
      return Number.isInteger(count) && count > 0 ? args.slice(2, 2 + count) : [];
    }
    default:
      return [];
  }
}

/** RENAME and RENAMENX carry a key's TTL to its new name: `[from, to]`, or undefined. */
export function renamed(command: StreamCommand): [Buffer, Buffer] | undefined {
  return (command.name === 'rename' || command.name === 'renamenx') && command.args[0] && command.args[1] ? [command.args[0], command.args[1]] : undefined;
}

/** Collects, per database, the keys whose expiry must be read from the source after `command`. */
export function collectExpiring(expiring: Map<number, Map<string, Buffer>>, db: number, command: StreamCommand): void {
  const keys = expiring.get(db) ?? new Map<string, Buffer>();
  for (const key of relativeExpiryKeys(command)) keys.set(key.toString('base64'), Buffer.from(key));
  const move = renamed(command);
  if (move && keys.has(move[0].toString('base64'))) keys.set(move[1].toString('base64'), Buffer.from(move[1]));
  if (keys.size > 0) expiring.set(db, keys);
}

/** Absolute expiry on the source: epoch ms, `null` for none, `undefined` when the key is gone there. */
export type SourceExpiry = number | null | undefined;

// TIME and PTTL in one script: the expiry is measured against the source's own clock at one instant.
const READ_EXPIRIES = "local t = redis.call('TIME') local out = {t[1], t[2]} for i, k in ipairs(KEYS) do out[i + 2] = redis.call('PTTL', k) end return out";

/**
 * The source's absolute expiry of each key (one round trip). A cluster master refuses keys of
 * several slots in one script (CROSSSLOT): then one script per slot, and a key whose slot this
 * master no longer serves (MOVED/ASK) counts as gone here (the cluster copy's settling repairs it).
 */
export async function sourceExpiries(source: Redis, keys: Buffer[]): Promise<SourceExpiry[]> {
  if (keys.length === 0) return [];
  try {
    return await readExpiries(source, keys);
  } catch (error) {
    if (!/^CROSSSLOT/.test((error as Error).message)) throw error;
  }
  const bySlot = new Map<number, number[]>();
  for (const [i, key] of keys.entries()) {
    const slot = calculateSlot(key);
    bySlot.set(slot, [...(bySlot.get(slot) ?? []), i]);
  }
  const out: SourceExpiry[] = keys.map(() => undefined);
  for (const indexes of bySlot.values()) {
    const found = await readExpiries(
      source,
      indexes.map((i) => keys[i]!),
    ).catch((error: Error) => (/^(MOVED|ASK) /.test(error.message) ? indexes.map(() => undefined) : Promise.reject(error)));
    for (const [j, i] of indexes.entries()) out[i] = found[j];
  }
  return out;
}

async function readExpiries(source: Redis, keys: Buffer[]): Promise<SourceExpiry[]> {
  const reply = (await source.call('EVAL', READ_EXPIRIES, keys.length, ...keys)) as (string | number)[];
  const now = Number(reply[0]) * 1000 + Math.floor(Number(reply[1]) / 1000);
  return keys.map((_, i) => {
    const pttl = Number(reply[i + 2]);
    // PTTL 0 expires this very millisecond: an expiry of "now", never "no expiry".
    return pttl === -2 ? undefined : pttl === -1 ? null : now + pttl;
  });
}

/** The command that gives the target key the source's expiry, or none when the key is gone on the source (its DEL follows in the stream). */
export function expiryCommand(key: Buffer, expiry: SourceExpiry): (Buffer | string)[] | undefined {
  if (expiry === undefined) return undefined;
  return expiry === null ? ['PERSIST', key] : ['PEXPIREAT', key, String(expiry)];
}
