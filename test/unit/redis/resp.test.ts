/**
 * The RESP2 encoder and reply parser of the replication copy, and RespConnection's reply FIFO
 * over a stand-in socket: every reply type, nesting, frames split at every byte, binary and big
 * bulk strings, errors, the switch to raw stream bytes after PSYNC. No network.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { encodeCommand, OK, parseReply, RespConnection, RespError, type RespValue } from '../../../lib/redis/resp.js';

const b = (text: string) => Buffer.from(text, 'latin1');

/** Every reply type once, including nesting, nulls, empties and a bulk string holding CRLF. */
const MIXED = b(
  '+OK\r\n' +
    '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n' +
    ':1000\r\n' +
    ':-7\r\n' +
    '$5\r\nhello\r\n' +
    '$0\r\n\r\n' +
    '$-1\r\n' +
    '$4\r\na\r\nb\r\n' +
    '*0\r\n' +
    '*-1\r\n' +
    '*3\r\n:1\r\n*2\r\n$1\r\nx\r\n-ERR inner\r\n$-1\r\n' +
    '+\r\n',
);
const MIXED_VALUES: RespValue[] = [
  b('OK'),
  new RespError('WRONGTYPE Operation against a key holding the wrong kind of value'),
  1000,
  -7,
  b('hello'),
  b(''),
  null,
  b('a\r\nb'),
  [],
  null,
  [1, [b('x'), new RespError('ERR inner')], null],
  b(''),
];

/** Feed chunks the way a socket delivers them: parse what is complete, keep the rest. */
function parseChunks(chunks: Buffer[]): RespValue[] {
  const values: RespValue[] = [];
  let pending = Buffer.alloc(0);
  for (const chunk of chunks) {
    pending = Buffer.concat([pending, chunk]);
    let pos = 0;
    for (let next = parseReply(pending, pos); next; next = parseReply(pending, pos)) {
      values.push(next.value);
      pos = next.end;
    }
    pending = pending.subarray(pos);
  }
  expect(pending.length).toBe(0);
  return values;
}

describe('encodeCommand', () => {
  it('writes a RESP array of bulk strings, lengths in bytes', () => {
    expect(encodeCommand(['SET', 'key', 'value']).toString('latin1')).toBe('*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n');
    expect(encodeCommand(['SET', 'é', '']).toString('latin1')).toBe('*3\r\n$3\r\nSET\r\n$2\r\n\xc3\xa9\r\n$0\r\n\r\n');
    expect(encodeCommand([]).toString('latin1')).toBe('*0\r\n');
  });

  it('passes binary arguments through byte for byte', () => {
    const payload = Buffer.from([0, 13, 10, 255, 42, 36]);
    const encoded = encodeCommand(['RESTORE', payload]);
    expect(encoded.equals(Buffer.concat([b('*2\r\n$7\r\nRESTORE\r\n$6\r\n'), payload, b('\r\n')]))).toBe(true);
  });

  it('is read back by the parser as the same arguments', () => {
    const args = [b('HSET'), b('h'), randomBytes(300), b('')];
    expect(parseReply(encodeCommand(args), 0)).toStrictEqual({ value: args, end: encodeCommand(args).length });
  });
});

describe('parseReply', () => {
  it.each<[string, string, RespValue]>([
    ['simple string', '+PONG\r\n', b('PONG')],
    ['empty simple string', '+\r\n', b('')],
    ['error', '-ERR unknown command\r\n', new RespError('ERR unknown command')],
    ['integer', ':42\r\n', 42],
    ['negative integer', ':-2\r\n', -2],
    ['bulk string', '$3\r\nfoo\r\n', b('foo')],
    ['empty bulk string', '$0\r\n\r\n', b('')],
    ['null bulk string', '$-1\r\n', null],
    ['empty array', '*0\r\n', []],
    ['null array', '*-1\r\n', null],
    ['array of everything', '*5\r\n+a\r\n-b\r\n:3\r\n$1\r\nd\r\n$-1\r\n', [b('a'), new RespError('b'), 3, b('d'), null]],
    ['nested arrays', '*2\r\n*2\r\n:1\r\n*1\r\n$1\r\nz\r\n*0\r\n', [[1, [b('z')]], []]],
  ])('%s', (_, wire, value) => {
    const buf = b(wire);
    expect(parseReply(buf, 0)).toStrictEqual({ value, end: buf.length });
  });

  it('reads consecutive replies from their start positions', () => {
    expect(parseChunks([MIXED])).toStrictEqual(MIXED_VALUES);
    const buf = b('XX:1\r\n+two\r\n');
    expect(parseReply(buf, 2)).toStrictEqual({ value: 1, end: 6 });
    expect(parseReply(buf, 6)).toStrictEqual({ value: b('two'), end: buf.length });
    expect(parseReply(buf, buf.length)).toBeUndefined();
  });

  it('answers undefined for every incomplete prefix of a reply', () => {
    for (let end = 0; end < MIXED.length; end++) {
      const first = parseReply(MIXED.subarray(0, end), 0);
      if (end < 5) expect(first).toBeUndefined();
      else expect(first).toStrictEqual({ value: b('OK'), end: 5 });
    }
    const nested = b('*3\r\n:1\r\n*2\r\n$1\r\nx\r\n-ERR inner\r\n$-1\r\n');
    for (let end = 0; end < nested.length; end++) expect(parseReply(nested.subarray(0, end), 0)).toBeUndefined();
  });

  it('gives the same replies however the bytes are split into chunks', () => {
    for (let cut = 1; cut < MIXED.length; cut++) {
      expect(parseChunks([MIXED.subarray(0, cut), MIXED.subarray(cut)])).toStrictEqual(MIXED_VALUES);
    }
    expect(parseChunks([...MIXED].map((byte) => Buffer.from([byte])))).toStrictEqual(MIXED_VALUES);
  });

  it('reads a big binary bulk string whole, as a view of the buffer', () => {
    const body = randomBytes(8 * 1024 * 1024);
    const buf = Buffer.concat([b(`$${body.length}\r\n`), body, b('\r\n')]);
    expect(parseReply(buf.subarray(0, buf.length - 1), 0)).toBeUndefined();
    const parsed = parseReply(buf, 0)!;
    expect(parsed.end).toBe(buf.length);
    const value = parsed.value as Buffer;
    expect(value.equals(body)).toBe(true);
    expect(value.buffer).toBe(buf.buffer);
  });

  it('refuses a reply type RESP2 does not have', () => {
    expect(() => parseReply(b('!3\r\nbad\r\n'), 0)).toThrow('RESP: unexpected reply type !');
    expect(() => parseReply(b('*1\r\n%1\r\n'), 0)).toThrow('RESP: unexpected reply type %');
  });
});

/** Just enough of net.Socket for RespConnection: records writes, emits what the server "sends". */
class FakeSocket extends EventEmitter {
  readonly written: Buffer[] = [];
  writableLength = 0;
  destroyed = false;
  setNoDelay(): this {
    return this;
  }
  write(bytes: Buffer): boolean {
    this.written.push(bytes);
    return true;
  }
  destroy(): this {
    this.destroyed = true;
    this.emit('close');
    return this;
  }
  receive(...chunks: (string | Buffer)[]): void {
    for (const chunk of chunks) this.emit('data', typeof chunk === 'string' ? b(chunk) : chunk);
  }
}

/** RespConnection.open() dials a server; its constructor is private, so build one over the fake socket. */
function connectionOver(socket: FakeSocket): RespConnection {
  const Construct = RespConnection as unknown as new (socket: FakeSocket, label: string) => RespConnection;
  return new Construct(socket, 'redis://fake:6379');
}

describe('RespConnection', () => {
  it('writes each call encoded and answers replies in order', async () => {
    const socket = new FakeSocket();
    const connection = connectionOver(socket);
    const replies = [connection.call(['PING']), connection.call(['GET', 'k']), connection.call(['INCR', 'n'])];
    expect(connection.pendingReplies).toBe(3);
    expect(Buffer.concat(socket.written).toString('latin1')).toBe('*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n');
    socket.receive('+PONG\r\n$5\r\nvalue\r\n:7\r\n');
    await expect(Promise.all(replies)).resolves.toStrictEqual([b('PONG'), b('value'), 7]);
    expect(connection.pendingReplies).toBe(0);
  });

  it('delivers the same replies whatever the chunking, skipping keep-alive newlines', async () => {
    const wire = b('+OK\r\n\n\n$3\r\nfoo\r\n\n*2\r\n:1\r\n-ERR no\r\n+OK\r\n');
    for (let cut = 1; cut < wire.length; cut++) {
      const socket = new FakeSocket();
      const connection = connectionOver(socket);
      const replies = [0, 1, 2, 3].map(() => connection.call(['X']));
      socket.receive(wire.subarray(0, cut), wire.subarray(cut));
      await expect(Promise.all(replies)).resolves.toStrictEqual([OK, b('foo'), [1, new RespError('ERR no')], OK]);
    }
    const socket = new FakeSocket();
    const connection = connectionOver(socket);
    const replies = [0, 1, 2, 3].map(() => connection.call(['X']));
    socket.receive(...[...wire].map((byte) => Buffer.from([byte])));
    await expect(Promise.all(replies)).resolves.toStrictEqual([OK, b('foo'), [1, new RespError('ERR no')], OK]);
  });

  it('counts several replies for one send', () => {
    const socket = new FakeSocket();
    const connection = connectionOver(socket);
    const got: RespValue[] = [];
    connection.send(Buffer.concat([encodeCommand(['SELECT', '1']), encodeCommand(['SET', 'a', '1'])]), 2, (value) => got.push(value));
    socket.receive('+OK\r\n-OOM command not allowed\r\n');
    expect(got).toStrictEqual([OK, new RespError('OOM command not allowed')]);
  });

  it('after PSYNC hands the rest of the chunk, and everything after, to the raw handler', () => {
    const socket = new FakeSocket();
    const connection = connectionOver(socket);
    const raw: Buffer[] = [];
    const replies: RespValue[] = [];
    connection.send(encodeCommand(['PSYNC', '?', '-1']), 1, (reply) => {
      replies.push(reply);
      connection.takeRaw((chunk) => raw.push(chunk));
    });
    socket.receive('+FULLRESYNC 8de1787ba490483314a4d30f1c628bc5ab6fdbc2 0\r\n$9\r\nREDIS0011', '\xfa more');
    expect(replies).toStrictEqual([b('FULLRESYNC 8de1787ba490483314a4d30f1c628bc5ab6fdbc2 0')]);
    expect(Buffer.concat(raw).toString('latin1')).toBe('$9\r\nREDIS0011\xfa more');
  });

  it('answers pending and later calls with "connection lost" once the socket closes', async () => {
    const socket = new FakeSocket();
    const connection = connectionOver(socket);
    const errors: Error[] = [];
    connection.onError = (error) => errors.push(error);
    const pending = connection.call(['GET', 'k']);
    socket.emit('error', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    socket.emit('close');
    await expect(pending).resolves.toStrictEqual(new RespError('connection lost: read ECONNRESET'));
    await expect(connection.call(['PING'])).resolves.toStrictEqual(new RespError('connection lost: read ECONNRESET'));
    expect(errors.map((e) => e.message)).toStrictEqual(['read ECONNRESET']);
    expect(connection.lost?.message).toBe('read ECONNRESET');
    expect(connection.pendingReplies).toBe(0);
  });
});
