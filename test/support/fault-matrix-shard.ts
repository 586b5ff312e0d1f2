/**
 * The fault matrix as part of `npm test`, in shards so that jest's workers run them side by side
 * (each case is a whole migration and mostly waits): every case must end as expected with every
 * invariant true. `npm run test:faults -- --json FILE` runs the same cases as a report.
 */
import { describe, expect, it } from '@jest/globals';
import { CASES, runCase } from '../../sandbox/fault-matrix.js';

export function describeMatrixShard(shard: number, of: number): void {
  const cases = CASES.filter((_c, i) => i % of === shard);
  describe(`fault matrix (shard ${shard + 1} of ${of})`, () => {
    it.each(cases.map((c) => [c.name, c] as const))(
      '%s',
      async (_name, c) => {
        const result = await runCase(c, 1500);
        const broken = Object.entries(result.invariants)
          .filter(([, ok]) => !ok)
          .map(([k]) => k);
        // On a mismatch, what the run went through and what was lost: enough to tell a flake from a fault.
        const { lostFromStart, stale, resurrected, lost, processedTwice } = result.examples;
        const why =
          result.actual !== c.expected || broken.length > 0
            ? { error: result.error, failures: result.failures, lostFromStart, ...(broken.length > 0 ? { stale, resurrected, lost, processedTwice, figures: result.figures } : {}) }
            : {};
        expect({ end: result.actual, broken, ...why }).toEqual({ end: c.expected, broken: [] });
      },
      150_000,
    );
  });
}
