/** Reading the replication stream one command at a time: names, arguments, exact sizes (offsets count them), any chunking. */
import { describe, expect, it } from '@jest/globals';
import { isGetAck, readStreamCommand, type StreamCommand } from '../../../../lib/copy/replication/stream-command.js';

const b = (text: string) => Buffer.from(text, 'latin1');
const multiBulk = (...args: (string | Buffer)[]) =>
  Buffer.concat([b(`*${args.length}\r\n`), ...args.flatMap((arg) => [b(`$${Buffer.byteLength(arg)}\r\n`), Buffer.isBuffer(arg) ? arg : b(arg), b('\r\n')])]);

const BINARY_VALUE = Buffer.from([0, 13, 10, 42, 36, 255, 13, 10]);
/** What a master sends after the snapshot: SELECT, writes, its keep-alives, and GETACK. */
const STREAM = Buffer.concat([
  multiBulk('SELECT', '0'),
  multiBulk('SET', 'spin:key', BINARY_VALUE),
  b('\n'),
  multiBulk('PING'),
  multiBulk('REPLCONF', 'GETACK', '*'),
  multiBulk('HSET', 'h', 'f', ''),
  b('PING\r\n'),
  multiBulk('DEL', 'a', 'b', 'c'),
]);
const EXPECTED = [
  { name: 'select', args: ['0'] },
  { name: 'set', args: ['spin:key', BINARY_VALUE.toString('latin1')] },
  { name: '', args: [] },
  { name: 'ping', args: [] },
  { name: 'replconf', args: ['GETACK', '*'] },
  { name: 'hset', args: ['h', 'f', ''] },
  { name: 'ping', args: [] },
  { name: 'del', args: ['a', 'b', 'c'] },
];

/** Feed chunks as the socket would; returns each command with its size in bytes. */
function readChunks(chunks: Buffer[]): { name: string; args: string[]; size: number }[] {
  const commands: { name: string; args: string[]; size: number }[] = [];
  let pending = Buffer.alloc(0);
  for (const chunk of chunks) {
    pending = Buffer.concat([pending, chunk]);
    let pos = 0;
    for (let command = readStreamCommand(pending, pos); command; command = readStreamCommand(pending, pos)) {
      commands.push({ name: command.name, args: command.args.map((arg) => arg.toString('latin1')), size: command.end - pos });
      pos = command.end;
    }
    pending = pending.subarray(pos);
  }
  expect(pending.length).toBe(0);
  return commands;
}

describe('readStreamCommand', () => {
  it('reads a multi-bulk command: lower-cased name, arguments as views of the buffer, the position after it', () => {
    const buf = multiBulk('SET', 'Key', 'Value');
    const command = readStreamCommand(buf, 0)!;
    expect(command.name).toBe('set');
    expect(command.args.map((arg) => arg.toString())).toStrictEqual(['Key', 'Value']);
    expect(command.end).toBe(buf.length);
    expect(command.args[0]!.buffer).toBe(buf.buffer);
  });

  it('reads the inline form (the keep-alive newline, an inline PING)', () => {
    expect(readStreamCommand(b('\n'), 0)).toStrictEqual({ name: '', args: [], end: 1 });
    expect(readStreamCommand(b('PING\r\n'), 0)).toStrictEqual({ name: 'ping', args: [], end: 6 });
    expect(readStreamCommand(b('xx\nPING extra\n'), 3)).toStrictEqual({ name: 'ping', args: [], end: 14 });
  });

  it('keeps CR and LF inside a binary argument', () => {
    const command = readStreamCommand(multiBulk('RESTORE', 'k', '0', BINARY_VALUE), 0)!;
    expect(command.args[2]!.equals(BINARY_VALUE)).toBe(true);
  });

  it('reads an empty multi-bulk as a command with no name', () => {
    expect(readStreamCommand(b('*0\r\n'), 0)).toStrictEqual({ name: '', args: [], end: 4 });
  });

  it('answers undefined at the end of the buffer and for every incomplete prefix', () => {
    expect(readStreamCommand(STREAM, STREAM.length)).toBeUndefined();
    const first = multiBulk('SET', 'spin:key', BINARY_VALUE);
    for (let end = 0; end < first.length; end++) expect(readStreamCommand(first.subarray(0, end), 0)).toBeUndefined();
    expect(readStreamCommand(b('PING\r'), 0)).toBeUndefined();
  });

  it('reads a stream of commands with their exact sizes, which add up to the bytes received', () => {
    const commands = readChunks([STREAM]);
    expect(commands.map(({ name, args }) => ({ name, args }))).toStrictEqual(EXPECTED);
    expect(commands.map((c) => c.size)).toStrictEqual([23, 41, 1, 14, 37, 34, 6, 34]);
    expect(commands.reduce((sum, c) => sum + c.size, 0)).toBe(STREAM.length);
  });

  it('reads the same commands however the stream is split into chunks', () => {
    const whole = readChunks([STREAM]);
    for (let cut = 1; cut < STREAM.length; cut++) expect(readChunks([STREAM.subarray(0, cut), STREAM.subarray(cut)])).toStrictEqual(whole);
    expect(readChunks([...STREAM].map((byte) => Buffer.from([byte])))).toStrictEqual(whole);
  });
});

describe('isGetAck', () => {
  const command = (buf: Buffer): StreamCommand => readStreamCommand(buf, 0)!;

  it('is true for REPLCONF GETACK in any case', () => {
    expect(isGetAck(command(multiBulk('REPLCONF', 'GETACK', '*')))).toBe(true);
    expect(isGetAck(command(multiBulk('replconf', 'getack', '*')))).toBe(true);
  });

  it('is false for other REPLCONF subcommands and other commands', () => {
    expect(isGetAck(command(multiBulk('REPLCONF', 'ACK', '1234')))).toBe(false);
    expect(isGetAck(command(multiBulk('REPLCONF')))).toBe(false);
    expect(isGetAck(command(multiBulk('PING')))).toBe(false);
    expect(isGetAck(command(multiBulk('SET', 'GETACK', '*')))).toBe(false);
    expect(isGetAck(command(b('\n')))).toBe(false);
  });
});
