/**
 * CheckSpinnakerQuiesced (`$.quiesceCheck`; `$.rollbackQuiesceCheck` in the rollback; VPC):
 * one check that the quiesced services' pods are gone and no client but ours is left on
 * spin-redis (and on ElastiCache in the rollback). The Wait state loops it, bounded by
 * options.drainTimeoutMinutes.
 */
import type { MigrationConfig } from '../lib/config/schema.js';
import type { ClusterApi } from '../lib/kubernetes/api.js';
import { clusterApiFor } from '../lib/kubernetes/default-api.js';
import { defaultResolvers, type EndpointResolvers } from '../lib/workflow/endpoints.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import { checkQuiesce } from '../lib/workflow/pause.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(deps: { api: (config: MigrationConfig) => ClusterApi; resolvers: EndpointResolvers }) {
  return defineStepHandler('CheckSpinnakerQuiesced', (state: MigrationState) => checkQuiesce(deps.api(state.config), state, deps.resolvers));
}

export const handler = createHandler({ api: clusterApiFor, resolvers: defaultResolvers });
