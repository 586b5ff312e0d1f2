/**
 * VerifyCopy's audit on the keys its walk read (lib/workflow/verify-migration.ts): orca's
 * executions are kept as the forward pass reads them, so the audit reads those on both sides
 * and scans nothing; when the walk spans slices, the audit scans as before. Same parity either way.
 */
import { describe, expect, it } from '@jest/globals';
import { verifySlice } from '../../../lib/copy/verify.js';
import { isExecutionKey } from '../../../lib/spinnaker/audit.js';
import { verifyMigration } from '../../../lib/workflow/verify-migration.js';
import { useRedisPair } from '../../support/redis-pair.js';

const pair = useRedisPair('verify-remembered-');

async function seed(): Promise<void> {
  for (const redis of [pair.src, pair.dst]) {
    const p = redis.pipeline();
    for (let i = 0; i < 3000; i++) p.hset(`pipeline:p${i}`, { application: `app-${i % 3}`, startTime: '1000', endTime: String(1000 + i) });
    for (let i = 0; i < 40; i++) p.hset(`orchestration:o${i}`, { application: 'deck', startTime: '5', endTime: '25' });
    p.sadd('pipeline:app:app-1', 'p1');
    for (let i = 0; i < 2000; i++) p.set(`other:${i}`, 'x');
    await p.exec();
  }
}

describe('the audit on the keys the verification read', () => {
  it('the walk hands back every execution key of the database it read whole, and nothing else', async () => {
    await seed();
    const slice = await verifySlice({ url: pair.source.url }, { url: pair.target.url }, undefined, { remember: (k) => isExecutionKey(k.toString()) });
    const keys = slice.remembered?.find((r) => r.db === 0)?.keys.map(String) ?? [];
    expect(new Set(keys).size).toBe(3040);
    expect(keys.every(isExecutionKey)).toBe(true);
  });

  it('gives the parity a SCAN of its own gives, in one slice and over many', async () => {
    await seed();
    await pair.dst.config('RESETSTAT');
    const whole = await verifyMigration({ url: pair.source.url }, { url: pair.target.url });
    expect(whole).toMatchObject({ done: true, ok: true, targetWalksCounted: 1, audit: { ok: true, applications: 4, executions: { source: 3040, target: 3040 } } });
    // Counted, not walked, and audited on the walk's keys: the target was never scanned.
    expect(await pair.dst.info('commandstats')).not.toMatch(/^cmdstat_scan:/m);
    // Slices of 5 ms: about a SCAN page each, so the walk spans slices and the audit scans.
    let state = await verifyMigration({ url: pair.source.url }, { url: pair.target.url }, undefined, { deadline: Date.now() + 5 });
    for (let i = 0; i < 200 && !state.done; i++) state = await verifyMigration({ url: pair.source.url }, { url: pair.target.url }, state, { deadline: Date.now() + 5 });
    expect(state.slices).toBeGreaterThan(1);
    expect(state.audit).toEqual(whole.audit);
  });
});
