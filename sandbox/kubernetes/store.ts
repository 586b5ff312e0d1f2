/**
 * The Kubernetes emulator's object store: namespaced objects with resourceVersion,
 * generation (bumped when a Deployment's or StatefulSet's spec changes) and change events that the
 * simulated controllers watch.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';

export type Kind = 'Namespace' | 'ConfigMap' | 'Secret' | 'Deployment' | 'StatefulSet' | 'Job' | 'Pod' | 'ServiceAccount' | 'Event' | 'SpinnakerService';

/** Kinds whose spec changes bump metadata.generation (Deployments, and custom resources as the API server does for CRDs). */
const GENERATION_KINDS = new Set(['Deployment', 'StatefulSet', 'SpinnakerService']);
/** Kinds with a status subresource: a write to the main resource keeps the stored status (CRD `subresources.status`). */
const STATUS_SUBRESOURCE_KINDS = new Set(['SpinnakerService']);

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

export class StoreError extends Error {
  constructor(
    readonly code: number,
    readonly reason: 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Invalid',
    message: string,
  ) {
    super(message);
  }
}

export type ChangeEvent = { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: KubeObject };

const clone = <T>(value: T): T => structuredClone(value);

/** `a=b,c=d` and `a!=b`, `a` (exists): the selector forms the workflow and kubectl use. */
export function matchesSelector(labels: Record<string, string> | undefined, selector?: string): boolean {
  if (!selector) return true;
  return selector
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .every((term) => {
      const ne = /^([^!=]+)!=(.*)$/.exec(term);
      if (ne) return labels?.[ne[1]!.trim()] !== ne[2]!.trim();
      const eq = /^([^=]+)==?(.*)$/.exec(term);
      if (eq) return labels?.[eq[1]!.trim()] === eq[2]!.trim();
      return labels?.[term] !== undefined;
    });
}

export class ObjectStore extends EventEmitter {
  private readonly objects = new Map<string, KubeObject>();
  private version = 1000;

  private key(kind: string, namespace: string | undefined, name: string): string {
    return `${kind}/${namespace ?? ''}/${name}`;
  }

  get(kind: Kind, namespace: string | undefined, name: string): KubeObject | undefined {
    const found = this.objects.get(this.key(kind, namespace, name));
    return found ? clone(found) : undefined;
  }

  list(kind: Kind, namespace?: string, labelSelector?: string): KubeObject[] {
    return [...this.objects.values()]
      .filter((o) => o.kind === kind && (namespace === undefined || o.metadata.namespace === namespace) && matchesSelector(o.metadata.labels, labelSelector))
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
      .map(clone);
  }

  get resourceVersion(): string {
    return String(this.version);
  }

  create(input: KubeObject): KubeObject {
    const obj = clone(input);
    const key = this.key(obj.kind, obj.metadata.namespace, obj.metadata.name);
    if (this.objects.has(key)) throw new StoreError(409, 'AlreadyExists', `${obj.kind.toLowerCase()}s "${obj.metadata.name}" already exists`);
    obj.metadata.uid ??= randomUUID();
    obj.metadata.creationTimestamp ??= new Date().toISOString();
    obj.metadata.resourceVersion = String(++this.version);
    if (GENERATION_KINDS.has(obj.kind)) obj.metadata.generation = 1;
    this.objects.set(key, obj);
    this.emit('change', { type: 'ADDED', object: clone(obj) } satisfies ChangeEvent);
    return clone(obj);
  }

  /** Replace an object; `expectResourceVersion` (or the object's own) must match, as the API server demands. */
  update(input: KubeObject, options: { expectResourceVersion?: string; statusOnly?: boolean } = {}): KubeObject {
    const obj = clone(input);
    const key = this.key(obj.kind, obj.metadata.namespace, obj.metadata.name);
    const current = this.objects.get(key);
    if (!current) throw new StoreError(404, 'NotFound', `${obj.kind.toLowerCase()}s "${obj.metadata.name}" not found`);
    const expected = options.expectResourceVersion ?? obj.metadata.resourceVersion;
    if (expected && expected !== current.metadata.resourceVersion) {
      throw new StoreError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${obj.kind.toLowerCase()}s "${obj.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    const next: KubeObject = options.statusOnly
      ? { ...clone(current), status: obj.status }
      : {
          ...obj,
          status: STATUS_SUBRESOURCE_KINDS.has(obj.kind) ? current.status : obj.kind === 'Deployment' || obj.kind === 'StatefulSet' || obj.kind === 'Pod' ? (obj.status ?? current.status) : obj.status,
        };
    next.metadata = {
      ...(options.statusOnly ? current.metadata : obj.metadata),
      uid: current.metadata.uid,
      creationTimestamp: current.metadata.creationTimestamp,
      resourceVersion: String(++this.version),
    };
    if (GENERATION_KINDS.has(obj.kind)) {
      const specChanged = !options.statusOnly && JSON.stringify(current.spec) !== JSON.stringify(obj.spec);
      next.metadata.generation = (current.metadata.generation ?? 1) + (specChanged ? 1 : 0);
    }
    for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k];
    this.objects.set(key, next);
    this.emit('change', { type: 'MODIFIED', object: clone(next) } satisfies ChangeEvent);
    return clone(next);
  }

  updateStatus(kind: Kind, namespace: string, name: string, status: unknown): KubeObject {
    const current = this.get(kind, namespace, name);
    if (!current) throw new StoreError(404, 'NotFound', `${kind.toLowerCase()}s "${name}" not found`);
    return this.update({ ...current, status }, { statusOnly: true });
  }

  delete(kind: Kind, namespace: string | undefined, name: string): KubeObject {
    const key = this.key(kind, namespace, name);
    const current = this.objects.get(key);
    if (!current) throw new StoreError(404, 'NotFound', `${kind.toLowerCase()}s "${name}" not found`);
    this.objects.delete(key);
    this.version++;
    this.emit('change', { type: 'DELETED', object: clone(current) } satisfies ChangeEvent);
    return clone(current);
  }
}
