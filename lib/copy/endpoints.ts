/** The two Redis endpoints every copy step needs, resolved the same way in each handler. */
import { resolveTargetEndpoint } from '../elasticache/target-endpoint.js';
import { resolveSourceEndpoint } from '../kubernetes/spin-redis.js';
import type { RedisEndpoint } from '../redis/connect.js';
import type { MigrationState } from '../workflow/state.js';

export interface EndpointResolvers {
  source: (state: MigrationState) => Promise<RedisEndpoint>;
  target: (state: MigrationState) => Promise<RedisEndpoint>;
}

export const defaultResolvers: EndpointResolvers = {
  source: (state) => resolveSourceEndpoint(state.config),
  target: (state) => resolveTargetEndpoint(state),
};

/** Leave the Lambda a minute to report back before its 15-minute limit. */
export function sliceDeadline(state: MigrationState, now = Date.now()): number {
  return now + state.config.options.copySliceSeconds * 1000;
}
