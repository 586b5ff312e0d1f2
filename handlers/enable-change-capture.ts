/** EnableChangeCapture: keyspace notifications on spin-redis for the live catch-up (`$.capture`). */
import type { RedisEndpoint } from '../lib/redis/connect.js';
import { enableChangeCaptureAt } from '../lib/redis/change-capture.js';
import { resolveSourceNodes } from '../lib/kubernetes/spin-redis.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export interface ChangeCaptureDeps {
  resolveSource: (state: MigrationState) => Promise<RedisEndpoint | RedisEndpoint[]>;
}

export function createHandler(deps: ChangeCaptureDeps) {
  return defineStepHandler('EnableChangeCapture', async (state: MigrationState) =>
    enableChangeCaptureAt(await deps.resolveSource(state), state.capture?.previousNotifyKeyspaceEvents, state.capture?.replicas),
  );
}

// Every data node: a Sentinel-managed spin-redis's replicas too (lib/redis/change-capture.ts).
export const handler = createHandler({ resolveSource: async (state) => (await resolveSourceNodes(state.config)).map((n) => n.endpoint) });
