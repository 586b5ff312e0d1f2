/**
 * CopyBulk as the workflow runs it: one slice of the bulk copy (lib/copy/bulk-slice.ts), and,
 * once a replication copy is done, what its disk-based sync left on spin-redis's disk
 * (lib/kubernetes/source-snapshot.ts): reported, and removed when options.removeSnapshotLeftBehind.
 */
import { type CopyState, copyBulkSlice } from '../copy/bulk-slice.js';
import type { CopyLog } from '../copy/types.js';
import { executionName } from '../elasticache/tags.js';
import type { ClusterApi } from '../kubernetes/api.js';
import { readFreeDisk, removeSnapshotLeftBehind, type SnapshotLeftBehind } from '../kubernetes/source-snapshot.js';
import { type EndpointResolvers, sameSource, type SourceMark, sliceDeadline, sourceAt } from './endpoints.js';
import type { MigrationState } from './state.js';

/** `$.copy` */
export type BulkCopyState = CopyState & SourceMark & { snapshotLeftBehind?: SnapshotLeftBehind };

export async function copyBulk(
  state: MigrationState,
  resolvers: EndpointResolvers,
  deps: { api: (state: MigrationState) => Pick<ClusterApi, 'exec'>; log?: CopyLog; now?: () => Date },
): Promise<BulkCopyState> {
  const now = deps.now ?? (() => new Date());
  const startedAt = now();
  const [source, target, container] = await Promise.all([resolvers.source(state), resolvers.target(state), resolvers.sourceContainer(state)]);
  // A failover between two scan slices (Sentinel-managed spin-redis): the scan starts over on the new master.
  const restartScan = state.copy !== undefined && !state.copy.done && sameSource(state.copy, source) === undefined;
  if (restartScan) deps.log?.warn('spin-redis has another master than the last slice read; the scan starts over', { was: state.copy?.sourceAt, now: sourceAt(source) });
  const sliced = await copyBulkSlice(source, target, state.copy, {
    container,
    sourceId: sourceAt(source),
    ...(restartScan ? { restartScan } : {}),
    // s3-seed never reaches CopyBulk (the state machine branches before it).
    method: state.config.options.copyMethod === 's3-seed' ? 'auto' : state.config.options.copyMethod,
    deadline: sliceDeadline(state, startedAt.getTime()),
    progressId: executionName(state.execution.arn),
    ...('container' in container ? { freeDisk: (dir: string) => readFreeDisk(deps.api(state), state.config.spinnaker.namespace, container.container, dir) } : {}),
    ...(deps.log ? { log: deps.log } : {}),
  });
  const result: BulkCopyState = { ...sliced, sourceAt: sourceAt(source) };
  // The fork happened in this slice (a replication copy is one slice), so the file is no older than startedAt.
  const path = result.done && result.method === 'replication' ? result.fork?.dumpLeftBehind : undefined;
  if (path === undefined) return result;
  if (!state.config.options.removeSnapshotLeftBehind || !('container' in container)) {
    return {
      ...result,
      snapshotLeftBehind: { path, outcome: 'kept', reason: state.config.options.removeSnapshotLeftBehind ? 'spin-redis is not a pod we can exec into' : 'options.removeSnapshotLeftBehind is off' },
    };
  }
  const removal = await removeSnapshotLeftBehind(deps.api(state), state.config.spinnaker.namespace, container.container, path, startedAt);
  deps.log?.info('snapshot left behind', { ...removal });
  return { ...result, snapshotLeftBehind: removal };
}
