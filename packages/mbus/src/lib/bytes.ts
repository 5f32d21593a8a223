import { MbusError } from '../errors.js'

/** Lower-case hex of `bytes` (no separators). */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** Bytes from hex (spaces allowed); throws MBUS_ENCODE on malformed input. */
export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '')
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) throw new MbusError('MBUS_ENCODE', `not a hex string: ${hex.slice(0, 40)}`)
  return new Uint8Array(Buffer.from(clean, 'hex'))
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0
  for (const p of parts) length += p.length
  const out = new Uint8Array(length)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

export function readUint16Le(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8)
}

export function readUint32Le(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16)) + bytes[at + 3]! * 0x1000000
}

/** Throws MBUS_TRUNCATED unless `need` bytes are available at `at`. */
export function need(bytes: Uint8Array, at: number, count: number, what: string): void {
  if (at + count > bytes.length) {
    throw new MbusError('MBUS_TRUNCATED', `${what}: need ${count} byte(s) at offset ${at}, ${Math.max(0, bytes.length - at)} left`)
  }
}
