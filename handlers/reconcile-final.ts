/**
 * ReconcileFinal (`$.reconcile`, VPC): the final catch-up inside the pause, spin-redis
 * frozen. The replication stream to the source's last byte, or without one the mirror
 * reconciliation (differing keys replaced, keys gone on spin-redis deleted) one bounded slice
 * per invocation, resuming from the checkpoint in `$.reconcile` until `done`: docs/COPY.md.
 */
import { type FinalCatchUp, finalCatchUp } from '../lib/copy/catch-up-slice.js';
import { defaultResolvers, type EndpointResolvers, sameSource, type SourceMark, sliceDeadline, sourceAt } from '../lib/workflow/endpoints.js';
import { defineStepHandler, logger } from '../lib/workflow/handler.js';
import type { MigrationState } from '../lib/workflow/state.js';

export function createHandler(resolvers: EndpointResolvers) {
  return defineStepHandler('ReconcileFinal', async (state: MigrationState): Promise<FinalCatchUp & SourceMark> => {
    const [source, target] = await Promise.all([resolvers.source(state), resolvers.target(state)]);
    const previous = sameSource(state.reconcile, source);
    // A mirror a failover interrupted starts over as a mirror: the stream replayed over its partial result could apply a write twice.
    const mirrorRestarted = state.reconcile?.method === 'mirror' && !previous;
    const catchUp =
      mirrorRestarted && state.catchUp ? { ...state.catchUp, streamLost: `spin-redis failed over (${state.reconcile?.sourceAt} to ${sourceAt(source)}) during the final mirror` } : state.catchUp;
    const result = await finalCatchUp(source, target, catchUp, {
      ...(state.copy?.replication && !mirrorRestarted ? { copiedAt: state.copy.replication } : {}),
      ...(previous ? { previous } : {}),
      withinMs: state.config.options.copySliceSeconds * 1000,
      deadline: sliceDeadline(state),
      log: logger,
    });
    return { ...result, sourceAt: sourceAt(source) };
  });
}

export const handler = createHandler(defaultResolvers);
