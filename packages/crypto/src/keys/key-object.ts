import { createECDH, createPublicKey, sign as nodeSign, type KeyObject } from 'node:crypto'
import { AsnConvert } from '@peculiar/asn1-schema'
import { ECPrivateKey } from '@peculiar/asn1-ecc'
import { CURVES, type CurveName } from '../curves.js'
import { CryptoError, settle } from '../errors.js'
import { matchCanonicalEcSpki } from '../primitives/ec-public-key.js'
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
  // The scalar goes into one node:crypto ECDH object, made once: for a peer SPKI in the
  // canonical uncompressed form of our curve, ECDH.computeSecret takes the point directly and
  // OpenSSL checks it lies on the curve (EC_POINT_oct2point) without building a KeyObject.
  // The scalar comes from the SEC 1 ECPrivateKey (RFC 5915 §3; JWK has no brainpool curves).
  const d = AsnConvert.parse(privateKey.export({ format: 'der', type: 'sec1' }), ECPrivateKey).privateKey.buffer
  const ecdh = createECDH(CURVES[curve].nodeName)
  ecdh.setPrivateKey(new Uint8Array(d))
  return {
    curve,
    publicKey,
    // The peer key is validated (on the curve, same curve) by ECDH.computeSecret or deriveEcdh.
    deriveSharedSecret: (peer) => settle(() => {
      const point = matchCanonicalEcSpki(peer, curve)
      if (point === undefined) return deriveEcdh(privateKey, peer)
      try {
        return new Uint8Array(ecdh.computeSecret(point))
      } catch (err) {
        throw new CryptoError('PUBLIC_KEY_INVALID', `ECDH failed: ${(err as Error).message}`, { cause: err })
      }
    }),
  }
}
