import { AsnConvert } from '@peculiar/asn1-schema'
import { CertificateSet, SignedData, type SignerIdentifier, type SignerInfo } from '@peculiar/asn1-cms'
import { Time } from '@peculiar/asn1-x509'
import { wrapErrors } from '../errors.js'
import { decodeCertificate, type CertificateInfo } from '../keys/certificate.js'
import { equalBytes } from './bytes.js'
import { TAG, readChildren, readDerChildren, tlv } from './der.js'
import { decodeContentInfo, decodeOctetString, matchesIssuerAndSerial, parseAsn, type PartParser } from './content-info.js'
import { id_signedData, id_signingTime } from './oids.js'
import { readSignedData } from './signed-reader.js'

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
  /** The received bytes of the SignedData (the ContentInfo's content). */
  readonly received: Uint8Array
}

/**
 * Decoded certificates by their exact DER bytes, held by a prepared verifier
 * (createCmsVerifier): a carried certificate whose received bytes are a known canonical
 * encoding is neither re-encoded nor decoded again.
 */
export interface CertificateCache {
  get(der: Uint8Array): CertificateInfo | undefined
  set(der: Uint8Array, info: CertificateInfo): void
}

/** `parseSid`: how the strict reader parses signer identifiers (a prepared verifier remembers them). */
export function openSignedData(der: Uint8Array, cache?: CertificateCache, parseSid?: PartParser<SignerIdentifier>): OpenedSignedData {
  const info = decodeContentInfo(der, [id_signedData])
  const received = info.content instanceof Uint8Array ? info.content : new Uint8Array(info.content)
  const known = cache === undefined ? undefined : withoutKnownCertificates(received, cache)
  const bytes = known?.signedData ?? received
  const sd = readSignedData(bytes, parseSid) ?? parseAsn(bytes, SignedData, 'SignedData')
  const eContent = sd.encapContentInfo.eContent
  let content: Uint8Array | undefined
  if (eContent?.single) content = new Uint8Array(eContent.single.buffer)
  else if (eContent?.any) content = decodeOctetString(eContent.any, 'eContent')
  if (known !== undefined) return { sd, content, certificates: known.certificates.map((c) => c.der), decoded: known.certificates, received }
  const raw = cache === undefined ? undefined : rawCertificates(received, sd)
  const certificates: Uint8Array[] = []
  const decoded: CertificateInfo[] = []
  let i = 0
  for (const choice of sd.certificates ?? new CertificateSet()) {
    const cert = choice.certificate
    const received = raw?.[i++]
    if (!cert) continue
    const known = received === undefined ? undefined : cache?.get(received)
    if (known !== undefined) {
      certificates.push(known.der)
      decoded.push(known)
      continue
    }
    // Re-encoded from the parsed class; a certificate that decoded but does not encode is a malformed message.
    const reEncoded = wrapErrors('CMS_MALFORMED', 'a carried certificate does not encode', () => new Uint8Array(AsnConvert.serialize(cert)))
    const d = decodeCertificate(reEncoded)
    // Only a certificate received in exactly its canonical encoding is remembered under those bytes.
    if (received !== undefined && equalBytes(received, reEncoded)) cache?.set(reEncoded, d)
    certificates.push(reEncoded)
    decoded.push(d)
  }
  return { sd, content, certificates, decoded, received }
}

/**
 * The received bytes of each SignerInfo (RFC 5652 §5.1: signerInfos is the last field of
 * SignedData), when they line up one to one with the `count` SignerInfos asn1-schema
 * decoded and every length is DER; undefined otherwise.
 */
export function receivedSignerInfos(signedData: Uint8Array, count: number): Uint8Array[] | undefined {
  const fields = readDerChildren(signedData)
  const last = fields?.[fields.length - 1]
  if (last?.tag !== TAG.SET) return undefined
  const infos = readDerChildren(last.bytes)
  if (infos?.length !== count || infos.some((i) => i.tag !== TAG.SEQUENCE)) return undefined
  return infos.map((i) => i.bytes)
}

/**
 * When every certificate a SignedData carries is, byte for byte, one the cache holds: the
 * SignedData without its certificates field (the same fields in the same order, the
 * [0] IMPLICIT CertificateSet left out) and the remembered certificates, so asn1-schema
 * parses everything else strictly but not certificates decoded before. Undefined otherwise.
 */
function withoutKnownCertificates(signedData: Uint8Array, cache: CertificateCache): { signedData: Uint8Array; certificates: CertificateInfo[] } | undefined {
  const fields = readChildren(signedData)
  const set = fields?.[3]
  if (fields === undefined || set?.tag !== TAG.CONTEXT_0) return undefined
  const choices = readChildren(set.bytes)
  if (choices === undefined || choices.length === 0) return undefined
  const certificates: CertificateInfo[] = []
  for (const c of choices) {
    const hit = c.tag === TAG.SEQUENCE ? cache.get(c.bytes) : undefined
    if (hit === undefined) return undefined
    certificates.push(hit)
  }
  return { signedData: tlv(TAG.SEQUENCE, ...fields.filter((_, i) => i !== 3).map((f) => f.bytes)), certificates }
}

/**
 * The received bytes of each CertificateChoices of the SignedData (RFC 5652 §5.1: the
 * fourth element, [0] IMPLICIT, when present), in order; undefined when they cannot be
 * lined up with what asn1-schema decoded.
 */
function rawCertificates(signedData: Uint8Array, sd: SignedData): (Uint8Array | undefined)[] | undefined {
  const fields = readChildren(signedData)
  const set = fields?.[3]
  if (set?.tag !== TAG.CONTEXT_0) return undefined
  const choices = readChildren(set.bytes)
  if (choices?.length !== (sd.certificates?.length ?? 0)) return undefined
  return choices.map((c) => (c.tag === TAG.SEQUENCE ? c.bytes : undefined))
}

/** The certificate a SignerInfo names (issuerAndSerialNumber or subjectKeyIdentifier, RFC 5652 §5.3). */
export function findSignerCertificate(si: SignerInfo, certs: readonly CertificateInfo[], received?: Uint8Array): CertificateInfo | undefined {
  // The sid is the second field of the received SignerInfo (RFC 5652 §5.3).
  const sid = received === undefined ? undefined : readDerChildren(received)?.[1]?.bytes
  return certs.find((c) => (si.sid.issuerAndSerialNumber ? matchesIssuerAndSerial(si.sid.issuerAndSerialNumber, c, sid) : equalBytes(si.sid.subjectKeyIdentifier ? new Uint8Array(si.sid.subjectKeyIdentifier.buffer) : undefined, c.subjectKeyIdentifier)))
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
