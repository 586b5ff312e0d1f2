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

// Per key: 1 and its application, startTime, endTime when it is a hash (false for a missing
// field), else 0 and three falses: one EVAL per SCAN page instead of two commands per execution.
const FIELDS_SCRIPT = `
local out = {}
for i, key in ipairs(KEYS) do
  local n = (i - 1) * 4
  if redis.call('TYPE', key)['ok'] == 'hash' then
    local f = redis.call('HMGET', key, 'application', 'startTime', 'endTime')
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = 1, f[1], f[2], f[3]
  else
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = 0, false, false, false
  end
end
return out
`;

/** An execution's own key, `pipeline:<id>` or `orchestration:<id>`, not an index (`pipeline:app:…`, `…:executions…`). */
export const isExecutionKey = (key: string): boolean => /^(pipeline|orchestration):[^:]+$/.test(key) && !/^(pipeline|orchestration):(app|executions)/.test(key);

/** Keys per EVAL of FIELDS_SCRIPT when the execution keys are given. */
const FIELDS_BATCH = 1000;

/**
 * Orca's history per application on `redis`: of the execution keys a SCAN of the connection's
 * database finds, or of `executionKeys` when given (a walk that already read them: the
 * verification's forward pass), each read whatever its fate (a key gone by then is not counted).
 */
export async function orcaHistory(redis: Redis, executionKeys?: string[]): Promise<OrcaHistory> {
  const history: OrcaHistory = {};
  const count = (kinds: ('pipeline' | 'orchestration')[], fields: (string | null)[]) => {
    for (let i = 0; i + 3 < fields.length; i += 4) {
      if (Number(fields[i]) !== 1) continue;
      const [application, start, end] = [fields[i + 1], fields[i + 2], fields[i + 3]];
      const app = (history[application ?? '(none)'] ??= { pipelines: 0, orchestrations: 0, completed: 0, totalDurationMs: 0, averageDurationMs: 0 });
      if (kinds[i / 4] === 'pipeline') app.pipelines++;
      else app.orchestrations++;
      const s = Number(start);
      const e = Number(end);
      if (start && end && Number.isFinite(s) && Number.isFinite(e) && e >= s) {
        app.completed++;
        app.totalDurationMs += e - s;
      }
    }
  };
  const pages: Promise<void>[] = [];
  const read = (executions: string[]) => {
    const kinds = executions.map((k) => (k.startsWith('pipeline:') ? 'pipeline' : 'orchestration'));
    pages.push(
      (redis.eval(FIELDS_SCRIPT, executions.length, ...executions) as Promise<(string | number | null)[]>).then((reply) =>
        count(
          kinds,
          reply.map((v) => (v === null ? null : String(v))),
        ),
      ),
    );
  };
  if (executionKeys) {
    for (let i = 0; i < executionKeys.length; i += FIELDS_BATCH) read(executionKeys.slice(i, i + FIELDS_BATCH));
  } else {
    // One walk for both kinds (a SCAN of the whole keyspace costs the server alike whatever it
    // matches); each page's EVAL is sent as soon as the page is read, while SCAN goes on.
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', '[op]*', 'COUNT', 1000);
      cursor = next;
      const executions = keys.filter(isExecutionKey);
      if (executions.length > 0) read(executions);
    } while (cursor !== '0');
  }
  await Promise.all(pages);
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

/**
 * The parity of orca's history on both sides. With `executionKeys` (the source's, from a walk
 * that read them all inside the pause), both sides are read for those keys and nothing is
 * scanned; the target's executions the source lacks are then not seen, which the strict
 * verification reports as extra keys.
 */
export async function auditParity(sourceEndpoint: RedisEndpoint, targetEndpoint: RedisEndpoint, executionKeys?: string[]): Promise<{ parity: AuditParity; source: OrcaHistory; target: OrcaHistory }> {
  const [source, target] = await Promise.all([connectRedis(sourceEndpoint, { connectionName: 'spin-elasticache-audit' }), connectRedis(targetEndpoint, { connectionName: 'spin-elasticache-audit' })]);
  try {
    const [s, t] = await Promise.all([orcaHistory(source, executionKeys), orcaHistory(target, executionKeys)]);
    return { parity: compareHistory(s, t), source: s, target: t };
  } finally {
    source.disconnect();
    target.disconnect();
  }
}
