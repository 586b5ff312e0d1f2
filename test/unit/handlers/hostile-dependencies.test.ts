/**
 * No bare `Error` leaves any handler when its dependencies misbehave (issue 9): every handler in
 * handlers/, given a state that validates, runs against AWS, Kubernetes and Redis servers that
 * answer garbage (HTML where XML or JSON belongs, truncated bodies, JSON of the wrong shape,
 * 5xx, a dropped connection, RESP junk), and against step results of the wrong inner types and
 * huge strings. Each rejection must carry a name of lib/errors.ts, never Error, TypeError,
 * SyntaxError or the catch-all UnexpectedError. Real sockets on free local ports; nothing leaves
 * the machine.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as errors from '../../../lib/errors.js';
import { createSandboxPki } from '../../../sandbox/pki.js';

const HANDLERS_DIR = join(import.meta.dirname, '../../../handlers');
const files = readdirSync(HANDLERS_DIR).filter((f) => f.endsWith('.ts') && f !== 'slack-command.ts');
/** Every name a handler may fail with: the literal names of lib/errors.ts's classes. */
const NAMED = new Set(
  Object.values(errors as Record<string, unknown>).flatMap((C) => {
    if (typeof C !== 'function' || !(C.prototype instanceof Error)) return [];
    try {
      return [new (C as new (m: string) => Error)('').name];
    } catch {
      return []; // abstract or with required arguments: not thrown as such
    }
  }),
);
NAMED.delete('UnexpectedError');

/** The garbage each request gets, in turn: every server cycles through its list. */
const HTTP_GARBAGE: ((res: ServerResponse) => void)[] = [
  (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Bad Gateway</body></html>'),
  (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"kind": "ConfigMap", "data": '),
  (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"items": 5, "data": [1], "metadata": "x", "spec": null, "status": 7}'),
  (res) => res.writeHead(200, { 'content-type': 'text/xml' }).end('<?xml version="1.0"?><Unclosed><Foo>'),
  (res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html>502 Bad Gateway</html>'),
  (res) => res.writeHead(200).end(''),
  (res) => res.socket?.destroy(),
  (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ x: 'y'.repeat(200_000) })),
];
const RESP_GARBAGE = ['*-5\r\n', '$3\r\nabcdef\r\n', '-\r\n', '+OK\r\n:notanumber\r\n', '\x00\x01\x02garbage\r\n', '-ERR unknown everything\r\n', '+PONG\r\n'];

let aws: Server;
let kube: Server;
let redis: TcpServer;
let dir: string;
let turn = 0;

function garbage(_req: IncomingMessage, res: ServerResponse): void {
  HTTP_GARBAGE[turn++ % HTTP_GARBAGE.length]!(res);
}
const portOf = (s: Server | TcpServer) => (s.address() as AddressInfo).port;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hostile-deps-'));
  const pki = createSandboxPki(dir);
  const cert = pki.issue('kube');
  kube = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, garbage);
  await new Promise<void>((r) => kube.listen(0, '127.0.0.1', r));
  // EKS answers properly (so the Kubernetes calls get as far as the API server); every other AWS call gets garbage.
  aws = createHttpServer((req, res) => {
    if (req.url?.startsWith('/clusters/') && turn++ % 2 === 0) {
      const cluster = {
        name: 'prod',
        arn: 'arn:aws:eks:us-east-1:1:cluster/prod',
        status: 'ACTIVE',
        endpoint: `https://127.0.0.1:${portOf(kube)}`,
        certificateAuthority: { data: Buffer.from(pki.caPem).toString('base64') },
        resourcesVpcConfig: { vpcId: 'vpc-1', subnetIds: ['subnet-1'], clusterSecurityGroupId: 'sg-1' },
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ cluster }));
      return;
    }
    garbage(req, res);
  });
  await new Promise<void>((r) => aws.listen(0, '127.0.0.1', r));
  redis = createTcpServer((socket) => {
    socket.on('error', () => undefined);
    // Junk, then the connection closes. A server that answers junk or nothing and keeps the
    // connection open: test/unit/handlers/silent-redis.test.ts.
    socket.on('data', () => {
      socket.end(RESP_GARBAGE[turn++ % RESP_GARBAGE.length]!);
    });
  });
  await new Promise<void>((r) => redis.listen(0, '127.0.0.1', r));
  for (const service of ['ELASTICACHE', 'EKS', 'SECRETS_MANAGER', 'SNS', 'STS', 'SFN', 'CLOUDWATCH', 'IAM']) process.env[`AWS_ENDPOINT_URL_${service}`] = `http://127.0.0.1:${portOf(aws)}`;
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
  process.env.AWS_SECRET_ACCESS_KEY = 'example';
  process.env.AWS_MAX_ATTEMPTS = '1';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
}, 30_000);

afterAll(async () => {
  for (const s of [aws, kube]) s.closeAllConnections();
  await Promise.all([aws, kube, redis].map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

const huge = 'x'.repeat(1_000_000);
const config = () => ({
  cluster: { name: 'prod', region: 'us-east-1' },
  target: { replicationGroupId: 'spin-redis', transitEncryption: false },
  spinnaker: { spinRedis: { url: `redis://127.0.0.1:${portOf(redis)}` } },
});
const execution = { arn: 'arn:aws:states:us-east-1:1:execution:sm:x', startedAt: '2026-01-01T00:00:00Z' };
const endpoint = () => ({ address: '127.0.0.1', port: portOf(redis) });
/** States that validate, each with something hostile further in. */
const states: [string, () => unknown][] = [
  ['a plain state', () => ({ config: config(), execution })],
  [
    'a state whose steps all ran, the group on a garbage Redis',
    () => ({
      config: config(),
      execution,
      lock: { acquired: true, flavor: 'halyard' },
      replicationGroup: { id: 'spin-redis', outcome: 'created', status: 'available', primaryEndpoint: endpoint(), polls: 1, firstSeenAt: execution.startedAt },
      copy: { done: false, method: 'scan' },
      capture: { previousNotifyKeyspaceEvents: '' },
      catchUp: { caughtUp: false },
      quiesce: { services: [] },
      verify: { done: false },
    }),
  ],
  [
    'step results of the wrong inner types',
    () => ({
      config: config(),
      execution,
      lock: { acquired: 'yes', flavor: 42, owner: [] },
      replicationGroup: { id: 5, status: 'available', primaryEndpoint: { address: 7, port: 'six' } },
      copy: { done: 'no', checkpoint: { cursor: [] }, method: {} },
      capture: { previousNotifyKeyspaceEvents: 12, position: 'x' },
      catchUp: { position: { replId: 3 }, caughtUp: 'no' },
      quiesce: { services: 'all', deployments: 7 },
      quiesceCheck: { quiesced: 'maybe' },
      reconcile: { done: 1, checkpoint: null },
      verify: { done: false, checkpoint: 'x' },
      rollout: { ready: 'no', marks: 5 },
      scaleDown: { previousReplicas: 'two' },
      resume: { resumed: [] },
      copyBack: { done: null, checkpoint: 9 },
    }),
  ],
  [
    'huge strings',
    () => ({
      config: config(),
      execution: { arn: `arn:aws:states:us-east-1:1:execution:sm:${huge}`, startedAt: huge },
      replicationGroup: { id: huge, status: 'available', primaryEndpoint: { address: huge, port: 6379 } },
      copy: { checkpoint: huge },
      catchUp: { position: huge },
    }),
  ],
];

type Handler = (event: unknown) => Promise<unknown>;
const handlers = new Map<string, Handler>();
beforeAll(async () => {
  for (const file of files) handlers.set(file, ((await import(join(HANDLERS_DIR, file))) as { handler: Handler }).handler);
});

describe.each(files)('%s', (file) => {
  it.each(states)(
    'with %s, against garbage-answering dependencies: a named error of lib/errors.ts, or a result',
    async (_what, state) => {
      {
        const event = file === 'notify-outcome.ts' ? { state: state(), outcome: 'FAILED' } : file === 'health-check.ts' ? { input: config() } : state();
        const outcome = await handlers.get(file)!(event).then(
          () => undefined,
          (error: unknown) => error as Error,
        );
        if (outcome) expect(NAMED.has(outcome.name) ? 'named' : `${outcome.name}: ${outcome.message.slice(0, 400)}`).toBe('named');
      }
    },
    30_000,
  );
});
