/**
 * CRC-16/X-25 (a.k.a. CRC-16/IBM-SDLC): poly 0x1021 reflected (0x8408), init 0xFFFF,
 * xorout 0xFFFF. FNN SML 1.04 §7 (transport v1) and §6.2.2 (SML_Message.crc16) both use it.
 * Check value over "123456789" is 0x906E.
 */
function makeTable(): Uint16Array {
  const table = new Uint16Array(256)
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x8408 : c >>> 1
    table[i] = c
  }
  return table
}

// Constant lookup table, computed once; never mutated.
const TABLE = makeTable()

/** CRC-16/X-25 over `bytes[start, end)`. */
export function crc16X25(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffff
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ TABLE[(crc ^ bytes[i]!) & 0xff]!
  return (crc ^ 0xffff) & 0xffff
}

/** Swaps the two bytes of a 16-bit value. */
export function swap16(v: number): number {
  return ((v & 0xff) << 8) | (v >>> 8)
}
