/**
 * A TCP proxy that adds a one-way delay to every chunk, in both directions, so the benchmarks can
 * measure at a real network round trip (loopback is ~0.02 ms; a Lambda to ElastiCache is 0.2-1 ms).
 * Not a mock: bytes really wait `oneWayDelayMs` before they are written on. Order is kept (one
 * FIFO per direction, and every chunk waits the same delay) and so is TCP backpressure: a
 * direction stops reading when its queue holds more than `highWaterBytes` or the far side's
 * socket refuses more, and reads again once both have drained.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface DelayProxyOptions {
  targetHost?: string;
  targetPort: number;
  /** Added to each chunk in each direction; the round trip grows by twice this. */
  oneWayDelayMs: number;
  /** Loopback by default; port 0 picks a free one. */
  host?: string;
  port?: number;
  highWaterBytes?: number;
}

export interface DelayProxy {
  host: string;
  port: number;
  /** Bytes forwarded so far, per direction. */
  bytes: { up: number; down: number };
  close(): Promise<void>;
}

/** One direction of one connection: `from`'s chunks reach `to` after the delay, in order. */
function delayedPipe(from: Socket, to: Socket, delayMs: number, highWater: number, count: (n: number) => void): void {
  const queue: { due: number; chunk: Buffer }[] = [];
  let queued = 0;
  let timer: NodeJS.Timeout | undefined;
  let waitingDrain = false;
  let ended = false;

  const maybeResume = () => {
    if (!waitingDrain && queued <= highWater && from.isPaused()) from.resume();
  };
  const flush = () => {
    timer = undefined;
    if (waitingDrain || to.destroyed) return;
    const now = performance.now();
    while (queue.length > 0 && queue[0]!.due <= now) {
      const { chunk } = queue.shift()!;
      queued -= chunk.length;
      count(chunk.length);
      if (!to.write(chunk)) {
        waitingDrain = true;
        to.once('drain', () => {
          waitingDrain = false;
          flush();
        });
        break;
      }
    }
    if (queue.length === 0 && ended && !waitingDrain) to.end();
    else if (queue.length > 0 && !waitingDrain) schedule();
    maybeResume();
  };
  const schedule = () => {
    if (timer || waitingDrain || queue.length === 0) return;
    timer = setTimeout(flush, Math.max(0, queue[0]!.due - performance.now()));
  };

  from.on('data', (chunk: Buffer) => {
    queue.push({ due: performance.now() + delayMs, chunk });
    queued += chunk.length;
    if (queued > highWater) from.pause();
    schedule();
  });
  from.on('end', () => {
    ended = true;
    if (queue.length === 0 && !waitingDrain) to.end();
  });
  from.on('close', () => {
    if (timer) clearTimeout(timer);
  });
}

export async function startDelayProxy(options: DelayProxyOptions): Promise<DelayProxy> {
  const targetHost = options.targetHost ?? '127.0.0.1';
  const highWater = options.highWaterBytes ?? 4 * 1024 * 1024;
  const sockets = new Set<Socket>();
  const bytes = { up: 0, down: 0 };
  const server: Server = createServer({ noDelay: true }, (client) => {
    const upstream = createConnection({ host: targetHost, port: options.targetPort, noDelay: true });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      // One side failing ends the other: a proxy must not hold a half-dead connection open.
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    // The client's bytes wait in the queue until the upstream connects: a write to a
    // connecting socket is buffered by Node and sent once connected.
    delayedPipe(client, upstream, options.oneWayDelayMs, highWater, (n) => (bytes.up += n));
    delayedPipe(upstream, client, options.oneWayDelayMs, highWater, (n) => (bytes.down += n));
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    host,
    port,
    bytes,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * The proxy in a process of its own, as the network is no part of the client: the benchmarks'
 * steps run in the benchmark's process, and a proxy sharing its event loop would add the
 * client's CPU time to every round trip (and the proxy's to the client's). Closed with the
 * returned `close`, or when this process exits (the child ends when its stdin closes).
 */
export async function spawnDelayProxy(options: Pick<DelayProxyOptions, 'targetPort' | 'oneWayDelayMs'>): Promise<Pick<DelayProxy, 'host' | 'port' | 'close'>> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./delay-proxy-process.ts', import.meta.url).pathname, String(options.targetPort), String(options.oneWayDelayMs)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the delay proxy exited with ${code} before it listened`)));
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = /^(\d+)\n/.exec(out);
      if (line) resolve(Number(line[1]));
    });
  });
  child.removeAllListeners('exit');
  return {
    host: '127.0.0.1',
    port,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.stdin.end();
      }),
  };
}
