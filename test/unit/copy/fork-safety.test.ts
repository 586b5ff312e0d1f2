/** The fork-safety decision from figures, the backlog check before a catch-up's PSYNC, and pod quantities. */
import { describe, expect, it } from '@jest/globals';
import { decideFork, whyStreamCannotContinue, type SourceContainer } from '../../../lib/copy/fork-safety.js';
import { payloadsMoveDirectly, rdbVersionOf, serverFacts, infoFields, targetRdbVersion, type SourceFacts } from '../../../lib/copy/source-facts.js';
import { parseQuantity, sourceContainerOf } from '../../../lib/kubernetes/spin-redis.js';

const MiB = 1024 * 1024;

function facts(
  overrides: { rss?: number; peak?: number; dataset?: number; writes?: number; inputBytes?: number; version?: string; disableThp?: boolean; diskless?: boolean; save?: string; bgsave?: boolean } = {},
): SourceFacts {
  const version = overrides.version ?? '6.2.16';
  return {
    server: serverFacts(infoFields(`redis_version:${version}`)),
    memory: {
      usedMemory: overrides.dataset ?? 80 * MiB,
      usedMemoryRss: overrides.rss ?? 100 * MiB,
      usedMemoryPeak: overrides.peak ?? 90 * MiB,
      usedMemoryDataset: overrides.dataset ?? 80 * MiB,
      fragmentationRatio: 1.1,
      maxmemory: 0,
    },
    writes: { instantaneousOpsPerSec: overrides.writes ?? 100, commandsPerSec: overrides.writes ?? 100, inputBytesPerSec: overrides.inputBytes ?? 50_000, sampleMs: 1000 },
    persistence: {
      aofEnabled: false,
      rdbBgsaveInProgress: overrides.bgsave ?? false,
      aofRewriteInProgress: false,
      save: overrides.save ?? '',
      disklessSync: overrides.diskless ?? false,
      dir: '/data',
      dbfilename: 'dump.rdb',
      ...(overrides.disableThp === undefined ? {} : { disableThp: overrides.disableThp }),
    },
    syncFull: 0,
    keys: 1000,
  };
}

const container = (limit?: number, extra: Partial<SourceContainer> = {}): { container: SourceContainer } => ({
  container: { pod: 'spin-redis-abc', container: 'redis', mounts: [], ...(limit === undefined ? {} : { memoryLimitBytes: limit }), ...extra },
});

describe('decideFork', () => {
  it('forks a spin-redis without a memory limit, and says the node is the bound', () => {
    const d = decideFork(facts(), container());
    expect(d.fork).toBe(true);
    expect(d.reason).toMatch(/has no memory limit/);
  });

  it('never forks one whose limit leaves no room for the worst case (rss duplicated on a Redis before 6.2)', () => {
    // 3.2: transparent huge pages may be on, so 100 writes/s over the snapshot copy the whole 100 MiB.
    const d = decideFork(facts({ version: '3.2.13' }), container(220 * MiB));
    expect(d.figures.pageBytes).toBe(2 * MiB);
    expect(d.figures.copyOnWriteBytes).toBe(100 * MiB);
    expect(d.fork).toBe(false);
    expect(d.reason).toMatch(/over the 220 MiB memory limit/);
  });

  it('forks under a limit that holds the worst case plus 25 %', () => {
    const d = decideFork(facts({ version: '3.2.13' }), container(400 * MiB));
    // 100 held + 100 copy-on-write + buffer + 16 overhead, + 25 %.
    expect(d.figures.needBytes).toBeGreaterThan(216 * MiB);
    expect(d.fork).toBe(true);
  });

  it('bounds copy-on-write by the write rate where Redis turns huge pages off (6.2+), never below 10 % of RSS', () => {
    const quiet = decideFork(facts({ writes: 10 }), container(170 * MiB));
    expect(quiet.figures.pageBytes).toBe(4096);
    expect(quiet.figures.copyOnWriteBytes).toBe(10 * MiB);
    expect(quiet.fork).toBe(true);
    const busy = decideFork(facts({ writes: 20_000 }), container(170 * MiB));
    expect(busy.figures.copyOnWriteBytes).toBe(100 * MiB);
    expect(busy.fork).toBe(false);
  });

  it('does not fork when a fork is already running, or when the limit could not be read', () => {
    expect(decideFork(facts({ bgsave: true }), container()).fork).toBe(false);
    const unknown = decideFork(facts(), { unknown: 'KubernetesForbiddenError: pods is forbidden' });
    expect(unknown.fork).toBe(false);
    expect(unknown.reason).toMatch(/could not be read .*KubernetesForbiddenError/);
  });

  it('counts a disk-based snapshot against the ephemeral-storage limit, and on a memory volume as memory', () => {
    const disk = decideFork(facts(), container(undefined, { ephemeralStorageLimitBytes: 50 * MiB }));
    expect(disk.figures.disk).toMatchObject({ path: '/data/dump.rdb', on: 'container filesystem', limitBytes: 50 * MiB });
    expect(disk.fork).toBe(false);
    expect(disk.reason).toMatch(/kubelet evicts/);
    expect(decideFork(facts({ diskless: true }), container(undefined, { ephemeralStorageLimitBytes: 50 * MiB })).fork).toBe(true);
    const tmpfs = decideFork(facts(), container(undefined, { mounts: [{ path: '/data', volume: 'data', kind: 'memory' }] }));
    expect(tmpfs.figures.snapshotInMemoryBytes).toBe(80 * MiB);
    const pvc = decideFork(facts(), container(undefined, { ephemeralStorageLimitBytes: 50 * MiB, mounts: [{ path: '/data', volume: 'data', kind: 'persistentVolumeClaim' }] }));
    expect(pvc.fork).toBe(true);
  });

  it('does not fork when df says the snapshot does not fit where it lands (a PVC too), and ignores free disk for a diskless sync', () => {
    const pvc = container(undefined, { mounts: [{ path: '/data', volume: 'data', kind: 'persistentVolumeClaim' }] });
    const full = decideFork(facts(), pvc, { freeBytes: 20 * MiB });
    expect(full.fork).toBe(false);
    expect(full.figures.disk).toMatchObject({ on: 'persistentVolumeClaim', freeBytes: 20 * MiB });
    expect(full.reason).toMatch(/only 20 MiB is free there \(df\)/);
    expect(decideFork(facts(), pvc, { freeBytes: 4096 * MiB }).fork).toBe(true);
    expect(decideFork(facts({ diskless: true }), pvc, { freeBytes: 1 }).fork).toBe(true);
  });

  it('reports the dump.rdb a disk-based sync leaves on a server with no save points', () => {
    expect(decideFork(facts(), container()).dumpLeftBehind).toBe('/data/dump.rdb');
    expect(decideFork(facts({ save: '3600 1' }), container()).dumpLeftBehind).toBeUndefined();
    expect(decideFork(facts({ diskless: true }), container()).dumpLeftBehind).toBeUndefined();
  });
});

describe('whyStreamCannotContinue', () => {
  const info = (extra: string) => `run_id:abc\r\nmaster_replid:r1\r\nmaster_replid2:r0\r\nsecond_repl_offset:500\r\nrepl_backlog_active:1\r\nrepl_backlog_size:1000\r\n${extra}`;
  it('lets a PSYNC through only when the id matches and the offset is in the backlog', () => {
    expect(whyStreamCannotContinue(info('repl_backlog_first_byte_offset:100\r\nrepl_backlog_histlen:400'), { replid: 'r1', offset: 300 })).toBeUndefined();
    expect(whyStreamCannotContinue(info('repl_backlog_first_byte_offset:100\r\nrepl_backlog_histlen:400'), { replid: 'r0', offset: 300 })).toBeUndefined();
    expect(whyStreamCannotContinue(info('repl_backlog_first_byte_offset:100\r\nrepl_backlog_histlen:400'), { replid: 'zz', offset: 300 })).toMatch(/replication id/);
    expect(whyStreamCannotContinue(info('repl_backlog_first_byte_offset:100\r\nrepl_backlog_histlen:400'), { replid: 'r1', offset: 50 })).toMatch(/no longer in/);
    // A full backlog moves on: an offset at its very start is refused.
    expect(whyStreamCannotContinue(info('repl_backlog_first_byte_offset:100\r\nrepl_backlog_histlen:1000'), { replid: 'r1', offset: 150 })).toMatch(/no longer in/);
  });
  it("uses 3.2's run_id (PSYNC v1 has no replication id)", () => {
    const old = 'run_id:abc\r\nrepl_backlog_active:1\r\nrepl_backlog_size:1000\r\nrepl_backlog_first_byte_offset:1\r\nrepl_backlog_histlen:10';
    expect(whyStreamCannotContinue(old, { replid: 'abc', offset: 5 })).toBeUndefined();
    expect(whyStreamCannotContinue(old, { replid: 'def', offset: 5 })).toMatch(/replication id/);
  });
});

describe('versions', () => {
  it('maps each server to its RDB version, and says whether payloads move directly', () => {
    expect(['3.2.13', '4.0.14', '5.0.14', '6.2.16', '7.0.15', '7.2.4'].map((v) => rdbVersionOf('redis', v))).toEqual([7, 8, 9, 9, 10, 11]);
    expect(serverFacts(infoFields('redis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.0.1'))).toEqual({ engine: 'valkey', version: '8.0.1', redisVersion: '7.2.4', rdbVersion: 11 });
    expect(targetRdbVersion('redis', '7.1')).toBe(10);
    expect(payloadsMoveDirectly(7, targetRdbVersion('valkey', '8.0'))).toBe(true);
    expect(payloadsMoveDirectly(11, targetRdbVersion('redis', '7.0'))).toBe(false);
  });
});

describe('pod resources', () => {
  it('parses Kubernetes quantities', () => {
    expect(['512Mi', '1Gi', '1G', '500M', '129e6', '128974848', '1.5Gi', '100k'].map(parseQuantity)).toEqual([512 * MiB, 1024 * MiB, 1e9, 5e8, 129e6, 128974848, 1.5 * 1024 * MiB, 1e5]);
    expect(parseQuantity('lots')).toBeUndefined();
  });
  it("reads the Redis container's limits, request and volumes from the pod", () => {
    const c = sourceContainerOf({
      metadata: { name: 'spin-redis-1' },
      spec: {
        containers: [
          { name: 'sidecar' },
          {
            name: 'redis',
            ports: [{ containerPort: 6379 }],
            resources: { limits: { memory: '256Mi', 'ephemeral-storage': '1Gi' }, requests: { memory: '128Mi' } },
            volumeMounts: [{ name: 'data', mountPath: '/data' }],
          },
        ],
        volumes: [{ name: 'data', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } }],
      },
    });
    expect(c).toEqual({
      pod: 'spin-redis-1',
      container: 'redis',
      memoryLimitBytes: 256 * MiB,
      memoryRequestBytes: 128 * MiB,
      ephemeralStorageLimitBytes: 1024 * MiB,
      mounts: [{ path: '/data', volume: 'data', kind: 'memory', sizeLimitBytes: 64 * MiB }],
    });
  });
});
