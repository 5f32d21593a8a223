import { AsnConvert } from '@peculiar/asn1-schema'
import { CertificateSet, SignedData, type SignerInfo } from '@peculiar/asn1-cms'
import { Time } from '@peculiar/asn1-x509'
import { wrapErrors } from '../errors.js'
import { decodeCertificate, type CertificateInfo } from '../keys/certificate.js'
import { equalBytes } from './bytes.js'
import { decodeContentInfo, decodeOctetString, matchesIssuerAndSerial, parseAsn } from './content-info.js'
import { id_signedData, id_signingTime } from './oids.js'

/** A SignedData taken apart without checking anything (RFC 5652 §5.1); see verifyCms for that. */
export interface DecodedSignedData {
  /** eContentType. */
  readonly contentType: string
  /** The encapsulated content, undefined when detached. */
  readonly content: Uint8Array | undefined
  /** Every X.509 certificate the message carries, DER. */
  readonly certificates: readonly Uint8Array[]
  /** The certificate of the first SignerInfo when the message carries it. */
  readonly signerCertificate: Uint8Array | undefined
  /** The first SignerInfo's digest and signature algorithm OIDs and its signing-time attribute. */
  readonly digestAlgorithm: string | undefined
  readonly signatureAlgorithm: string | undefined
  readonly signingTime: Date | undefined
}

/** Internal: the parsed SignedData with its content and decoded certificates. */
export interface OpenedSignedData {
  readonly sd: SignedData
  readonly content: Uint8Array | undefined
  readonly certificates: readonly Uint8Array[]
  readonly decoded: readonly CertificateInfo[]
}

export function openSignedData(der: Uint8Array): OpenedSignedData {
  const info = decodeContentInfo(der, [id_signedData])
  const sd = parseAsn(info.content, SignedData, 'SignedData')
  const eContent = sd.encapContentInfo.eContent
  let content: Uint8Array | undefined
  if (eContent?.single) content = new Uint8Array(eContent.single.buffer)
  else if (eContent?.any) content = decodeOctetString(eContent.any, 'eContent')
  const certificates: Uint8Array[] = []
  for (const choice of sd.certificates ?? new CertificateSet()) {
    const cert = choice.certificate
    // Re-encoded from the parsed class; a certificate that decoded but does not encode is a malformed message.
    if (cert) certificates.push(wrapErrors('CMS_MALFORMED', 'a carried certificate does not encode', () => new Uint8Array(AsnConvert.serialize(cert))))
  }
  return { sd, content, certificates, decoded: certificates.map((c) => decodeCertificate(c)) }
}

/** The certificate a SignerInfo names (issuerAndSerialNumber or subjectKeyIdentifier, RFC 5652 §5.3). */
export function findSignerCertificate(si: SignerInfo, certs: readonly CertificateInfo[]): CertificateInfo | undefined {
  return certs.find((c) => (si.sid.issuerAndSerialNumber ? matchesIssuerAndSerial(si.sid.issuerAndSerialNumber, c) : equalBytes(si.sid.subjectKeyIdentifier ? new Uint8Array(si.sid.subjectKeyIdentifier.buffer) : undefined, c.subjectKeyIdentifier)))
}

/**
 * Takes a SignedData apart (content, certificates, the first signer's certificate and
 * algorithms) without verifying it: for callers that look before they verify with verifyCms.
 */
export function decodeSignedData(der: Uint8Array): DecodedSignedData {
  const { sd, content, certificates, decoded } = openSignedData(der)
  const first = sd.signerInfos[0]
  const st = first?.signedAttrs?.find((a) => a.attrType === id_signingTime)?.attrValues[0]
  return {
    contentType: sd.encapContentInfo.eContentType,
    content,
    certificates,
    signerCertificate: first === undefined ? undefined : findSignerCertificate(first, decoded)?.der,
    digestAlgorithm: first?.digestAlgorithm.algorithm,
    signatureAlgorithm: first?.signatureAlgorithm.algorithm,
    signingTime: st === undefined ? undefined : parseAsn(st, Time, 'signing-time').getTime(),
  }
}
