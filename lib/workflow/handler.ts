/**
 * The shape every Lambda handler shares: log the step, run one domain function, and make
 * sure whatever escapes is a named MigrationError (Step Functions routes on `name`).
 */
import { asMigrationError, UnexpectedError } from '../errors.js';
import { logger } from '../logger.js';
import { isRedisClientError, mapRedisError } from '../redis/errors.js';
import { type MigrationState, parseState } from './state.js';

export { logger };

export function defineHandler<TEvent, TResult>(stepName: string, run: (event: TEvent) => Promise<TResult>): (event: TEvent) => Promise<TResult> {
  return async (event: TEvent) => {
    const started = Date.now();
    logger.appendKeys({ step: stepName });
    try {
      const result = await run(event);
      logger.info('step finished', { durationMs: Date.now() - started });
      return result;
    } catch (error) {
      // An ioredis error that reaches a handler unmapped (a write outside a step's own mapping,
      // e.g. a checkpoint) is still a Redis error: `READONLY` during a failover must reach the ASL
      // as the transient RedisFailoverError, a timed-out command as RedisConnectionError, never as
      // UnexpectedError.
      const named = asMigrationError(isRedisClientError(error) ? mapRedisError(error) : error);
      // The catch-all keeps what it wraps: the original's stack goes to the logs (never to the state).
      const original = named instanceof UnexpectedError && named.cause instanceof Error ? { causeStack: named.cause.stack } : {};
      logger.error('step failed', { errorName: named.name, errorMessage: named.message, durationMs: Date.now() - started, ...original });
      throw named;
    } finally {
      logger.removeKeys(['step']);
    }
  };
}

/** A handler of a Task that gets the whole execution state: the state is checked first (`parseState`). */
export function defineStepHandler<TResult>(stepName: string, run: (state: MigrationState) => Promise<TResult>): (event: MigrationState) => Promise<TResult> {
  return defineHandler(stepName, (event: unknown) => run(parseState(event, stepName)));
}
