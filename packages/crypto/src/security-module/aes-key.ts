import { createCipheriv, createDecipheriv } from 'node:crypto'
import { CryptoError } from '../errors.js'
import { aesCmacWith } from '../primitives/cmac.js'
import type { SecretKeyOps } from './types.js'

/** Secret keys the modules hold: AES-128 (wireless M-Bus meter keys, EN 13757-7:2018 §9). */
export const SECRET_KEY_LENGTH = 16

export function checkSecretKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== SECRET_KEY_LENGTH) {
    throw new CryptoError('INVALID_ARGUMENT', `a secret key is AES-128 (16 bytes), not ${key instanceof Uint8Array ? String(key.length) : typeof key}`)
  }
}

export function checkBlocks(what: string, data: Uint8Array): void {
  if (data.length % 16 !== 0) throw new CryptoError('INVALID_ARGUMENT', `${what}: ${String(data.length)} bytes is not whole 16-byte blocks`)
}

export function checkIv(iv: Uint8Array): void {
  if (iv.length !== 16) throw new CryptoError('INVALID_ARGUMENT', `IV / counter block of ${String(iv.length)} bytes (16 needed)`)
}

function plain(out: Buffer): Uint8Array {
  // A plain Uint8Array view, so views callers take from it are not Buffers.
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}

/**
 * Operations over an AES-128 key held in this process (a copy of `key` is taken). The
 * software module opens its sealed key into one of these; @smgw/mbus wraps a bytes key so
 * every use of a meter key goes through the same interface as a key on a token.
 */
export function createAesKeyOps(key: Uint8Array): SecretKeyOps {
  checkSecretKey(key)
  const k = Buffer.from(key)
  const cbcEncrypt = (iv: Uint8Array, data: Uint8Array): Uint8Array => {
    checkIv(iv)
    checkBlocks('AES-CBC', data)
    const cipher = createCipheriv('aes-128-cbc', k, iv)
    cipher.setAutoPadding(false)
    return plain(cipher.update(data))
  }
  return {
    cbcEncrypt,
    cbcDecrypt(iv, data) {
      checkIv(iv)
      checkBlocks('AES-CBC', data)
      const decipher = createDecipheriv('aes-128-cbc', k, iv)
      decipher.setAutoPadding(false)
      // With padding off, update() returns every whole block; final() would add nothing.
      return plain(decipher.update(data))
    },
    ctr(iv, data) {
      checkIv(iv)
      const cipher = createCipheriv('aes-128-ctr', k, iv)
      return plain(Buffer.concat([cipher.update(data), cipher.final()]))
    },
    cmac(data) {
      return aesCmacWith(cbcEncrypt, data)
    },
  }
}

/** AES-CMAC (RFC 4493) of `message` under a 16-byte key; the full 16-byte tag. */
export function aesCmac(key: Uint8Array, message: Uint8Array): Uint8Array {
  return createAesKeyOps(key).cmac(message)
}
