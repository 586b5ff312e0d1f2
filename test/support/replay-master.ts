/**
 * A recorded Redis master, played to a replica: what lets CI put the copy engine in front of
 * Redis 3.2, 4.0, 5.0, 6.2 and Valkey 8 without those servers. It reads a recording from
 * test/fixtures/redis-fullsync/<server>/ (see its README.md), answers the replica handshake
 * (PING, AUTH, REPLCONF, PSYNC) with the recorded one-line answers, then sends the recorded
 * full sync (`$<length>`, the RDB, the replication stream of writes), optionally in small
 * chunks to exercise framing, and continues the stream after `PSYNC <replid> <offset>` as
 * the version does (`+CONTINUE`, with or without an id).
 *
 * The control commands our copy sends a source on ordinary connections (INFO, CONFIG GET,
 * CLIENT SETNAME, COMMAND, DUMP for the payload probe…) are answered the way that version
 * answers them. Data reads (TYPE, DUMP, SCAN, EVAL…) are served by a real redis-server
 * (the "backing", 7.0.15 on CI) that holds the recording's final dataset: the recording has
 * no answers to them, so they come from a server holding the same keys. Every such choice is
 * marked "not in the recording" below, with the Redis source file it follows.
 *
 * Time: the recordings carry absolute expiries (RDB expiry opcodes, `PXAT`/`PEXPIREAT` in
 * the 7.x streams) from the moment they were made; replayed later as they are, every TTL
 * would already be in the past. `loadRecording` moves every absolute expiry forward by
 * (now − the RDB's `ctime`), keeping each number's width, and recomputes the RDB's CRC-64:
 * the replica sees the dataset as fresh as the real master had it. Nothing else changes.
 */
import { readFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { crc64 } from '../../lib/copy/replication/crc64.js';
import { RdbSplitter } from '../../lib/copy/replication/rdb-splitter.js';
import { readStreamCommand } from '../../lib/copy/replication/stream-command.js';
import { encodeCommand, parseReply } from '../../lib/redis/resp.js';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'redis-fullsync');
export const RECORDINGS = ['redis-3.2.13', 'redis-4.0.14', 'redis-5.0.14', 'redis-6.2.16', 'redis-7.0.15', 'valkey-8.0.1'] as const;
export type RecordingName = (typeof RECORDINGS)[number];

export interface Recording {
  name: RecordingName;
  /** `redis_version` as the server reports it (Valkey 8.0.1 says 7.2.4). */
  redisVersion: string;
  /** [major, minor] of redisVersion, for "does this version have X" checks. */
  major: number;
  minor: number;
  serverInfo: string;
  /** The recorded handshake answers, keyed by the lower-cased command (`ping`, `replconf`, `psync`). */
  answers: Map<string, Buffer>;
  /** The `+FULLRESYNC <replid> <offset>` line's parts. */
  replid: string;
  startOffset: number;
  /** Bare newlines the master sent while it forked. */
  preamble: Buffer;
  /** The RDB snapshot (time-shifted). */
  rdb: Buffer;
  rdbVersion: number;
  /** The replication stream after the snapshot (time-shifted). */
  stream: Buffer;
  /** How far the absolute expiries were moved, ms. */
  shiftMs: number;
}

const versionAtLeast = (r: Pick<Recording, 'major' | 'minor'>, major: number, minor = 0) => r.major > major || (r.major === major && r.minor >= minor);

/** Reads a recording and moves its absolute expiries to `now`'s frame. */
export function loadRecording(name: RecordingName, now = Date.now()): Recording {
  const dir = join(FIXTURES, name);
  const handshake = JSON.parse(readFileSync(join(dir, 'handshake.json'), 'utf8')) as { handshake: { send: string[]; answer: string }[] };
  const answers = new Map(handshake.handshake.map((h) => [h.send[0]!.toLowerCase(), Buffer.from(h.answer, 'base64')]));
  const fullresync = answers.get('psync')!.toString('latin1').trim().split(' ');
  const serverInfo = readFileSync(join(dir, 'server.txt'), 'utf8');
  const redisVersion = /redis_version:(\S+)/.exec(serverInfo)![1]!;
  const [major = 0, minor = 0] = redisVersion.split('.').map(Number);
  const bin = readFileSync(join(dir, 'fullsync.bin'));
  let p = 0;
  while (bin[p] === 10) p++;
  const lineEnd = bin.indexOf('\r\n', p);
  const length = Number(bin.toString('latin1', p + 1, lineEnd));
  const rdbStart = lineEnd + 2;
  const rdb = Buffer.from(bin.subarray(rdbStart, rdbStart + length));
  const ctime = rdbCtime(rdb);
  const shiftMs = now - ctime * 1000;
  const rdbVersion = Number(rdb.toString('latin1', 5, 9));
  shiftRdbExpiries(rdb, shiftMs);
  return {
    name,
    redisVersion,
    major,
    minor,
    serverInfo,
    answers,
    replid: fullresync[1]!,
    startOffset: Number(fullresync[2]),
    preamble: bin.subarray(0, p),
    rdb,
    rdbVersion,
    stream: shiftStreamExpiries(bin.subarray(rdbStart + length), shiftMs),
    shiftMs,
  };
}

/** The recorded dump.rdb, time-shifted like the snapshot in fullsync.bin (they are the same bytes). */
export function loadDumpRdb(name: RecordingName, now = Date.now()): Buffer {
  const rdb = Buffer.from(readFileSync(join(FIXTURES, name, 'dump.rdb')));
  shiftRdbExpiries(rdb, now - rdbCtime(rdb) * 1000);
  return rdb;
}

/** The `ctime` AUX field (seconds): when the master took the snapshot. */
function rdbCtime(rdb: Buffer): number {
  const at = rdb.indexOf(Buffer.from('\xfa\x05ctime', 'latin1'));
  if (at < 0) throw new Error('recording: no ctime AUX field in the RDB');
  const value = at + 7;
  // rdbSaveAuxFieldStrInt writes it as an integer-encoded string (rdb.c): 0xC2 = int32 LE.
  if (rdb[value] === 0xc2) return rdb.readInt32LE(value + 1);
  throw new Error(`recording: unexpected ctime encoding 0x${rdb[value]?.toString(16)}`);
}

/**
 * Moves every key's absolute expiry (opcode 0xFC ms / 0xFD s) by `shiftMs`, in place, and
 * recomputes the trailing CRC-64. Where each entry lies comes from feeding the splitter one
 * byte at a time: an entry is reported at the byte that ends it, and its expiry opcode and
 * value are the first such pattern after the previous entry's end.
 */
function shiftRdbExpiries(rdb: Buffer, shiftMs: number): void {
  const found: { from: number; to: number; expireAt: number }[] = [];
  let previousEnd = 9;
  let at = 0;
  const splitter = new RdbSplitter({
    entry: (entry) => {
      if (entry.expireAt > 0) found.push({ from: previousEnd, to: at + 1, expireAt: entry.expireAt });
      previousEnd = at + 1;
    },
  });
  for (at = 0; at < rdb.length; at++) splitter.push(rdb.subarray(at, at + 1));
  for (const { from, to, expireAt } of found) {
    const ms = Buffer.alloc(9);
    ms[0] = 0xfc;
    ms.writeBigInt64LE(BigInt(expireAt), 1);
    let pos = rdb.subarray(from, to).indexOf(ms);
    if (pos >= 0) {
      rdb.writeBigInt64LE(BigInt(expireAt + shiftMs), from + pos + 1);
      continue;
    }
    const s = Buffer.alloc(5);
    s[0] = 0xfd;
    s.writeInt32LE(Math.floor(expireAt / 1000), 1);
    pos = rdb.subarray(from, to).indexOf(s);
    if (pos < 0) throw new Error(`recording: expiry ${expireAt} not found between ${from} and ${to}`);
    rdb.writeInt32LE(Math.floor((expireAt + shiftMs) / 1000), from + pos + 1);
  }
  const version = Number(rdb.toString('latin1', 5, 9));
  // RDB 5+ ends with a CRC-64 of everything before it (rdb.c rdbSaveRio); zero means "not checked".
  if (version >= 5 && !rdb.subarray(rdb.length - 8).equals(Buffer.alloc(8))) crc64(rdb.subarray(0, rdb.length - 8)).copy(rdb, rdb.length - 8);
}

/** `PXAT`/`EXAT`/`PEXPIREAT`/`EXPIREAT` arguments in the stream moved by `shiftMs`, same widths (so offsets do not move). */
function shiftStreamExpiries(stream: Buffer, shiftMs: number): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const command = readStreamCommand(stream, pos);
    if (!command) break;
    const raw = stream.subarray(pos, command.end);
    const args = command.args.map((a) => a.toString('latin1'));
    const shift = (i: number, unit: number) => {
      const moved = String(Number(args[i]) + Math.round(shiftMs / unit));
      if (moved.length !== args[i]!.length) throw new Error('recording: a shifted expiry changed width');
      args[i] = moved;
    };
    let changed = false;
    if (command.name === 'pexpireat' || command.name === 'expireat') {
      shift(1, command.name === 'pexpireat' ? 1 : 1000);
      changed = true;
    }
    if (command.name === 'set' || command.name === 'getex') {
      for (let i = 2; i < args.length - 1; i++) {
        const option = args[i]!.toLowerCase();
        if (option === 'pxat' || option === 'exat') {
          shift(i + 1, option === 'pxat' ? 1 : 1000);
          changed = true;
        }
      }
    }
    if (changed) {
      // The name keeps its recorded bytes; the widths are unchanged, so the stream's offsets are too.
      const rebuilt = encodeCommand([readName(raw), ...args.map((a) => Buffer.from(a, 'latin1'))]);
      if (rebuilt.length !== raw.length) throw new Error('recording: a shifted command changed length');
      out.push(rebuilt);
    } else out.push(raw);
    pos = command.end;
  }
  if (pos !== stream.length) throw new Error(`recording: ${stream.length - pos} bytes of the stream do not parse`);
  return Buffer.concat(out);
}

function readName(raw: Buffer): Buffer {
  const first = raw.indexOf('\r\n') + 2;
  const lineEnd = raw.indexOf('\r\n', first);
  const length = Number(raw.toString('latin1', first + 1, lineEnd));
  return raw.subarray(lineEnd + 2, lineEnd + 2 + length);
}

export interface ReplayOptions {
  /** Served by the backing redis-server (host:port): data reads on ordinary connections. */
  backing?: { host: string; port: number };
  /** requirepass. */
  password?: string;
  /** Send the full sync in chunks of this many bytes (default: one write). */
  chunkSize?: number;
  /** Send only the snapshot on a full sync; the stream becomes available with releaseStream() (for the catch-up). */
  holdStream?: boolean;
}

/** Commands a version does not have, and the version that brought them (src/server.c command tables, release notes). */
const INTRODUCED: Record<string, [number, number]> = {
  unlink: [4, 0],
  swapdb: [4, 0],
  memory: [4, 0],
  touch: [3, 2],
  xadd: [5, 0],
  xrange: [5, 0],
  xinfo: [5, 0],
  xgroup: [5, 0],
  xreadgroup: [5, 0],
  xack: [5, 0],
  xpending: [5, 0],
  xclaim: [5, 0],
  xtrim: [5, 0],
  xlen: [5, 0],
  zpopmin: [5, 0],
  zpopmax: [5, 0],
  hello: [6, 0],
  acl: [6, 0],
  copy: [6, 2],
  getdel: [6, 2],
  getex: [6, 2],
  lmove: [6, 2],
  pexpiretime: [7, 0],
  expiretime: [7, 0],
  function: [7, 0],
  fcall: [7, 0],
};

/** "unknown command" as each version words it (src/server.c processCommand). */
function unknownCommand(r: Recording, name: string, args: Buffer[]): Buffer {
  if (!versionAtLeast(r, 5, 0)) return Buffer.from(`-ERR unknown command '${name}'\r\n`);
  const start = args
    .slice(0, 10)
    .map((a) => `'${a.toString('latin1')}', `)
    .join('');
  return Buffer.from(`-ERR unknown command \`${name}\`, with args beginning with: ${start}\r\n`);
}

export class ReplayMaster {
  private server!: Server;
  private readonly sockets = new Set<Socket>();
  private streamAvailable: boolean;
  /** Every command received, lower-cased name first (what the copy sent the "source"). */
  readonly received: string[][] = [];
  port = 0;

  private constructor(
    readonly recording: Recording,
    private readonly options: ReplayOptions,
  ) {
    this.streamAvailable = !options.holdStream;
  }

  static async start(recording: Recording, options: ReplayOptions = {}): Promise<ReplayMaster> {
    const master = new ReplayMaster(recording, options);
    master.server = createServer((socket) => master.serve(socket));
    await new Promise<void>((resolve) => master.server.listen(0, '127.0.0.1', resolve));
    const address = master.server.address();
    master.port = typeof address === 'object' && address ? address.port : 0;
    return master;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The master's replication offset: the last byte of the stream it has produced. */
  get masterReplOffset(): number {
    return this.recording.startOffset + (this.streamAvailable ? this.recording.stream.length : 0);
  }

  /** The writes after the snapshot "happen" now: a later PSYNC continues with them. */
  releaseStream(): void {
    this.streamAvailable = true;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const r = this.recording;
    let buffered: Buffer = Buffer.alloc(0);
    let authed = !this.options.password;
    let replica = false;
    let psync2 = false;
    // Replies in order: local ones are ready at once, proxied ones when the backing answers.
    const queue: { reply?: Buffer }[] = [];
    let backing: Socket | undefined;
    let backingBuffer: Buffer = Buffer.alloc(0);
    const awaiting: { reply?: Buffer }[] = [];
    const flush = () => {
      while (queue.length > 0 && queue[0]!.reply !== undefined) {
        const item = queue.shift()!;
        if (item.reply!.length > 0 && !socket.destroyed) socket.write(item.reply!);
      }
    };
    const local = (reply: Buffer | string) => {
      queue.push({ reply: typeof reply === 'string' ? Buffer.from(reply, 'latin1') : reply });
      flush();
    };
    const proxy = (command: Buffer, rewrite?: (reply: Buffer) => Buffer) => {
      if (!this.options.backing) return local('-ERR replay master: no backing server for data commands\r\n');
      if (!backing) {
        backing = createConnection(this.options.backing);
        backing.on('error', () => socket.destroy());
        socket.on('close', () => backing?.destroy());
        backing.on('data', (chunk: Buffer) => {
          backingBuffer = backingBuffer.length > 0 ? Buffer.concat([backingBuffer, chunk]) : chunk;
          let pos = 0;
          for (;;) {
            const end = replyEnd(backingBuffer, pos);
            if (end < 0) break;
            const item = awaiting.shift()!;
            const raw = Buffer.from(backingBuffer.subarray(pos, end));
            item.reply = (item as { rewrite?: (b: Buffer) => Buffer }).rewrite?.(raw) ?? raw;
            pos = end;
          }
          backingBuffer = backingBuffer.subarray(pos);
          flush();
        });
      }
      const item: { reply?: Buffer; rewrite?: (b: Buffer) => Buffer } = rewrite ? { rewrite } : {};
      queue.push(item);
      awaiting.push(item);
      backing.write(command);
    };

    const fullSync = () => {
      local(r.answers.get('psync')!);
      const bytes = Buffer.concat([r.preamble, Buffer.from(`$${r.rdb.length}\r\n`), r.rdb, this.streamAvailable ? r.stream : Buffer.alloc(0)]);
      this.send(socket, bytes);
    };

    const handle = (name: string, args: Buffer[], raw: Buffer) => {
      this.received.push([name, ...args.map((a) => a.toString('latin1'))]);
      const text = (i: number) => args[i]?.toString('latin1') ?? '';
      if (name === 'auth') {
        // src/server.c authCommand (3.2–5.0) / src/acl.c (6.0+): the wording is the version's.
        if (!this.options.password) {
          return local(
            versionAtLeast(r, 6)
              ? '-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n'
              : '-ERR Client sent AUTH, but no password is set\r\n',
          );
        }
        const given = args.length === 2 && versionAtLeast(r, 6) ? text(1) : text(0);
        if (given === this.options.password) {
          authed = true;
          return local('+OK\r\n');
        }
        return local(versionAtLeast(r, 6) ? '-WRONGPASS invalid username-password pair or user is disabled.\r\n' : '-ERR invalid password\r\n');
      }
      // A command the version lacks is refused before the AUTH check (src/server.c processCommand).
      const introduced = INTRODUCED[name];
      if (introduced && !versionAtLeast(r, ...introduced)) return local(unknownCommand(r, name, args));
      if (name === 'hello') {
        // 6.0+ (src/networking.c helloCommand): HELLO <protover> [AUTH <user> <pass>] authenticates here;
        // the protocol switch itself is the backing's, so its replies come in the protocol asked for.
        const authAt = args.findIndex((a) => a.toString('latin1').toLowerCase() === 'auth');
        if (authAt >= 0) {
          if (this.options.password === undefined || text(authAt + 2) !== this.options.password) return local('-WRONGPASS invalid username-password pair or user is disabled.\r\n');
          authed = true;
        }
        if (!authed)
          return local(
            '-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n',
          );
        return proxy(encodeCommand(['HELLO', ...(args[0] ? [args[0]] : [])]));
      }
      if (!authed) return local('-NOAUTH Authentication required.\r\n');
      switch (name) {
        case 'ping':
          return local(r.answers.get('ping')!);
        case 'replconf': {
          const sub = text(0).toLowerCase();
          if (sub === 'ack') return; // no reply, as a master does
          if (sub === 'capa') psync2 ||= args.some((a) => a.toString('latin1').toLowerCase() === 'psync2');
          return local(r.answers.get('replconf')!);
        }
        case 'sync':
        case 'psync': {
          replica = true;
          const [id, offsetText] = [text(0), text(1)];
          const offset = Number(offsetText);
          // src/replication.c masterTryPartialResynchronization: same id (3.2: runid) and the
          // offset within the backlog, else a full resync. Not in the recording: the answer's
          // wording is the version's (3.2: "+CONTINUE"; 4.0+: "+CONTINUE <replid>" to a psync2 replica).
          const end = this.masterReplOffset;
          if (name === 'psync' && id === r.replid && offset >= r.startOffset + 1 && offset <= end + 1) {
            local(versionAtLeast(r, 4) && psync2 ? `+CONTINUE ${r.replid}\r\n` : '+CONTINUE\r\n');
            this.send(socket, r.stream.subarray(offset - (r.startOffset + 1), end - r.startOffset));
            return;
          }
          return fullSync();
        }
        case 'client': {
          const sub = text(0).toLowerCase();
          if (sub === 'setname') return local('+OK\r\n');
          if (sub === 'getname') return local('$-1\r\n');
          // CLIENT SETINFO came with 7.2 (src/networking.c); older versions list their subcommands.
          if (sub === 'setinfo' && !versionAtLeast(r, 7, 2)) return local('-ERR Syntax error, try CLIENT (LIST | KILL | GETNAME | SETNAME | PAUSE | REPLY)\r\n');
          return proxy(raw);
        }
        case 'config': {
          const sub = text(0).toLowerCase();
          if (sub === 'set') return local('+OK\r\n');
          if (sub === 'get') {
            // The recordings were made with repl-diskless-sync no (fixtures README); the delay is
            // the default of every version, 5 (src/config.c).
            const known: Record<string, string> = { 'repl-diskless-sync': 'no', 'repl-diskless-sync-delay': '5', 'repl-backlog-size': '1048576', 'notify-keyspace-events': '', maxmemory: '0' };
            const value = known[text(1).toLowerCase()];
            return local(value === undefined ? '*0\r\n' : encodeCommand([text(1).toLowerCase(), value]));
          }
          return proxy(raw);
        }
        case 'info':
          return this.info(text(0).toLowerCase(), local, proxy);
        case 'dump':
          // Not in the recording: the backing's DUMP, labelled with this version's RDB version
          // (what the payload probe reads). Bodies are the backing's encodings: a target at
          // least as new as this version reads them the same.
          return proxy(raw, (reply) => relabelDump(reply, r.rdbVersion));
        case 'restore':
          // RESTORE … ABSTTL came with 5.0 (src/cluster.c restoreCommand): 3.2 and 4.0 answer a syntax error.
          if (!versionAtLeast(r, 5) && args.slice(3).some((a) => a.toString('latin1').toLowerCase() === 'absttl')) return local('-ERR syntax error\r\n');
          return proxy(raw);
        case 'scan':
          // SCAN … TYPE came with 6.0 (src/db.c scanGenericCommand).
          if (!versionAtLeast(r, 6) && args.some((a) => a.toString('latin1').toLowerCase() === 'type')) return local('-ERR syntax error\r\n');
          return proxy(raw);
        default:
          // Not in the recording: data commands, COMMAND / COMMAND GETKEYS and SELECT go to the
          // backing (7.0.15). Key positions of the commands old versions have are the same in
          // 7.0's table; commands a version lacks are refused above.
          return proxy(raw);
      }
    };

    socket.on('data', (chunk: Buffer) => {
      if (replica) return; // REPLCONF ACKs from a replica: ignored
      buffered = buffered.length > 0 ? Buffer.concat([buffered, chunk]) : chunk;
      let pos = 0;
      for (;;) {
        let command = readStreamCommand(buffered, pos);
        if (!command) break;
        const raw = buffered.subarray(pos, command.end);
        if (buffered[pos] !== 42) {
          // Inline command (redis-cli, telnet): split on spaces.
          const words = buffered.toString('latin1', pos, command.end).trim().split(/\s+/).filter(Boolean);
          command = { name: (words[0] ?? '').toLowerCase(), args: words.slice(1).map((w) => Buffer.from(w, 'latin1')), end: command.end };
          pos = command.end;
          if (command.name) handle(command.name, command.args, encodeCommand([words[0]!, ...command.args]));
          continue;
        }
        pos = command.end;
        handle(command.name, command.args, Buffer.from(raw));
        if (replica) break;
      }
      buffered = buffered.subarray(pos);
    });
  }

  private info(section: string, local: (reply: string) => void, proxy: (command: Buffer, rewrite?: (reply: Buffer) => Buffer) => void): void {
    const r = this.recording;
    // src/server.c genRedisInfoString of each version. server: the recorded lines (server.txt).
    const server = `# Server\r\n${r.serverInfo.trim().split('\n').join('\r\n')}\r\n`;
    const replication = versionAtLeast(r, 4)
      ? `# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_replid:${r.replid}\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:${this.masterReplOffset}\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:1\r\nrepl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:${r.startOffset + 1}\r\nrepl_backlog_histlen:${this.masterReplOffset - r.startOffset}\r\n`
      : // 3.2: no master_replid (PSYNC v1 uses the run_id, which INFO server shows).
        `# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_repl_offset:${this.masterReplOffset}\r\nrepl_backlog_active:1\r\nrepl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:${r.startOffset + 1}\r\nrepl_backlog_histlen:${this.masterReplOffset - r.startOffset}\r\n`;
    const bulk = (text: string) => `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
    // Not in the recording: the keyspace is the backing's, i.e. the dataset after the recorded writes.
    const withKeyspace = (prefix: string) =>
      proxy(encodeCommand(['INFO', 'keyspace']), (reply) => {
        // RESP2 bulk, or a RESP3 verbatim string ("txt:" first) when the client asked HELLO 3.
        const body = reply.subarray(reply.indexOf('\r\n') + 2, reply.length - 2).toString('latin1');
        const text = reply[0] === 61 ? body.slice(4) : body;
        return Buffer.from(bulk(`${prefix}${prefix ? '\r\n' : ''}${text}`), 'latin1');
      });
    switch (section) {
      case 'server':
        local(bulk(server));
        return;
      case 'replication':
        local(bulk(replication));
        return;
      case 'keyspace':
        withKeyspace('');
        return;
      case '':
      case 'all':
      case 'default':
      case 'everything':
        withKeyspace(`${server}\r\n${replication}\r\n# Persistence\r\nloading:0\r\n`);
        return;
      default:
        local(bulk(''));
    }
  }

  private send(socket: Socket, bytes: Buffer): void {
    const size = this.options.chunkSize ?? bytes.length;
    let at = 0;
    const next = () => {
      if (socket.destroyed || at >= bytes.length) return;
      socket.write(bytes.subarray(at, at + size));
      at += size;
      setImmediate(next);
    };
    next();
  }
}

/** Where the RESP2/RESP3 reply at `start` ends, or -1 while incomplete. */
function replyEnd(buf: Buffer, start: number): number {
  if (start >= buf.length) return -1;
  const lineEnd = buf.indexOf('\r\n', start);
  if (lineEnd < 0) return -1;
  const kind = String.fromCharCode(buf[start]!);
  const n = Number(buf.toString('latin1', start + 1, lineEnd));
  const after = lineEnd + 2;
  switch (kind) {
    case '$':
    case '=':
    case '!':
      if (n < 0) return after;
      return after + n + 2 <= buf.length ? after + n + 2 : -1;
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      if (n < 0) return after;
      let pos = after;
      const items = kind === '%' || kind === '|' ? n * 2 : n;
      for (let i = 0; i < items; i++) {
        pos = replyEnd(buf, pos);
        if (pos < 0) return -1;
      }
      // An attribute (|) precedes the reply it describes.
      return kind === '|' ? replyEnd(buf, pos) : pos;
    }
    default:
      return after; // + - : _ , # (
  }
}

/** A DUMP reply with its footer's RDB version replaced and its CRC-64 recomputed. */
function relabelDump(reply: Buffer, version: number): Buffer {
  const parsed = parseReply(reply, 0)!.value;
  if (!Buffer.isBuffer(parsed) || parsed.length < 10) return reply;
  const payload = Buffer.from(parsed);
  payload.writeUInt16LE(version, payload.length - 10);
  crc64(payload.subarray(0, payload.length - 8)).copy(payload, payload.length - 8);
  return Buffer.concat([Buffer.from(`$${payload.length}\r\n`), payload, Buffer.from('\r\n')]);
}
