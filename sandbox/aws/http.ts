/** Small HTTP plumbing shared by the AWS API emulators: servers on free loopback ports, form and JSON bodies, XML. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';

export interface Listening {
  url: string;
  close(): Promise<void>;
}

export async function listen(handler: (req: IncomingMessage, body: Buffer, res: ServerResponse) => Promise<void>): Promise<Listening> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handler(req, Buffer.concat(chunks), res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String((error as Error).stack ?? error));
      });
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const requestId = () => randomUUID();

/** AWS query-protocol parameters: `A.B.1.C=x` stays flat; use `list`/`struct` helpers to read nested ones. */
export function parseForm(body: Buffer, url: string | undefined): Map<string, string> {
  const params = new Map<string, string>();
  const query = url?.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  for (const source of [query, body.toString('utf8')]) for (const [k, v] of new URLSearchParams(source)) params.set(k, v);
  return params;
}

/** `Prefix.Member.N` (or `Prefix.member.N`) values in order. */
export function list(params: Map<string, string>, prefix: string): string[] {
  const items: [number, string][] = [];
  for (const [k, v] of params) {
    const m = new RegExp(`^${prefix.replace('.', '\\.')}\\.[A-Za-z]+\\.(\\d+)$`).exec(k);
    if (m) items.push([Number(m[1]), v]);
  }
  return items.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

/** `Prefix.Member.N.Field` structures in order. */
export function structs(params: Map<string, string>, prefix: string): Record<string, string>[] {
  const items = new Map<number, Record<string, string>>();
  for (const [k, v] of params) {
    const m = new RegExp(`^${prefix}\\.[A-Za-z]+\\.(\\d+)\\.([A-Za-z]+)$`).exec(k);
    if (m) {
      const entry = items.get(Number(m[1])) ?? {};
      entry[m[2]!] = v;
      items.set(Number(m[1]), entry);
    }
  }
  return [...items.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Serialize a value as AWS query-protocol XML; arrays use `members[fieldName]` (default `member`). */
export function toXml(name: string, value: unknown, members: Record<string, string> = {}): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) {
    const member = members[name] ?? 'member';
    return `<${name}>${value.map((v) => toXml(member, v, members)).join('')}</${name}>`;
  }
  if (value instanceof Date) return `<${name}>${value.toISOString()}</${name}>`;
  if (typeof value === 'object') {
    return `<${name}>${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => toXml(k, v, members))
      .join('')}</${name}>`;
  }
  return `<${name}>${escape(String(value))}</${name}>`;
}

export function sendXml(res: ServerResponse, action: string, namespace: string, result: unknown, members: Record<string, string> = {}): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${namespace}">${result === undefined ? '' : toXml(`${action}Result`, result, members)}<ResponseMetadata><RequestId>${requestId()}</RequestId></ResponseMetadata></${action}Response>`;
  res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId() });
  res.end(body);
}

export class AwsFault extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    readonly type: 'Sender' | 'Receiver' = 'Sender',
  ) {
    super(message);
  }
}

export function sendXmlError(res: ServerResponse, fault: AwsFault): void {
  res.writeHead(fault.status, { 'content-type': 'text/xml' });
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>${fault.type}</Type><Code>${fault.code}</Code><Message>${escape(fault.message)}</Message></Error><RequestId>${requestId()}</RequestId></ErrorResponse>`,
  );
}

export function sendJson(res: ServerResponse, status: number, body: unknown, contentType = 'application/x-amz-json-1.1'): void {
  res.writeHead(status, { 'content-type': contentType, 'x-amzn-requestid': requestId() });
  res.end(JSON.stringify(body));
}

export function sendJsonError(res: ServerResponse, fault: AwsFault, contentType = 'application/x-amz-json-1.1'): void {
  res.writeHead(fault.status, { 'content-type': contentType, 'x-amzn-errortype': fault.code });
  res.end(JSON.stringify({ __type: fault.code, message: fault.message }));
}

/** Faults injected from tests and the fault matrix, per operation. */
export interface InjectedFault {
  operation: string;
  kind: 'throttle' | 'server-error' | 'unavailable' | 'invalid-parameter' | 'access-denied';
  times: number;
}

export class FaultInjector {
  private faults: InjectedFault[] = [];
  readonly fired: { operation: string; kind: string }[] = [];
  add(fault: InjectedFault): void {
    this.faults.push({ ...fault });
  }
  clear(): void {
    this.faults = [];
  }
  /** The fault to apply to this call, if any (consumes one). */
  take(operation: string): AwsFault | undefined {
    const fault = this.faults.find((f) => (f.operation === operation || f.operation === '*') && f.times > 0);
    if (!fault) return undefined;
    fault.times--;
    this.fired.push({ operation, kind: fault.kind });
    switch (fault.kind) {
      case 'throttle':
        return new AwsFault('Throttling', 'Rate exceeded', 400);
      case 'server-error':
        return new AwsFault('InternalFailure', 'An internal error occurred (injected by the sandbox)', 500, 'Receiver');
      case 'unavailable':
        return new AwsFault('ServiceUnavailable', 'Service unavailable (injected by the sandbox)', 503, 'Receiver');
      case 'invalid-parameter':
        return new AwsFault('InvalidParameterValue', 'Invalid parameter (injected by the sandbox)', 400);
      case 'access-denied':
        return new AwsFault('AccessDenied', 'User is not authorized to perform this operation (injected by the sandbox)', 403);
    }
  }
}
