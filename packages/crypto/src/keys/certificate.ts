import { AsnConvert } from '@peculiar/asn1-schema'
import { Certificate, SubjectKeyIdentifier, id_ce_subjectKeyIdentifier } from '@peculiar/asn1-x509'
import type { CurveName } from '../curves.js'
import { TAG, readChildren } from '../cms/der.js'
import { CryptoError, wrapErrors } from '../errors.js'
import { decodeEcPublicKey } from '../primitives/ec-public-key.js'
import { formatName } from './name.js'
import { decodePemOrDer } from './pem.js'

/** One extension as encoded (RFC 5280 §4.1: extnID, critical DEFAULT FALSE, extnValue). */
export interface CertificateExtension {
  readonly oid: string
  readonly critical: boolean
  /** extnValue contents (the DER of the extension's own type). */
  readonly value: Uint8Array
}

/**
 * The TBSCertificate basics of an X.509 certificate (RFC 5280 §4.1): what CMS needs, and
 * what @smgw/pki's decodeCertificate builds its extension-aware view on.
 */
export interface CertificateInfo {
  readonly der: Uint8Array
  /** 1, 2 or 3 (RFC 5280 §4.1.2.1). */
  readonly version: number
  /** DER of the issuer Name, as it appears in the certificate. */
  readonly issuer: Uint8Array
  readonly subject: Uint8Array
  /** The serial number's INTEGER content bytes (two's complement, as encoded). */
  readonly serialNumber: Uint8Array
  /** SubjectPublicKeyInfo, DER. */
  readonly publicKey: Uint8Array
  /** The EC curve of the public key, undefined when it is not a TR-03109-3 EC key. */
  readonly curve: CurveName | undefined
  readonly subjectKeyIdentifier: Uint8Array | undefined
  readonly notBefore: Date
  readonly notAfter: Date
  /** DER of the TBSCertificate, the signature algorithm OID and the signature value (for chain checks). */
  readonly tbs: Uint8Array
  readonly signatureAlgorithm: string
  /** Whether the outer AlgorithmIdentifier carries parameters (RFC 5758 §3.2: it must not for ECDSA). */
  readonly signatureAlgorithmHasParameters: boolean
  /** TBSCertificate.signature OID (RFC 5280 §4.1.1.2: must equal the outer one). */
  readonly tbsSignatureAlgorithm: string
  readonly signature: Uint8Array
  /** Every extension, in encoded order (duplicates are not rejected here). */
  readonly extensions: readonly CertificateExtension[]
  /** The subject as text in encoded order (formatName 'encoded', e.g. "C=DE, O=Example, CN=GW 1"). */
  readonly subjectText: string
  readonly issuerText: string
}

/** Decodes a DER certificate; CERT_MALFORMED when it is not one. */
export function decodeCertificate(der: Uint8Array): CertificateInfo {
  // RFC 5280 §4.1: Certificate ::= SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm SEQUENCE,
  // signatureValue BIT STRING }. The tags are checked here because this part is not signed and
  // asn1-schema took a context-specific [16] (0xb0) for the SEQUENCE of signatureAlgorithm
  // (found by @smgw/pki's bit-flip property).
  const fields = der[0] === TAG.SEQUENCE ? readChildren(der) : undefined
  if (fields?.[0]?.tag !== TAG.SEQUENCE || fields[1]?.tag !== TAG.SEQUENCE || fields[2]?.tag !== TAG.BIT_STRING) {
    throw new CryptoError('CERT_MALFORMED', 'certificate is not SEQUENCE { SEQUENCE, SEQUENCE, BIT STRING }')
  }
  let cert: Certificate
  try {
    cert = AsnConvert.parse(der, Certificate)
  } catch (err) {
    throw new CryptoError('CERT_MALFORMED', `certificate does not decode: ${(err as Error).message}`, { cause: err })
  }
  // Names and the key are re-encoded from the parsed classes; a field that decoded but does not
  // encode (a string value with a foreign tag) is a malformed certificate, not a foreign error.
  return wrapErrors('CERT_MALFORMED', 'certificate field does not encode', () => describe(der, cert))
}

function describe(der: Uint8Array, cert: Certificate): CertificateInfo {
  const tbs = cert.tbsCertificate
  const publicKey = new Uint8Array(AsnConvert.serialize(tbs.subjectPublicKeyInfo))
  let curve: CurveName | undefined
  try {
    curve = decodeEcPublicKey(publicKey).curve
  } catch {
    curve = undefined
  }
  const skiExt = tbs.extensions?.find((e) => e.extnID === id_ce_subjectKeyIdentifier)
  let subjectKeyIdentifier: Uint8Array | undefined
  if (skiExt) {
    try {
      subjectKeyIdentifier = new Uint8Array(AsnConvert.parse(skiExt.extnValue, SubjectKeyIdentifier).buffer)
    } catch (err) {
      throw new CryptoError('CERT_MALFORMED', 'subjectKeyIdentifier does not decode', { cause: err })
    }
  }
  const tbsRaw = (cert as Certificate & { tbsCertificateRaw?: ArrayBuffer }).tbsCertificateRaw
  return {
    der,
    version: tbs.version + 1,
    issuer: new Uint8Array(AsnConvert.serialize(tbs.issuer)),
    subject: new Uint8Array(AsnConvert.serialize(tbs.subject)),
    serialNumber: new Uint8Array(tbs.serialNumber),
    publicKey,
    curve,
    subjectKeyIdentifier,
    notBefore: tbs.validity.notBefore.getTime(),
    notAfter: tbs.validity.notAfter.getTime(),
    tbs: tbsRaw ? new Uint8Array(tbsRaw) : new Uint8Array(AsnConvert.serialize(tbs)),
    signatureAlgorithm: cert.signatureAlgorithm.algorithm,
    signatureAlgorithmHasParameters: cert.signatureAlgorithm.parameters !== undefined,
    tbsSignatureAlgorithm: tbs.signature.algorithm,
    signature: new Uint8Array(cert.signatureValue),
    extensions: (tbs.extensions === undefined ? [] : [...tbs.extensions]).map((e) => ({ oid: e.extnID, critical: e.critical, value: new Uint8Array(e.extnValue.buffer) })),
    subjectText: formatName(tbs.subject),
    issuerText: formatName(tbs.issuer),
  }
}

/** Certificates from PEM (one or more CERTIFICATE blocks) or DER input, detected automatically. */
export function decodeCertificates(bytes: Uint8Array): CertificateInfo[] {
  return decodePemOrDer(bytes, ['CERTIFICATE'], 'CERT_MALFORMED').map(decodeCertificate)
}
