/** defineHandler: a handler returns its result, and whatever escapes is a named MigrationError (Step Functions routes on `name`). */
import { describe, expect, it } from '@jest/globals';
import { CopyFailedError, MigrationError } from '../../../lib/errors.js';
import { ReplyError } from 'ioredis';
import { defineHandler } from '../../../lib/workflow/handler.js';

describe('defineHandler', () => {
  it('returns what the step returns', async () => {
    const handler = defineHandler('PingRedis', async (event: { n: number }) => ({ doubled: event.n * 2 }));
    await expect(handler({ n: 21 })).resolves.toStrictEqual({ doubled: 42 });
  });

  it('lets our own named errors through unchanged', async () => {
    const failure = new CopyFailedError('copy of db 0 failed');
    const handler = defineHandler('CopyBulk', async () => {
      throw failure;
    });
    await expect(handler({})).rejects.toBe(failure);
  });

  it("maps an ioredis reply that escaped a step's own mapping as a Redis error (READONLY in a failover stays transient)", async () => {
    // The reply a replica gives a write: a checkpoint written during a failover escaped as this.
    const reply = new ReplyError("READONLY You can't write against a read only replica.");
    const handler = defineHandler('CopyBulk', async () => {
      throw reply;
    });
    await expect(handler({})).rejects.toMatchObject({ name: 'RedisFailoverError', retryable: true });
    const oom = defineHandler('CopyBulk', async () => {
      throw new ReplyError('OOM command not allowed when used memory > maxmemory.');
    });
    await expect(oom({})).rejects.toMatchObject({ name: 'RedisWriteRefusedError', retryable: false });
  });

  it('turns anything else into UnexpectedError, keeping its name and message', async () => {
    const cause = new TypeError("Cannot read properties of undefined (reading 'x')");
    const handler = defineHandler('CopyBulk', async () => {
      throw cause;
    });
    const error = await handler({}).catch((e: unknown) => e as MigrationError);
    expect(error).toBeInstanceOf(MigrationError);
    expect(error).toMatchObject({ name: 'UnexpectedError', retryable: false, message: "TypeError: Cannot read properties of undefined (reading 'x')" });
    expect(error.cause).toBe(cause);
    await expect(
      defineHandler('X', async () => {
        throw 'a string';
      })({}),
    ).rejects.toMatchObject({ name: 'UnexpectedError', message: 'a string' });
  });
});
