import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import { ContentInfo, type IssuerAndSerialNumber } from '@peculiar/asn1-cms'
import type { CertificateInfo } from '../keys/certificate.js'
import { CryptoError, wrapErrors } from '../errors.js'
import { decodePemOrDer } from '../keys/pem.js'
import { encodeOid } from '../primitives/ec-public-key.js'
import { equalBytes } from './bytes.js'
import { TAG, readChildren, readDerChildren } from './der.js'
import { id_ct_authEnvelopedData, id_data, id_envelopedData, id_signedData } from './oids.js'

/** Parses `bytes` as `type`, turning any decoder failure into CMS_MALFORMED. */
export function parseAsn<T>(bytes: ArrayBuffer | Uint8Array, type: new () => T, what: string): T {
  try {
    return AsnConvert.parse(bytes, type)
  } catch (err) {
    throw new CryptoError('CMS_MALFORMED', `${what} does not decode: ${(err as Error).message}`, { cause: err })
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

/** The bytes of an OCTET STRING given as DER (primitive or constructed). */
export function decodeOctetString(der: ArrayBuffer, what: string): Uint8Array {
  return new Uint8Array(parseAsn(der, OctetString, what).buffer)
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
