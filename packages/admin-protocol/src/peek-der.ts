import { AdminProtocolError } from './errors.js'

/**
 * The encapsulated content of a CMS SignedData, found by a minimal DER walk without
 * decoding certificates or checking anything (RFC 5652 §3, §5.1, §5.2): the cheap first look
 * the wake-up gate takes before it spends a signature check. Definite lengths only (DER,
 * X.690 §10.1); anything else is MALFORMED.
 */
export function peekSignedContent(der: Uint8Array): Uint8Array {
  // ContentInfo ::= SEQUENCE { contentType OBJECT IDENTIFIER, content [0] EXPLICIT ANY }
  const contentInfo = readTlv(der, 0, 'ContentInfo')
  if (contentInfo.tag !== SEQUENCE || contentInfo.end !== der.length) throw malformed('ContentInfo is not one SEQUENCE')
  const contentType = readTlv(der, contentInfo.start, 'contentType')
  if (contentType.tag !== OID || !equalAt(der, contentType.start, ID_SIGNED_DATA)) throw malformed('contentType is not id-signedData')
  const explicit = readTlv(der, contentType.end, 'content')
  if (explicit.tag !== CONTEXT_0 || explicit.end !== contentInfo.end) throw malformed('ContentInfo content is not [0]')
  // SignedData ::= SEQUENCE { version, digestAlgorithms SET, encapContentInfo SEQUENCE, ... }
  const signedData = readTlv(der, explicit.start, 'SignedData')
  if (signedData.tag !== SEQUENCE || signedData.end !== explicit.end) throw malformed('SignedData is not one SEQUENCE')
  const version = readTlv(der, signedData.start, 'version')
  if (version.tag !== INTEGER) throw malformed('SignedData version is not an INTEGER')
  const digestAlgorithms = readTlv(der, version.end, 'digestAlgorithms')
  if (digestAlgorithms.tag !== SET) throw malformed('digestAlgorithms is not a SET')
  // EncapsulatedContentInfo ::= SEQUENCE { eContentType, eContent [0] EXPLICIT OCTET STRING OPTIONAL }
  const encap = readTlv(der, digestAlgorithms.end, 'encapContentInfo')
  if (encap.tag !== SEQUENCE || encap.end > signedData.end) throw malformed('encapContentInfo is not a SEQUENCE')
  const eContentType = readTlv(der, encap.start, 'eContentType')
  if (eContentType.tag !== OID || !equalAt(der, eContentType.start, ID_DATA)) throw malformed('eContentType is not id-data')
  if (eContentType.end === encap.end) throw malformed('detached SignedData: no content')
  const eContent = readTlv(der, eContentType.end, 'eContent')
  if (eContent.tag !== CONTEXT_0 || eContent.end !== encap.end) throw malformed('eContent is not [0]')
  const octets = readTlv(der, eContent.start, 'eContent OCTET STRING')
  if (octets.tag !== OCTET_STRING || octets.end !== eContent.end) throw malformed('eContent is not one primitive OCTET STRING')
  return der.subarray(octets.start, octets.end)
}

const SEQUENCE = 0x30
const SET = 0x31
const OID = 0x06
const INTEGER = 0x02
const OCTET_STRING = 0x04
const CONTEXT_0 = 0xa0
// 1.2.840.113549.1.7.2 id-signedData and 1.2.840.113549.1.7.1 id-data (RFC 5652 §5.1, §4), contents octets.
const ID_SIGNED_DATA = Uint8Array.of(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02)
const ID_DATA = Uint8Array.of(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01)

interface Tlv { readonly tag: number; readonly start: number; readonly end: number }

function readTlv(der: Uint8Array, at: number, what: string): Tlv {
  if (at + 2 > der.length) throw malformed(`${what}: truncated`)
  const tag = der[at]!
  if ((tag & 0x1f) === 0x1f) throw malformed(`${what}: multi-byte tag`)
  let length = der[at + 1]!
  let start = at + 2
  if (length & 0x80) {
    const count = length & 0x7f
    // X.690 §10.1: definite form only; at most 4 length octets (nothing here is near 4 GiB).
    if (count === 0 || count > 4) throw malformed(`${what}: length form`)
    if (start + count > der.length) throw malformed(`${what}: truncated length`)
    length = 0
    for (let i = 0; i < count; i++) length = length * 256 + der[start + i]!
    // X.690 §10.1: the minimal number of length octets.
    if (length < 0x80 || der[start] === 0) throw malformed(`${what}: non-minimal length`)
    start += count
  }
  const end = start + length
  if (end > der.length) throw malformed(`${what}: truncated`)
  return { tag, start, end }
}

function equalAt(der: Uint8Array, start: number, expected: Uint8Array): boolean {
  if (start + expected.length > der.length || der[start - 1] !== expected.length) return false
  for (let i = 0; i < expected.length; i++) if (der[start + i] !== expected[i]) return false
  return true
}

function malformed(message: string): AdminProtocolError {
  return new AdminProtocolError('MALFORMED', `CMS SignedData: ${message}`)
}
