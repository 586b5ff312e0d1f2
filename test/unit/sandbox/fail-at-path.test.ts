/**
 * `npm start -- --fail-at STATE` accepts only Task states the rehearsal can reach without a
 * failure (sandbox/cli.ts, tasksOnPath): a state behind a Catch (rollback, cleanup) or behind
 * an option the rehearsal does not set (a dry run, the S3 seed) would never run, and the
 * rehearsal would report a success with no fault injected.
 */
import { describe, expect, it } from '@jest/globals';
import { tasksOnPath } from '../../../sandbox/cli.js';
import { readAsl } from '../../../statemachine/load.js';

describe('tasksOnPath', () => {
  it('follows Next, Default and runtime Choice rules, decides option rules by the options, and never follows a Catch', () => {
    const asl = {
      StartAt: 'A',
      States: {
        A: { Type: 'Task', Next: 'IsDry', Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Undo' }] },
        IsDry: { Type: 'Choice', Choices: [{ Variable: '$.config.options.dryRun', BooleanEquals: true, Next: 'Plan' }], Default: 'Copy' },
        Plan: { Type: 'Task', End: true },
        Copy: { Type: 'Task', Next: 'Done?' },
        'Done?': { Type: 'Choice', Choices: [{ Variable: '$.copy.done', BooleanEquals: true, Next: 'Switch' }], Default: 'Copy' },
        Switch: { Type: 'Task', End: true },
        Undo: { Type: 'Task', End: true },
      },
    };
    expect(tasksOnPath(asl, { dryRun: false })).toEqual(['A', 'Copy', 'Switch']);
    expect(tasksOnPath(asl, { dryRun: true })).toEqual(['A', 'Plan']);
  });

  it('on the real definition: the migration path, the seed states only with the S3 seed, never a rollback state', () => {
    const auto = tasksOnPath(readAsl(), { dryRun: false, copyMethod: 'auto' });
    expect(auto).toEqual(expect.arrayContaining(['ValidateInput', 'CopyBulk', 'VerifyCopy', 'HalDeployApply', 'ScaleDownSpinRedis', 'NotifySuccess']));
    expect(auto.filter((t) => /^(Rollback|Seed)|PlanMigration|Cleanup|NotifyFailure/.test(t))).toEqual([]);
    const seed = tasksOnPath(readAsl(), { dryRun: false, copyMethod: 's3-seed' });
    expect(seed).toEqual(expect.arrayContaining(['SeedQuiesceSpinnaker', 'UploadSeedSnapshot', 'SeedPingRedis']));
  });
});
