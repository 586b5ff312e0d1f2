/**
 * Spinnaker's audit parity after the copy: orca's pipeline history per application (execution counts, total and
 * average duration from startTime/endTime), computed on both sides, so the report shows
 * the history auditors use survived the move.
 */
import type { Redis } from 'ioredis';
import { connectRedis, type RedisEndpoint } from '../redis/connect.js';

export interface AppHistory {
  pipelines: number;
  orchestrations: number;
  completed: number;
  totalDurationMs: number;
  averageDurationMs: number;
}

export type OrcaHistory = Record<string, AppHistory>;

export async function orcaHistory(redis: Redis): Promise<OrcaHistory> {
  const history: OrcaHistory = {};
  for (const kind of ['pipeline', 'orchestration'] as const) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${kind}:*`, 'COUNT', 1000);
      cursor = next;
      const executions = keys.filter((k) => /^(pipeline|orchestration):[^:]+$/.test(k) && !k.startsWith(`${kind}:app`) && !k.startsWith(`${kind}:executions`));
      if (executions.length === 0) continue;
      const pipeline = redis.pipeline();
      for (const key of executions) pipeline.type(key).hmget(key, 'application', 'startTime', 'endTime');
      const results = (await pipeline.exec()) ?? [];
      for (let i = 0; i < executions.length; i++) {
        if (results[2 * i]?.[1] !== 'hash') continue;
        const [application, start, end] = (results[2 * i + 1]?.[1] ?? []) as (string | null)[];
        const app = (history[application ?? '(none)'] ??= { pipelines: 0, orchestrations: 0, completed: 0, totalDurationMs: 0, averageDurationMs: 0 });
        if (kind === 'pipeline') app.pipelines++;
        else app.orchestrations++;
        const s = Number(start);
        const e = Number(end);
        if (start && end && Number.isFinite(s) && Number.isFinite(e) && e >= s) {
          app.completed++;
          app.totalDurationMs += e - s;
        }
      }
    } while (cursor !== '0');
  }
  for (const app of Object.values(history)) app.averageDurationMs = app.completed ? Math.round(app.totalDurationMs / app.completed) : 0;
  return Object.fromEntries(Object.entries(history).sort(([a], [b]) => a.localeCompare(b)));
}

export interface AuditParity {
  ok: boolean;
  applications: number;
  executions: { source: number; target: number };
  /** Applications whose history differs, with both sides (the target may hold more: executions run after the cutover). */
  differences: { application: string; source?: AppHistory; target?: AppHistory }[];
}

/** Every execution on the source must be on the target (the target may have newer ones). */
export function compareHistory(source: OrcaHistory, target: OrcaHistory): AuditParity {
  const differences: AuditParity['differences'] = [];
  let ok = true;
  for (const [application, s] of Object.entries(source)) {
    const t = target[application];
    if (!t || t.pipelines < s.pipelines || t.orchestrations < s.orchestrations) ok = false;
    if (!t || JSON.stringify(s) !== JSON.stringify(t)) differences.push({ application, source: s, ...(t ? { target: t } : {}) });
  }
  const count = (h: OrcaHistory) => Object.values(h).reduce((n, a) => n + a.pipelines + a.orchestrations, 0);
  return { ok, applications: Object.keys(source).length, executions: { source: count(source), target: count(target) }, differences: differences.slice(0, 20) };
}

export async function auditParity(sourceEndpoint: RedisEndpoint, targetEndpoint: RedisEndpoint): Promise<{ parity: AuditParity; source: OrcaHistory; target: OrcaHistory }> {
  const [source, target] = await Promise.all([connectRedis(sourceEndpoint, { connectionName: 'spin-elasticache-audit' }), connectRedis(targetEndpoint, { connectionName: 'spin-elasticache-audit' })]);
  try {
    const [s, t] = await Promise.all([orcaHistory(source), orcaHistory(target)]);
    return { parity: compareHistory(s, t), source: s, target: t };
  } finally {
    source.disconnect();
    target.disconnect();
  }
}
