/**
 * Simulated igor, following igor-web/.../jenkins/JenkinsCache.java with JenkinsBuildMonitor
 * (per job: HGET the cursor, HGET/HSET a marker per build posted to echo, and once no build
 * runs: DEL the job hash, DEL the marker hash, HSET the new cursor; no TTLs),
 * igor-core/.../build/BuildCache.java (`igor:builds:*` strings and hashes with EXPIRE) and
 * igor-web/.../docker/DockerRegistryCache.java (HSET digest, never deleted). Every command is
 * plain. Polls every 3 s instead of 60 s (sandbox time); Jenkins is a function of time.
 */
import type { LedgerOp } from '../ledger.js';
import { APPS, hashRandom, ServiceInstance, type InstanceOptions } from '../services.js';

const MASTER = 'jenkins-main';
const POLL_MS = 3000;
const BUILD_EVERY_MS = 4000;
const BUILD_TTL_S = 60 * 86_400;
export const LIVE_JOBS = APPS.slice(0, 6).map((a) => `${a}-build`);

/** The last completed build of a job at time t (one every ~4 s per job, staggered). */
function lastBuild(job: string, t: number): { number: number; stamp: number; building: boolean } {
  const offset = Math.floor(hashRandom(job) * BUILD_EVERY_MS);
  const number = 100 + Math.floor((t - offset) / BUILD_EVERY_MS) - Math.floor((Date.UTC(2026, 0, 1) - offset) / BUILD_EVERY_MS);
  return { number, stamp: Math.floor((t - offset) / BUILD_EVERY_MS) * BUILD_EVERY_MS + offset, building: (t - offset) % BUILD_EVERY_MS < 800 };
}

export class IgorInstance extends ServiceInstance {
  /** Builds this igor posted to echo: each one triggers pipelines. */
  posted = 0;

  constructor(options: InstanceOptions) {
    super('igor', options);
  }

  protected begin(): void {
    this.every(POLL_MS, () => this.poll());
  }

  private async poll(): Promise<void> {
    const now = Date.now();
    for (const job of LIVE_JOBS) {
      const jobKey = `igor:${MASTER}:${job.toUpperCase()}:${job}`;
      const cursor = await this.redis.hget(jobKey, 'lastPollCycleTimestamp');
      const build = lastBuild(job, now);
      const markers = `${jobKey}:lastPollCycleTimestamp:${cursor ?? 0}`;
      if (cursor !== null && Number(cursor) >= build.stamp) continue;
      // Builds completed since the cursor (only the last one here): post once, remember it.
      if ((await this.redis.hget(markers, String(build.number))) === null) {
        this.posted++;
        await this.write([{ op: 'hset', key: markers, fields: { [String(build.number)]: 'POSTED' } }], (r) => r.hset(markers, String(build.number), 'POSTED'));
      }
      if (!build.building) {
        const fields = { lastPollCycleTimestamp: String(build.stamp), lastBuildLabel: String(build.number), lastBuildBuilding: 'false' };
        await this.write(
          [
            { op: 'del', key: jobKey },
            { op: 'del', key: markers },
            { op: 'hset', key: jobKey, fields },
          ],
          async (r) => {
            await r.del(jobKey);
            await r.del(markers);
            await r.hmset(jobKey, fields);
          },
        );
      }
      // BuildCache (Travis/GitLab-style masters): SET + EXPIRE.
      const completed = `igor:builds:completed:gitlab-ci:${job.toUpperCase()}:${job}`;
      await this.write(
        [
          { op: 'set', key: completed, value: String(build.number) },
          { op: 'expire', key: completed, ttlMs: BUILD_TTL_S * 1000 },
        ] satisfies LedgerOp[],
        async (r) => {
          await r.set(completed, String(build.number));
          await r.expire(completed, BUILD_TTL_S);
        },
      );
      // A new image tag for the job's artifact (never deleted).
      const tagKey = `igor:dockerRegistry:v2:dockerhub:example/${job}:${build.number}`;
      const digest = `sha256:${build.number.toString(16).padStart(64, '0')}`;
      await this.write([{ op: 'hset', key: tagKey, fields: { digest } }], (r) => r.hset(tagKey, 'digest', digest));
    }
  }
}
