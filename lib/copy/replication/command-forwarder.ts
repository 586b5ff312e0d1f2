/**
 * The command forwarder of the replication copy: splits the raw replication stream into
 * commands and forwards the data commands, byte for byte, to one ordered connection on the
 * target, counting the offset as it goes and answering the source's GETACKs.
 */
import { mapRedisError } from '../../redis/errors.js';
import { type RespConnection, RespError, type RespValue } from '../../redis/resp.js';
import { OutBuffer } from './out-buffer.js';
import { isGetAck, NON_DATA_COMMANDS, readStreamCommand } from './stream-command.js';

/**
 * Splits the raw replication stream into commands and forwards data commands, byte for
 * byte, to one ordered connection on the target.
 */
export class CommandForwarder {
  private pending: Buffer | undefined;
  private out = new OutBuffer(256 * 1024);
  private outCommands = 0;
  offset: number;
  applied = 0;
  failure: Error | undefined;
  private readonly onReply = (reply: RespValue) => {
    if (reply instanceof RespError) this.failure ??= mapRedisError(new Error(reply.message), 'target (replicated write)');
  };

  constructor(
    private readonly apply: RespConnection,
    startOffset: number,
    private readonly ack: (offset: number) => void,
  ) {
    this.offset = startOffset;
  }

  push(chunk: Buffer): void {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      const command = readStreamCommand(buf, pos);
      if (!command) break;
      const raw = buf.subarray(pos, command.end);
      this.offset += raw.length;
      pos = command.end;
      if (NON_DATA_COMMANDS.has(command.name)) {
        if (isGetAck(command)) this.ack(this.offset);
        continue;
      }
      this.out.bytes(raw);
      this.outCommands++;
      this.applied++;
    }
    this.pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : undefined;
    if (this.outCommands > 0) {
      this.apply.send(this.out.take(), this.outCommands, this.onReply);
      this.outCommands = 0;
    }
  }
}
