/**
 * `npm start` as a user sees it: the rehearsal's printed summary and its --report, with a
 * small dataset. Neither may contain a secret of the sandbox (the AUTH token, the Slack
 * signing secret, the AWS secret key).
 */
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runRehearsal } from '../../../sandbox/cli.js';
import type { SandboxWorld } from '../../../sandbox/world.js';

describe('npm start (the rehearsal)', () => {
  it('prints the steps, the copy, the verification and the health check, and no secret', async () => {
    const report = join(mkdtempSync(join(tmpdir(), 'rehearsal-')), 'report.json');
    const printed: string[] = [];
    const write = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };
    const capture = ((chunk: string | Uint8Array) => (printed.push(String(chunk)), true)) as typeof process.stdout.write;
    let world: SandboxWorld | undefined;
    process.stdout.write = capture;
    process.stderr.write = capture;
    let code: number;
    try {
      code = await runRehearsal(['--keys', '3000', '--report', report], { onWorld: (w) => (world = w) });
    } finally {
      process.stdout.write = write.out;
      process.stderr.write = write.err;
    }
    const text = printed.join('');
    expect(code).toBe(0);
    expect(text).toMatch(/✔ ScaleDownSpinRedis/);
    expect(text).toMatch(/Bulk copy: read as a replica of spin-redis \(PSYNC\), \d+ keys/);
    expect(text).toMatch(/Verification: clean/);
    expect(text).toMatch(/orca history \(audit parity\): .*: all there/);
    expect(text).toMatch(/spinnaker-redis: HEALTHY/);
    // The invariants of the write ledger, each printed, and the figures of the cutover.
    for (const name of ['noMessageProcessedTwice', 'noMessageLost', 'noDeletedKeyResurrected', 'lastWriteWins', 'orcaWritesPresent']) expect(text).toContain(`✔ ${name}`);
    expect(text).toMatch(/cutover window: \d+\.\d s/);
    expect(text).toMatch(/orca queue not processed for at most \d+\.\d s/);
    const json = readFileSync(report, 'utf8');
    const parsed = JSON.parse(json) as { status: string; health: { status: string }; invariants: Record<string, boolean>; figures: Record<string, unknown> };
    expect(parsed).toMatchObject({ status: 'SUCCEEDED', health: { status: 'healthy' } });
    expect(parsed.invariants).toEqual({ noMessageProcessedTwice: true, noMessageLost: true, noDeletedKeyResurrected: true, lastWriteWins: true, orcaWritesPresent: true });
    expect(parsed.figures).toMatchObject({ messagesProcessedTwice: 0, keysResurrected: 0, staleValues: 0, cutoverWindowMs: expect.any(Number), longestOrcaPollGapMs: expect.any(Number) });
    expect(world!.secrets.length).toBeGreaterThanOrEqual(3);
    for (const secret of world!.secrets) {
      expect(text.includes(secret)).toBe(false);
      expect(json.includes(secret)).toBe(false);
    }
  }, 120_000);

  it('--dry-run prints the plan and proves nothing was created or changed, with AUTH and no secret', async () => {
    const printed: string[] = [];
    const write = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };
    const capture = ((chunk: string | Uint8Array) => (printed.push(String(chunk)), true)) as typeof process.stdout.write;
    let world: SandboxWorld | undefined;
    let groupsAtEnd: string[] = [];
    process.stdout.write = capture;
    process.stderr.write = capture;
    let code: number;
    try {
      code = await runRehearsal(['--keys', '2000', '--auth', '--dry-run'], {
        onWorld: (w) => {
          world = w;
          // Read before the world closes: what ElastiCache holds once the execution has ended.
          const close = w.close.bind(w);
          w.close = async () => {
            groupsAtEnd = w.elastiCache.groupIds();
            await close();
          };
        },
      });
    } finally {
      process.stdout.write = write.out;
      process.stderr.write = write.err;
    }
    const text = printed.join('');
    expect(code).toBe(0);
    expect(text).toMatch(/✔ PlanMigration/);
    expect(text).toContain('Dry run SUCCEEDED');
    expect(text).toMatch(/would create:\n\s+cache parameter group \S+\n\s+cache subnet group \S+\n\s+replication group spinnaker-redis/);
    // With AUTH the services read the whole URL from Secrets Manager (kork's secret engine), never the token in a file.
    expect(text).toContain('+  connection: encrypted:secrets-manager!r:us-east-1!s:spin-elasticache/spinnaker-redis/redis-url');
    expect(text).toMatch(/then: Deployment spin-redis scaled from 1 to 0/);
    for (const check of ['nothing created in ElastiCache', "Spinnaker's config byte for byte as it was", 'every Spinnaker service still on spin-redis', 'spin-redis running at its replicas'])
      expect(text).toContain(`✔ ${check}`);
    expect(text).not.toMatch(/✔ (EnsureReplicationGroup|CopyBulk|PatchHalyardConfig)/);
    expect(groupsAtEnd).toEqual([]);
    for (const secret of world!.secrets) expect(text.includes(secret)).toBe(false);
  }, 120_000);
});
