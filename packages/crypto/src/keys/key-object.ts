import { createPublicKey, sign as nodeSign, type KeyObject } from 'node:crypto'
import { CURVES, type CurveName } from '../curves.js'
import { CryptoError, settle } from '../errors.js'
import { deriveEcdh } from '../primitives/ecdh.js'
import { HASHES } from '../primitives/hash.js'
import type { KeyAgreer, Signer } from '../security-module/types.js'

/** The curve of an EC key object, or undefined for a curve TR-03109-3 does not allow. */
export function curveOfKey(key: KeyObject): CurveName | undefined {
  const named = key.asymmetricKeyDetails?.namedCurve
  return Object.values(CURVES).find((c) => c.nodeName === named)?.name
}

function requireCurve(key: KeyObject): CurveName {
  const curve = curveOfKey(key)
  if (curve === undefined) throw new CryptoError('CURVE_UNSUPPORTED', `unsupported key: ${key.asymmetricKeyType ?? 'unknown'} ${key.asymmetricKeyDetails?.namedCurve ?? ''}`.trim())
  return curve
}

/** A Signer over an EC private key held in memory (CAs and tests; gateways use their security module). */
export function createKeyObjectSigner(privateKey: KeyObject): Signer {
  const curve = requireCurve(privateKey)
  const publicKey = new Uint8Array(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }))
  return {
    curve,
    publicKey,
    sign: (data, hash) => settle(() => new Uint8Array(nodeSign(HASHES[hash].nodeName, data, { key: privateKey, dsaEncoding: 'der' }))),
  }
}

/** A KeyAgreer over an EC private key held in memory. */
export function createKeyObjectAgreer(privateKey: KeyObject): KeyAgreer {
  const curve = requireCurve(privateKey)
  const publicKey = new Uint8Array(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }))
  return {
    curve,
    publicKey,
    // The peer key is validated (on the curve, same curve) by deriveEcdh. Not createECDH +
    // computeSecret(point): Node re-checks the whole key pair (one more scalar multiplication)
    // on every computeSecret, which made it slower than createPublicKey + diffieHellman on
    // the brainpool curves (measured, Node 20 / OpenSSL 3.0).
    deriveSharedSecret: (peer) => settle(() => deriveEcdh(privateKey, peer)),
  }
}
