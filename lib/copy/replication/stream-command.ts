/** Reading the replication stream: one command at a time, with its exact size in bytes (offsets count them). */

export interface StreamCommand {
  /** Lower-cased command name; empty for a bare newline keep-alive. */
  name: string;
  /** Every argument after the name, as views into the buffer. */
  args: Buffer[];
  /** Position just after the command. */
  end: number;
}

/** The command at `start`, or undefined while it is still incomplete. */
export function readStreamCommand(buf: Buffer, start: number): StreamCommand | undefined {
  if (start >= buf.length) return undefined;
  if (buf[start] !== 42) {
    // Inline form: a master only sends its newline keep-alive this way.
    const nl = buf.indexOf(10, start);
    return nl < 0 ? undefined : { name: buf.toString('latin1', start, nl).trim().split(' ')[0]!.toLowerCase(), args: [], end: nl + 1 };
  }
  let lineEnd = buf.indexOf(13, start);
  if (lineEnd < 0 || lineEnd + 1 >= buf.length) return undefined;
  const count = Number(buf.toString('latin1', start + 1, lineEnd));
  let pos = lineEnd + 2;
  const parts: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    lineEnd = buf.indexOf(13, pos);
    if (lineEnd < 0 || lineEnd + 1 >= buf.length) return undefined;
    const length = Number(buf.toString('latin1', pos + 1, lineEnd));
    const body = lineEnd + 2;
    if (body + length + 2 > buf.length) return undefined;
    parts.push(buf.subarray(body, body + length));
    pos = body + length + 2;
  }
  return { name: parts[0]?.toString('latin1').toLowerCase() ?? '', args: parts.slice(1), end: pos };
}

/** `REPLCONF GETACK *`: the master asks for our offset. */
export const isGetAck = (command: StreamCommand) => command.name === 'replconf' && command.args[0]?.toString('latin1').toLowerCase() === 'getack';

/**
 * Commands in the replication stream that are not data: keep-alives, REPLCONF and pub/sub
 * traffic. Answered or dropped, never forwarded to the target nor counted as writes.
 */
export const NON_DATA_COMMANDS: ReadonlySet<string> = new Set(['', 'ping', 'replconf', 'publish', 'spublish']);
