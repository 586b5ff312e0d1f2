/**
 * CopyBulk (`$.copy`, VPC): one slice of the bulk copy, replication first and by scan when
 * that is not possible (lib/copy/bulk-slice.ts). Until `done`, the state machine calls it
 * again with the checkpoint it returned.
 */
import { copyBulkSlice, type CopyState } from '../lib/copy/bulk-slice.js';
import { executionName } from '../lib/elasticache/tags.js';
import { defaultResolvers, sliceDeadline, type EndpointResolvers } from '../lib/workflow/endpoints.js';
import { defineStepHandler, logger } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(resolvers: EndpointResolvers) {
  return defineStepHandler('CopyBulk', async (state: MigrationState): Promise<CopyState> => {
    const [source, target, container] = await Promise.all([resolvers.source(state), resolvers.target(state), resolvers.sourceContainer(state)]);
    return copyBulkSlice(source, target, state.copy, {
      container,
      method: state.config.options.copyMethod,
      deadline: sliceDeadline(state),
      progressId: executionName(state.execution.arn),
      log: logger,
    });
  });
}

export const handler = createHandler(defaultResolvers);
