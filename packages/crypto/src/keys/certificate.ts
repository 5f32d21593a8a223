import { AsnConvert } from '@peculiar/asn1-schema'
import { Certificate, Name, SubjectKeyIdentifier, id_ce_subjectKeyIdentifier } from '@peculiar/asn1-x509'
import type { CurveName } from '../curves.js'
import { CryptoError } from '../errors.js'
import { decodeEcPublicKey } from '../primitives/ec-public-key.js'
import { decodePemOrDer } from './pem.js'

/** What CMS needs from an X.509 certificate (RFC 5280 §4.1). */
export interface CertificateInfo {
  readonly der: Uint8Array
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
  readonly signature: Uint8Array
  /** The subject as text, RFC 4514 order reversed for reading (e.g. "CN=GW 1, O=Example"). */
  readonly subjectText: string
  readonly issuerText: string
}

/** Decodes a DER certificate; CERT_MALFORMED when it is not one. */
export function decodeCertificate(der: Uint8Array): CertificateInfo {
  let cert: Certificate
  try {
    cert = AsnConvert.parse(der, Certificate)
  } catch (err) {
    throw new CryptoError('CERT_MALFORMED', `certificate does not decode: ${(err as Error).message}`, { cause: err })
  }
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
    signature: new Uint8Array(cert.signatureValue),
    subjectText: formatName(tbs.subject),
    issuerText: formatName(tbs.issuer),
  }
}

/** Certificates from PEM (one or more CERTIFICATE blocks) or DER input, detected automatically. */
export function decodeCertificates(bytes: Uint8Array): CertificateInfo[] {
  return decodePemOrDer(bytes, ['CERTIFICATE'], 'CERT_MALFORMED').map(decodeCertificate)
}

const NAME_LABELS: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.5': 'serialNumber',
}

/** A Name as text, e.g. "C=DE, O=Example, CN=GW 1". */
export function formatName(name: Name): string {
  return name.map((rdn) => rdn.map((atv) => `${NAME_LABELS[atv.type] ?? atv.type}=${atv.value.toString()}`).join('+')).join(', ')
}
