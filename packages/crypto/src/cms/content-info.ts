import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import { ContentInfo, type IssuerAndSerialNumber } from '@peculiar/asn1-cms'
import { ECParameters } from '@peculiar/asn1-ecc'
import { AlgorithmIdentifier, Time } from '@peculiar/asn1-x509'
import type { CertificateInfo } from '../keys/certificate.js'
import { CryptoError, wrapErrors } from '../errors.js'
import { decodePemOrDer } from '../keys/pem.js'
import { encodeOid } from '../primitives/ec-public-key.js'
import { equalBytes } from './bytes.js'
import { TAG, decodeOid, readChildren, readDerChildren, readDerTlv } from './der.js'
import { id_ct_authEnvelopedData, id_data, id_envelopedData, id_signedData } from './oids.js'

/** Parses `bytes` as `type`, turning any decoder failure into CMS_MALFORMED. */
export function parseAsn<T>(bytes: ArrayBuffer | Uint8Array, type: new () => T, what: string): T {
  try {
    return AsnConvert.parse(bytes, type)
  } catch (err) {
    throw new CryptoError('CMS_MALFORMED', `${what} does not decode: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * A received part's asn1-schema parse, or undefined when it does not parse (the strict
 * readers then decline and the caller parses the whole structure with its errors).
 */
export type PartParser<T> = (bytes: Uint8Array) => T | undefined

/** A {@link PartParser} that parses every time (the one-shot functions, tests). */
export function createPartParser<T>(type: new () => T): PartParser<T> {
  return (bytes) => {
    try {
      return AsnConvert.parse(bytes, type)
    } catch {
      return undefined
    }
  }
}

/**
 * A {@link PartParser} that remembers its results by the exact received bytes, held by a
 * prepared decryptor or verifier (never by a module): a peer names the same certificate in
 * every message, and parsing that identifier's Name again was about a tenth of a
 * verify+decrypt (profiled). Parsing is a function of the bytes, so a remembered result is
 * what parsing again would give; the objects are shared between messages and only read.
 * At most `max` entries, oldest forgotten first; parts that do not parse are not remembered.
 */
export function createRememberingPartParser<T>(type: new () => T, max = 16): PartParser<T> {
  const parse = createPartParser(type)
  const seen = new Map<string, T>()
  return (bytes) => {
    const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1')
    const hit = seen.get(key)
    if (hit !== undefined) return hit
    const parsed = parse(bytes)
    if (parsed === undefined || max === 0) return parsed
    if (seen.size >= max) {
      const oldest = seen.keys().next()
      if (oldest.done !== true) seen.delete(oldest.value)
    }
    seen.set(key, parsed)
    return parsed
  }
}

/** A ContentInfo taken apart: the content type and the DER of [0] content. */
export interface ContentInfoParts {
  readonly contentType: string
  readonly content: ArrayBuffer | Uint8Array
}

/**
 * A ContentInfo (RFC 5652 §3) whose contentType is one of `expected`. The wrapper is
 * SEQUENCE { OBJECT IDENTIFIER, [0] EXPLICIT ANY }: when the input is exactly that, with
 * definite lengths, nothing after it and one of the expected OIDs, the content's bytes are
 * taken as they are (the content is then decoded by asn1-schema, strictly, by the caller);
 * parsing the wrapper with asn1-schema would decode the whole message once more and
 * re-encode the content (profiled: a quarter of a decryption). Anything else takes the
 * asn1-schema path and its errors.
 */
export function decodeContentInfo(der: Uint8Array, expected: readonly string[]): ContentInfoParts {
  const fields = readChildren(der)
  if (fields?.length === 2 && fields[0]?.tag === TAG.OID && fields[1]?.tag === TAG.CONTEXT_0) {
    const inner = readChildren(fields[1].bytes)
    const type = expected.find((oid) => equalBytes(encodedOid(oid), fields[0]?.bytes))
    if (type !== undefined && inner?.length === 1 && inner[0] !== undefined) return { contentType: type, content: inner[0].bytes }
  }
  const info = parseAsn(der, ContentInfo, 'ContentInfo')
  if (!expected.includes(info.contentType)) throw new CryptoError('CMS_UNSUPPORTED_CONTENT_TYPE', `content type ${info.contentType} is not ${expected.join(' or ')}`)
  return info
}

/** The DER of the content types we open (immutable, encoded at load). */
const CONTENT_TYPE_OIDS: ReadonlyMap<string, Uint8Array> = new Map([id_data, id_signedData, id_envelopedData, id_ct_authEnvelopedData].map((o) => [o, new Uint8Array(encodeOid(o))]))

function encodedOid(oid: string): Uint8Array {
  return CONTENT_TYPE_OIDS.get(oid) ?? new Uint8Array(encodeOid(oid))
}

/** CMS input as DER from PEM ("CMS" or "PKCS7", as openssl writes them) or DER bytes. */
export function decodeCmsInput(bytes: Uint8Array): Uint8Array {
  const [der] = decodePemOrDer(bytes, ['CMS', 'PKCS7'], 'CMS_MALFORMED')
  if (der === undefined) throw new CryptoError('CMS_MALFORMED', 'no CMS data')
  return der
}

// Single received values on the receive path (attribute values, algorithm parameters).
// Each reads the common DER form by hand and leaves anything else to asn1-schema, with the
// same result (the property tests in received.test.ts compare both): parsing these small
// values with asn1-schema was about a tenth of a verify+decrypt (profiled).

/** The bytes of an OCTET STRING given as DER (primitive or constructed). */
export function decodeOctetString(der: ArrayBuffer, what: string): Uint8Array {
  const t = readDerTlv(new Uint8Array(der))
  if (t?.tag === TAG.OCTET_STRING) return t.contents.slice()
  return new Uint8Array(parseAsn(der, OctetString, what).buffer)
}

/** An OBJECT IDENTIFIER value (content-type attribute, RFC 5652 §11.1; named-curve parameters, RFC 5480 §2.1.1). */
export function decodeOidValue(der: ArrayBuffer, what: string): string {
  const t = readDerTlv(new Uint8Array(der))
  const fast = t?.tag === TAG.OID ? decodeOid(t.contents) : undefined
  if (fast !== undefined) return fast
  const oid = parseAsn(der, ECParameters, what).namedCurve
  if (oid === undefined) throw new CryptoError('CMS_MALFORMED', `${what} is not an OBJECT IDENTIFIER`)
  return oid
}

/**
 * A Time value (signing-time attribute, RFC 5652 §11.3: UTCTime up to 2049, GeneralizedTime
 * after). UTCTime YYMMDDHHMMSSZ is read by hand as asn1js reads it (X.509 two-digit year
 * rule: 50..99 → 19YY, RFC 5280 §4.1.2.5.1; fields through Date.UTC); anything else by asn1-schema.
 */
export function decodeTimeValue(der: ArrayBuffer, what: string): Date {
  const t = readDerTlv(new Uint8Array(der))
  if (t?.tag === TAG.UTC_TIME && t.contents.length === 13 && t.contents[12] === 0x5a && t.contents.subarray(0, 12).every((c) => c >= 0x30 && c <= 0x39)) {
    const n = (i: number) => ((t.contents[i] ?? 0) - 0x30) * 10 + (t.contents[i + 1] ?? 0) - 0x30
    const yy = n(0)
    return new Date(Date.UTC(yy >= 50 ? 1900 + yy : 2000 + yy, n(2) - 1, n(4), n(6), n(8), n(10)))
  }
  return parseAsn(der, Time, what).getTime()
}

/** The algorithm OID of an AlgorithmIdentifier (RFC 5280 §4.1.1.2) given as DER, such as the key-wrap algorithm of RFC 5753 §7.1. */
export function decodeAlgorithmOid(der: ArrayBuffer, what: string): string {
  const fields = readDerChildren(new Uint8Array(der))
  // Hand-read only SEQUENCE { OBJECT IDENTIFIER [, NULL] }: parameters of any other form go to asn1-schema.
  const plain = der.byteLength > 0 && new Uint8Array(der)[0] === TAG.SEQUENCE && fields !== undefined && (fields.length === 1 || (fields.length === 2 && fields[1]?.tag === TAG.NULL && fields[1].contents.length === 0))
  const fast = plain && fields[0]?.tag === TAG.OID ? decodeOid(fields[0].contents) : undefined
  return fast ?? parseAsn(der, AlgorithmIdentifier, what).algorithm
}

/**
 * Whether an IssuerAndSerialNumber names `cert`. With `received` (the exact received TLV of
 * the IssuerAndSerialNumber, DER lengths), the serial number and the issuer are compared as
 * received bytes first (profiled: re-encoding the Name per message cost a tenth of a
 * verify+decrypt); the received issuer is re-encoded only when the serial numbers agree but
 * the issuer bytes do not, so the answer is the same as comparing the re-encoded DER.
 */
export function matchesIssuerAndSerial(id: IssuerAndSerialNumber, cert: CertificateInfo, received?: Uint8Array): boolean {
  const fields = received === undefined ? undefined : readDerChildren(received)
  if (fields?.length === 2 && fields[0]?.tag === TAG.SEQUENCE && fields[1]?.tag === TAG.INTEGER) {
    // asn1-schema keeps the INTEGER's contents octets as received, so this is the same test as below.
    if (!equalBytes(fields[1].contents, cert.serialNumber)) return false
    if (equalBytes(fields[0].bytes, cert.issuer)) return true
  }
  // The issuer is re-encoded to compare DER; a received Name that decoded but does not encode
  // (e.g. a malformed attribute type OID) is a malformed message, not a foreign error.
  const issuer = wrapErrors('CMS_MALFORMED', 'issuerAndSerialNumber: issuer does not encode', () => new Uint8Array(AsnConvert.serialize(id.issuer)))
  return equalBytes(issuer, cert.issuer) && equalBytes(new Uint8Array(id.serialNumber), cert.serialNumber)
}
