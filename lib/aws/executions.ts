/** Whether a Step Functions execution still runs: decides if a migration lock is stale. */
import { DescribeExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { mapAwsError } from './errors.js';
import type { ExecutionStatus } from '../kubernetes/lock.js';

export async function executionStatus(client: Pick<SFNClient, 'send'>, executionArn: string): Promise<ExecutionStatus> {
  try {
    const { status } = await client.send(new DescribeExecutionCommand({ executionArn }));
    return (status ?? 'UNKNOWN') as ExecutionStatus;
  } catch (error) {
    // An execution that no longer exists (or never did) holds nothing.
    if (['ExecutionDoesNotExist', 'InvalidArn'].includes((error as Error).name)) return 'UNKNOWN';
    throw mapAwsError(error, `DescribeExecution ${executionArn}`);
  }
}
