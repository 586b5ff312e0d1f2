/**
 * A cluster-mode-enabled target (`--target redis-cluster://host:port[,host:port…]`): a local
 * RESP endpoint that every copy path writes to as if it were one server, and that routes each
 * command to the master owning its key's slot through ioredis's `Cluster` (which follows
 * `MOVED` and `ASK`, so a resharding of the target during the copy is followed): the
 * replication copy's RESTORE pipeline is split per node by slot, one connection per master.
 * Why a local endpoint rather than a second writer in every path: the replication
 * copy's raw RESTORE lanes, its stream forwarder, the scan copy, the RDB-file copy, the live
 * catch-ups, the settling passes and the strict verification all keep their code, and so their
 * tests.
 *
 * What one server does that a cluster cannot, and what the endpoint does instead:
 *
 * - `SELECT n`: a cluster has only database 0. `SELECT 0` is accepted; after any other, every
 *   command is refused (a source with keys in another database cannot go into a cluster).
 * - `SCAN`, `DBSIZE`, `INFO keyspace`, `KEYS`, `RANDOMKEY`, `FLUSHALL`, `SCRIPT LOAD/FLUSH`:
 *   over every master (SCAN's cursor carries the master's index), so the strict verification
 *   walks every shard of the target.
 * - Multi-key commands whose keys hash to different slots (a cluster answers CROSSSLOT), as the
 *   replication stream forwards them during a live catch-up. Decided per command:
 *   - split, the effect being the same key by key: `DEL`, `UNLINK`, `EXISTS`, `TOUCH` (replies
 *     summed), `MSET` (a `SET` per pair);
 *   - emulated in order (every earlier command answered first, no later one sent before):
 *     `RENAME`, `RENAMENX`, `COPY` as `DUMP`+`PTTL` of the source key, `RESTORE … REPLACE` of
 *     the destination, `DEL` of the source (fiat writes its permissions to a temporary key and
 *     `RENAME`s it, spinnaker/fiat `RedisPermissionsRepository`);
 *   - our own key-wise scripts (the batch RESTORE, the verification's digests and existence
 *     checks: one result per key, nothing shared between keys) split into one call per key;
 *   - anything else (`MSETNX`, `SMOVE`, `LMOVE`, `*STORE`, `PFMERGE`, a script of the
 *     application's touching keys in several slots, …) refused with `CROSSSLOT`, which ends
 *     the copy with RedisCommandUnsupportedError rather than apply it in part. A source whose
 *     writers use such commands needs hash tags (`{…}`) on its keys before it can move to a
 *     cluster, as any client of that cluster would.
 * - `MULTI`/`EXEC` (the stream wraps Lua effects and transactions in them): the commands are
 *   applied in order as they come and `EXEC` answers their replies; a transaction across
 *   slots is not atomic on a cluster, and no reader looks at the target during a copy.
 *
 * The endpoint listens on 127.0.0.1 on a free port and demands a random password, so no other
 * local user writes through it; it holds the cluster's own password and TLS settings.
 * Cluster semantics: redis.io "Redis cluster specification" (key slots, hash tags, MOVED/ASK);
 * ioredis lib/cluster/index.ts (redirections, auto-pipelining per node).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { getKeyIndexes } from '@ioredis/commands';
import calculateSlot from 'cluster-key-slot';
import type { Cluster, Redis } from 'ioredis';
import { mapRedisError } from '../redis/errors.js';
import { RespConnection, RespError, type RespValue } from '../redis/resp.js';
import type { RedisEndpoint } from '../redis/connect.js';
import { type ClusterConnectOptions, connectCluster, nodeEndpoint } from './cluster.js';
import { EXISTS_SCRIPT, SCRIPT as DIGEST_SCRIPT } from './compare.js';
import { readStreamCommand, type StreamCommand } from './replication/stream-command.js';
import { CURRENT_TARGET, parseTargetVersion, restoreScript } from './restore-expiry.js';

/** Is `url` a cluster-mode-enabled target? */
export const isClusterUrl = (url: string): boolean => /^rediss?-cluster:\/\//.test(url);

/**
 * Scripts of ours that treat each key alone, by SHA-1: how many ARGV each key has (0: ARGV
 * shared by all keys), and how the replies of the keys run one by one make the script's reply:
 * an array with one element per key, or (the digest script) one string with a line per key and
 * the DUMP payloads those lines announce, in order.
 */
const KEY_WISE = new Map<string, { perKey: number; lines?: true }>(
  (
    [
      [restoreScript(CURRENT_TARGET), { perKey: 2 }],
      [restoreScript(parseTargetVersion('redis_version:4.0.0')), { perKey: 2 }],
      [DIGEST_SCRIPT, { perKey: 0, lines: true }],
      [EXISTS_SCRIPT, { perKey: 0 }],
    ] as const
  ).map(([script, how]) => [sha1(script), how]),
);

function sha1(text: string | Buffer): string {
  return createHash('sha1').update(text).digest('hex');
}

/** Replies as ioredis's `callBuffer` gives them, or an error to answer. */
type Reply = Buffer | number | null | Error | Reply[];

function encodeReply(reply: Reply, out: Buffer[]): void {
  if (reply === null || reply === undefined) out.push(Buffer.from('$-1\r\n'));
  else if (typeof reply === 'number') out.push(Buffer.from(`:${reply}\r\n`));
  else if (Buffer.isBuffer(reply)) out.push(Buffer.from(`$${reply.length}\r\n`), reply, Buffer.from('\r\n'));
  else if (reply instanceof Error) out.push(Buffer.from(`-${reply.message.split(/\r?\n/)[0]}\r\n`));
  else if (Array.isArray(reply)) {
    out.push(Buffer.from(`*${reply.length}\r\n`));
    for (const item of reply) encodeReply(item, out);
  } else out.push(Buffer.from(`$${Buffer.byteLength(String(reply))}\r\n${String(reply)}\r\n`));
}

const ok = Buffer.from('OK');
const fail = (message: string) => new Error(message);
const crossSlot = (name: string) =>
  fail(
    `CROSSSLOT Keys in request don't hash to the same slot: ${name.toUpperCase()} across slots has no equivalent on a cluster target (spin-elasticache refuses it rather than apply it in part; put the keys under one hash tag)`,
  );

export interface ClusterTargetFigures {
  /** Commands routed to the cluster, multi-key commands split, emulated (RENAME, COPY), refused (CROSSSLOT). */
  commands: number;
  split: number;
  emulated: number;
  refused: number;
  /** MOVED/ASK redirections ioredis followed (`node error` events are not counted; these come from its `+moved`/`+ask`). */
  masters: string[];
}

export interface ClusterTarget {
  /** A `redis://127.0.0.1:port` endpoint (with its own random password) to give any copy path as the target. */
  endpoint: RedisEndpoint;
  /** The cluster client behind it. */
  cluster: Cluster;
  figures: ClusterTargetFigures;
  close(): Promise<void>;
}

const TARGET: ClusterConnectOptions = {
  where: 'redis-cluster target',
  connectionName: 'spin-elasticache-cluster-target',
  // RESP2 replies are what the endpoint hands on (ioredis 6 speaks RESP3 by default).
  redisOptions: { protocol: 2 },
  // Not auto-pipelining: its per-node pipelines fail whole ("All keys in the pipeline should
  // belong to the same slots allocation group", a MOVED not followed) when the slot map changes
  // under them, i.e. during a resharding. Commands sent one by one in the same tick still leave
  // in one write per node (net.Socket's writev).
  cluster: { maxRedirections: 64, retryDelayOnMoved: 0, retryDelayOnTryAgain: 50, retryDelayOnClusterDown: 200 },
};

/** An ioredis Cluster client for a `redis-cluster://` target, ready. */
export const connectClusterTarget = (target: RedisEndpoint): Promise<Cluster> => connectCluster(target, TARGET);

/** Opens the cluster at `target` and a local endpoint routing into it (see the module comment). Close it when done. */
export async function openClusterTarget(target: RedisEndpoint): Promise<ClusterTarget> {
  const cluster = await connectClusterTarget(target);
  const lanes = await Lanes.open(target, cluster).catch((error: unknown) => {
    cluster.disconnect();
    throw mapRedisError(error, 'redis-cluster target');
  });
  const password = randomBytes(24).toString('hex');
  const figures: ClusterTargetFigures = { commands: 0, split: 0, emulated: 0, refused: 0, masters: [] };
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    new ProxyConnection(socket, cluster, password, figures, lanes);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  figures.masters = masters(cluster).map((m) => `${m.options.host}:${m.options.port}`);
  return {
    endpoint: { url: `redis://127.0.0.1:${port}`, password },
    cluster,
    figures,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      lanes.close();
      cluster.disconnect();
    },
  };
}

/**
 * One raw connection per master for commands whose keys are in one slot: their bytes go on as
 * they came, to the master ioredis's slot map names, corked per tick (no ioredis command object
 * per key: 7× faster for the replication copy's RESTOREs). A redirection (MOVED, ASK, TRYAGAIN,
 * CLUSTERDOWN) or a lost connection hands the command to ioredis's `Cluster`, which follows it.
 */
class Lanes {
  private readonly corked = new Set<RespConnection>();
  private constructor(
    private readonly cluster: Cluster,
    private readonly byNode: Map<string, RespConnection>,
  ) {}

  static async open(target: RedisEndpoint, cluster: Cluster): Promise<Lanes> {
    const byNode = new Map<string, RespConnection>();
    for (const m of masters(cluster)) {
      const node = { host: String(m.options.host), port: Number(m.options.port) };
      byNode.set(`${node.host}:${node.port}`, await RespConnection.open(nodeEndpoint(target, node), 'spin-elasticache-cluster-target-raw'));
    }
    return new Lanes(cluster, byNode);
  }

  /** The reply of the slot's master, or undefined when no lane serves the slot now. */
  send(slot: number, raw: Buffer): Promise<RespValue> | undefined {
    const node = (this.cluster as unknown as { slots: (string[] | undefined)[] }).slots[slot]?.[0];
    const lane = node === undefined ? undefined : this.byNode.get(node);
    if (!lane || lane.lost) return undefined;
    if (!this.corked.has(lane)) {
      this.corked.add(lane);
      lane.socket.cork();
      process.nextTick(() => {
        this.corked.delete(lane);
        lane.socket.uncork();
      });
    }
    return new Promise((resolve) => lane.send(raw, 1, resolve));
  }

  close(): void {
    for (const lane of this.byNode.values()) lane.close();
  }
}

const REDIRECTED = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) |^connection lost/;

function fromResp(value: RespValue): Reply {
  if (value instanceof RespError) return fail(value.message);
  if (Array.isArray(value)) return value.map(fromResp);
  return value;
}

/** The masters in a stable order (SCAN's cursor names one by its index). */
function masters(cluster: Cluster): Redis[] {
  return cluster.nodes('master').sort((a, b) => `${a.options.host}:${a.options.port}`.localeCompare(`${b.options.host}:${b.options.port}`));
}

/** SCAN's cursor over all masters: the node's own cursor × MAX_MASTERS + the master's index. */
const MAX_MASTERS = 1024n;

const slotOf = (key: Buffer): number => calculateSlot(key);
const sameSlot = (keys: Buffer[]): boolean => keys.every((k) => slotOf(k) === slotOf(keys[0]!));

/** One client connection: commands parsed in order, routed, replies written back in order. */
class ProxyConnection {
  private chunks: Buffer[] = [];
  private length = 0;
  private nextAttempt = 0;
  private authed = false;
  private db = 0;
  private multi: Promise<Reply>[] | undefined;
  /** Replies in command order; written out as soon as the head is ready. */
  private readonly queue: { reply?: Reply; done: boolean }[] = [];
  private head = 0;
  private flushScheduled = false;
  private outstanding = 0;
  /** Resolved when every command sent so far is answered (emulated commands wait on it). */
  private readonly inflight = new Set<Promise<unknown>>();
  /** Set while an emulated command runs: later commands wait behind it. */
  private barrier: Promise<unknown> | undefined;
  /** Commands sent on the raw lanes, and through ioredis, not answered yet: the two never overtake each other. */
  private rawInflight = 0;
  private slowInflight = 0;

  constructor(
    private readonly socket: Socket,
    private readonly cluster: Cluster,
    private readonly password: string,
    private readonly figures: ClusterTargetFigures,
    private readonly lanes: Lanes,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => socket.destroy());
  }

  private receive(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
    // A big RESTORE arrives in many chunks: parse again only once the argument it stopped in can be whole.
    if (this.length < this.nextAttempt) return;
    const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.length);
    let pos = 0;
    for (;;) {
      const start = pos;
      const command = readStreamCommand(buf, pos);
      if (!command) break;
      pos = command.end;
      if (command.name === '') continue;
      this.accept(command, buf.subarray(start, pos));
    }
    const rest = buf.subarray(pos);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.length = rest.length;
    this.nextAttempt = rest.length > 0 ? bytesNeeded(rest) : 0;
    if (this.outstanding > 50_000) this.socket.pause();
  }

  private accept(command: StreamCommand, raw: Buffer): void {
    const slot: { reply?: Reply; done: boolean } = { done: false };
    this.queue.push(slot);
    this.outstanding++;
    const settle = (reply: Reply) => {
      slot.reply = reply;
      slot.done = true;
      this.outstanding--;
      this.writeReady();
      if (this.outstanding < 10_000 && this.socket.isPaused()) this.socket.resume();
    };
    let result: Promise<Reply> | Reply;
    try {
      result = this.dispatch(command, raw);
    } catch (error) {
      result = error as Error;
    }
    if (result instanceof Promise) {
      const tracked = result.catch((error: unknown) => error as Error);
      this.inflight.add(tracked);
      void tracked.then((reply) => {
        this.inflight.delete(tracked);
        settle(reply);
      });
    } else settle(result);
  }

  /** Replies ready at the head go out together, once per turn of the event loop. */
  private writeReady(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const out: Buffer[] = [];
      while (this.head < this.queue.length && this.queue[this.head]!.done) {
        encodeReply(this.queue[this.head]!.reply ?? null, out);
        this.queue[this.head++] = undefined as never;
      }
      if (this.head > 4096 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      if (out.length > 0 && !this.socket.destroyed) this.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
    });
  }

  /** A command's reply: at once for what the endpoint answers itself, else a promise. */
  private dispatch(command: StreamCommand, raw: Buffer): Reply | Promise<Reply> {
    const { name, args } = command;
    // RESP2 only, as Redis before 6.0 answers: ioredis then sends AUTH and goes on in RESP2.
    if (name === 'hello') return fail('NOPROTO sorry, this protocol version is not supported');
    if (name === 'auth') {
      const given = args[args.length - 1]?.toString();
      this.authed = given === this.password;
      return this.authed ? ok : fail('WRONGPASS invalid username-password pair or user is disabled.');
    }
    if (!this.authed) return fail('NOAUTH Authentication required.');
    switch (name) {
      case 'ping':
        return args[0] ?? Buffer.from('PONG');
      case 'client':
      case 'readonly':
      case 'readwrite':
      case 'watch':
      case 'unwatch':
        return ok;
      case 'select':
        this.db = Number(args[0]?.toString() ?? 0);
        return this.db === 0 ? ok : fail(`ERR a cluster target has only database 0; the source has keys in database ${this.db}`);
      case 'multi':
        this.multi = [];
        return ok;
      case 'exec': {
        const queued = this.multi ?? [];
        this.multi = undefined;
        return Promise.all(queued.map((p) => p.catch((error: unknown) => error as Error)));
      }
      case 'discard':
        return fail('ERR DISCARD after commands were applied: a cluster target applies a transaction as it comes');
    }
    if (this.db !== 0) return fail(`ERR a cluster target has only database 0; the source has keys in database ${this.db}`);
    const run = () => this.route(name, args);
    let result: Promise<Reply>;
    const keys = this.multi || this.barrier || this.slowInflight > 0 ? [] : keyArgs(name, args);
    const sent = keys.length > 0 && sameSlot(keys) ? this.lanes.send(slotOf(keys[0]!), raw) : undefined;
    if (sent) {
      this.figures.commands++;
      this.rawInflight++;
      return sent.then((reply) => {
        this.rawInflight--;
        return reply instanceof RespError && REDIRECTED.test(reply.message) ? this.route(name, args) : fromResp(reply);
      });
    }
    // Through ioredis: not before the raw commands still in flight (another connection could overtake them).
    if (this.isEmulated(name, args) || this.rawInflight > 0) {
      // Every earlier command answered first; later ones wait for this one.
      const before = Promise.all([...this.inflight, this.barrier]);
      const mine = before.then(run);
      const released = mine.catch(() => undefined);
      this.barrier = released;
      void released.then(() => {
        if (this.barrier === released) this.barrier = undefined;
      });
      result = mine;
    } else result = this.barrier ? this.barrier.then(run) : run();
    this.slowInflight++;
    void result.catch(() => undefined).then(() => this.slowInflight--);
    if (this.multi) {
      // Answered QUEUED now; tracked so that a later emulated command still waits for it.
      this.multi.push(result);
      const tracked = result.catch(() => undefined);
      this.inflight.add(tracked);
      void tracked.then(() => this.inflight.delete(tracked));
      return Buffer.from('QUEUED');
    }
    return result;
  }

  private isEmulated(name: string, args: Buffer[]): boolean {
    return (name === 'rename' || name === 'renamenx' || name === 'copy') && args.length >= 2 && slotOf(args[0]!) !== slotOf(args[1]!);
  }

  private call(name: string, args: (Buffer | string)[]): Promise<Reply> {
    this.figures.commands++;
    return this.cluster.callBuffer(name, ...args) as Promise<Reply>;
  }

  private async route(name: string, args: Buffer[]): Promise<Reply> {
    switch (name) {
      case 'info':
        return this.info(args);
      case 'dbsize':
        return (await Promise.all(masters(this.cluster).map((m) => m.dbsize()))).reduce((a, b) => a + b, 0);
      case 'scan':
        return this.scan(args);
      case 'keys':
        return (await Promise.all(masters(this.cluster).map((m) => m.callBuffer('KEYS', args[0]!) as Promise<Buffer[]>))).flat();
      case 'randomkey':
        for (const m of masters(this.cluster)) {
          const key = await m.randomkeyBuffer();
          if (key) return key;
        }
        return null;
      case 'flushall':
      case 'flushdb':
        await Promise.all(masters(this.cluster).map((m) => m.callBuffer(name, ...args)));
        return ok;
      case 'script': {
        const sub = args[0]?.toString().toLowerCase();
        if (sub === 'load' || sub === 'flush') {
          const replies = await Promise.all(masters(this.cluster).map((m) => m.callBuffer('SCRIPT', ...args)));
          return replies[0] as Reply;
        }
        return masters(this.cluster)[0]!.callBuffer('SCRIPT', ...args) as Promise<Reply>;
      }
      case 'config':
        return masters(this.cluster)[0]!.callBuffer('CONFIG', ...args) as Promise<Reply>;
      case 'eval':
      case 'evalsha':
        return this.script(name, args);
      case 'rename':
      case 'renamenx':
      case 'copy':
        if (slotOf(args[0]!) !== slotOf(args[1]!)) return this.move(name, args);
        break;
    }
    const keys = keyArgs(name, args);
    if (keys.length > 1 && !sameSlot(keys)) return this.splitMultiKey(name, args, keys);
    return this.call(name, args);
  }

  /** The first master's INFO, its keyspace section summed over every master. */
  private async info(args: Buffer[]): Promise<Reply> {
    const all = masters(this.cluster);
    const section = args[0]?.toString().toLowerCase();
    const [first, ...keyspaces] = await Promise.all([all[0]!.info(...(section ? [section] : [])), ...all.map((m) => m.info('keyspace'))]);
    let keys = 0;
    let expires = 0;
    for (const text of keyspaces) {
      const m = /^db0:keys=(\d+),expires=(\d+)/m.exec(text);
      keys += Number(m?.[1] ?? 0);
      expires += Number(m?.[2] ?? 0);
    }
    const summed = `# Keyspace\r\n${keys > 0 ? `db0:keys=${keys},expires=${expires},avg_ttl=0\r\n` : ''}`;
    const text = /# Keyspace/.test(first) ? first.replace(/# Keyspace\r?\n(?:db\d+:[^\r\n]*\r?\n?)*/, summed) : first;
    return Buffer.from(text);
  }

  /** SCAN over every master in turn; the cursor carries the master's index. */
  private async scan(args: Buffer[]): Promise<Reply> {
    const all = masters(this.cluster);
    const composite = BigInt(args[0]?.toString() ?? '0');
    let index = Number(composite % MAX_MASTERS);
    let cursor = (composite / MAX_MASTERS).toString();
    const node = all[index];
    if (!node) return [Buffer.from('0'), []];
    const [next, keys] = (await node.callBuffer('SCAN', cursor, ...args.slice(1))) as [Buffer, Buffer[]];
    cursor = next.toString();
    if (cursor === '0') {
      index++;
      return [Buffer.from(index < all.length ? String(index) : '0'), keys];
    }
    return [Buffer.from((BigInt(cursor) * MAX_MASTERS + BigInt(index)).toString()), keys];
  }

  /** EVAL/EVALSHA: routed by its keys; our key-wise scripts split per key when the keys span slots, others refused. */
  private async script(name: string, args: Buffer[]): Promise<Reply> {
    const numKeys = Number(args[1]?.toString() ?? 0);
    const keys = args.slice(2, 2 + numKeys);
    const argv = args.slice(2 + numKeys);
    const sha = name === 'eval' ? sha1(args[0]!) : args[0]!.toString().toLowerCase();
    if (keys.length <= 1 || sameSlot(keys)) return this.call(name, args);
    const how = KEY_WISE.get(sha);
    if (how === undefined) {
      this.figures.refused++;
      return crossSlot('a script');
    }
    const { perKey } = how;
    this.figures.split++;
    const parts = await Promise.all(
      keys.map((key, i) => this.call(name, [args[0]!, '1', key, ...(perKey === 0 ? argv : argv.slice(i * perKey, (i + 1) * perKey))]).catch((error: unknown) => error as Error)),
    );
    const failed = parts.find((p) => p instanceof Error);
    if (failed) return failed;
    if (how.lines) {
      // Each key's reply is its line and the DUMP payloads that line announces (compare.ts SCRIPT).
      const replies = parts.map((p) => (Array.isArray(p) ? p : []));
      const text = replies.map(([line]) => (Buffer.isBuffer(line) ? line.toString('latin1') : '')).join('\n');
      return [Buffer.from(text, 'latin1'), Buffer.concat(replies.map(([, payloads]) => (Buffer.isBuffer(payloads) ? payloads : Buffer.alloc(0))))];
    }
    return parts.map((p) => (Array.isArray(p) ? (p[0] ?? null) : p));
  }

  /** DEL/UNLINK/EXISTS/TOUCH key by key (replies summed), MSET pair by pair; anything else across slots refused. */
  private async splitMultiKey(name: string, args: Buffer[], keys: Buffer[]): Promise<Reply> {
    if (['del', 'unlink', 'exists', 'touch'].includes(name) && keys.length === args.length) {
      this.figures.split++;
      const counts = await Promise.all(keys.map((k) => this.call(name, [k])));
      return counts.reduce<number>((n, c) => n + Number(c), 0);
    }
    if (name === 'mset' && args.length % 2 === 0) {
      this.figures.split++;
      await Promise.all(Array.from({ length: args.length / 2 }, (_, i) => this.call('set', [args[2 * i]!, args[2 * i + 1]!])));
      return ok;
    }
    this.figures.refused++;
    return crossSlot(name);
  }

  /** RENAME/RENAMENX/COPY across slots: the source key's payload and TTL restored at the destination (and the source deleted for a rename). */
  private async move(name: string, args: Buffer[]): Promise<Reply> {
    const [from, to, ...rest] = args as [Buffer, Buffer, ...Buffer[]];
    const options = rest.map((a) => a.toString().toLowerCase());
    if (name === 'copy' && options.includes('db')) {
      this.figures.refused++;
      return fail('ERR COPY … DB into a cluster target: a cluster has only database 0');
    }
    this.figures.emulated++;
    const replace = name === 'rename' || options.includes('replace');
    if (!replace && Number(await this.call('exists', [to])) === 1) return 0;
    const [payload, pttl] = (await this.call('eval', ["return {redis.call('DUMP', KEYS[1]), redis.call('PTTL', KEYS[1])}", '1', from])) as [Buffer | null, number];
    if (!payload) return name === 'rename' ? fail('ERR no such key') : 0;
    await this.call('restore', [to, String(Math.max(0, Number(pttl))), payload, 'REPLACE']);
    if (name !== 'copy') await this.call('del', [from]);
    return name === 'rename' ? ok : 1;
  }
}

/**
 * How many bytes an incomplete command needs at least before parsing it again could get further:
 * the end of the argument whose body the buffer stops in, else one byte more.
 */
function bytesNeeded(buf: Buffer): number {
  if (buf[0] !== 42) return buf.length + 1;
  let lineEnd = buf.indexOf(13);
  if (lineEnd < 0 || lineEnd + 1 >= buf.length) return buf.length + 1;
  const count = Number(buf.toString('latin1', 1, lineEnd));
  let pos = lineEnd + 2;
  for (let i = 0; i < count; i++) {
    lineEnd = buf.indexOf(13, pos);
    if (lineEnd < 0 || lineEnd + 1 >= buf.length) return buf.length + 1;
    const end = lineEnd + 2 + Number(buf.toString('latin1', pos + 1, lineEnd)) + 2;
    if (end > buf.length) return end;
    pos = end;
  }
  return buf.length + 1;
}

/** The key arguments of a command (@ioredis/commands, from Redis's own command table). */
function keyArgs(name: string, args: Buffer[]): Buffer[] {
  try {
    return getKeyIndexes(name, args).map((i) => args[i]!);
  } catch {
    return [];
  }
}
