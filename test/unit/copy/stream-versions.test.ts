/**
 * Stream digests across server versions: Redis 5.0/6.2 report no entries-added,
 * max-deleted-entry-id or group entries-read, a 7.0 target that received the stream derives its
 * own. Those counters count only where both sides report them; everything else always does.
 */
import { describe, expect, it } from '@jest/globals';
import { type KeyDigest, sameContent, streamDifferences } from '../../../lib/copy/digest.js';

const stream = (parts: Record<string, string>): KeyDigest => ({ type: 'stream', digest: JSON.stringify(parts), size: 2, expiresAt: -1, parts });
const common = { entries: '2 (sha256 abc)', 'last-generated-id': '2-0', 'group g: last delivered id': '1-0', 'group g: pending': '1', 'group g: consumers': 'c1(1)' };
const fromRedis6 = stream(common);
const onRedis7 = stream({ ...common, 'entries-added': '2', 'max-deleted-entry-id': '0-0', 'group g: entries read': '1' });

describe('stream digests across server versions', () => {
  it('a 6.2 source and the 7.0 copy of it are the same content', () => {
    expect(streamDifferences(fromRedis6, onRedis7)).toEqual([]);
    expect(sameContent(fromRedis6, onRedis7)).toBe(true);
  });

  it('the 7.0-only counters still count when both sides report them', () => {
    const other = stream({ ...common, 'entries-added': '3', 'max-deleted-entry-id': '1-0', 'group g: entries read': '2' });
    expect(sameContent(onRedis7, other)).toBe(false);
    expect(streamDifferences(onRedis7, other)).toEqual([
      'entries-added: 2 on the source, 3 on the target',
      'group g: entries read: 1 on the source, 2 on the target',
      'max-deleted-entry-id: 0-0 on the source, 1-0 on the target',
    ]);
  });

  it('every other part counts across versions: entries, pending, consumers', () => {
    const behind = stream({ ...common, 'entries-added': '2', 'group g: pending': '0', 'group g: consumers': 'no consumer' });
    expect(sameContent(fromRedis6, behind)).toBe(false);
    expect(streamDifferences(fromRedis6, behind)).toEqual(['group g: consumers: c1(1) on the source, no consumer on the target', 'group g: pending: 1 on the source, 0 on the target']);
    const otherEntries = stream({ ...common, entries: '2 (sha256 def)' });
    expect(sameContent(fromRedis6, otherEntries)).toBe(false);
  });
});
