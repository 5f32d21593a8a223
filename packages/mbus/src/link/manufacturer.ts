import { MbusError } from '../errors.js'

// EN 13757-3:2018 §6.3.3 / EN 62056-21 FLAG code: three letters A–Z packed as
// 5-bit values (letter − 64) into 15 bits, sent little endian.

/** Three letters from the 16-bit manufacturer field. Values outside A–Z map to '@'..'_'. */
export function decodeManufacturer(code: number): string {
  return String.fromCharCode(64 + ((code >> 10) & 0x1f), 64 + ((code >> 5) & 0x1f), 64 + (code & 0x1f))
}

export function encodeManufacturer(letters: string): number {
  if (!/^[A-Z]{3}$/.test(letters)) throw new MbusError('MBUS_ENCODE', `manufacturer must be three letters A-Z, got "${letters}"`)
  return ((letters.charCodeAt(0) - 64) << 10) | ((letters.charCodeAt(1) - 64) << 5) | (letters.charCodeAt(2) - 64)
}
