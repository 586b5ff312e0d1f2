/** ReconcileFinal (`$.reconcile`, VPC): the last sync with spin-redis frozen, by the conflict rule in docs/COPY.md. */
import { defaultResolvers, type EndpointResolvers } from '../lib/workflow/endpoints.js';
import { reconcile } from '../lib/copy/reconcile.js';
import { defineStepHandler } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(resolvers: EndpointResolvers) {
  return defineStepHandler('ReconcileFinal', async (state: MigrationState) => {
    const [source, target] = await Promise.all([resolvers.source(state), resolvers.target(state)]);
    return reconcile(source, target);
  });
}

export const handler = createHandler(defaultResolvers);
