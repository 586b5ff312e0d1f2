// Jest's default order on a fresh clone (no timing cache) is by file size, which ran the fault
// matrix's two small shard files last, after everything else: half an hour of worker time would
// end on one worker while the other idled. Start the longest files first instead (timings from
// CI runs: the matrix shards 340-430 s each, then the cluster, Sentinel and packaging tests).
import Sequencer from '@jest/test-sequencer';

const SLOWEST_FIRST = [
  'test/e2e/faults/',
  'test/e2e/copy/cluster-target.test.ts',
  'test/e2e/workflow/sentinel-spin-redis.test.ts',
  'test/e2e/package/',
  'test/e2e/copy/cluster-live.test.ts',
  'test/e2e/copy/sentinel-source.test.ts',
  'test/e2e/workflow/s3-seed.test.ts',
];
const rank = (path) => {
  const i = SLOWEST_FIRST.findIndex((p) => path.includes(p));
  return i === -1 ? SLOWEST_FIRST.length : i;
};

export default class SlowFirstSequencer extends (Sequencer.default ?? Sequencer) {
  sort(tests) {
    const byDefault = super.sort(tests);
    // A stable sort keeps the default order (cached timings, then size) within each rank.
    return [...byDefault].sort((a, b) => rank(a.path) - rank(b.path));
  }
}
