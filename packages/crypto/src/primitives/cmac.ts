import { CryptoError } from '../errors.js'

// RFC 4493 / NIST SP 800-38B: AES-CMAC. Written here because node:crypto has no CMAC
// (OpenSSL's EVP_MAC "CMAC" is not exposed by Node's API). It is one CBC-MAC pass with two
// subkeys derived from L = AES_K(0^128), so any AES-CBC encryption under the key does the
// block work: node:crypto for an in-memory key, CKM_AES_CBC for a key on a token.

const RB = 0x87

function doubleBlock(block: Uint8Array): Uint8Array {
  const out = new Uint8Array(16)
  let carry = 0
  for (let i = 15; i >= 0; i--) {
    const b = block[i] ?? 0
    out[i] = ((b << 1) | carry) & 0xff
    carry = b >>> 7
  }
  if (((block[0] ?? 0) & 0x80) !== 0) out[15] = (out[15] ?? 0) ^ RB
  return out
}

/**
 * AES-CMAC of `message` (RFC 4493) computed with `cbcEncrypt`, AES-CBC encryption without
 * padding under the key (IV and whole blocks in, ciphertext out). Returns the full 16-byte
 * tag; truncate with `subarray` for shorter MACs (OMS uses the first 8 bytes).
 */
export function aesCmacWith(cbcEncrypt: (iv: Uint8Array, data: Uint8Array) => Uint8Array, message: Uint8Array): Uint8Array {
  const zero = new Uint8Array(16)
  // L = AES_K(0^128); K1 = dbl(L), K2 = dbl(K1) (RFC 4493 §2.3).
  const l = cbcEncrypt(zero, zero)
  if (l.length !== 16) throw new CryptoError('INVALID_ARGUMENT', 'the block cipher returned no 16-byte block')
  const k1 = doubleBlock(l)
  const k2 = doubleBlock(k1)
  const n = message.length === 0 ? 1 : Math.ceil(message.length / 16)
  const complete = message.length > 0 && message.length % 16 === 0
  const lastStart = (n - 1) * 16
  const padded = new Uint8Array(n * 16)
  padded.set(message)
  if (!complete) padded[message.length] = 0x80
  const sub = complete ? k1 : k2
  for (let i = 0; i < 16; i++) padded[lastStart + i] = (padded[lastStart + i] ?? 0) ^ (sub[i] ?? 0)
  // The tag is the last cipher block of the CBC chain over M_1..M_{n-1} ‖ M_last.
  const chain = cbcEncrypt(zero, padded)
  return new Uint8Array(chain.subarray(chain.length - 16))
}
