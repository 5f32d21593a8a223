import { AsnConvert } from '@peculiar/asn1-schema'
import { Certificate, Name, SubjectKeyIdentifier, id_ce_subjectKeyIdentifier } from '@peculiar/asn1-x509'
import { CURVES, type CurveName } from '../curves.js'
import { TAG, decodeOid, readChildren, readDerChildren, readDerTlv, type RawTlv } from '../cms/der.js'
import { CryptoError, wrapErrors } from '../errors.js'
import { decodeEcPublicKey, encodeEcSpki } from '../primitives/ec-public-key.js'
import { NAME_ATTRIBUTE_LABELS, formatName } from './name.js'
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
  /**
   * The EC curve the public key names, undefined when it is not a TR-03109-3 EC key. For the
   * usual uncompressed named-curve SPKI this is read from the curve OID; whether the point lies
   * on the curve is checked where the key is imported for use (decodeEcPublicKey, a signature
   * check), not here: importing it only to learn the curve cost an eighth of a receiver's CPU
   * per message (profiled, bench wan).
   */
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
  /** Each RDN of the subject as text (formatName's form), in encoded order: subjectText is them joined by ", ". */
  readonly subjectRdns: readonly string[]
  readonly issuerRdns: readonly string[]
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
  return readCertificateDer(der) ?? decodeCertificateWithSchema(der)
}

/** The general path of {@link decodeCertificate}: asn1-schema, for what the strict reader declines (exported for the tests that compare both). */
export function decodeCertificateWithSchema(der: Uint8Array): CertificateInfo {
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
  let curve = namedCurveOfSpki(publicKey)
  if (curve === undefined) {
    try {
      curve = decodeEcPublicKey(publicKey).curve
    } catch {
      curve = undefined
    }
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
    subjectRdns: tbs.subject.map((rdn) => formatName(new Name([rdn]))),
    issuerRdns: tbs.issuer.map((rdn) => formatName(new Name([rdn]))),
  }
}

/** Certificates from PEM (one or more CERTIFICATE blocks) or DER input, detected automatically. */
export function decodeCertificates(bytes: Uint8Array): CertificateInfo[] {
  return decodePemOrDer(bytes, ['CERTIFICATE'], 'CERT_MALFORMED').map(decodeCertificate)
}

/**
 * The SPKI prefix (everything before the point) of each allowed curve's uncompressed
 * named-curve key, RFC 5480 §2: SEQUENCE { SEQUENCE { id-ecPublicKey, namedCurve }, BIT STRING
 * 00 ‖ 04 ‖ X ‖ Y }. Written once by encodeEcSpki (asn1-schema) at load; immutable.
 */
const UNCOMPRESSED_SPKI_PREFIXES: readonly { readonly curve: CurveName; readonly prefix: Uint8Array; readonly pointLength: number }[] = Object.values(CURVES).map((c) => {
  const pointLength = 1 + 2 * c.size
  const dummy = new Uint8Array(pointLength)
  dummy[0] = 0x04
  const spki = encodeEcSpki(c.name, dummy)
  return { curve: c.name, prefix: spki.slice(0, spki.length - pointLength), pointLength }
})

/** The curve of an SPKI that is byte for byte an allowed curve's uncompressed named-curve key (point not checked); undefined otherwise. */
function namedCurveOfSpki(spki: Uint8Array): CurveName | undefined {
  for (const { curve, prefix, pointLength } of UNCOMPRESSED_SPKI_PREFIXES) {
    if (spki.length === prefix.length + pointLength && spki[prefix.length] === 0x04 && Buffer.compare(spki.subarray(0, prefix.length), prefix) === 0) return curve
  }
  return undefined
}

/*
 * A strict hand-written reader for the certificates the SM-PKI issues (RFC 5280 §4.1): what
 * it accepts is DER that asn1-schema decodes to the same CertificateInfo and re-encodes byte
 * for byte (certificate.test.ts checks both on real and mutated certificates); anything else —
 * other string types, BER lengths, v1/v2 fields, unusual times or keys — gives undefined and
 * takes the asn1-schema path. Why: every new gateway's certificates are decoded by the TLS
 * check, the CMS verifier and path validation; the asn1-schema parse was the largest single
 * cost of a received message after the ECDSA and ECDH operations (profiled, bench wan).
 */
export function readCertificateDer(der: Uint8Array): CertificateInfo | undefined {
  const outer = der[0] === TAG.SEQUENCE ? readDerChildren(der) : undefined
  if (outer?.length !== 3 || outer[2]?.tag !== TAG.BIT_STRING) return undefined
  const [tbsTlv, algTlv, sigTlv] = outer as [RawTlv, RawTlv, RawTlv]
  const signatureAlgorithm = readAlgorithm(algTlv)
  // BIT STRING with no unused bits (asn1-schema hands out the octets after the unused-bits count).
  if (signatureAlgorithm === undefined || sigTlv.contents.length < 1 || sigTlv.contents[0] !== 0) return undefined
  const tbs = tbsTlv.tag === TAG.SEQUENCE ? readDerChildren(tbsTlv.bytes) : undefined
  // TBSCertificate ::= SEQUENCE { [0] EXPLICIT version (v2, v3; v1 is the DEFAULT and absent in DER), serialNumber,
  // signature, issuer, validity, subject, subjectPublicKeyInfo, [3] EXPLICIT extensions OPTIONAL } — no unique IDs.
  if (tbs === undefined) return undefined
  let at = 0
  let version = 1
  const versionTlv = tbs[0]
  if (versionTlv?.tag === TAG.CONTEXT_0) {
    const v = readDerChildren(versionTlv.bytes)
    const n = v?.length === 1 && v[0]?.tag === TAG.INTEGER && v[0].contents.length === 1 ? v[0].contents[0] : undefined
    if (n !== 1 && n !== 2) return undefined
    version = n + 1
    at = 1
  }
  const [serialTlv, tbsAlgTlv, issuerTlv, validityTlv, subjectTlv, spkiTlv, extensionsTlv, ...rest] = tbs.slice(at)
  if (serialTlv?.tag !== TAG.INTEGER || serialTlv.contents.length === 0 || tbsAlgTlv === undefined || rest.length > 0) return undefined
  const tbsSignatureAlgorithm = readAlgorithm(tbsAlgTlv)
  const issuer = issuerTlv === undefined ? undefined : readName(issuerTlv)
  const subject = subjectTlv === undefined ? undefined : readName(subjectTlv)
  const validity = validityTlv?.tag === TAG.SEQUENCE ? readDerChildren(validityTlv.bytes) : undefined
  const notBefore = validity?.length === 2 ? readTime(validity[0]) : undefined
  const notAfter = validity?.length === 2 ? readTime(validity[1]) : undefined
  const curve = spkiTlv === undefined ? undefined : namedCurveOfSpki(spkiTlv.bytes)
  if (tbsSignatureAlgorithm === undefined || issuer === undefined || subject === undefined || notBefore === undefined || notAfter === undefined || spkiTlv === undefined || curve === undefined) return undefined
  let extensions: CertificateExtension[] = []
  if (extensionsTlv !== undefined) {
    if (version !== 3 || extensionsTlv.tag !== 0xa3) return undefined
    const list = readExtensions(extensionsTlv)
    if (list === undefined) return undefined
    extensions = list
  }
  let subjectKeyIdentifier: Uint8Array | undefined
  const ski = extensions.find((e) => e.oid === id_ce_subjectKeyIdentifier)
  if (ski !== undefined) {
    // SubjectKeyIdentifier ::= OCTET STRING (RFC 5280 §4.2.1.2).
    const t = readDerTlv(ski.value)
    if (t?.tag !== TAG.OCTET_STRING) return undefined
    subjectKeyIdentifier = t.contents.slice()
  }
  return {
    der,
    version,
    issuer: issuerTlv?.bytes.slice() ?? new Uint8Array(0),
    subject: subjectTlv?.bytes.slice() ?? new Uint8Array(0),
    serialNumber: serialTlv.contents.slice(),
    publicKey: spkiTlv.bytes.slice(),
    curve,
    subjectKeyIdentifier,
    notBefore,
    notAfter,
    tbs: tbsTlv.bytes.slice(),
    signatureAlgorithm: signatureAlgorithm.oid,
    signatureAlgorithmHasParameters: signatureAlgorithm.hasParameters,
    tbsSignatureAlgorithm: tbsSignatureAlgorithm.oid,
    signature: sigTlv.contents.slice(1),
    extensions,
    subjectText: subject.join(', '),
    issuerText: issuer.join(', '),
    subjectRdns: subject,
    issuerRdns: issuer,
  }
}

/** AlgorithmIdentifier ::= SEQUENCE { OID, NULL OPTIONAL } (other parameters: undefined). */
function readAlgorithm(t: RawTlv): { oid: string; hasParameters: boolean } | undefined {
  const f = t.tag === TAG.SEQUENCE ? readDerChildren(t.bytes) : undefined
  if (f === undefined || f.length < 1 || f.length > 2 || f[0]?.tag !== TAG.OID) return undefined
  const oid = decodeOid(f[0].contents)
  if (oid === undefined) return undefined
  if (f.length === 2 && (f[1]?.tag !== TAG.NULL || f[1].contents.length !== 0)) return undefined
  return { oid, hasParameters: f.length === 2 }
}

const PRINTABLE_STRING = 0x13
const UTF8_STRING = 0x0c
const IA5_STRING = 0x16
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Name ::= SEQUENCE OF SET OF SEQUENCE { OID, value } (RFC 5280 §4.1.2.4) with non-empty
 * PrintableString/IA5String (ASCII) or UTF8String (valid UTF-8) values, each RDN formatted as
 * formatName does; undefined for anything else.
 */
function readName(t: RawTlv): string[] | undefined {
  const rdns = t.tag === TAG.SEQUENCE ? readDerChildren(t.bytes) : undefined
  if (rdns === undefined) return undefined
  const out: string[] = []
  for (const rdn of rdns) {
    const atvs = rdn.tag === TAG.SET ? readDerChildren(rdn.bytes) : undefined
    if (atvs === undefined || atvs.length === 0) return undefined
    const parts: string[] = []
    for (const atv of atvs) {
      const f = atv.tag === TAG.SEQUENCE ? readDerChildren(atv.bytes) : undefined
      if (f?.length !== 2 || f[0]?.tag !== TAG.OID || f[1] === undefined || f[1].contents.length === 0) return undefined
      const type = decodeOid(f[0].contents)
      const value = readNameValue(f[1])
      if (type === undefined || value === undefined) return undefined
      parts.push(`${NAME_ATTRIBUTE_LABELS[type] ?? type}=${escapeNameValue(value)}`)
    }
    out.push(parts.join('+'))
  }
  return out
}

function readNameValue(t: RawTlv): string | undefined {
  if (t.tag === UTF8_STRING) {
    try {
      return UTF8.decode(t.contents)
    } catch {
      return undefined
    }
  }
  if (t.tag !== PRINTABLE_STRING && t.tag !== IA5_STRING) return undefined
  if (t.contents.some((b) => b >= 0x80)) return undefined
  return String.fromCharCode(...t.contents)
}

/** RFC 4514 §2.4 escaping, as formatName does it. */
function escapeNameValue(value: string): string {
  return value.replace(/[,+"\\<>;=]/g, (c) => `\\${c}`).replace(/^([ #])/, '\\$1').replace(/ $/, '\\ ')
}

/**
 * Time ::= CHOICE { UTCTime "YYMMDDHHMMSSZ", GeneralizedTime "YYYYMMDDHHMMSSZ" } (RFC 5280
 * §4.1.2.5.1/.2: seconds, Zulu, no fractions); UTCTime years below 50 are 20xx.
 */
function readTime(t: RawTlv | undefined): Date | undefined {
  if (t === undefined) return undefined
  const text = String.fromCharCode(...t.contents)
  const m = t.tag === TAG.UTC_TIME ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : t.tag === GENERALIZED_TIME ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : null
  if (m === null) return undefined
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number]
  const year = t.tag === TAG.UTC_TIME ? (y < 50 ? 2000 + y : 1900 + y) : y
  // RFC 5280 §4.1.2.5: GeneralizedTime only from 2050 (earlier years are UTCTime, which is how
  // asn1-schema re-encodes them); a year below that — 0059 read as 1959 by Date.UTC — is left to it.
  if (t.tag === GENERALIZED_TIME && year < 2050) return undefined
  // Out-of-range fields (month 13, second 60) are left to asn1-schema rather than rolled over.
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return undefined
  const date = new Date(Date.UTC(year, mo - 1, d, h, mi, s))
  return date.getUTCDate() === d ? date : undefined
}

const GENERALIZED_TIME = 0x18

/** [3] EXPLICIT SEQUENCE SIZE (1..MAX) OF Extension { extnID, critical BOOLEAN DEFAULT FALSE (present only as TRUE in DER), extnValue OCTET STRING }. */
function readExtensions(t: RawTlv): CertificateExtension[] | undefined {
  const wrapped = readDerChildren(t.bytes)
  const list = wrapped?.length === 1 && wrapped[0]?.tag === TAG.SEQUENCE ? readDerChildren(wrapped[0].bytes) : undefined
  if (list === undefined || list.length === 0) return undefined
  const out: CertificateExtension[] = []
  for (const e of list) {
    const f = e.tag === TAG.SEQUENCE ? readDerChildren(e.bytes) : undefined
    if (f === undefined || f[0]?.tag !== TAG.OID) return undefined
    const oid = decodeOid(f[0].contents)
    let critical = false
    let valueTlv = f[1]
    if (f.length === 3) {
      if (f[1]?.tag !== BOOLEAN || f[1].contents.length !== 1 || f[1].contents[0] !== 0xff) return undefined
      critical = true
      valueTlv = f[2]
    } else if (f.length !== 2) return undefined
    if (oid === undefined || valueTlv?.tag !== TAG.OCTET_STRING) return undefined
    out.push({ oid, critical, value: valueTlv.contents.slice() })
  }
  return out
}

const BOOLEAN = 0x01
