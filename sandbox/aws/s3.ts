/**
 * Amazon S3 emulator: the REST API, path-style (`/<bucket>/<key>`, which the SDK and the AWS CLI
 * use for an IP endpoint such as the sandbox's), for what the s3-seed path and a person looking
 * around need: CreateBucket, HeadBucket, ListBuckets, ListObjectsV2, Put/Get/DeleteBucketPolicy,
 * PutObject, GetObject, HeadObject, DeleteObject, the multipart upload (Create, UploadPart,
 * Complete, Abort, ListMultipartUploads). Error codes and rules as the S3 API Reference gives
 * them (`NoSuchKey`, `NoSuchBucket`, `NoSuchUpload`, `NoSuchBucketPolicy`, `InvalidPart`,
 * `EntityTooSmall`: every part but the last at least 5 MiB). Bodies sent with
 * `Content-Encoding: aws-chunked` (the SDK's and CLI's streaming uploads with a trailing checksum,
 * "Signature Calculations for the Authorization Header: Transferring Payload in Multiple Chunks")
 * are decoded. Signatures are not checked (the other emulators do not either).
 *
 * What ElastiCache may read (`readableByElastiCache`) follows AWS's "Tutorial: Seeding a new
 * node-based cluster with an externally created backup" (ElastiCache user guide,
 * backups-seeding-redis), step "Grant ElastiCache read access to the .rdb file": a bucket policy
 * allowing the service principal `<region>.elasticache-snapshot.amazonaws.com` `s3:GetObject` on
 * the object. (The same page's other way, an object ACL granting the ElastiCache canonical id,
 * is not emulated: buckets made since April 2023 have ACLs disabled.)
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FaultInjector, listen, requestId, type Listening } from './http.js';

const MIN_PART_BYTES = 5 * 1024 * 1024;
const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

interface StoredObject {
  body: Buffer;
  etag: string;
  metadata: Record<string, string>;
  lastModified: Date;
}

interface Upload {
  id: string;
  bucket: string;
  key: string;
  metadata: Record<string, string>;
  parts: Map<number, { body: Buffer; etag: string }>;
  initiated: Date;
}

interface Bucket {
  name: string;
  created: Date;
  objects: Map<string, StoredObject>;
  policy?: string;
}

export interface S3Emulator extends Listening {
  faults: FaultInjector;
  createBucket(name: string): void;
  putBucketPolicy(bucket: string, policy: unknown): void;
  deleteBucketPolicy(bucket: string): void;
  object(bucket: string, key: string): StoredObject | undefined;
  keys(bucket: string): string[];
  /** Multipart uploads begun and neither completed nor aborted. */
  pendingUploads(bucket: string): { key: string; uploadId: string; parts: number }[];
  /**
   * The object as ElastiCache would get it for `SnapshotArns` (the tutorial above): its bytes, or
   * why not (`missing`: no such bucket or key; `denied`: the bucket policy does not let the region's
   * elasticache-snapshot principal GetObject it).
   */
  readableByElastiCache(bucket: string, key: string, region: string): { body: Buffer } | { refused: 'missing' | 'denied' };
  requestLog: { operation: string; status: number }[];
}

class S3Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly resource?: string,
  ) {
    super(message);
  }
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

/** `Content-Encoding: aws-chunked`: `<hex size>[;chunk-signature=…]\r\n<data>\r\n` … `0\r\n<trailers>\r\n\r\n`. */
export function decodeAwsChunked(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', pos);
    if (lineEnd < 0) throw new S3Error('IncompleteBody', 'The aws-chunked body ended inside a chunk header', 400);
    const size = Number.parseInt(body.toString('latin1', pos, lineEnd).split(';')[0] ?? '', 16);
    if (!Number.isFinite(size)) throw new S3Error('InvalidRequest', 'Bad aws-chunked chunk header', 400);
    pos = lineEnd + 2;
    if (size === 0) return Buffer.concat(out);
    out.push(body.subarray(pos, pos + size));
    pos += size + 2;
  }
}

function metadataOf(req: IncomingMessage): Record<string, string> {
  return Object.fromEntries(
    Object.entries(req.headers)
      .filter(([k]) => k.startsWith('x-amz-meta-'))
      .map(([k, v]) => [k.slice('x-amz-meta-'.length), String(v)]),
  );
}

type Statement = { Effect?: string; Principal?: unknown; Action?: string | string[]; Resource?: string | string[] };

const matches = (pattern: string, value: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(value);
const asList = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Whether a bucket policy lets `service` perform `action` on `resource` (an explicit Deny wins, as in IAM's evaluation logic). */
export function policyAllowsService(policy: string | undefined, service: string, action: string, resource: string): boolean {
  if (!policy) return false;
  let statements: Statement[];
  try {
    const parsed = JSON.parse(policy) as { Statement?: Statement | Statement[] };
    statements = Array.isArray(parsed.Statement) ? parsed.Statement : parsed.Statement ? [parsed.Statement] : [];
  } catch {
    return false;
  }
  const applies = (s: Statement) => {
    const principal = s.Principal as { Service?: string | string[] } | string | undefined;
    const services = principal === '*' ? ['*'] : typeof principal === 'object' ? asList(principal.Service) : [];
    return services.some((p) => p === '*' || p === service) && asList(s.Action).some((a) => matches(a.toLowerCase(), action.toLowerCase())) && asList(s.Resource).some((r) => matches(r, resource));
  };
  if (statements.some((s) => s.Effect === 'Deny' && applies(s))) return false;
  return statements.some((s) => s.Effect === 'Allow' && applies(s));
}

export async function startS3Emulator(): Promise<S3Emulator> {
  const buckets = new Map<string, Bucket>();
  const uploads = new Map<string, Upload>();
  const faults = new FaultInjector();
  const requestLog: { operation: string; status: number }[] = [];

  const bucketOf = (name: string) => {
    const b = buckets.get(name);
    if (!b) throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', 404, name);
    return b;
  };
  const uploadOf = (id: string | null, bucket: string, key: string) => {
    const u = id ? uploads.get(id) : undefined;
    if (!u || u.bucket !== bucket || u.key !== key)
      throw new S3Error('NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', 404);
    return u;
  };
  const xml = (res: ServerResponse, status: number, root: string, inner: string) => {
    res.writeHead(status, { 'content-type': 'application/xml', 'x-amz-request-id': requestId() });
    res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${XMLNS}">${inner}</${root}>`);
  };
  const empty = (res: ServerResponse, status: number, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'x-amz-request-id': requestId(), ...headers });
    res.end();
  };

  /** The operation's name (for faults and the log) and its work. */
  function route(req: IncomingMessage, body: Buffer, res: ServerResponse): { operation: string; run: () => void } {
    const url = new URL(req.url ?? '/', 'http://s3.local');
    const q = url.searchParams;
    const [, bucketName = '', ...rest] = url.pathname.split('/');
    const bucket = decodeURIComponent(bucketName);
    const key = rest.map(decodeURIComponent).join('/');
    const method = req.method ?? 'GET';
    const encoding = String(req.headers['content-encoding'] ?? '');
    const payload = encoding.includes('aws-chunked') || String(req.headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING-') ? decodeAwsChunked(body) : body;
    if (!bucket)
      return {
        operation: 'ListBuckets',
        run: () =>
          xml(
            res,
            200,
            'ListAllMyBucketsResult',
            `<Owner><ID>${'0'.repeat(64)}</ID></Owner><Buckets>${[...buckets.values()].map((b) => `<Bucket><Name>${xmlEscape(b.name)}</Name><CreationDate>${b.created.toISOString()}</CreationDate></Bucket>`).join('')}</Buckets>`,
          ),
      };
    if (!key) {
      if (q.has('policy')) {
        if (method === 'PUT')
          return {
            operation: 'PutBucketPolicy',
            run: () => {
              const text = payload.toString('utf8');
              try {
                JSON.parse(text);
              } catch {
                throw new S3Error('MalformedPolicy', 'Policies must be valid JSON', 400);
              }
              bucketOf(bucket).policy = text;
              empty(res, 204);
            },
          };
        if (method === 'DELETE')
          return {
            operation: 'DeleteBucketPolicy',
            run: () => {
              delete bucketOf(bucket).policy;
              empty(res, 204);
            },
          };
        return {
          operation: 'GetBucketPolicy',
          run: () => {
            const policy = bucketOf(bucket).policy;
            if (!policy) throw new S3Error('NoSuchBucketPolicy', 'The bucket policy does not exist', 404, bucket);
            res.writeHead(200, { 'content-type': 'application/json', 'x-amz-request-id': requestId() });
            res.end(policy);
          },
        };
      }
      if (q.has('uploads'))
        return {
          operation: 'ListMultipartUploads',
          run: () => {
            const b = bucketOf(bucket);
            const prefix = q.get('prefix') ?? '';
            const items = [...uploads.values()].filter((u) => u.bucket === b.name && u.key.startsWith(prefix));
            xml(
              res,
              200,
              'ListMultipartUploadsResult',
              `<Bucket>${xmlEscape(b.name)}</Bucket><IsTruncated>false</IsTruncated>${items.map((u) => `<Upload><Key>${xmlEscape(u.key)}</Key><UploadId>${u.id}</UploadId><Initiated>${u.initiated.toISOString()}</Initiated></Upload>`).join('')}`,
            );
          },
        };
      if (method === 'PUT')
        return {
          operation: 'CreateBucket',
          run: () => {
            if (buckets.has(bucket)) throw new S3Error('BucketAlreadyOwnedByYou', 'Your previous request to create the named bucket succeeded and you already own it.', 409, bucket);
            buckets.set(bucket, { name: bucket, created: new Date(), objects: new Map() });
            empty(res, 200, { location: `/${bucket}` });
          },
        };
      if (method === 'HEAD')
        return {
          operation: 'HeadBucket',
          run: () => {
            bucketOf(bucket);
            empty(res, 200);
          },
        };
      return {
        operation: 'ListObjectsV2',
        run: () => {
          const b = bucketOf(bucket);
          const prefix = q.get('prefix') ?? '';
          const delimiter = q.get('delimiter') ?? '';
          const keys = [...b.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
          const contents: string[] = [];
          const prefixes = new Set<string>();
          for (const k of keys) {
            const cut = delimiter ? k.indexOf(delimiter, prefix.length) : -1;
            if (cut >= 0) prefixes.add(k.slice(0, cut + delimiter.length));
            else {
              const o = b.objects.get(k)!;
              contents.push(
                `<Contents><Key>${xmlEscape(k)}</Key><LastModified>${o.lastModified.toISOString()}</LastModified><ETag>${xmlEscape(o.etag)}</ETag><Size>${o.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
              );
            }
          }
          xml(
            res,
            200,
            'ListBucketResult',
            `<Name>${xmlEscape(b.name)}</Name><Prefix>${xmlEscape(prefix)}</Prefix><KeyCount>${contents.length + prefixes.size}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>${contents.join('')}${[...prefixes].map((p) => `<CommonPrefixes><Prefix>${xmlEscape(p)}</Prefix></CommonPrefixes>`).join('')}`,
          );
        },
      };
    }
    // Object operations.
    if (method === 'POST' && q.has('uploads'))
      return {
        operation: 'CreateMultipartUpload',
        run: () => {
          bucketOf(bucket);
          const id = randomBytes(24).toString('base64url');
          uploads.set(id, { id, bucket, key, metadata: metadataOf(req), parts: new Map(), initiated: new Date() });
          xml(res, 200, 'InitiateMultipartUploadResult', `<Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><UploadId>${id}</UploadId>`);
        },
      };
    if (method === 'PUT' && q.has('uploadId'))
      return {
        operation: 'UploadPart',
        run: () => {
          const u = uploadOf(q.get('uploadId'), bucket, key);
          const n = Number(q.get('partNumber'));
          if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', 400);
          const etag = `"${md5(payload)}"`;
          u.parts.set(n, { body: Buffer.from(payload), etag });
          empty(res, 200, { etag });
        },
      };
    if (method === 'POST' && q.has('uploadId'))
      return {
        operation: 'CompleteMultipartUpload',
        run: () => {
          const u = uploadOf(q.get('uploadId'), bucket, key);
          const listed = [...payload.toString('utf8').matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map((m) => ({
            n: Number(/<PartNumber>(\d+)<\/PartNumber>/.exec(m[1] ?? '')?.[1]),
            etag: /<ETag>([\s\S]*?)<\/ETag>/.exec(m[1] ?? '')?.[1]?.replace(/&quot;/g, '"'),
          }));
          if (listed.length === 0) throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema', 400);
          const parts = listed.map(({ n, etag }, i) => {
            const part = u.parts.get(n);
            if (!part || (etag && etag.replace(/"/g, '') !== part.etag.replace(/"/g, '')))
              throw new S3Error(
                'InvalidPart',
                "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
                400,
              );
            if (i > 0 && n <= listed[i - 1]!.n) throw new S3Error('InvalidPartOrder', 'The list of parts was not in ascending order.', 400);
            if (i < listed.length - 1 && part.body.length < MIN_PART_BYTES) throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.', 400);
            return part;
          });
          const body = Buffer.concat(parts.map((p) => p.body));
          const etag = `"${md5(Buffer.concat(parts.map((p) => Buffer.from(p.etag.replace(/"/g, ''), 'hex'))))}-${parts.length}"`;
          bucketOf(bucket).objects.set(key, { body, etag, metadata: u.metadata, lastModified: new Date() });
          uploads.delete(u.id);
          xml(res, 200, 'CompleteMultipartUploadResult', `<Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><ETag>${xmlEscape(etag)}</ETag>`);
        },
      };
    if (method === 'DELETE' && q.has('uploadId'))
      return {
        operation: 'AbortMultipartUpload',
        run: () => {
          uploads.delete(uploadOf(q.get('uploadId'), bucket, key).id);
          empty(res, 204);
        },
      };
    if (method === 'PUT')
      return {
        operation: 'PutObject',
        run: () => {
          const etag = `"${md5(payload)}"`;
          bucketOf(bucket).objects.set(key, { body: Buffer.from(payload), etag, metadata: metadataOf(req), lastModified: new Date() });
          empty(res, 200, { etag });
        },
      };
    if (method === 'DELETE')
      return {
        operation: 'DeleteObject',
        run: () => {
          // S3 answers 204 whether or not the key existed.
          bucketOf(bucket).objects.delete(key);
          empty(res, 204);
        },
      };
    const read = method === 'HEAD' ? 'HeadObject' : 'GetObject';
    return {
      operation: read,
      run: () => {
        const o = bucketOf(bucket).objects.get(key);
        if (!o) throw new S3Error('NoSuchKey', 'The specified key does not exist.', 404, key);
        // `Range: bytes=a-b` (the CLI downloads a large object in ranges): 206 with that slice.
        const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''));
        if (range && method !== 'HEAD') {
          const from = Number(range[1]);
          const to = Math.min(range[2] ? Number(range[2]) : o.body.length - 1, o.body.length - 1);
          if (from >= o.body.length) throw new S3Error('InvalidRange', 'The requested range is not satisfiable', 416);
          res.writeHead(206, {
            'content-type': 'application/octet-stream',
            'content-length': String(to - from + 1),
            'content-range': `bytes ${from}-${to}/${o.body.length}`,
            etag: o.etag,
            'last-modified': o.lastModified.toUTCString(),
            'x-amz-request-id': requestId(),
          });
          res.end(o.body.subarray(from, to + 1));
          return;
        }
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': String(o.body.length),
          etag: o.etag,
          'last-modified': o.lastModified.toUTCString(),
          'x-amz-request-id': requestId(),
          ...Object.fromEntries(Object.entries(o.metadata).map(([k, v]) => [`x-amz-meta-${k}`, v])),
        });
        res.end(method === 'HEAD' ? undefined : o.body);
      },
    };
  }

  const server = await listen(async (req, body, res) => {
    let operation = 'Unknown';
    try {
      const r = route(req, body, res);
      operation = r.operation;
      const injected = faults.take(operation);
      if (injected) throw new S3Error(injected.code === 'Throttling' ? 'SlowDown' : injected.code, injected.message, injected.status);
      r.run();
      requestLog.push({ operation, status: res.statusCode });
    } catch (error) {
      const e = error instanceof S3Error ? error : new S3Error('InternalError', (error as Error).message, 500);
      requestLog.push({ operation, status: e.status });
      // HEAD answers carry no body: the SDK reads the status (404 -> NotFound).
      if (req.method === 'HEAD') return empty(res, e.status);
      xml(
        res,
        e.status,
        'Error',
        `<Code>${e.code}</Code><Message>${xmlEscape(e.message)}</Message>${e.resource ? `<Resource>${xmlEscape(e.resource)}</Resource>` : ''}<RequestId>${requestId()}</RequestId>`,
      );
    }
  });

  return {
    ...server,
    faults,
    requestLog,
    createBucket(name) {
      if (!buckets.has(name)) buckets.set(name, { name, created: new Date(), objects: new Map() });
    },
    putBucketPolicy(bucket, policy) {
      bucketOf(bucket).policy = JSON.stringify(policy);
    },
    deleteBucketPolicy(bucket) {
      delete bucketOf(bucket).policy;
    },
    object: (bucket, key) => buckets.get(bucket)?.objects.get(key),
    keys: (bucket) => [...(buckets.get(bucket)?.objects.keys() ?? [])],
    pendingUploads: (bucket) => [...uploads.values()].filter((u) => u.bucket === bucket).map((u) => ({ key: u.key, uploadId: u.id, parts: u.parts.size })),
    readableByElastiCache(bucket, key, region) {
      const b = buckets.get(bucket);
      const o = b?.objects.get(key);
      if (!b || !o) return { refused: 'missing' };
      if (!policyAllowsService(b.policy, `${region}.elasticache-snapshot.amazonaws.com`, 's3:GetObject', `arn:aws:s3:::${bucket}/${key}`)) return { refused: 'denied' };
      return { body: o.body };
    },
  };
}
