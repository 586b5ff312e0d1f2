/** OutBuffer, the pipeline builder of the replication copy: appends in order, grows without losing bytes, and hands its bytes over on take(). */
import { describe, expect, it } from '@jest/globals';
import { OutBuffer } from '../../../../lib/copy/replication/out-buffer.js';

describe('OutBuffer', () => {
  it('keeps text and bytes in the order they were appended', () => {
    const out = new OutBuffer(64);
    out.ascii('*1\r\n$4\r\n');
    out.bytes(Buffer.from([0x50, 0x49, 0x4e, 0x47]));
    out.ascii('\r\n');
    expect(out.length).toBe(14);
    expect(out.take().toString('latin1')).toBe('*1\r\n$4\r\nPING\r\n');
  });

  it('writes text as latin1, one byte per character', () => {
    const out = new OutBuffer(8);
    out.ascii('\xff\x00é');
    expect([...out.take()]).toStrictEqual([0xff, 0x00, 0xe9]);
  });

  it('grows past its initial size without losing or reordering bytes', () => {
    const out = new OutBuffer(4);
    const expected: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const chunk = Buffer.alloc((i % 7) + 1, i & 0xff);
      out.bytes(chunk);
      expected.push(...chunk);
    }
    out.bytes(Buffer.alloc(10_000, 0xab));
    expected.push(...Buffer.alloc(10_000, 0xab));
    expect(out.length).toBe(expected.length);
    expect(out.take().equals(Buffer.from(expected))).toBe(true);
  });

  it('reserve() hands out a slot at the current position, to fill before the next append (which may move the buffer)', () => {
    const out = new OutBuffer(4);
    out.ascii('$3\r\n');
    const slot = out.reserve(3);
    expect(slot.offset).toBe(4);
    slot.buf.write('abc', slot.offset, 'latin1');
    out.ascii('\r\n');
    expect(out.length).toBe(9);
    expect(out.take().toString('latin1')).toBe('$3\r\nabc\r\n');
  });

  it('take() empties the builder, and what it returned stays intact after more appends', () => {
    const out = new OutBuffer(16);
    out.ascii('first');
    const first = out.take();
    expect(out.length).toBe(0);
    out.ascii('second-and-longer-than-the-first');
    expect(first.toString('latin1')).toBe('first');
    expect(out.take().toString('latin1')).toBe('second-and-longer-than-the-first');
    expect(out.take().length).toBe(0);
  });
});
