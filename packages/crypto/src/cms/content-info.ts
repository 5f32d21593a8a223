import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import { ContentInfo, type IssuerAndSerialNumber } from '@peculiar/asn1-cms'
import type { CertificateInfo } from '../keys/certificate.js'
import { CryptoError, wrapErrors } from '../errors.js'
import { decodePemOrDer } from '../keys/pem.js'
import { equalBytes } from './bytes.js'

/** Parses `bytes` as `type`, turning any decoder failure into CMS_MALFORMED. */
export function parseAsn<T>(bytes: ArrayBuffer | Uint8Array, type: new () => T, what: string): T {
  try {
    return AsnConvert.parse(bytes, type)
  } catch (err) {
    throw new CryptoError('CMS_MALFORMED', `${what} does not decode: ${(err as Error).message}`, { cause: err })
  }
}

/** A ContentInfo (RFC 5652 §3) whose contentType is one of `expected`. */
export function decodeContentInfo(der: Uint8Array, expected: readonly string[]): ContentInfo {
  const info = parseAsn(der, ContentInfo, 'ContentInfo')
  if (!expected.includes(info.contentType)) throw new CryptoError('CMS_UNSUPPORTED_CONTENT_TYPE', `content type ${info.contentType} is not ${expected.join(' or ')}`)
  return info
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

export function matchesIssuerAndSerial(id: IssuerAndSerialNumber, cert: CertificateInfo): boolean {
  // The issuer is re-encoded to compare DER; a received Name that decoded but does not encode
  // (e.g. a malformed attribute type OID) is a malformed message, not a foreign error.
  const issuer = wrapErrors('CMS_MALFORMED', 'issuerAndSerialNumber: issuer does not encode', () => new Uint8Array(AsnConvert.serialize(id.issuer)))
  return equalBytes(issuer, cert.issuer) && equalBytes(new Uint8Array(id.serialNumber), cert.serialNumber)
}
