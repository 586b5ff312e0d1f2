/**
 * A TCP server on a free local port that accepts a Redis client and then misbehaves: says
 * nothing at all, answers junk (an HTTP error page), or completes the handshake and then goes
 * silent (or, as a master, goes silent after `+FULLRESYNC`). Commands are read with the copy
 * engine's own RESP parser; what a handshake gets follows Redis 5 (no HELLO, so ioredis falls
 * back to RESP2; AUTH, SELECT, CLIENT, REPLCONF answered +OK; INFO with `loading:0`).
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { parseReply } from '../../lib/redis/resp.js';

export type HostileMode =
  /** Accepts, reads, never writes a byte. */
  | 'silent'
  /** Answers whatever it gets with an HTTP 400 (a load balancer or a web server on the port). */
  | 'junk'
  /** A Redis until the handshake is done, silent for every other command. */
  | 'mute-after-handshake'
  /** A master that accepts PSYNC (`+FULLRESYNC`), then sends nothing: no snapshot, no newline. */
  | 'mute-after-fullresync';

export interface HostileRedis {
  url: string;
  /** The commands received, lower-cased names, in order. */
  received: string[];
  close(): Promise<void>;
}

export const HTTP_400 = 'HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n';
const INFO = '# Server\r\nredis_version:5.0.14\r\nloading:0\r\n';
const HANDSHAKE: Record<string, string> = {
  hello: "-ERR unknown command 'HELLO'\r\n",
  auth: '+OK\r\n',
  select: '+OK\r\n',
  client: '+OK\r\n',
  replconf: '+OK\r\n',
  info: `$${INFO.length}\r\n${INFO}\r\n`,
};

export async function startHostileRedis(mode: HostileMode): Promise<HostileRedis> {
  const sockets = new Set<Socket>();
  const received: string[] = [];
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    // Once a master streams, it answers nothing (not even REPLCONF ACK, as Redis).
    let streaming = false;
    socket.on('data', (chunk: Buffer) => {
      if (mode === 'silent') return;
      if (mode === 'junk') {
        socket.write(HTTP_400);
        return;
      }
      buffered = Buffer.concat([buffered, chunk]);
      const next = () => {
        try {
          return parseReply(buffered, 0);
        } catch {
          buffered = Buffer.alloc(0); // not a command (bytes a test writes raw): read and ignored
          return undefined;
        }
      };
      for (let parsed = next(); parsed; parsed = next()) {
        buffered = buffered.subarray(parsed.end);
        const name = Array.isArray(parsed.value) && Buffer.isBuffer(parsed.value[0]) ? parsed.value[0].toString().toLowerCase() : '?';
        received.push(name);
        if (streaming) continue;
        const answer = HANDSHAKE[name] ?? (mode === 'mute-after-fullresync' && name === 'psync' ? `+FULLRESYNC ${'a'.repeat(40)} 0\r\n` : undefined);
        if (answer) socket.write(answer);
        streaming = name === 'psync';
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
