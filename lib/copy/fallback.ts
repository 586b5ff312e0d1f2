/**
 * The replication-then-scan policy, written once for the whole copy (`copyAll`) and the
 * workflow's first slice (`copyBulkSlice`): `scan` never tries replication; `replication`
 * fails when the source refuses PSYNC; `auto` falls back to the scan copy when the source
 * refuses PSYNC (or sends a snapshot we cannot split) or the target refuses the source's
 * payload version, with nothing half-done.
 */
import { ReplicationUnavailableError, TargetRefusedPayloadError } from '../errors.js';

export type CopyMethod = 'auto' | 'replication' | 'scan';

export type Attempt<T> = { copied: T } | { fallbackReason?: string };

/** Runs `replicate` unless the method is scan; a refusal `auto` may fall back from comes back as its reason. */
export async function tryReplication<T>(method: CopyMethod, replicate: () => Promise<T>): Promise<Attempt<T>> {
  if (method === 'scan') return {};
  try {
    return { copied: await replicate() };
  } catch (error) {
    const fallsBack = error instanceof ReplicationUnavailableError || error instanceof TargetRefusedPayloadError;
    if (method === 'replication' || !fallsBack) throw error;
    return { fallbackReason: error.message };
  }
}
