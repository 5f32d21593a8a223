/**
 * CRC-16/X-25 (a.k.a. CRC-16/IBM-SDLC): poly 0x1021 reflected (0x8408), init 0xFFFF,
 * xorout 0xFFFF. SML 1.04 transport protocol v1 and SML_Message.crc16 both use it.
 * Check value over "123456789" is 0x906E.
 *
 * Table-driven, four bytes per step ("slicing by 4"): T[k][i] is the CRC effect of byte i
 * followed by k zero bytes; the tables are linear over XOR, so a 4-byte block is the XOR
 * of four lookups.
 */
function makeTables(): readonly [Uint16Array, Uint16Array, Uint16Array, Uint16Array] {
  const t0 = new Uint16Array(256)
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x8408 : c >>> 1
    t0[i] = c
  }
  const next = (prev: Uint16Array): Uint16Array => {
    const t = new Uint16Array(256)
    for (let i = 0; i < 256; i++) t[i] = (prev[i]! >>> 8) ^ t0[prev[i]! & 0xff]!
    return t
  }
  const t1 = next(t0)
  const t2 = next(t1)
  return [t0, t1, t2, next(t2)]
}

// Constant lookup tables, computed once; never mutated.
const [T0, T1, T2, T3] = makeTables()

/** CRC-16/X-25 over `bytes[start, end)`. */
export function crc16X25(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffff
  let i = start
  for (const stop = end - 3; i < stop; i += 4) {
    const x = crc ^ bytes[i]! ^ (bytes[i + 1]! << 8)
    crc = T3[x & 0xff]! ^ T2[x >>> 8]! ^ T1[bytes[i + 2]!]! ^ T0[bytes[i + 3]!]!
  }
  for (; i < end; i++) crc = (crc >>> 8) ^ T0[(crc ^ bytes[i]!) & 0xff]!
  return (crc ^ 0xffff) & 0xffff
}

/** Swaps the two bytes of a 16-bit value. */
export function swap16(v: number): number {
  return ((v & 0xff) << 8) | (v >>> 8)
}
