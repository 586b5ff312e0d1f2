/**
 * How a master frames a full sync on the replica's socket, after `+FULLRESYNC`: bare
 * newlines while it forks, then either `$<length>\r\n` and that many RDB bytes (disk-based),
 * or `$EOF:<40-byte mark>\r\n`, the RDB, and the mark again (diskless). Whatever follows is
 * the replication stream of writes. This separates the three, whatever the chunking.
 */
import { ReplicationUnavailableError } from '../../errors.js';

export interface FullSyncSink {
  /** RDB bytes; returns how many the RDB used (all of them until it has ended). */
  rdb(chunk: Buffer): number;
  /** Whether the RDB has reached its end (its EOF opcode and checksum). */
  readonly rdbFinished: boolean;
  /** Called once, when the snapshot is complete. */
  snapshotEnded(): void;
  /** Write-stream bytes, after the snapshot. */
  stream(chunk: Buffer): void;
}

export class FullSyncFraming {
  private preamble: Buffer = Buffer.alloc(0);
  /** RDB bytes still expected (disk-based), or undefined before the header / for diskless. */
  private remaining: number | undefined;
  private started = false;
  private rdbDone = false;
  private markLeft = 0;
  private eofMark: Buffer | undefined;
  rdbBytes = 0;

  constructor(
    private readonly sink: FullSyncSink,
    private readonly where: string,
  ) {}

  get diskless(): boolean {
    return this.eofMark !== undefined;
  }

  get snapshotDone(): boolean {
    return this.rdbDone;
  }

  push(input: Buffer): void {
    let chunk = input;
    if (!this.started) {
      this.preamble = this.preamble.length > 0 ? Buffer.concat([this.preamble, chunk]) : chunk;
      let start = 0;
      while (start < this.preamble.length && this.preamble[start] === 10) start++;
      const lineEnd = this.preamble.indexOf('\r\n', start);
      if (lineEnd < 0) return;
      const line = this.preamble.toString('latin1', start, lineEnd);
      if (!line.startsWith('$')) throw new ReplicationUnavailableError(`${this.where} sent ${JSON.stringify(line.slice(0, 60))} instead of a snapshot`);
      if (line.startsWith('$EOF:')) this.eofMark = Buffer.from(line.slice(5), 'latin1');
      else this.remaining = Number(line.slice(1));
      this.started = true;
      chunk = this.preamble.subarray(lineEnd + 2);
      this.preamble = Buffer.alloc(0);
    }
    if (!this.rdbDone && chunk.length > 0) {
      const offered = this.remaining === undefined ? chunk : chunk.subarray(0, Math.min(chunk.length, this.remaining));
      const used = this.sink.rdb(offered);
      this.rdbBytes += used;
      if (this.remaining !== undefined) this.remaining -= used;
      chunk = chunk.subarray(used);
      if (!this.sink.rdbFinished) {
        if (this.remaining === 0) throw new ReplicationUnavailableError(`${this.where}: the snapshot's declared length ended before its EOF`);
        return;
      }
      if (this.remaining !== undefined && this.remaining > 0) throw new ReplicationUnavailableError(`${this.where}: the snapshot ended ${this.remaining} bytes early`);
      this.rdbDone = true;
      this.markLeft = this.eofMark?.length ?? 0;
      this.sink.snapshotEnded();
    }
    if (this.rdbDone && this.markLeft > 0) {
      const n = Math.min(this.markLeft, chunk.length);
      this.markLeft -= n;
      chunk = chunk.subarray(n);
    }
    if (this.rdbDone && this.markLeft === 0 && chunk.length > 0) this.sink.stream(chunk);
  }
}
