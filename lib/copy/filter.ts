/**
 * What the copy leaves out, in one place: keys under our own prefix (probes, saved
 * progress: never copied, never compared) and entries already expired when read
 * (creating them would bring them back to life).
 */
import { OWN_KEY_PREFIX } from '../redis/keyspace.js';

export { OWN_KEY_PREFIX };

/** A predicate for keys under `prefix` (ours by default); an empty prefix matches nothing. */
export function ownKeys(prefix: string = OWN_KEY_PREFIX): (key: Buffer) => boolean {
  const skip = Buffer.from(prefix);
  return (key) => skip.length > 0 && key.length >= skip.length && key.subarray(0, skip.length).equals(skip);
}

/** An absolute expiry (epoch ms, 0: none) that has already passed. */
export function hasExpired(expireAt: number, now: number): boolean {
  return expireAt > 0 && expireAt <= now;
}
