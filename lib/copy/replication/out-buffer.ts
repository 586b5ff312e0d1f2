/**
 * Builds many commands into one large buffer, so a pipeline of thousands of RESTOREs
 * costs one socket write instead of thousands (Node's per-write overhead dominates
 * small commands).
 */
export class OutBuffer {
  private buf: Buffer;
  private used = 0;

  constructor(private readonly size = 1 << 20) {
    this.buf = Buffer.allocUnsafe(size);
  }

  get length(): number {
    return this.used;
  }

  private ensure(n: number): void {
    if (this.used + n <= this.buf.length) return;
    // Doubling: growing by just `n` would copy the whole buffer on every later append.
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + n));
    this.buf.copy(grown, 0, 0, this.used);
    this.buf = grown;
  }

  ascii(text: string): void {
    this.ensure(text.length);
    this.used += this.buf.write(text, this.used, 'latin1');
  }

  bytes(data: Uint8Array): void {
    this.ensure(data.length);
    this.buf.set(data, this.used);
    this.used += data.length;
  }

  /** Reserves `n` bytes and returns their offset, for fields filled in after the fact. */
  reserve(n: number): { buf: Buffer; offset: number } {
    this.ensure(n);
    const offset = this.used;
    this.used += n;
    return { buf: this.buf, offset };
  }

  /** The bytes so far; the buffer is handed over (a socket may still be reading it). */
  take(): Buffer {
    const out = this.buf.subarray(0, this.used);
    // The next buffer is sized to what was just used: a fresh 1 MiB per small flush is
    // gigabytes of short-lived external memory over a copy, and GC time with it.
    this.buf = Buffer.allocUnsafe(Math.min(this.size, Math.max(64 * 1024, this.used * 2)));
    this.used = 0;
    return out;
  }
}
