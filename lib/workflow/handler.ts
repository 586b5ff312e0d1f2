/**
 * The shape every Lambda handler shares: log the step, run one domain function, and make
 * sure whatever escapes is a named MigrationError (Step Functions routes on `name`).
 */
import { asMigrationError } from '../errors.js';
import { logger } from '../logger.js';

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
      const named = asMigrationError(error);
      logger.error('step failed', { errorName: named.name, errorMessage: named.message, durationMs: Date.now() - started });
      throw named;
    } finally {
      logger.removeKeys(['step']);
    }
  };
}
