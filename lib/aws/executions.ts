/** Whether a Step Functions execution still runs: decides if a migration lock is stale. */
import { DescribeExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { mapAwsError } from './errors.js';

/** A Step Functions execution's status; `UNKNOWN` when it no longer exists (or never did). */
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE' | 'UNKNOWN';

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
