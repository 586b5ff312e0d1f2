/** The two Redis endpoints every copy step needs, resolved the same way in each handler. */
import { resolveTargetEndpoint } from './resolve.js';
import type { ContainerKnowledge } from '../copy/fork-safety.js';
import { readSourceContainer, resolveSourceEndpoint, resolveSourceNodes, type SourceNode } from '../kubernetes/spin-redis.js';
import type { RedisEndpoint } from '../redis/connect.js';
import type { MigrationState } from './state.js';

export interface EndpointResolvers {
  source: (state: MigrationState) => Promise<RedisEndpoint>;
  target: (state: MigrationState) => Promise<RedisEndpoint>;
  /** spin-redis's container (memory limit, volumes) for the fork-safety check. */
  sourceContainer: (state: MigrationState) => Promise<ContainerKnowledge>;
  /** Every data node of spin-redis, master first (a Sentinel-managed one: its replicas too). */
  sourceNodes: (state: MigrationState) => Promise<SourceNode[]>;
}

export const defaultResolvers: EndpointResolvers = {
  source: (state) => resolveSourceEndpoint(state.config),
  target: (state) => resolveTargetEndpoint(state),
  sourceContainer: (state) => readSourceContainer(state.config),
  sourceNodes: (state) => resolveSourceNodes(state.config),
};

/** When a slice stops starting new batches; options.copySliceSeconds (max 780) leaves room under Lambda's 15 minutes. */
export function sliceDeadline(state: MigrationState, now = Date.now()): number {
  return now + state.config.options.copySliceSeconds * 1000;
}

/** Which spin-redis server a slice read (`host:port` of the endpoint), kept beside its checkpoint. */
export interface SourceMark {
  sourceAt?: string;
}

export const sourceAt = (endpoint: RedisEndpoint): string => new URL(endpoint.url).host;

/**
 * The previous slice's result if it read the same spin-redis server as this one will, else
 * undefined: after a failover between two slices (a Sentinel-managed spin-redis) the walk starts
 * over on the new master, because a SCAN cursor means nothing on another server (its hash
 * tables are seeded and sized differently) and would skip keys. Every walk restarted this way is
 * idempotent (RESTORE … REPLACE, compare, mirror), so nothing is applied twice in effect.
 */
export function sameSource<T extends SourceMark>(previous: T | undefined, source: RedisEndpoint): T | undefined {
  return previous?.sourceAt === undefined || previous.sourceAt === sourceAt(source) ? previous : undefined;
}
