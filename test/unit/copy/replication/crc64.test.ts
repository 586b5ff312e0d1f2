/**
 * CRC-64/Jones as Redis computes it (DUMP payloads, RDB files): the check values of Redis's own
 * src/crc64.c test, and the slicing-by-8 code against a bit-at-a-time reference on every length
 * and alignment.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { crc64, crc64Bytes, crc64Into, crc64Start, crc64Update } from '../../../../lib/copy/replication/crc64.js';

// Redis src/crc64.c, crc64Test(): crc64 of "123456789", and of this text with its C string's NUL (sizeof(li)).
const LOREM =
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed ' +
  'do eiusmod tempor incididunt ut labore et dolore magna ' +
  'aliqua. Ut enim ad minim veniam, quis nostrud exercitation ' +
  'ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis ' +
  'aute irure dolor in reprehenderit in voluptate velit esse ' +
  'cillum dolore eu fugiat nulla pariatur. Excepteur sint ' +
  'occaecat cupidatat non proident, sunt in culpa qui officia ' +
  'deserunt mollit anim id est laborum.';

/** Bit at a time: reflected polynomial 0xad93d23594c935a9 (0x95ac9329ac4bc9b5 reversed), init 0, no final xor. */
function reference(data: Uint8Array): bigint {
  let crc = 0n;
  for (const byte of data) {
    crc ^= BigInt(byte);
    for (let bit = 0; bit < 8; bit++) crc = crc & 1n ? (crc >> 1n) ^ 0x95ac9329ac4bc9b5n : crc >> 1n;
  }
  return crc;
}

const value = (bytes: Buffer) => bytes.readBigUInt64LE(0);

describe('crc64', () => {
  it('gives the check value of "123456789", little-endian as Redis stores it', () => {
    const bytes = crc64(Buffer.from('123456789'));
    expect(value(bytes)).toBe(0xe9c6d914c4b8d9can);
    expect([...bytes]).toStrictEqual([0xca, 0xd9, 0xb8, 0xc4, 0x14, 0xd9, 0xc6, 0xe9]);
  });

  it("gives the check value of Redis's Lorem ipsum vector (446 bytes with the NUL)", () => {
    const data = Buffer.from(`${LOREM}\0`, 'latin1');
    expect(data.length).toBe(446);
    expect(value(crc64(data))).toBe(0xc7794709e69683b3n);
  });

  it('is 0 for no bytes', () => {
    expect(value(crc64(new Uint8Array(0)))).toBe(0n);
  });

  it('agrees with the bit-at-a-time reference for every length from 0 to 80 and a long buffer', () => {
    expect(reference(Buffer.from('123456789'))).toBe(0xe9c6d914c4b8d9can);
    const data = randomBytes(4099);
    for (let length = 0; length <= 80; length++) expect(value(crc64(data.subarray(0, length)))).toBe(reference(data.subarray(0, length)));
    expect(value(crc64(data))).toBe(reference(data));
  });
});

describe('crc64Update', () => {
  it('gives the same checksum however the data is split', () => {
    const data = randomBytes(300);
    const whole = value(crc64(data));
    for (let cut = 0; cut <= data.length; cut++) {
      const crc = crc64Start();
      crc64Update(crc, data.subarray(0, cut));
      crc64Update(crc, data.subarray(cut));
      expect(value(crc64Bytes(crc))).toBe(whole);
    }
    const crc = crc64Start();
    for (const byte of data) crc64Update(crc, Uint8Array.of(byte));
    expect(value(crc64Bytes(crc))).toBe(whole);
  });

  it('covers only data[start..end), and updates the running CRC in place', () => {
    const data = Buffer.from('xx123456789yy');
    const crc = crc64Start();
    expect(crc64Update(crc, data, 2, 11)).toBe(crc);
    expect(value(crc64Bytes(crc))).toBe(0xe9c6d914c4b8d9can);
  });
});

describe('crc64Bytes and crc64Into', () => {
  it('crc64Bytes writes the 8 bytes at an offset of a given buffer', () => {
    const out = Buffer.alloc(12, 0xee);
    crc64Bytes(crc64Update(crc64Start(), Buffer.from('123456789')), out, 2);
    expect(out.toString('hex')).toBe('eeeecad9b8c414d9c6e9eeee');
  });

  it('crc64Into writes the CRC of a range at an offset, touching nothing else', () => {
    const data = randomBytes(1000);
    for (const [start, end] of [
      [0, 0],
      [0, 1000],
      [3, 11],
      [5, 997],
      [999, 1000],
    ] as const) {
      const out = Buffer.alloc(20, 0xee);
      crc64Into(data, start, end, out, 7);
      expect(out.subarray(7, 15).equals(crc64(data.subarray(start, end)))).toBe(true);
      expect(out.subarray(0, 7).equals(Buffer.alloc(7, 0xee))).toBe(true);
      expect(out.subarray(15).equals(Buffer.alloc(5, 0xee))).toBe(true);
    }
  });
});
