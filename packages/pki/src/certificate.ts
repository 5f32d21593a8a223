import { AsnConvert } from '@peculiar/asn1-schema'
import {
  AuthorityKeyIdentifier, BasicConstraints, CRLDistributionPoints, ExtendedKeyUsage, type Extension,
  SubjectKeyIdentifier, SubjectPublicKeyInfo,
} from '@peculiar/asn1-x509'
import { decodeCertificate as decodeCertificateInfo, type CertificateExtension, type CertificateInfo } from '@smgw/crypto'
import { classifyPublicKey, type PublicKeyKind } from './algorithms.js'
import { bytesEqual, decodeBitStringBytes, decodeSequence, requireSingleTlv, toHex } from './der.js'
import { malformed, PkiError } from './errors.js'
import {
  id_ce_authorityKeyIdentifier, id_ce_basicConstraints, id_ce_cRLDistributionPoints, id_ce_extKeyUsage,
  id_ce_keyUsage, id_ce_subjectKeyIdentifier,
} from './oids.js'

export type { CertificateExtension } from '@smgw/crypto'

/** RFC 5280 §4.2.1.3 KeyUsage bits, in bit order (bit 0 = digitalSignature). */
export const KEY_USAGE_BITS = [
  'digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement',
  'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly',
] as const
export type KeyUsageName = (typeof KEY_USAGE_BITS)[number]

export interface BasicConstraintsInfo {
  readonly ca: boolean
  readonly pathLength?: number
  readonly critical: boolean
}

/** A certificate decoded into the fields path validation and the CLI need; `der` is the input. */
export interface DecodedCertificate {
  readonly der: Uint8Array
  /** TBSCertificate exactly as encoded (what the signature covers). */
  readonly tbs: Uint8Array
  /** 1, 2 or 3. */
  readonly version: number
  /** The INTEGER content octets as encoded (two's complement). */
  readonly serialNumber: Uint8Array
  /** Lower-case, even-length hex of the serial number without leading 00 octets (as OpenSSL prints it). */
  readonly serialHex: string
  readonly issuer: string
  readonly issuerDer: Uint8Array
  readonly subject: string
  /** Each RDN of the subject in RFC 4514 form, in encoded order (most significant first): `subject` is them reversed, joined by ",". */
  readonly subjectRdns: readonly string[]
  readonly subjectDer: Uint8Array
  readonly notBefore: Date
  readonly notAfter: Date
  /** SubjectPublicKeyInfo, DER. */
  readonly publicKey: Uint8Array
  readonly publicKeyKind: PublicKeyKind
  /** signatureAlgorithm OID of the outer Certificate. */
  readonly signatureAlgorithm: string
  /** Whether the outer AlgorithmIdentifier carries parameters (RFC 5758 §3.2: it must not for ECDSA). */
  readonly signatureAlgorithmHasParameters: boolean
  /** TBSCertificate.signature OID (RFC 5280 §4.1.1.2: must equal the outer one). */
  readonly tbsSignatureAlgorithm: string
  readonly signature: Uint8Array
  readonly extensions: readonly CertificateExtension[]
  readonly basicConstraints?: BasicConstraintsInfo
  readonly keyUsage?: readonly KeyUsageName[]
  readonly extendedKeyUsage?: readonly string[]
  readonly subjectKeyIdentifier?: Uint8Array
  readonly authorityKeyIdentifier?: Uint8Array
  /** URIs of the cRLDistributionPoints extension (fullName uniformResourceIdentifier only). */
  readonly crlDistributionPoints: readonly string[]
  /** RFC 5280 §3.3 / §6.1: subject and issuer are the same name. */
  readonly selfIssued: boolean
}

/**
 * Decodes one DER certificate (RFC 5280 §4.1). The TBSCertificate basics come from
 * @smgw/crypto's decodeCertificate; this adds DER strictness (one TLV, exactly three
 * elements, signature BIT STRING without unused bits, unique extensions) and the
 * extensions path validation needs. Throws PKI_MALFORMED for anything that does not decode.
 */
export function decodeCertificate(der: Uint8Array): DecodedCertificate {
  requireSingleTlv(der, 'Certificate')
  let info: CertificateInfo
  try {
    info = decodeCertificateInfo(der)
  } catch (err) {
    throw malformed('Certificate does not decode', err)
  }
  try {
    return describe(der, info)
  } catch (err) {
    throw malformed('Certificate field does not decode', err)
  }
}

function describe(der: Uint8Array, info: CertificateInfo): DecodedCertificate {
  // RFC 5280 §4.1: SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING } taken
  // from the input bytes, so the signature covers exactly what was received and unused bits must be 0.
  const [tbsRaw, , signatureTlv, ...extra] = decodeSequence(der, 'Certificate')
  if (tbsRaw === undefined || signatureTlv === undefined || extra.length > 0) throw new PkiError('PKI_MALFORMED', 'Certificate: expected three elements')
  const extensions = requireUniqueExtensions(info.extensions)
  const find = (oid: string) => extensions.find((e) => e.oid === oid)

  const bc = find(id_ce_basicConstraints)
  let basicConstraints: BasicConstraintsInfo | undefined
  if (bc !== undefined) {
    const v = AsnConvert.parse(bc.value, BasicConstraints)
    basicConstraints = { ca: v.cA, critical: bc.critical, ...(v.pathLenConstraint === undefined ? {} : { pathLength: v.pathLenConstraint }) }
  }
  const ku = find(id_ce_keyUsage)
  const eku = find(id_ce_extKeyUsage)
  const ski = find(id_ce_subjectKeyIdentifier)
  const aki = find(id_ce_authorityKeyIdentifier)
  const dp = find(id_ce_cRLDistributionPoints)
  let akiId: Uint8Array | undefined
  if (aki !== undefined) {
    akiId = readKeyIdentifierOnlyAki(aki.value)
    if (akiId === undefined) {
      const v = AsnConvert.parse(aki.value, AuthorityKeyIdentifier)
      if (v.keyIdentifier !== undefined) akiId = new Uint8Array(v.keyIdentifier.buffer)
    }
  }
  const extendedKeyUsage = eku === undefined ? undefined : readOidSequence(eku.value) ?? [...AsnConvert.parse(eku.value, ExtendedKeyUsage)]
  const crlDistributionPoints = dp === undefined ? [] : [...AsnConvert.parse(dp.value, CRLDistributionPoints)]
    .flatMap((p) => p.distributionPoint?.fullName ?? [])
    .flatMap((n) => (n.uniformResourceIdentifier === undefined ? [] : [n.uniformResourceIdentifier]))
  return {
    der,
    tbs: new Uint8Array(tbsRaw),
    version: info.version,
    serialNumber: info.serialNumber,
    serialHex: serialHexOf(info.serialNumber),
    // RFC 4514 §2.1: the RDNs last first (formatName 'rfc4514', from the RDNs @smgw/crypto read already).
    issuer: [...info.issuerRdns].reverse().join(','),
    issuerDer: info.issuer,
    subject: [...info.subjectRdns].reverse().join(','),
    subjectRdns: info.subjectRdns,
    subjectDer: info.subject,
    notBefore: info.notBefore,
    notAfter: info.notAfter,
    publicKey: info.publicKey,
    // A curve @smgw/crypto found is an allowed named curve of an id-ecPublicKey key: what classifyPublicKey would say.
    publicKeyKind: info.curve === undefined ? classifyPublicKey(AsnConvert.parse(info.publicKey, SubjectPublicKeyInfo)) : { kind: 'ec', curve: info.curve },
    signatureAlgorithm: info.signatureAlgorithm,
    signatureAlgorithmHasParameters: info.signatureAlgorithmHasParameters,
    tbsSignatureAlgorithm: info.tbsSignatureAlgorithm,
    signature: decodeBitStringBytes(signatureTlv, 'Certificate.signatureValue'),
    extensions,
    ...(basicConstraints === undefined ? {} : { basicConstraints }),
    ...(ku === undefined ? {} : { keyUsage: decodeKeyUsage(ku.value) }),
    ...(extendedKeyUsage === undefined ? {} : { extendedKeyUsage }),
    // @smgw/crypto decoded the same (first and only) subjectKeyIdentifier extension.
    ...(ski === undefined ? {} : { subjectKeyIdentifier: info.subjectKeyIdentifier ?? new Uint8Array(AsnConvert.parse(ski.value, SubjectKeyIdentifier).buffer) }),
    ...(akiId === undefined ? {} : { authorityKeyIdentifier: akiId }),
    crlDistributionPoints,
    selfIssued: bytesEqual(info.issuer, info.subject),
  }
}

/*
 * Hand readers for the two extensions every SM-PKI end-entity certificate carries, for their
 * plain DER form only; anything else (other AKI fields, BER, other tags) gives undefined and is
 * parsed by asn1-schema as before (certificate.test.ts compares both). Why: each new gateway's
 * TLS and SIG certificates are decoded per connection and message (profiled, bench wan).
 */

/** AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING } (RFC 5280 §4.2.1.1), nothing else present. */
export function readKeyIdentifierOnlyAki(value: Uint8Array): Uint8Array | undefined {
  // 30 L 80 L' id, short lengths only (a key identifier is at most a few dozen octets).
  if (value.length < 4 || value[0] !== 0x30 || value[1] !== value.length - 2 || value[2] !== 0x80 || value[3] !== value.length - 4 || value[1] >= 0x80 || value[3] >= 0x80) return undefined
  return value.slice(4)
}

/** ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId (OBJECT IDENTIFIER), RFC 5280 §4.2.1.12; short lengths only. */
export function readOidSequence(value: Uint8Array): string[] | undefined {
  if (value.length < 2 || value[0] !== 0x30 || value[1] !== value.length - 2 || value[1] >= 0x80) return undefined
  const out: string[] = []
  for (let at = 2; at < value.length;) {
    const length = value[at + 1]
    if (value[at] !== 0x06 || length === undefined || length === 0 || length >= 0x80 || at + 2 + length > value.length) return undefined
    const oid = decodeOidContents(value.subarray(at + 2, at + 2 + length))
    if (oid === undefined) return undefined
    out.push(oid)
    at += 2 + length
  }
  return out
}

/** Dotted OBJECT IDENTIFIER contents (X.690 §8.19) in minimal form, subidentifiers below 2^28; undefined otherwise. */
function decodeOidContents(contents: Uint8Array): string | undefined {
  const ids: number[] = []
  let value = 0
  let octets = 0
  for (const b of contents) {
    if (octets === 0 && b === 0x80) return undefined
    value = value * 128 + (b & 0x7f)
    if (++octets > 4) return undefined
    if ((b & 0x80) === 0) {
      ids.push(value)
      value = 0
      octets = 0
    }
  }
  if (octets !== 0 || ids.length === 0) return undefined
  const first = ids[0] ?? 0
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80]
  return [...head, ...ids.slice(1)].join('.')
}

/** RFC 5280 §4.2: "A certificate MUST NOT include more than one instance of a particular extension." */
export function requireUniqueExtensions(list: readonly CertificateExtension[]): readonly CertificateExtension[] {
  list.forEach((e, i) => {
    if (list.findIndex((o) => o.oid === e.oid) !== i) throw new PkiError('PKI_MALFORMED', `duplicate extension ${e.oid}`)
  })
  return list
}

/** CRL and CRL entry extensions (RFC 5280 §5.2, §5.3) in the same shape, duplicates rejected. */
export function decodeExtensionList(list: readonly Extension[]): readonly CertificateExtension[] {
  return requireUniqueExtensions(list.map((e) => ({ oid: e.extnID, critical: e.critical, value: new Uint8Array(e.extnValue.buffer) })))
}

/** Hex of an INTEGER's magnitude without leading zero octets. */
export function serialHexOf(contentOctets: Uint8Array): string {
  const hex = toHex(contentOctets).replace(/^(00)+/, '')
  return hex === '' ? '00' : hex
}

/** Decodes a KeyUsage BIT STRING (RFC 5280 §4.2.1.3; X.690 §8.6: first octet = unused bits). */
export function decodeKeyUsage(value: Uint8Array): KeyUsageName[] {
  if (value[0] !== 0x03 || value.length < 3 || value[1] !== value.length - 2) throw new PkiError('PKI_MALFORMED', 'KeyUsage is not a BIT STRING')
  const unused = value[2] ?? 0
  if (unused > 7) throw new PkiError('PKI_MALFORMED', 'KeyUsage: bad unused-bits count')
  const bits = value.subarray(3)
  return KEY_USAGE_BITS.filter((_, i) => ((bits[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0)
}

/** DER KeyUsage: named bits with trailing zero bits removed (X.690 §11.2.2). */
export function encodeKeyUsage(usages: readonly KeyUsageName[]): Uint8Array {
  if (usages.length === 0) throw new PkiError('PKI_BAD_ARGUMENT', 'KeyUsage needs at least one bit')
  const highest = Math.max(...usages.map((u) => KEY_USAGE_BITS.indexOf(u)))
  const octets = new Uint8Array((highest >> 3) + 1)
  for (const u of usages) {
    const i = KEY_USAGE_BITS.indexOf(u)
    octets[i >> 3] = (octets[i >> 3] ?? 0) | (0x80 >> (i & 7))
  }
  const unused = 7 - (highest & 7)
  return new Uint8Array([0x03, octets.length + 1, unused, ...octets])
}
