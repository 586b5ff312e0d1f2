/**
 * The rehearsal's invariants computed from hand-built write ledgers and final states: each one
 * can fail, and each holds when the final Redis is what the writers left.
 */
import { describe, expect, it } from '@jest/globals';
import { computeInvariants, cutoverWindow, type FinalKey, valueHash, WriteLedger } from '../../../sandbox/spinnaker/ledger.js';

const OLD = 'redis://spin-redis:6379';
const NEW = 'rediss://elasticache:6379';
const T = 1_800_000_000_000;
const noQueue = { present: new Map<string, boolean>() };
const str = (value: string): FinalKey => ({ type: 'string', whole: valueHash(value) });
const hash = (fields: Record<string, string | null>, all?: string[]): FinalKey => ({
  type: 'hash',
  fields: new Map(Object.entries(fields).map(([f, v]) => [f, v === null ? null : valueHash(v)])),
  ...(all ? { all } : {}),
});
const set = (members: Record<string, boolean>, all?: string[]): FinalKey => ({ type: 'set', fields: new Map(Object.entries(members).map(([m, on]) => [m, on ? '1' : null])), ...(all ? { all } : {}) });

describe('noMessageProcessedTwice and noMessageLost', () => {
  it('hold when every push is acked once, or still queued', () => {
    const ledger = new WriteLedger();
    ledger.push('fp-a', true);
    ledger.ack('fp-a', 'orca-old');
    // A RUNNING runTask re-pushes its own fingerprint while being handled: two entries, two acks.
    ledger.push('fp-b', true);
    ledger.push('fp-b', true);
    ledger.ack('fp-b', 'orca-old');
    ledger.ack('fp-b', 'orca-new');
    ledger.push('fp-c', true);
    ledger.push('fp-c', false); // a duplicate push: ZADD XX on the queued copy, no new entry
    const report = computeInvariants(ledger, new Map(), { present: new Map([['fp-c', true]]) }, T);
    expect(report).toMatchObject({ noMessageProcessedTwice: true, noMessageLost: true, figures: { messagesPushed: 4, messagesAcked: 3, messagesProcessedTwice: 0, messagesLost: 0 } });
  });

  it('fail when a message is acked by the old and the new orca, or is gone from the final queue', () => {
    const ledger = new WriteLedger();
    ledger.push('fp-a', true);
    ledger.ack('fp-a', 'orca-old');
    ledger.ack('fp-a', 'orca-new'); // resurrected from the other server and run again
    ledger.push('fp-b', true); // pushed on spin-redis, never copied
    const report = computeInvariants(ledger, new Map(), { present: new Map([['fp-b', false]]) }, T);
    expect(report).toMatchObject({ noMessageProcessedTwice: false, noMessageLost: false, figures: { messagesProcessedTwice: 1, messagesLost: 1 } });
    expect(report.examples.processedTwice[0]).toContain('orca-old, orca-new');
    expect(report.examples.lost).toEqual(['fp-b']);
  });
});

describe('noDeletedKeyResurrected', () => {
  const ledger = () => {
    const l = new WriteLedger();
    l.record(OLD, [{ op: 'hset', key: 'orca.task.queue.messages', fields: { m1: 'a', m2: 'b', m3: 'c' } }], T, T + 1);
    l.record(OLD, [{ op: 'sadd', key: 'kubernetes:pods:members', members: ['p1', 'p2'] }], T, T + 1);
    l.record(OLD, [{ op: 'set', key: 'kubernetes:pods:attributes:p1', value: '{}' }], T, T + 1);
    l.record(OLD, [{ op: 'hdel', key: 'orca.task.queue.messages', fields: ['m1'] }], T + 10, T + 11);
    l.record(NEW, [{ op: 'srem', key: 'kubernetes:pods:members', members: ['p1'] }], T + 20, T + 21);
    l.record(NEW, [{ op: 'del', key: 'kubernetes:pods:attributes:p1' }], T + 20, T + 21);
    l.record(OLD, [{ op: 'del', key: 'pipeline:01J' }], T + 30, T + 31); // a seeded execution orca deleted
    return l;
  };
  const clean = () =>
    new Map<string, FinalKey>([
      ['orca.task.queue.messages', hash({ m1: null, m2: 'b', m3: 'c' })],
      ['kubernetes:pods:members', set({ p1: false, p2: true })],
    ]);

  it('holds when what was deleted is absent', () => {
    expect(computeInvariants(ledger(), clean(), noQueue, T + 1000)).toMatchObject({ noDeletedKeyResurrected: true, lastWriteWins: true });
  });

  it('fails for a field, a member, a key and a whole deleted key come back', () => {
    const final = clean();
    final.set('orca.task.queue.messages', hash({ m1: 'a', m2: 'b', m3: 'c' }));
    final.set('kubernetes:pods:members', set({ p1: true, p2: true }));
    final.set('kubernetes:pods:attributes:p1', str('{}'));
    final.set('pipeline:01J', hash({}, ['status']));
    const report = computeInvariants(ledger(), final, noQueue, T + 1000);
    expect(report.noDeletedKeyResurrected).toBe(false);
    expect(report.figures.keysResurrected).toBe(4);
    expect(report.examples.resurrected.map((v) => `${v.key}${v.field ? `[${v.field}]` : ''}`).sort()).toEqual([
      'kubernetes:pods:attributes:p1',
      'kubernetes:pods:members[p1]',
      'orca.task.queue.messages[m1]',
      'pipeline:01J',
    ]);
  });

  it('accepts a key written again after its deletion, and fails on a key whose TTL ran out', () => {
    const l = new WriteLedger();
    l.record(OLD, [{ op: 'set', key: 'spring:session:sessions:expires:s1', value: '', ttlMs: 5000 }], T, T + 1);
    l.record(OLD, [{ op: 'del', key: 'igor:jenkins:JOB:job' }], T, T + 1);
    l.record(NEW, [{ op: 'hset', key: 'igor:jenkins:JOB:job', fields: { lastPollCycleTimestamp: '42' } }], T + 5, T + 6);
    const final = new Map<string, FinalKey>([
      ['spring:session:sessions:expires:s1', str('')],
      ['igor:jenkins:JOB:job', hash({ lastPollCycleTimestamp: '42' }, ['lastPollCycleTimestamp'])],
    ]);
    const report = computeInvariants(l, final, noQueue, T + 60_000);
    expect(report.examples.resurrected).toEqual([expect.objectContaining({ key: 'spring:session:sessions:expires:s1' })]);
    // Read within the margin around its expiry: not judged either way.
    expect(computeInvariants(l, final, noQueue, T + 5500).figures).toMatchObject({ keysResurrected: 0, keysSkippedNearExpiry: 1 });
  });

  it('follows RENAME: the temporary key is gone, the destination holds its value', () => {
    const l = new WriteLedger();
    l.record(
      NEW,
      [
        { op: 'set', key: 'tmp-uuid', value: 'lz4' },
        { op: 'rename', from: 'tmp-uuid', to: 'spinnaker:fiat:permissions-v2:u:applications' },
      ],
      T,
      T + 1,
    );
    const good = new Map<string, FinalKey>([['spinnaker:fiat:permissions-v2:u:applications', str('lz4')]]);
    expect(computeInvariants(l, good, noQueue, T + 10)).toMatchObject({ noDeletedKeyResurrected: true, lastWriteWins: true });
    const bad = new Map<string, FinalKey>([['tmp-uuid', str('lz4')]]);
    expect(computeInvariants(l, bad, noQueue, T + 10)).toMatchObject({ noDeletedKeyResurrected: false, lastWriteWins: false });
  });
});

describe('lastWriteWins', () => {
  it('fails when an older write from the other Redis overwrote a newer one, or a write never arrived', () => {
    const l = new WriteLedger();
    l.record(OLD, [{ op: 'hset', key: 'pipeline:01J', fields: { status: 'RUNNING' } }], T, T + 1);
    l.record(NEW, [{ op: 'hset', key: 'pipeline:01J', fields: { status: 'SUCCEEDED' } }], T + 50, T + 51);
    l.record(OLD, [{ op: 'set', key: 'igor:builds:completed:x', value: '42' }], T + 60, T + 61);
    l.record(OLD, [{ op: 'zadd', key: 'pipeline:executions:cfg', members: [[T, '01J']] }], T + 60, T + 61);
    l.record(OLD, [{ op: 'list', key: 'pipeline:01J:stageIndex', items: ['s1', 's2'] }], T + 60, T + 61);
    const stale = new Map<string, FinalKey>([
      ['pipeline:01J', hash({ status: 'RUNNING' })],
      ['igor:builds:completed:x', str('41')],
      ['pipeline:executions:cfg', { type: 'zset', fields: new Map([['01J', null]]) }],
      ['pipeline:01J:stageIndex', { type: 'list', whole: valueHash('s1') }],
    ]);
    const report = computeInvariants(l, stale, noQueue, T + 1000);
    expect(report.lastWriteWins).toBe(false);
    expect(report.figures.staleValues).toBe(4);
    const fresh = new Map<string, FinalKey>([
      ['pipeline:01J', hash({ status: 'SUCCEEDED' })],
      ['igor:builds:completed:x', str('42')],
      ['pipeline:executions:cfg', { type: 'zset', fields: new Map([['01J', String(T)]]) }],
      ['pipeline:01J:stageIndex', { type: 'list', whole: valueHash('s1\u0000s2') }],
    ]);
    expect(computeInvariants(l, fresh, noQueue, T + 1000)).toMatchObject({ lastWriteWins: true, noDeletedKeyResurrected: true });
  });

  it('accepts either value of two writes that overlapped in time, and either outcome of a failed call', () => {
    const l = new WriteLedger();
    l.record(OLD, [{ op: 'set', key: 'k', value: 'old' }], T, T + 10);
    l.record(NEW, [{ op: 'set', key: 'k', value: 'new' }], T + 5, T + 12);
    l.record(NEW, [{ op: 'set', key: 'm', value: 'before' }], T, T + 1);
    l.maybe(NEW, [{ op: 'set', key: 'm', value: 'maybe' }], T + 5, T + 6);
    for (const [k, m] of [
      ['old', 'before'],
      ['new', 'maybe'],
    ] as const) {
      const final = new Map<string, FinalKey>([
        ['k', str(k)],
        ['m', str(m)],
      ]);
      expect(computeInvariants(l, final, noQueue, T + 100).lastWriteWins).toBe(true);
    }
    expect(computeInvariants(l, new Map([['k', str('other')]]), noQueue, T + 100).lastWriteWins).toBe(false);
  });
});

describe('cutoverWindow', () => {
  it('runs from the ConfigMap patch to the first moment every service runs, only on the new Redis', () => {
    const l = new WriteLedger();
    l.instance('start', 'orca', 'orca-a', OLD, T);
    l.instance('start', 'gate', 'gate-a', OLD, T);
    l.configPatches.push(T + 1000);
    l.instance('start', 'orca', 'orca-b', NEW, T + 3000);
    l.instance('stop', 'orca', 'orca-a', OLD, T + 3100);
    l.instance('start', 'gate', 'gate-b', NEW, T + 4000);
    expect(cutoverWindow(l, OLD, T + 10_000)).toBeUndefined(); // gate-a still runs on spin-redis
    l.instance('stop', 'gate', 'gate-a', OLD, T + 4200);
    expect(cutoverWindow(l, OLD, T + 10_000)).toMatchObject({ ms: 3200 });
    // A rollback afterwards does not change when the cutover was complete.
    l.instance('start', 'orca', 'orca-c', OLD, T + 9000);
    expect(cutoverWindow(l, OLD, T + 10_000)).toMatchObject({ ms: 3200 });
    expect(cutoverWindow(new WriteLedger(), OLD, T)).toBeUndefined();
  });

  it('does not count the moment every pod was scaled to 0 as done', () => {
    const l = new WriteLedger();
    l.instance('start', 'orca', 'orca-a', OLD, T);
    l.instance('stop', 'orca', 'orca-a', OLD, T + 500);
    l.configPatches.push(T + 1000);
    expect(cutoverWindow(l, OLD, T + 10_000)).toBeUndefined();
    l.instance('start', 'orca', 'orca-b', NEW, T + 2500);
    expect(cutoverWindow(l, OLD, T + 10_000)).toMatchObject({ ms: 1500 });
  });
});

describe('memberDeleted (a collection its writers emptied is gone legitimately)', () => {
  it('is true for members removed last, or of a key deleted or expired since, and false for one still added', () => {
    const ledger = new WriteLedger();
    ledger.record(OLD, [{ op: 'zadd', key: 'orca.task.queue.queue', members: [[1, 'fp-a']] }], T, T + 1);
    ledger.record(OLD, [{ op: 'zrem', key: 'orca.task.queue.queue', members: ['fp-a', 'fp-seeded'] }], T + 10, T + 11);
    ledger.record(OLD, [{ op: 'sadd', key: 'kato:tasks', members: ['t1'] }], T + 20, T + 21);
    expect(ledger.memberDeleted('orca.task.queue.queue', 'fp-a', T + 100)).toBe(true);
    expect(ledger.memberDeleted('orca.task.queue.queue', 'fp-seeded', T + 100)).toBe(true);
    // A member the writers never touched, on a key never deleted: lost if the key is gone.
    expect(ledger.memberDeleted('orca.task.queue.queue', 'fp-other', T + 100)).toBe(false);
    expect(ledger.memberDeleted('kato:tasks', 't1', T + 100)).toBe(false);
    expect(ledger.memberDeleted('never-written', 'x', T + 100)).toBe(false);
    ledger.record(OLD, [{ op: 'del', key: 'kato:tasks' }], T + 30, T + 31);
    expect(ledger.memberDeleted('kato:tasks', 't1', T + 100)).toBe(true);
    expect(ledger.memberDeleted('kato:tasks', 'seeded-task', T + 100)).toBe(true);
    ledger.record(OLD, [{ op: 'sadd', key: 'kato:tasks', members: ['t2'] }], T + 40, T + 41);
    expect(ledger.memberDeleted('kato:tasks', 't2', T + 100)).toBe(false);
  });
});

describe('a write whose reply was lost (liveMembers, maybe, memberDeleted)', () => {
  it('a poll that may have run leaves every ready member possibly moved, and only those', () => {
    const ledger = new WriteLedger();
    ledger.record(
      OLD,
      [
        {
          op: 'zadd',
          key: 'q',
          members: [
            [T, 'm1'],
            [T + 1, 'm2'],
          ],
        },
      ],
      T,
    );
    ledger.record(OLD, [{ op: 'zrem', key: 'q', members: ['m2'] }], T + 2);
    expect(ledger.memberDeleted('q', 'm1', T + 3)).toBe(false);
    expect(ledger.liveMembers('q')).toEqual(['m1']);
    // The EVALSHA failed (the pod deleted mid-script): m1 may be gone from q.
    ledger.maybe(OLD, [{ op: 'zrem', key: 'q', members: ledger.liveMembers('q') }], T + 4);
    expect(ledger.memberDeleted('q', 'm1', T + 5)).toBe(true);
    expect(ledger.liveMembers('q')).toEqual(['m1']);
    expect(ledger.liveMembers('never-written')).toEqual([]);
  });
});
