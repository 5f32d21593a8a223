import { createCipheriv, createDecipheriv } from 'node:crypto'
import { MbusError } from '../errors.js'

const ZERO_IV = new Uint8Array(16)

export function checkKey(key: Uint8Array, what = 'key'): void {
  if (key.length !== 16) throw new MbusError('MBUS_KEY_LENGTH', `${what} must be 16 bytes (AES-128), got ${key.length}`)
}

/** AES-128-CBC without padding; `data.length` must be a multiple of 16. */
export function decryptCbc(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const decipher = createDecipheriv('aes-128-cbc', key, iv)
  decipher.setAutoPadding(false)
  // With padding off, update() returns every whole block (OpenSSL holds back a block only
  // for padding removal), so final() would add nothing but a native call on the hot path.
  const out = decipher.update(data)
  // A plain Uint8Array view, so views taken from it (record dif/vif) are not Buffers.
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}

export function encryptCbc(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const cipher = createCipheriv('aes-128-cbc', key, iv)
  cipher.setAutoPadding(false)
  const out = Buffer.concat([cipher.update(data), cipher.final()])
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}

/** AES-128-CTR (a stream mode: encryption and decryption are the same operation). */
export function cryptCtr(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const cipher = createCipheriv('aes-128-ctr', key, iv)
  const out = Buffer.concat([cipher.update(data), cipher.final()])
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}

/** AES-128 encryption of whole blocks in ECB mode (each block on its own). */
export function encryptEcb(key: Uint8Array, data: Uint8Array): Uint8Array {
  const cipher = createCipheriv('aes-128-ecb', key, null)
  cipher.setAutoPadding(false)
  const out = cipher.update(data)
  cipher.final()
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}

export { ZERO_IV }
