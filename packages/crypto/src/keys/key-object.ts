import { createPublicKey, sign as nodeSign, type KeyObject } from 'node:crypto'
import { CURVES, type CurveName } from '../curves.js'
import { CryptoError, settle } from '../errors.js'
import { deriveEcdh } from '../primitives/ecdh.js'
import { canonicalEcPoint } from '../primitives/ec-public-key.js'
import { createNativeEcdh } from '../primitives/native-ecdh.js'
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
  const native = createNativeEcdh(privateKey)
  const publicKey = new Uint8Array(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }))
  return {
    curve,
    publicKey,
    // The peer key is validated (on the curve, same curve) on either path. A canonical SPKI with
    // an uncompressed point (what CMS originators send) goes to the native binding when it is
    // built: half the CPU of node's diffieHellman, whose OpenSSL 3.0 checks n·Q = O as well
    // (primitives/native-ecdh.ts). Not createECDH + computeSecret(point): node re-checks the
    // whole key pair (two more scalar multiplications) on every call (measured, Node 20).
    deriveSharedSecret: (peer) => settle(() => {
      const canonical = native === undefined ? undefined : canonicalEcPoint(peer, curve)
      return canonical === undefined || native === undefined ? deriveEcdh(privateKey, peer) : native(canonical.point)
    }),
  }
}
