import { createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto'
import { AsnConvert } from '@peculiar/asn1-schema'
import { ECParameters } from '@peculiar/asn1-ecc'
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509'
import { CURVES, type CurveName, type HashName } from '@smgw/crypto'
import { PkiError } from './errors.js'
import { ecdsa_with_SHA256, ecdsa_with_SHA384, ecdsa_with_SHA512, id_ecPublicKey } from './oids.js'

export interface SignatureAlgorithmInfo {
  readonly oid: string
  readonly name: 'ecdsa-with-SHA256' | 'ecdsa-with-SHA384' | 'ecdsa-with-SHA512'
  readonly hash: HashName
}

/**
 * TR-03109-3 v1.1 (algorithms for the SM-PKI): the signature algorithms allowed in the SM-PKI. ECDSA only
 * (RFC 5758 §3.2 OIDs, parameters absent); no RSA, DSA or EdDSA.
 */
export const SIGNATURE_ALGORITHMS: readonly SignatureAlgorithmInfo[] = [
  { oid: ecdsa_with_SHA256, name: 'ecdsa-with-SHA256', hash: 'SHA-256' },
  { oid: ecdsa_with_SHA384, name: 'ecdsa-with-SHA384', hash: 'SHA-384' },
  { oid: ecdsa_with_SHA512, name: 'ecdsa-with-SHA512', hash: 'SHA-512' },
]

export function signatureAlgorithmByOid(oid: string): SignatureAlgorithmInfo | undefined {
  return SIGNATURE_ALGORITHMS.find((a) => a.oid === oid)
}

export function signatureAlgorithmForHash(hash: HashName): SignatureAlgorithmInfo {
  const alg = SIGNATURE_ALGORITHMS.find((a) => a.hash === hash)
  if (alg === undefined) throw new PkiError('PKI_UNSUPPORTED_ALGORITHM', `no ECDSA algorithm for ${hash}`)
  return alg
}

/** RFC 5758 §3.2: the ecdsa-with-SHA2 AlgorithmIdentifier has no parameters field at all. */
export function encodeSignatureAlgorithm(hash: HashName): AlgorithmIdentifier {
  return new AlgorithmIdentifier({ algorithm: signatureAlgorithmForHash(hash).oid })
}

/** What a SubjectPublicKeyInfo holds, judged against the TR-03109-3 curve allow-list. */
export type PublicKeyKind =
  | { readonly kind: 'ec'; readonly curve: CurveName }
  | { readonly kind: 'ec-curve-not-allowed'; readonly curveOid: string | undefined }
  | { readonly kind: 'not-ec'; readonly algorithmOid: string }

export function classifyPublicKey(spki: SubjectPublicKeyInfo): PublicKeyKind {
  if (spki.algorithm.algorithm !== id_ecPublicKey) return { kind: 'not-ec', algorithmOid: spki.algorithm.algorithm }
  const params = spki.algorithm.parameters
  if (params === undefined || params === null) return { kind: 'ec-curve-not-allowed', curveOid: undefined }
  let named: string | undefined
  try {
    named = AsnConvert.parse(params, ECParameters).namedCurve
  } catch {
    return { kind: 'ec-curve-not-allowed', curveOid: undefined }
  }
  // RFC 5480 §2.1.1: only namedCurve is allowed; explicit (specifiedCurve) parameters are not.
  const curve = Object.values(CURVES).find((c) => c.oid === named)
  return curve === undefined ? { kind: 'ec-curve-not-allowed', curveOid: named } : { kind: 'ec', curve: curve.name }
}

/** The allowed curve of an SPKI (DER), or PKI_UNSUPPORTED_ALGORITHM. */
export function curveOfSpki(spkiDer: Uint8Array): CurveName {
  let spki: SubjectPublicKeyInfo
  try {
    spki = AsnConvert.parse(spkiDer, SubjectPublicKeyInfo)
  } catch (err) {
    throw new PkiError('PKI_MALFORMED', 'SubjectPublicKeyInfo does not decode', { cause: err })
  }
  const kind = classifyPublicKey(spki)
  if (kind.kind !== 'ec') throw new PkiError('PKI_UNSUPPORTED_ALGORITHM', `public key not on an allowed curve (${kind.kind})`)
  return kind.curve
}

/**
 * Verifies a DER ECDSA signature with a public key given as SPKI DER. Any failure to
 * import the key or parse the signature counts as "does not verify" (returns false).
 */
export function verifySignature(spkiDer: Uint8Array, hash: HashName, data: Uint8Array, signature: Uint8Array): boolean {
  const key = importPublicKey(spkiDer)
  return key !== undefined && verifyWithKey(key, hash, data, signature)
}

/** An EC public key object from SPKI DER, or undefined when it does not import or is not EC. */
export function importPublicKey(spkiDer: Uint8Array): KeyObject | undefined {
  try {
    const key = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' })
    return key.asymmetricKeyType === 'ec' ? key : undefined
  } catch {
    return undefined
  }
}

/** verifySignature with an imported key; a signature that does not parse does not verify. */
export function verifyWithKey(key: KeyObject, hash: HashName, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    return nodeVerify(hash.replace('-', '').toLowerCase(), data, { key, dsaEncoding: 'der' }, signature)
  } catch {
    return false
  }
}
