/** orca's history per application (lib/spinnaker/audit.ts) read from a real redis-server. */
import { describe, expect, it } from '@jest/globals';
import { auditParity, isExecutionKey, orcaHistory } from '../../../lib/spinnaker/audit.js';
import { useRedisPair } from '../../support/redis-pair.js';

const pair = useRedisPair('audit-');

describe('orcaHistory', () => {
  it('counts executions per application, with the average duration of the completed ones, over many SCAN pages', async () => {
    const { src } = pair;
    const pipeline = src.pipeline();
    for (let i = 0; i < 2500; i++) pipeline.hset(`pipeline:p${i}`, { application: i % 2 ? 'deck' : 'gate', startTime: '1000', ...(i % 5 ? { endTime: String(1000 + 10 * (i % 3)) } : {}) });
    for (let i = 0; i < 30; i++) pipeline.hset(`orchestration:o${i}`, { application: 'deck', startTime: '5', endTime: '25' });
    pipeline.hset('pipeline:noapp', { startTime: '1' });
    // Not executions: other types under the same prefix, and orca's indexes.
    pipeline.set('pipeline:string', 'x');
    pipeline.sadd('pipeline:app:deck', 'p1');
    pipeline.zadd('pipeline:executions:cfg', 1, 'p1');
    pipeline.rpush('pipeline:p1:stageIndex', 's1');
    await pipeline.exec();
    const history = await orcaHistory(src);
    // deck: odd i (1250 pipelines), endTime for i % 5 != 0 (1000 of them), durations 10 * (i % 3).
    let deckTotal = 0;
    let deckCompleted = 0;
    let gateTotal = 0;
    let gateCompleted = 0;
    for (let i = 0; i < 2500; i++) {
      if (i % 5 === 0) continue;
      if (i % 2) {
        deckTotal += 10 * (i % 3);
        deckCompleted++;
      } else {
        gateTotal += 10 * (i % 3);
        gateCompleted++;
      }
    }
    // The verification's walk hands over the execution keys it read: the same history, with no SCAN.
    const keys = (await src.keys('*')).filter(isExecutionKey);
    expect(keys).toHaveLength(2532);
    expect(await orcaHistory(src, keys)).toEqual(history);
    expect(history).toEqual({
      '(none)': { pipelines: 1, orchestrations: 0, completed: 0, totalDurationMs: 0, averageDurationMs: 0 },
      deck: { pipelines: 1250, orchestrations: 30, completed: deckCompleted + 30, totalDurationMs: deckTotal + 600, averageDurationMs: Math.round((deckTotal + 600) / (deckCompleted + 30)) },
      gate: { pipelines: 1250, orchestrations: 0, completed: gateCompleted, totalDurationMs: gateTotal, averageDurationMs: Math.round(gateTotal / gateCompleted) },
    });
  });

  it('finds an execution missing on the target', async () => {
    const { src, dst, source, target } = pair;
    await src.hset('pipeline:a', { application: 'deck', startTime: '1', endTime: '2' });
    await src.hset('pipeline:b', { application: 'deck', startTime: '1', endTime: '2' });
    await dst.hset('pipeline:a', { application: 'deck', startTime: '1', endTime: '2' });
    const { parity } = await auditParity({ url: source.url }, { url: target.url });
    expect(parity).toMatchObject({ ok: false, executions: { source: 2, target: 1 } });
    const given = await auditParity({ url: source.url }, { url: target.url }, ['pipeline:a', 'pipeline:b']);
    expect(given.parity).toMatchObject({ ok: false, executions: { source: 2, target: 1 } });
  });
});
