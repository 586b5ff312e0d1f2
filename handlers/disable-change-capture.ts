/**
 * DisableChangeCapture: put spin-redis's notify-keyspace-events back as it was. Used on
 * success, before the cutover fails and in the rollback; a no-op when capture never began.
 */
import type { RedisEndpoint } from '../lib/redis/connect.js';
import { restoreChangeCaptureAt } from '../lib/redis/change-capture.js';
import { resolveSourceNodes } from '../lib/kubernetes/spin-redis.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export interface ChangeCaptureDeps {
  resolveSource: (state: MigrationState) => Promise<RedisEndpoint | RedisEndpoint[]>;
}

export function createHandler(deps: ChangeCaptureDeps) {
  return defineStepHandler('DisableChangeCapture', (state: MigrationState) => restoreChangeCaptureAt(() => deps.resolveSource(state), state.capture));
}

// Every data node: a Sentinel-managed spin-redis's replicas too (lib/redis/change-capture.ts).
export const handler = createHandler({ resolveSource: async (state) => (await resolveSourceNodes(state.config)).map((n) => n.endpoint) });
