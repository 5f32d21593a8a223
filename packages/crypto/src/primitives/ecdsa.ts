import { verify as nodeVerify } from 'node:crypto'
import { CURVES, type HashName } from '../curves.js'
import { CryptoError } from '../errors.js'
import { decodeEcPublicKey, type EcPublicKey } from './ec-public-key.js'
import { HASHES } from './hash.js'

export type SignatureFormat = 'der' | 'p1363'

/**
 * ECDSA verification (FIPS 186-4 §6.4, signature encodings per RFC 3279 §2.2.3 (DER
 * ECDSA-Sig-Value) or IEEE P1363 r‖s). Returns false for any signature that does not
 * verify or is not strictly encoded (OpenSSL rejects BER and trailing bytes); throws
 * CryptoError PUBLIC_KEY_INVALID / CURVE_UNSUPPORTED for an unusable public key.
 * CMS signature checking goes through this function.
 */
export function verifyEcdsa(spki: Uint8Array, data: Uint8Array, signature: Uint8Array, hash: HashName, format: SignatureFormat = 'der'): boolean {
  return verifyEcdsaWithKey(decodeEcPublicKey(spki), data, signature, hash, format)
}

/** verifyEcdsa with a public key already decoded and validated (decodeEcPublicKey), for callers that keep it. */
export function verifyEcdsaWithKey(pub: EcPublicKey, data: Uint8Array, signature: Uint8Array, hash: HashName, format: SignatureFormat = 'der'): boolean {
  if (format === 'p1363' && signature.length !== 2 * CURVES[pub.curve].size) return false
  try {
    return nodeVerify(HASHES[hash].nodeName, data, { key: pub.key, dsaEncoding: format === 'der' ? 'der' : 'ieee-p1363' }, signature)
  } catch {
    // node:crypto throws on some malformed encodings; a malformed signature is a failed verification.
    return false
  }
}

/** Raw r‖s (what PKCS#11 CKM_ECDSA returns, PKCS#11 v2.40 §2.3.1) → DER ECDSA-Sig-Value (RFC 3279 §2.2.3). */
export function encodeEcdsaSignatureDer(raw: Uint8Array): Uint8Array {
  if (raw.length === 0 || raw.length % 2 !== 0) throw new CryptoError('INVALID_ARGUMENT', `raw ECDSA signature has odd length ${String(raw.length)}`)
  const half = raw.length / 2
  const body = [...derInteger(raw.subarray(0, half)), ...derInteger(raw.subarray(half))]
  return new Uint8Array([0x30, ...derLength(body.length), ...body])
}

function derInteger(unsigned: Uint8Array): number[] {
  let start = 0
  while (start < unsigned.length - 1 && unsigned[start] === 0) start++
  const bytes = [...unsigned.subarray(start)]
  if ((bytes[0] ?? 0) & 0x80) bytes.unshift(0)
  return [0x02, ...derLength(bytes.length), ...bytes]
}

function derLength(length: number): number[] {
  if (length < 0x80) return [length]
  if (length < 0x100) return [0x81, length]
  return [0x82, length >> 8, length & 0xff]
}
