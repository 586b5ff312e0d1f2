/**
 * Proving by counting that a target holds no key the other side lacks, so the walk of the
 * target for such keys (verification's back pass, the mirror's deletions) can be skipped: the
 * forward pass of a database remembers the keys it found (or left) on the target, and one
 * atomic script on the target compares its key count with theirs. Only where nobody but us
 * writes to the target meanwhile: the strict verification and the mirrors, inside the pause.
 */
import type { Redis } from 'ioredis';

/** Distinct keys remembered per database for the count; past it, the target is walked. */
const COUNTED_KEYS_MAX = 250_000;
/** Keys expiring within this long (target's clock, ms) are looked at by the count itself; past it, the target is walked. */
const EXPIRY_HORIZON_MS = 60_000;
const EXPIRING_KEYS_MAX = 10_000;

/**
 * A 52-bit hash of a key (two FNV-1a, 32 and 20 bits): the forward pass remembers keys by it, not
 * by name, which cost a string and a map entry per key (a twentieth of the verification's CPU).
 * Two keys with one hash count once: the count then falls short and the target is walked, so a
 * collision can cost time, never miss a key.
 */
function keyHash(key: Buffer): number {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < key.length; i++) {
    const c = key[i]!;
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return (a >>> 0) * 0x100000 + (b >>> 12);
}

/** What the forward pass of one database saw of the keys on both sides. */
export class BothSides {
  /** Hashes of the distinct keys (SCAN may return a key twice) compared and found on the target. */
  private readonly seen = new Set<number>();
  /** Those of them with an expiry on the target, with it (epoch ms), each once. */
  readonly withExpiry: { key: Buffer; expiresAt: number }[] = [];
  /** Keys found on the target but not compared: gone from the source by the time it was read, or expiring there this very moment. */
  readonly uncompared: Buffer[] = [];
  /** Over COUNTED_KEYS_MAX or EXPIRING_KEYS_MAX keys: not all remembered. */
  overflow = false;
  /** The forward pass ran whole, from the first SCAN page to the last, in this slice. */
  complete = false;
  constructor(readonly db: number) {}
  /** Distinct keys remembered (fewer if two shared a hash). */
  get size(): number {
    return this.seen.size;
  }
  compared(key: Buffer, expiresAt: number): void {
    if (this.seen.size >= COUNTED_KEYS_MAX) {
      this.overflow = true;
      return;
    }
    const hash = keyHash(key);
    if (this.seen.has(hash)) return;
    this.seen.add(hash);
    if (expiresAt >= 0) this.withExpiry.push({ key, expiresAt });
  }
  /** Whether a key with `key`'s hash was compared (true for another key that shares it: see keyHash). */
  has(key: Buffer): boolean {
    return this.seen.has(keyHash(key));
  }
  notCompared(key: Buffer): void {
    if (this.uncompared.length < EXPIRING_KEYS_MAX) this.uncompared.push(key);
    else this.overflow = true;
  }
}

// In one atomic step on the target: how many of the first ARGV[3] KEYS (keys of the forward pass
// that expire soon) still exist (EXISTS evicts a key whose time has come, so DBSIZE no longer
// counts it), and which of the others (keys found on the target but not compared) do; its key
// count (DBSIZE counts keys logically expired but not yet evicted too); and how many keys start
// with our own prefix (ARGV[1], a MATCH pattern; none when empty). Nil when the server's clock
// has passed ARGV[2]: a key assumed to live until then might not.
const COUNT_SCRIPT = `
local t = redis.call('TIME')
if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) >= tonumber(ARGV[2]) then return nil end
local expiring = tonumber(ARGV[3])
local live, left = 0, {}
for i, key in ipairs(KEYS) do
  if i <= expiring then live = live + redis.call('EXISTS', key)
  elseif redis.call('EXISTS', key) == 1 then left[#left + 1] = i - expiring end
end
local own = 0
if ARGV[1] ~= '' then own = #redis.call('KEYS', ARGV[1]) end
return {redis.call('DBSIZE'), own, live, left}
`;

/** What counting the target proved: `holdsOnly` when it holds no key but the forward pass's and `uncomparedLeft`. */
export interface TargetCount {
  holdsOnly: boolean;
  /**
   * Keys the forward pass found on the target but did not compare (gone from the source, or
   * expiring there that moment) that are still there: the caller looks at each as its walk would.
   */
  uncomparedLeft: Buffer[];
}

/**
 * Whether the target's database can hold no key the source lacks but `uncomparedLeft`, so the
 * walk for such keys would find no other. Inside the pause (strict mode) nothing writes. The
 * forward pass found the keys of `both` on both sides; those expiring before the horizon are
 * checked again by the count script, and so are those it found on the target but did not compare
 * (gone from the source, or expiring there this very moment): those still there are counted and
 * named, for the caller to look at (they once sent the rehearsal's verification on a walk of the
 * whole target nearly every time: a key or two expire during any pass). If the target holds, our
 * own keys aside, exactly the keys of `both` still there and those (DBSIZE counts keys logically
 * expired but not evicted too, which then makes the counts differ), those are all it has.
 * Anything unexpected (counts that differ, a script refused, too many keys to remember) answers
 * `holdsOnly: false`, and the target is walked as before.
 */
export async function countTarget(target: Redis, both: BothSides, ownPrefix: string): Promise<TargetCount> {
  const walk = { holdsOnly: false, uncomparedLeft: [] };
  const pattern = ownPrefix === '' ? '' : `${ownPrefix.replace(/[\\*?[\]]/g, (c) => `\\${c}`)}*`;
  try {
    const [seconds, micros] = (await target.time()) as [number | string, number | string];
    const horizon = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) + EXPIRY_HORIZON_MS;
    const expiring: Buffer[] = [];
    for (const { key, expiresAt } of both.withExpiry) if (expiresAt <= horizon) expiring.push(key);
    // Each key not compared once (SCAN may return a key twice).
    const uncompared = [...new Map(both.uncompared.map((k) => [k.toString('latin1'), k])).values()];
    if (expiring.length + uncompared.length > EXPIRING_KEYS_MAX) return walk;
    const keys = [...expiring, ...uncompared];
    const reply = (await target.call('EVAL', COUNT_SCRIPT, keys.length, ...keys, pattern, String(horizon), String(expiring.length))) as [number, number, number, number[]] | null;
    if (!reply) return walk;
    const [dbsize, own, live] = reply.slice(0, 3).map(Number) as [number, number, number];
    const uncomparedLeft = reply[3].map((i) => uncompared[Number(i) - 1]!);
    // A key not compared that the forward pass also compared (a SCAN repeat) is counted once, in `both`.
    const others = uncomparedLeft.filter((k) => !both.has(k)).length;
    return dbsize - own === both.size - expiring.length + live + others ? { holdsOnly: true, uncomparedLeft } : walk;
  } catch {
    return walk; // a server that refuses the script (KEYS renamed away): walk instead
  }
}
