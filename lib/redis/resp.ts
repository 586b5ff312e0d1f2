/**
 * A minimal RESP2 connection for the replication copy, where ioredis's per-command
 * objects and promises cost more than the copy itself: commands are encoded straight
 * into buffers, written in large pipelines, and replies are counted off a FIFO.
 * TLS, AUTH and SELECT as for every other connection (see connect.ts), and the same bounds:
 * a server that goes silent while a reply is due, or answers with bytes that are not RESP,
 * fails the connection (every waiting reply becomes a RespError) instead of holding it.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { commandTimeoutMs, redisOptions, redactUrl, type RedisEndpoint } from './connect.js';
import { mapRedisError } from './errors.js';

export type RespValue = Buffer | number | null | RespError | RespValue[];

export class RespError {
  constructor(readonly message: string) {}
}

const CRLF = Buffer.from('\r\n');

/** `*n\r\n$len\r\narg\r\n…` for one command. */
export function encodeCommand(args: (Buffer | string)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return Buffer.concat(parts);
}

/**
 * Incremental RESP2 reply parser. `parse` returns the next complete value and the
 * position after it, or undefined when the buffer ends first.
 */
export function parseReply(buf: Buffer, start: number): { value: RespValue; end: number } | undefined {
  if (start >= buf.length) return undefined;
  const lineEnd = buf.indexOf(13, start);
  if (lineEnd < 0 || lineEnd + 1 >= buf.length) return undefined;
  const kind = buf[start]!;
  const line = buf.toString('latin1', start + 1, lineEnd);
  const after = lineEnd + 2;
  switch (kind) {
    case 43: // +
      return { value: Buffer.from(line, 'latin1'), end: after };
    case 45: // -
      return { value: new RespError(line), end: after };
    case 58: // :
      return { value: Number(line), end: after };
    case 36: {
      // $
      const length = Number(line);
      if (length < 0) return { value: null, end: after };
      if (after + length + 2 > buf.length) return undefined;
      return { value: buf.subarray(after, after + length), end: after + length + 2 };
    }
    case 42: {
      // *
      const count = Number(line);
      if (count < 0) return { value: null, end: after };
      const items: RespValue[] = [];
      let pos = after;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, pos);
        if (!item) return undefined;
        items.push(item.value);
        pos = item.end;
      }
      return { value: items, end: pos };
    }
    default:
      throw new Error(`RESP: unexpected reply type ${String.fromCharCode(kind)}`);
  }
}

/** A raw socket to Redis with a reply FIFO. Replies go to `onReply` in order. */
export class RespConnection {
  private buffered: Buffer | undefined;
  private readonly waiters: ((value: RespValue) => void)[] = [];
  private waiterHead = 0;
  private closedError: Error | undefined;
  /** When set, raw bytes go here instead of the reply parser (replication stream). */
  rawHandler: ((chunk: Buffer) => void) | undefined;
  onError: ((error: Error) => void) | undefined;
  /**
   * How long the server may say nothing while we wait on it: a reply is due (and we are not
   * still sending the command), or in raw mode (a replication stream, see replica-session.ts).
   * Time while the socket is paused (our own backpressure) does not count.
   */
  get idleTimeoutMs(): number {
    return this.idleMs;
  }
  set idleTimeoutMs(ms: number) {
    this.idleMs = ms;
    clearInterval(this.watchdog);
    if (this.closedError) return;
    // Checked ten times per bound (at most every second): it fires within about 1.2 times the bound.
    this.watchdog = setInterval(() => this.checkIdle(), Math.max(10, Math.min(1000, Math.floor(ms / 10))));
    this.watchdog.unref();
  }
  private idleMs = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private heard = false;
  private quietSince = Date.now();
  private lastWritten = 0;

  private constructor(
    readonly socket: Socket,
    readonly label: string,
    idleTimeoutMs: number,
  ) {
    this.idleTimeoutMs = idleTimeoutMs;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('Connection is closed')));
  }

  private fail(error: Error): void {
    clearInterval(this.watchdog);
    if (this.closedError) return;
    this.closedError = error;
    const pending = this.waiters.length - this.waiterHead;
    this.onError?.(error);
    if (pending > 0) for (let i = this.waiterHead; i < this.waiters.length; i++) this.waiters[i]!(new RespError(`connection lost: ${error.message}`));
    this.waiters.length = 0;
    this.waiterHead = 0;
  }

  private checkIdle(): void {
    const now = Date.now();
    const written = this.socket.bytesWritten;
    const waiting = this.rawHandler !== undefined || this.pendingReplies > 0;
    // A command still being written (a big RESTORE streamed from a file) has no reply yet; in raw
    // mode our own writes are REPLCONF ACKs every second, which say nothing about the server.
    const sending = this.rawHandler === undefined && written !== this.lastWritten;
    this.lastWritten = written;
    if (this.heard || !waiting || sending || this.socket.isPaused()) {
      this.heard = false;
      this.quietSince = now;
      return;
    }
    if (now - this.quietSince < this.idleTimeoutMs) return;
    this.fail(new Error(`no reply within ${this.idleTimeoutMs} ms`));
    this.socket.destroy();
  }

  static async open(endpoint: RedisEndpoint, name: string, db?: number): Promise<RespConnection> {
    const options = redisOptions(endpoint);
    const where = redactUrl(endpoint.url);
    const connectTimeout = options.connectTimeout ?? 5000;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const onError = (error: Error) => reject(mapRedisError(error, where));
      const s = options.tls ? tlsConnect({ host: options.host, port: options.port, ...options.tls }, () => resolve(s)) : netConnect({ host: options.host!, port: options.port! }, () => resolve(s));
      s.once('error', onError);
      s.setTimeout(connectTimeout, () => s.destroy(Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' })));
      s.once(options.tls ? 'secureConnect' : 'connect', () => {
        s.off('error', onError);
        s.setTimeout(0);
      });
    });
    // The handshake (AUTH, CLIENT SETNAME, SELECT) waits as any command does, as connectRedis's: a
    // server held by CLIENT PAUSE (a FAILOVER, an operator) answers late, not never.
    const connection = new RespConnection(socket, where, commandTimeoutMs(endpoint));
    const check = (reply: RespValue) => {
      if (reply instanceof RespError) throw mapRedisError(new Error(reply.message), where);
      return reply;
    };
    try {
      if (options.password) check(await connection.call(options.username ? ['AUTH', options.username, options.password] : ['AUTH', options.password]));
      check(await connection.call(['CLIENT', 'SETNAME', name]));
      const selected = db ?? options.db ?? 0;
      if (selected !== 0) check(await connection.call(['SELECT', String(selected)]));
      connection.idleTimeoutMs = commandTimeoutMs(endpoint);
    } catch (error) {
      // A refused AUTH leaves the socket open: close it, or the process never exits.
      connection.close();
      throw error;
    }
    return connection;
  }

  /** Sends an encoded command (or many) whose replies are handled by `onReply`, one per command. */
  send(bytes: Buffer, replies: number, onReply: (value: RespValue) => void): boolean {
    for (let i = 0; i < replies; i++) this.waiters.push(onReply);
    return this.socket.write(bytes);
  }

  call(args: (Buffer | string)[]): Promise<RespValue> {
    if (this.closedError) return Promise.resolve(new RespError(`connection lost: ${this.closedError.message}`));
    return new Promise((resolve) => this.send(encodeCommand(args), 1, resolve));
  }

  get pendingReplies(): number {
    return this.waiters.length - this.waiterHead;
  }

  get lost(): Error | undefined {
    return this.closedError;
  }

  /** Resolves once the socket's write buffer has drained. */
  drained(): Promise<void> {
    if (this.socket.writableLength === 0 || this.closedError) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('close', done);
        resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  /** Hands the leftover unparsed bytes over and switches to raw mode. */
  takeRaw(handler: (chunk: Buffer) => void): void {
    this.rawHandler = handler;
    const rest = this.buffered;
    this.buffered = undefined;
    if (rest && rest.length > 0) handler(rest);
  }

  private receive(chunk: Buffer): void {
    this.heard = true;
    if (this.rawHandler) return this.rawHandler(chunk);
    try {
      this.parse(chunk);
    } catch (error) {
      // Not RESP (an HTTP server, a TLS port spoken to in plain text…): thrown from a socket
      // listener, it would be an uncaught exception; the waiting replies get it instead.
      this.fail(new Error(`not RESP: got ${JSON.stringify(chunk.toString('latin1', 0, 40))}`, { cause: error }));
      this.socket.destroy();
    }
  }

  private parse(chunk: Buffer): void {
    let buf = this.buffered ? Buffer.concat([this.buffered, chunk]) : chunk;
    let pos = 0;
    while (pos < buf.length && this.waiterHead < this.waiters.length) {
      // A master sends bare newlines as keep-alives while a replica waits for its RDB.
      if (buf[pos] === 10) {
        pos++;
        continue;
      }
      // Fast path for the common `+OK\r\n`.
      if (buf[pos] === 43 && buf[pos + 1] === 79 && buf[pos + 2] === 75 && buf[pos + 3] === 13 && pos + 4 < buf.length) {
        pos += 5;
        this.deliver(OK);
        continue;
      }
      const parsed = parseReply(buf, pos);
      if (!parsed) break;
      pos = parsed.end;
      this.deliver(parsed.value);
      const raw = this.rawHandler as ((chunk: Buffer) => void) | undefined;
      if (raw) {
        // A reply switched this connection to raw mode (PSYNC): the rest is stream bytes.
        const rest = buf.subarray(pos);
        this.buffered = undefined;
        if (rest.length > 0) raw(rest);
        return;
      }
    }
    buf = buf.subarray(pos);
    this.buffered = buf.length > 0 ? buf : undefined;
  }

  private deliver(value: RespValue): void {
    const waiter = this.waiters[this.waiterHead++]!;
    if (this.waiterHead > 4096 && this.waiterHead * 2 > this.waiters.length) {
      this.waiters.splice(0, this.waiterHead);
      this.waiterHead = 0;
    }
    waiter(value);
  }

  close(): void {
    clearInterval(this.watchdog);
    this.socket.destroy();
  }
}

export const OK = Buffer.from('OK');
