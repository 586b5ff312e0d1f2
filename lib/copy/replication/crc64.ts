/**
 * CRC-64/Jones, the checksum Redis puts at the end of every DUMP payload and RDB file
 * (reflected, polynomial 0xad93d23594c935a9, init 0). RESTORE refuses a payload whose
 * checksum does not match, so payloads built from the replication stream need it.
 * Slicing-by-8 over two 32-bit halves: JS has no fast 64-bit integers, and BigInt is
 * two orders of magnitude slower.
 */
const REFLECTED_POLY_HI = 0x95ac9329;
const REFLECTED_POLY_LO = 0xac4bc9b5;

const SLICES = 8;
const tableLo = new Uint32Array(256 * SLICES);
const tableHi = new Uint32Array(256 * SLICES);

(function buildTables() {
  for (let i = 0; i < 256; i++) {
    let lo = i;
    let hi = 0;
    for (let bit = 0; bit < 8; bit++) {
      const carry = lo & 1;
      lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
      hi = hi >>> 1;
      if (carry) {
        lo = (lo ^ REFLECTED_POLY_LO) >>> 0;
        hi = (hi ^ REFLECTED_POLY_HI) >>> 0;
      }
    }
    tableLo[i] = lo;
    tableHi[i] = hi;
  }
  for (let slice = 1; slice < SLICES; slice++) {
    for (let i = 0; i < 256; i++) {
      const prevLo = tableLo[(slice - 1) * 256 + i]!;
      const prevHi = tableHi[(slice - 1) * 256 + i]!;
      const index = prevLo & 0xff;
      tableLo[slice * 256 + i] = (((prevLo >>> 8) | (prevHi << 24)) ^ tableLo[index]!) >>> 0;
      tableHi[slice * 256 + i] = ((prevHi >>> 8) ^ tableHi[index]!) >>> 0;
    }
  }
})();

/** A running CRC-64 as two unsigned 32-bit halves. */
export interface Crc64 {
  lo: number;
  hi: number;
}

export const crc64Start = (): Crc64 => ({ lo: 0, hi: 0 });

export function crc64Update(crc: Crc64, data: Uint8Array, start = 0, end = data.length): Crc64 {
  crcHalves(crc.lo, crc.hi, data, start, end);
  crc.lo = resultLo;
  crc.hi = resultHi;
  return crc;
}

/**
 * CRC of `data[start..end)` written little-endian at `out[at..at+8)`, with no allocation:
 * the copy calls it once per key.
 */
export function crc64Into(data: Uint8Array, start: number, end: number, out: Uint8Array, at: number): void {
  crcHalves(0, 0, data, start, end);
  out[at] = resultLo & 0xff;
  out[at + 1] = (resultLo >>> 8) & 0xff;
  out[at + 2] = (resultLo >>> 16) & 0xff;
  out[at + 3] = resultLo >>> 24;
  out[at + 4] = resultHi & 0xff;
  out[at + 5] = (resultHi >>> 8) & 0xff;
  out[at + 6] = (resultHi >>> 16) & 0xff;
  out[at + 7] = resultHi >>> 24;
}

let resultLo = 0;
let resultHi = 0;

function crcHalves(startLo: number, startHi: number, data: Uint8Array, start: number, end: number): void {
  let lo = startLo;
  let hi = startHi;
  let i = start;
  const T_LO = tableLo;
  const T_HI = tableHi;
  for (; i + 8 <= end; i += 8) {
    const a = (lo ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
    const b = (hi ^ (data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24))) >>> 0;
    const i7 = 7 * 256 + (a & 0xff);
    const i6 = 6 * 256 + ((a >>> 8) & 0xff);
    const i5 = 5 * 256 + ((a >>> 16) & 0xff);
    const i4 = 4 * 256 + (a >>> 24);
    const i3 = 3 * 256 + (b & 0xff);
    const i2 = 2 * 256 + ((b >>> 8) & 0xff);
    const i1 = 256 + ((b >>> 16) & 0xff);
    const i0 = b >>> 24;
    lo = (T_LO[i7]! ^ T_LO[i6]! ^ T_LO[i5]! ^ T_LO[i4]! ^ T_LO[i3]! ^ T_LO[i2]! ^ T_LO[i1]! ^ T_LO[i0]!) >>> 0;
    hi = (T_HI[i7]! ^ T_HI[i6]! ^ T_HI[i5]! ^ T_HI[i4]! ^ T_HI[i3]! ^ T_HI[i2]! ^ T_HI[i1]! ^ T_HI[i0]!) >>> 0;
  }
  for (; i < end; i++) {
    const index = (lo ^ data[i]!) & 0xff;
    lo = (((lo >>> 8) | (hi << 24)) ^ T_LO[index]!) >>> 0;
    hi = ((hi >>> 8) ^ T_HI[index]!) >>> 0;
  }
  resultLo = lo;
  resultHi = hi;
}

/** The checksum as Redis stores it: 8 bytes, little-endian. */
export function crc64Bytes(crc: Crc64, out: Buffer = Buffer.allocUnsafe(8), offset = 0): Buffer {
  out.writeUInt32LE(crc.lo, offset);
  out.writeUInt32LE(crc.hi, offset + 4);
  return out;
}

export function crc64(data: Uint8Array): Buffer {
  return crc64Bytes(crc64Update(crc64Start(), data));
}
