/** The two Redis endpoints every copy step needs, resolved the same way in each handler. */
import { resolveTargetEndpoint } from './resolve.js';
import type { ContainerKnowledge } from '../copy/fork-safety.js';
import { readSourceContainer, resolveSourceEndpoint } from '../kubernetes/spin-redis.js';
import type { RedisEndpoint } from '../redis/connect.js';
import type { MigrationState } from './state.js';

export interface EndpointResolvers {
  source: (state: MigrationState) => Promise<RedisEndpoint>;
  target: (state: MigrationState) => Promise<RedisEndpoint>;
  /** spin-redis's container (memory limit, volumes) for the fork-safety check. */
  sourceContainer: (state: MigrationState) => Promise<ContainerKnowledge>;
}

export const defaultResolvers: EndpointResolvers = {
  source: (state) => resolveSourceEndpoint(state.config),
  target: (state) => resolveTargetEndpoint(state),
  sourceContainer: (state) => readSourceContainer(state.config),
};

/** When a slice stops starting new batches; options.copySliceSeconds (max 780) leaves room under Lambda's 15 minutes. */
export function sliceDeadline(state: MigrationState, now = Date.now()): number {
  return now + state.config.options.copySliceSeconds * 1000;
}
