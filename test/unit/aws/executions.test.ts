/** Whether a Step Functions execution still runs (a migration lock held by a finished execution is stale). */
import { afterEach, describe, expect, it } from '@jest/globals';
import { DescribeExecutionCommand, ExecutionDoesNotExist, InvalidArn, SFNClient, SFNServiceException } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { executionStatus } from '../../../lib/aws/executions.js';

const sfn = mockClient(SFNClient);
afterEach(() => {
  sfn.reset();
});

const client = () => new SFNClient({ region: 'us-east-1' });
const ARN = 'arn:aws:states:us-east-1:123456789012:execution:spin-elasticache-prod:migrate-1';
const meta = { $metadata: { httpStatusCode: 400 } };

describe('executionStatus', () => {
  it.each(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'] as const)('answers %s', async (status) => {
    sfn.on(DescribeExecutionCommand, { executionArn: ARN }).resolves({ status });
    await expect(executionStatus(client(), ARN)).resolves.toBe(status);
  });

  it('an execution that does not exist, or a malformed ARN, holds nothing: UNKNOWN', async () => {
    sfn.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', ...meta }));
    await expect(executionStatus(client(), ARN)).resolves.toBe('UNKNOWN');
    sfn.on(DescribeExecutionCommand).rejects(new InvalidArn({ message: 'Invalid Arn', ...meta }));
    await expect(executionStatus(client(), 'not-an-arn')).resolves.toBe('UNKNOWN');
    sfn.on(DescribeExecutionCommand).resolves({});
    await expect(executionStatus(client(), ARN)).resolves.toBe('UNKNOWN');
  });

  it('other failures are mapped, not taken for a dead execution', async () => {
    sfn.on(DescribeExecutionCommand).rejects(new SFNServiceException({ name: 'ThrottlingException', $fault: 'client', message: 'Rate exceeded', ...meta }));
    await expect(executionStatus(client(), ARN)).rejects.toMatchObject({ name: 'AwsThrottlingError', message: `DescribeExecution ${ARN}: ThrottlingException: Rate exceeded` });
    sfn.on(DescribeExecutionCommand).rejects(new SFNServiceException({ name: 'AccessDeniedException', $fault: 'client', message: 'no', ...meta }));
    await expect(executionStatus(client(), ARN)).rejects.toMatchObject({ name: 'AwsAccessDeniedError' });
  });
});
