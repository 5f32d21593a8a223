import { createCipheriv, createDecipheriv, type CipherGCMTypes } from 'node:crypto'
import { CryptoError } from '../errors.js'

function aesName(key: Uint8Array, mode: string): string {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) throw new CryptoError('INVALID_ARGUMENT', `AES key of ${String(key.length)} bytes`)
  return `aes-${String(key.length * 8)}-${mode}`
}

function wrapName(kek: Uint8Array, padded: boolean): string {
  if (kek.length !== 16 && kek.length !== 24 && kek.length !== 32) throw new CryptoError('INVALID_ARGUMENT', `AES key-encryption key of ${String(kek.length)} bytes`)
  return `id-aes${String(kek.length * 8)}-wrap${padded ? '-pad' : ''}`
}

// RFC 3394 §2.2.3.1: the default initial value A6A6A6A6A6A6A6A6 (RFC 5649 §3: A65959A6 ‖ length when padded).
const RFC3394_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex')
const RFC5649_IV = Buffer.from('a65959a6', 'hex')

/** AES key wrap, RFC 3394 (or RFC 5649 with padding). The key must be 16+ bytes and a multiple of 8 without padding. */
export function aesKeyWrap(kek: Uint8Array, key: Uint8Array, padded = false): Uint8Array {
  if (!padded && (key.length < 16 || key.length % 8 !== 0)) throw new CryptoError('INVALID_ARGUMENT', `RFC 3394 wraps multiples of 8 bytes (at least 16), not ${String(key.length)}`)
  if (padded && key.length === 0) throw new CryptoError('INVALID_ARGUMENT', 'RFC 5649 wraps at least one byte')
  const cipher = createCipheriv(wrapName(kek, padded), kek, padded ? RFC5649_IV : RFC3394_IV)
  return new Uint8Array(Buffer.concat([cipher.update(key), cipher.final()]))
}

/** AES key unwrap; an integrity-check failure or a bad length is CMS_UNWRAP_FAILED. */
export function aesKeyUnwrap(kek: Uint8Array, wrapped: Uint8Array, padded = false): Uint8Array {
  const name = wrapName(kek, padded)
  if (wrapped.length < 16 || wrapped.length % 8 !== 0 || (!padded && wrapped.length < 24)) {
    throw new CryptoError('CMS_UNWRAP_FAILED', `wrapped key of ${String(wrapped.length)} bytes`)
  }
  try {
    const decipher = createDecipheriv(name, kek, padded ? RFC5649_IV : RFC3394_IV)
    return new Uint8Array(Buffer.concat([decipher.update(wrapped), decipher.final()]))
  } catch (err) {
    throw new CryptoError('CMS_UNWRAP_FAILED', 'key unwrap failed (wrong key or corrupted wrapped key)', { cause: err })
  }
}

/** AES-CBC with PKCS#7 padding (RFC 5652 §6.3), NIST SP 800-38A. */
export function aesCbcEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Uint8Array {
  if (iv.length !== 16) throw new CryptoError('INVALID_ARGUMENT', `AES-CBC IV of ${String(iv.length)} bytes`)
  const cipher = createCipheriv(aesName(key, 'cbc'), key, iv)
  return new Uint8Array(Buffer.concat([cipher.update(plaintext), cipher.final()]))
}

export function aesCbcDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const name = aesName(key, 'cbc')
  if (iv.length !== 16) throw new CryptoError('CMS_DECRYPT_FAILED', `AES-CBC IV of ${String(iv.length)} bytes`)
  if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) throw new CryptoError('CMS_DECRYPT_FAILED', `AES-CBC ciphertext of ${String(ciphertext.length)} bytes`)
  try {
    const decipher = createDecipheriv(name, key, iv)
    return new Uint8Array(Buffer.concat([decipher.update(ciphertext), decipher.final()]))
  } catch (err) {
    throw new CryptoError('CMS_DECRYPT_FAILED', 'AES-CBC decryption failed (bad padding: wrong key or corrupted data)', { cause: err })
  }
}

const GCM_MAX_NONCE = 128

export interface GcmSealed {
  readonly ciphertext: Uint8Array
  readonly tag: Uint8Array
}

/** AES-GCM, NIST SP 800-38D; tag length 12..16 bytes (RFC 5084 §3.2). */
export function aesGcmEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array = new Uint8Array(0), tagLength = 16): GcmSealed {
  if (iv.length === 0 || iv.length > GCM_MAX_NONCE) throw new CryptoError('INVALID_ARGUMENT', `AES-GCM nonce of ${String(iv.length)} bytes (1..${String(GCM_MAX_NONCE)})`)
  const cipher = createCipheriv(aesName(key, 'gcm') as CipherGCMTypes, key, iv, { authTagLength: tagLength })
  cipher.setAAD(aad)
  const ciphertext = new Uint8Array(Buffer.concat([cipher.update(plaintext), cipher.final()]))
  return { ciphertext, tag: new Uint8Array(cipher.getAuthTag()) }
}

/** AES-GCM open; a wrong tag, nonce or tag length is CMS_DECRYPT_FAILED. */
export function aesGcmDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array, aad: Uint8Array = new Uint8Array(0)): Uint8Array {
  const name = aesName(key, 'gcm')
  // NIST SP 800-38D §5.2.1.2: tags shorter than 12 bytes only for special applications; CMS (RFC 5084 §3.2) allows 12..16.
  if (iv.length === 0 || tag.length < 12 || tag.length > 16) throw new CryptoError('CMS_DECRYPT_FAILED', `AES-GCM nonce of ${String(iv.length)} / tag of ${String(tag.length)} bytes`)
  // OpenSSL 3 (behind node:crypto) keeps at most 128 nonce bytes (GCM_IV_MAX_SIZE); longer ones are refused, not mis-computed.
  if (iv.length > GCM_MAX_NONCE) throw new CryptoError('INVALID_ARGUMENT', `AES-GCM nonce of ${String(iv.length)} bytes exceeds OpenSSL's ${String(GCM_MAX_NONCE)}`)
  try {
    const decipher = createDecipheriv(name as CipherGCMTypes, key, iv, { authTagLength: tag.length })
    decipher.setAAD(aad)
    decipher.setAuthTag(tag)
    return new Uint8Array(Buffer.concat([decipher.update(ciphertext), decipher.final()]))
  } catch (err) {
    throw new CryptoError('CMS_DECRYPT_FAILED', 'AES-GCM authentication failed (wrong key or corrupted data)', { cause: err })
  }
}
