/**
 * What the forward pass remembers of the keys it found on both sides (lib/copy/target-count.ts):
 * each distinct key once whatever SCAN repeated, its expiry once, and past the limit no claim.
 */
import { describe, expect, it } from '@jest/globals';
import { BothSides } from '../../../lib/copy/target-count.js';

describe('BothSides', () => {
  it('counts a key SCAN returned twice once, with its expiry once; keys that differ by one byte apart', () => {
    const both = new BothSides(0);
    const keys = ['pipeline:01', 'pipeline:02', 'pipeline:10', 'session:a', Buffer.from([0xff, 0x00]).toString('latin1')].map((k) => Buffer.from(k, 'latin1'));
    for (const [i, key] of keys.entries()) both.compared(key, i === 3 ? 1_900_000_000_000 : -1);
    both.compared(Buffer.from('session:a'), 1_900_000_000_000);
    both.compared(Buffer.from('pipeline:01'), -1);
    expect(both.size).toBe(5);
    expect(both.withExpiry.map((e) => [e.key.toString(), e.expiresAt])).toEqual([['session:a', 1_900_000_000_000]]);
    expect(both.overflow).toBe(false);
    expect([both.has(Buffer.from('session:a')), both.has(Buffer.from('pipeline:1')), both.has(Buffer.from([0xff, 0x00]))]).toEqual([true, false, true]);
  });

  it('stops remembering past 250,000 keys, and says so (the target is then walked)', () => {
    const both = new BothSides(0);
    for (let i = 0; i < 250_001; i++) both.compared(Buffer.from(`k${i}`), -1);
    expect([both.size, both.overflow]).toEqual([250_000, true]);
  });
});
