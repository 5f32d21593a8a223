import { ECDH, createPublicKey, type KeyObject } from 'node:crypto'
import { AsnConvert } from '@peculiar/asn1-schema'
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509'
import { ECParameters } from '@peculiar/asn1-ecc'
import { CURVES, type CurveName } from '../curves.js'
import { CryptoError } from '../errors.js'
import { curveOfKey } from '../keys/key-object.js'

/** RFC 5480 §2.1.1: id-ecPublicKey. */
export const ID_EC_PUBLIC_KEY = '1.2.840.10045.2.1'

export interface EcPublicKey {
  readonly curve: CurveName
  readonly key: KeyObject
  /** The point, uncompressed (SEC 1 v2 §2.3.3: 04 ‖ X ‖ Y). */
  readonly point: Uint8Array
  /** SubjectPublicKeyInfo, DER, with a named curve and the uncompressed point. */
  readonly spki: Uint8Array
}

/**
 * Decodes and validates an EC SubjectPublicKeyInfo (RFC 5480). OpenSSL checks that the
 * point lies on the curve while decoding; a point at infinity, a point off the curve, a
 * key of another type or an unnamed (explicit-parameter) curve is rejected. A compressed
 * point (SEC 1 §2.3.3, 02/03 prefix) is accepted and decompressed.
 */
export function decodeEcPublicKey(spki: Uint8Array, expectedCurve?: CurveName): EcPublicKey {
  const canonical = decodeCanonicalEcSpki(spki, expectedCurve)
  if (canonical !== undefined) return canonical
  let info: SubjectPublicKeyInfo
  try {
    info = AsnConvert.parse(spki, SubjectPublicKeyInfo)
  } catch (err) {
    throw new CryptoError('PUBLIC_KEY_INVALID', `public key does not decode: ${(err as Error).message}`, { cause: err })
  }
  // X.690 §10 / RFC 5280 §4.1: certificates carry DER; BER length forms, indefinite lengths and trailing bytes are refused.
  if (Buffer.compare(new Uint8Array(AsnConvert.serialize(info)), spki) !== 0) throw new CryptoError('PUBLIC_KEY_INVALID', 'public key is not DER encoded')
  if (info.algorithm.algorithm !== ID_EC_PUBLIC_KEY) throw new CryptoError('PUBLIC_KEY_INVALID', `public key algorithm ${info.algorithm.algorithm} is not id-ecPublicKey`)
  // RFC 5480 §2.1.1: namedCurve only; implicitCurve and specifiedCurve MUST NOT be used.
  const params = info.algorithm.parameters
  if (params === null || params === undefined || new Uint8Array(params)[0] !== 0x06) {
    throw new CryptoError('CURVE_UNSUPPORTED', 'public key with explicit or implicit curve parameters (RFC 5480 §2.1.1 requires a named curve)')
  }
  // The named curve's OID, DER, must be one TR-03109-3 allows.
  if (!Object.values(CURVES).some((c) => Buffer.compare(new Uint8Array(encodeOid(c.oid)), new Uint8Array(params)) === 0)) {
    throw new CryptoError('CURVE_UNSUPPORTED', `named curve ${Buffer.from(params).toString('hex')} is not allowed by TR-03109-3 (or not DER)`)
  }
  let key: KeyObject
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' })
  } catch (err) {
    throw new CryptoError('PUBLIC_KEY_INVALID', `public key does not decode: ${(err as Error).message}`, { cause: err })
  }
  if (key.asymmetricKeyType !== 'ec') throw new CryptoError('PUBLIC_KEY_INVALID', `public key is ${key.asymmetricKeyType ?? 'unknown'}, not EC`)
  const curve = curveOfKey(key)
  if (curve === undefined) throw new CryptoError('CURVE_UNSUPPORTED', `curve ${key.asymmetricKeyDetails?.namedCurve ?? '(explicit parameters)'} is not allowed by TR-03109-3`)
  if (expectedCurve !== undefined && curve !== expectedCurve) throw new CryptoError('CURVE_MISMATCH', `public key is on ${curve}, expected ${expectedCurve}`)
  let point: Uint8Array
  try {
    const raw = new Uint8Array(info.subjectPublicKey)
    point = new Uint8Array(ECDH.convertKey(raw, CURVES[curve].nodeName, undefined, undefined, 'uncompressed') as Buffer)
  } catch (err) {
    throw new CryptoError('PUBLIC_KEY_INVALID', `public key point does not decode: ${(err as Error).message}`, { cause: err })
  }
  return { curve, key, point, spki: encodeEcSpki(curve, point) }
}

/** SubjectPublicKeyInfo (RFC 5480 §2) for a named curve and an encoded point. */
export function encodeEcSpki(curve: CurveName, point: Uint8Array): Uint8Array {
  const prefix = UNCOMPRESSED_SPKI_PREFIXES.get(curve)
  if (prefix !== undefined && point.length === 1 + 2 * CURVES[curve].size && point[0] === 0x04) {
    const out = new Uint8Array(prefix.length + point.length)
    out.set(prefix)
    out.set(point, prefix.length)
    return out
  }
  return encodeEcSpkiWithSchema(curve, point)
}

function encodeEcSpkiWithSchema(curve: CurveName, point: Uint8Array): Uint8Array {
  const spki = new SubjectPublicKeyInfo({
    algorithm: new AlgorithmIdentifier({ algorithm: ID_EC_PUBLIC_KEY, parameters: encodeOid(CURVES[curve].oid) }),
    subjectPublicKey: copyBuffer(point),
  })
  return new Uint8Array(AsnConvert.serialize(spki))
}

/**
 * The DER bytes before the point of an SPKI with an uncompressed point, per allowed curve
 * (fixed by RFC 5480 §2: SEQUENCE { SEQUENCE { id-ecPublicKey, namedCurve }, BIT STRING 00 ‖ 04 ‖ X ‖ Y }).
 * Encoded once by asn1-schema at load; immutable.
 */
const UNCOMPRESSED_SPKI_PREFIXES: ReadonlyMap<CurveName, Uint8Array> = new Map(Object.values(CURVES).map((c) => {
  const pointLength = 1 + 2 * c.size
  const dummy = new Uint8Array(pointLength)
  dummy[0] = 0x04
  const der = encodeEcSpkiWithSchema(c.name, dummy)
  return [c.name, der.slice(0, der.length - pointLength)]
}))

/**
 * Fast path for the common case: an SPKI that is byte for byte the canonical DER of an allowed
 * named curve with an uncompressed point. Those bytes are DER by construction, so the
 * asn1-schema parse and re-encoding check of the general path would find nothing; OpenSSL
 * still checks the point (createPublicKey). Anything else (compressed points, other
 * encodings, other curves, malformed input) returns undefined and takes the general path.
 */
function decodeCanonicalEcSpki(spki: Uint8Array, expectedCurve: CurveName | undefined): EcPublicKey | undefined {
  const canonical = canonicalEcPoint(spki, expectedCurve)
  if (canonical === undefined) return undefined
  // The prefix names the curve by its OID, so OpenSSL can only give a key on that curve (asking
  // the key object again, asymmetricKeyDetails, cost a sixth of the import: profiled).
  let key: KeyObject
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' })
  } catch (err) {
    throw new CryptoError('PUBLIC_KEY_INVALID', `public key does not decode: ${(err as Error).message}`, { cause: err })
  }
  const copy = spki.slice()
  return { curve: canonical.curve, key, point: copy.subarray(spki.length - canonical.point.length), spki: copy }
}

/**
 * The curve and the point (a view into `spki`) of an SPKI that is byte for byte the canonical
 * DER of an allowed named curve with an uncompressed point; undefined for anything else. The
 * point is not checked here: whoever uses it must (OpenSSL does, when it imports the point).
 */
export function canonicalEcPoint(spki: Uint8Array, expectedCurve: CurveName | undefined): { curve: CurveName; point: Uint8Array } | undefined {
  for (const [curve, prefix] of UNCOMPRESSED_SPKI_PREFIXES) {
    if (spki.length !== prefix.length + 1 + 2 * CURVES[curve].size || spki[prefix.length] !== 0x04) continue
    if (Buffer.compare(spki.subarray(0, prefix.length), prefix) !== 0) continue
    if (expectedCurve !== undefined && curve !== expectedCurve) throw new CryptoError('CURVE_MISMATCH', `public key is on ${curve}, expected ${expectedCurve}`)
    return { curve, point: spki.subarray(prefix.length) }
  }
  return undefined
}

/** Decodes an encoded point of `curve` (uncompressed or compressed) into an EcPublicKey. */
export function decodeEcPoint(curve: CurveName, point: Uint8Array): EcPublicKey {
  return decodeEcPublicKey(encodeEcSpki(curve, point), curve)
}

export function copyBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer
}

/** An OBJECT IDENTIFIER, DER (for AlgorithmIdentifier parameters). */
export function encodeOid(oid: string): ArrayBuffer {
  return AsnConvert.serialize(new ECParameters({ namedCurve: oid }))
}
