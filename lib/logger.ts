/** The one structured logger (Powertools): handlers add the step name; domain code logs through it too. */
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({ serviceName: 'spin-elasticache' });
