import { createPrivateKey, diffieHellman, type KeyObject } from 'node:crypto'
import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import { ECParameters, ECPrivateKey } from '@peculiar/asn1-ecc'
import { CURVES, type CurveName } from '../curves.js'
import { CryptoError } from '../errors.js'
import { curveOfKey } from '../keys/key-object.js'
import { decodeEcPublicKey } from './ec-public-key.js'

/**
 * Ephemeral-static or static ECDH (SEC 1 v2 §3.3.1, cofactor 1 for every allowed curve):
 * the raw shared x-coordinate. The peer's SubjectPublicKeyInfo is validated first
 * (decodeEcPublicKey): invalid points and keys on another curve are rejected with
 * PUBLIC_KEY_INVALID / CURVE_MISMATCH / CURVE_UNSUPPORTED, compressed points are accepted.
 */
export function deriveEcdh(privateKey: KeyObject, peerSpki: Uint8Array): Uint8Array {
  const curve = curveOfKey(privateKey)
  if (curve === undefined) throw new CryptoError('CURVE_UNSUPPORTED', 'private key is not on a TR-03109-3 curve')
  const peer = decodeEcPublicKey(peerSpki, curve)
  try {
    return new Uint8Array(diffieHellman({ privateKey, publicKey: peer.key }))
  } catch (err) {
    throw new CryptoError('PUBLIC_KEY_INVALID', `ECDH failed: ${(err as Error).message}`, { cause: err })
  }
}

/** A private key object from a raw scalar (big-endian, leading zeros allowed), via SEC 1 ECPrivateKey (RFC 5915). */
export function createEcPrivateKeyFromScalar(curve: CurveName, scalar: Uint8Array): KeyObject {
  const size = CURVES[curve].size
  let start = 0
  while (start < scalar.length && scalar[start] === 0) start++
  const trimmed = scalar.subarray(start)
  if (trimmed.length > size || trimmed.length === 0) throw new CryptoError('KEY_MALFORMED', `private scalar does not fit ${curve}`)
  const padded = new Uint8Array(size)
  padded.set(trimmed, size - trimmed.length)
  const der = AsnConvert.serialize(new ECPrivateKey({ privateKey: new OctetString(padded), parameters: new ECParameters({ namedCurve: CURVES[curve].oid }) }))
  try {
    return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'sec1' })
  } catch (err) {
    throw new CryptoError('KEY_MALFORMED', `private scalar rejected: ${(err as Error).message}`, { cause: err })
  }
}
