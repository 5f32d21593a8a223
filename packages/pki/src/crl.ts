import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import {
  AuthorityKeyIdentifier, CertificateList, CRLReason, CRLReasons, Extension, KeyIdentifier, Name, RevokedCertificate, TBSCertList, Time, Version,
} from '@peculiar/asn1-x509'
import { CURVES, formatName, type HashName } from '@smgw/crypto'
import { encodeSignatureAlgorithm } from './algorithms.js'
import { decodeCertificate, decodeExtensionList, serialHexOf, type CertificateExtension } from './certificate.js'
import { bytesEqual, decodeBitStringBytes, decodeSequence, encodeSigned, encodeTlv, positiveIntegerOctets, requireSingleTlv, toHex } from './der.js'
import { malformed, PkiError } from './errors.js'
import type { CertificateIssuer } from './issue.js'
import { keyIdentifierOf } from './issue.js'
import { id_ce_authorityKeyIdentifier, id_ce_cRLNumber, id_ce_cRLReasons } from './oids.js'

/** RFC 5280 §5.3.1 CRLReason (value 7 is not used). */
export const REVOCATION_REASONS = {
  unspecified: CRLReasons.unspecified, keyCompromise: CRLReasons.keyCompromise, cACompromise: CRLReasons.cACompromise,
  affiliationChanged: CRLReasons.affiliationChanged, superseded: CRLReasons.superseded,
  cessationOfOperation: CRLReasons.cessationOfOperation, certificateHold: CRLReasons.certificateHold,
  removeFromCRL: CRLReasons.removeFromCRL, privilegeWithdrawn: CRLReasons.privilegeWithdrawn, aACompromise: CRLReasons.aACompromise,
} as const satisfies Record<string, CRLReasons>
export type RevocationReason = keyof typeof REVOCATION_REASONS

export function isRevocationReason(value: string): value is RevocationReason {
  return Object.hasOwn(REVOCATION_REASONS, value)
}

export interface RevokedEntry {
  /** Big-endian magnitude of the revoked certificate's serial number. */
  readonly serialNumber: Uint8Array
  readonly revocationDate: Date
  /** Omitted (RFC 5280 §5.3.1: reasonCode absent) when unspecified. */
  readonly reason?: RevocationReason
}

export interface IssueCrlOptions {
  /** The CA whose certificates this CRL covers (RFC 5280 §5: the CRL issuer is the certificate issuer). */
  readonly issuer: Required<CertificateIssuer>
  /** RFC 5280 §5.2.3: monotonically increasing, non-negative. */
  readonly crlNumber: bigint
  readonly thisUpdate: Date
  /** RFC 5280 §5.1.2.5: conforming CAs MUST include nextUpdate. */
  readonly nextUpdate: Date
  readonly revoked: readonly RevokedEntry[]
  readonly hash?: HashName
}

export interface DecodedCrlEntry {
  readonly serialHex: string
  readonly revocationDate: Date
  readonly reason?: RevocationReason
}

export interface DecodedCrl {
  readonly der: Uint8Array
  readonly tbs: Uint8Array
  /** 1 (no version field) or 2. */
  readonly version: number
  readonly issuer: string
  readonly issuerDer: Uint8Array
  readonly thisUpdate: Date
  readonly nextUpdate?: Date
  readonly crlNumber?: bigint
  readonly signatureAlgorithm: string
  readonly tbsSignatureAlgorithm: string
  readonly signature: Uint8Array
  readonly extensions: readonly CertificateExtension[]
  readonly authorityKeyIdentifier?: Uint8Array
  readonly revoked: readonly DecodedCrlEntry[]
  /** OIDs of critical CRL-entry extensions other than reasonCode (RFC 5280 §5.3: must be understood). */
  readonly unknownCriticalEntryExtensions: readonly string[]
}

function integerDer(magnitude: Uint8Array | bigint): Uint8Array {
  if (typeof magnitude === 'bigint') {
    if (magnitude < 0n) throw new PkiError('PKI_BAD_ARGUMENT', 'CRL number must not be negative')
    if (magnitude === 0n) return new Uint8Array([0x02, 0x01, 0x00])
    const hex = magnitude.toString(16)
    return encodeTlv(0x02, positiveIntegerOctets(new Uint8Array(Buffer.from(hex.length % 2 === 1 ? `0${hex}` : hex, 'hex'))))
  }
  return encodeTlv(0x02, positiveIntegerOctets(magnitude))
}

/** Issues a v2 CRL (RFC 5280 §5.1) with authorityKeyIdentifier and cRLNumber, signed through the CA's Signer. */
export async function issueCrl(o: IssueCrlOptions): Promise<Uint8Array> {
  const ca = decodeCertificate(o.issuer.certificate)
  if (!bytesEqual(ca.publicKey, o.issuer.signer.publicKey)) throw new PkiError('PKI_BAD_ARGUMENT', 'the signer does not hold the CA certificate\'s key')
  if (!(o.thisUpdate.getTime() < o.nextUpdate.getTime())) throw new PkiError('PKI_BAD_ARGUMENT', 'thisUpdate must be before nextUpdate')
  const hash = o.hash ?? CURVES[o.issuer.signer.curve].hash
  const algorithm = encodeSignatureAlgorithm(hash)
  const keyId = ca.subjectKeyIdentifier ?? keyIdentifierOf(ca.publicKey)
  const revoked = o.revoked.map((r) => new RevokedCertificate({
    userCertificate: positiveIntegerOctets(r.serialNumber).slice().buffer,
    revocationDate: new Time(second(r.revocationDate)),
    ...(r.reason === undefined || r.reason === 'unspecified' ? {} : {
      crlEntryExtensions: [new Extension({ extnID: id_ce_cRLReasons, critical: false, extnValue: new OctetString(AsnConvert.serialize(new CRLReason(REVOCATION_REASONS[r.reason]))) })],
    }),
  }))
  const tbs = new TBSCertList({
    version: Version.v2,
    signature: algorithm,
    issuer: AsnConvert.parse(ca.subjectDer, Name),
    thisUpdate: new Time(second(o.thisUpdate)),
    nextUpdate: new Time(second(o.nextUpdate)),
    ...(revoked.length > 0 ? { revokedCertificates: revoked } : {}),
    crlExtensions: [
      new Extension({ extnID: id_ce_authorityKeyIdentifier, critical: false, extnValue: new OctetString(AsnConvert.serialize(new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyId) }))) }),
      // RFC 5280 §5.2.3: cRLNumber is non-critical.
      new Extension({ extnID: id_ce_cRLNumber, critical: false, extnValue: new OctetString(integerDer(o.crlNumber)) }),
    ],
  })
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs))
  const signature = await o.issuer.signer.sign(tbsDer, hash)
  return encodeSigned(tbsDer, new Uint8Array(AsnConvert.serialize(algorithm)), signature)
}

function second(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000)
}

/** Decodes a DER CRL (RFC 5280 §5.1). Throws PKI_MALFORMED when it does not decode. */
export function decodeCrl(der: Uint8Array): DecodedCrl {
  requireSingleTlv(der, 'CertificateList')
  let list: CertificateList
  try {
    list = AsnConvert.parse(der, CertificateList)
  } catch (err) {
    throw malformed('CRL does not decode', err)
  }
  try {
    return describeCrl(der, list)
  } catch (err) {
    throw malformed('CRL field does not decode', err)
  }
}

function describeCrl(der: Uint8Array, list: CertificateList): DecodedCrl {
  const tbs = list.tbsCertList
  const [tbsBytes, , signatureTlv, ...extra] = decodeSequence(der, 'CertificateList')
  if (tbsBytes === undefined || signatureTlv === undefined || extra.length > 0) throw new PkiError('PKI_MALFORMED', 'CertificateList: expected three elements')
  const extensions = decodeExtensionList(tbs.crlExtensions ?? [])
  const num = extensions.find((e) => e.oid === id_ce_cRLNumber)
  let crlNumber: bigint | undefined
  if (num !== undefined) {
    if (num.value[0] !== 0x02) throw new PkiError('PKI_MALFORMED', 'cRLNumber is not an INTEGER')
    requireSingleTlv(num.value, 'cRLNumber')
    const content = num.value.subarray(2)
    if (content.length === 0 || ((content[0] ?? 0) & 0x80) !== 0) throw new PkiError('PKI_MALFORMED', 'cRLNumber must be non-negative')
    crlNumber = BigInt(`0x${toHex(content)}`)
  }
  const aki = extensions.find((e) => e.oid === id_ce_authorityKeyIdentifier)
  const akiId = aki === undefined ? undefined : AsnConvert.parse(aki.value, AuthorityKeyIdentifier).keyIdentifier
  const unknownCritical: string[] = []
  const revoked = (tbs.revokedCertificates ?? []).map((r): DecodedCrlEntry => {
    const exts = decodeExtensionList(r.crlEntryExtensions ?? [])
    const reasonExt = exts.find((e) => e.oid === id_ce_cRLReasons)
    for (const e of exts) if (e.critical && e.oid !== id_ce_cRLReasons) unknownCritical.push(e.oid)
    let reason: RevocationReason | undefined
    if (reasonExt !== undefined) {
      const code = AsnConvert.parse(reasonExt.value, CRLReason).reason
      reason = (Object.keys(REVOCATION_REASONS) as RevocationReason[]).find((k) => REVOCATION_REASONS[k] === code)
      if (reason === undefined) throw new PkiError('PKI_MALFORMED', `unknown CRLReason ${String(code)}`)
    }
    return { serialHex: serialHexOf(new Uint8Array(r.userCertificate)), revocationDate: r.revocationDate.getTime(), ...(reason === undefined ? {} : { reason }) }
  })
  const nextUpdate = tbs.nextUpdate?.getTime()
  return {
    der,
    tbs: tbsBytes,
    version: (tbs.version ?? 0) + 1,
    issuer: formatName(tbs.issuer, 'rfc4514'),
    issuerDer: new Uint8Array(AsnConvert.serialize(tbs.issuer)),
    thisUpdate: tbs.thisUpdate.getTime(),
    ...(nextUpdate === undefined ? {} : { nextUpdate }),
    ...(crlNumber === undefined ? {} : { crlNumber }),
    signatureAlgorithm: list.signatureAlgorithm.algorithm,
    tbsSignatureAlgorithm: tbs.signature.algorithm,
    signature: decodeBitStringBytes(signatureTlv, 'CertificateList.signature'),
    extensions,
    ...(akiId === undefined ? {} : { authorityKeyIdentifier: new Uint8Array(akiId.buffer) }),
    revoked,
    unknownCriticalEntryExtensions: unknownCritical,
  }
}
