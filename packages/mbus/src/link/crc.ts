// EN 13757-4:2019 §6.2.3 (frame format A) and EN 60870-5-1 FT3: CRC-16 with polynomial
// x^16+x^13+x^12+x^11+x^10+x^8+x^6+x^5+x^2+1 (0x3D65), initial value 0, final XOR 0xFFFF,
// transmitted high byte first.

function createTable(): Uint16Array {
  const table = new Uint16Array(256)
  for (let i = 0; i < 256; i++) {
    let r = i << 8
    for (let j = 0; j < 8; j++) r = (r & 0x8000) !== 0 ? ((r << 1) ^ 0x3d65) & 0xffff : (r << 1) & 0xffff
    table[i] = r
  }
  return table
}

// A constant lookup table (computed once, never mutated), not state.
const TABLE = createTable()

/** The EN 13757-4 CRC-16 of `bytes[start, end)`. */
export function crc16En13757(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0
  for (let i = start; i < end; i++) crc = (TABLE[((crc >>> 8) ^ bytes[i]!) & 0xff]! ^ (crc << 8)) & 0xffff
  return crc ^ 0xffff
}
