import { createHash } from 'node:crypto'
import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import {
  AuthorityKeyIdentifier, BasicConstraints, CRLDistributionPoints, DistributionPoint, DistributionPointName,
  ExtendedKeyUsage, Extension, Extensions, GeneralName, KeyIdentifier, Name, SubjectKeyIdentifier, SubjectPublicKeyInfo,
  TBSCertificate, Validity, Version,
} from '@peculiar/asn1-x509'
import { CURVES, type HashName, type Signer } from '@smgw/crypto'
import { curveOfSpki, encodeSignatureAlgorithm } from './algorithms.js'
import { decodeCertificate, encodeKeyUsage, type KeyUsageName } from './certificate.js'
import { bytesEqual, encodeSigned, positiveIntegerOctets } from './der.js'
import { PkiError } from './errors.js'
import { encodeName, type DistinguishedName } from './name.js'
import {
  id_ce_authorityKeyIdentifier, id_ce_basicConstraints, id_ce_cRLDistributionPoints, id_ce_extKeyUsage,
  id_ce_keyUsage, id_ce_subjectKeyIdentifier, id_kp_clientAuth, id_kp_serverAuth,
} from './oids.js'

/**
 * What a certificate is for (TR-03109-4 v1.2.1 certificate profiles, simplified):
 * `root-ca` and `sub-ca` sign certificates and CRLs; every participant holds `tls`, `sig`
 * and `enc`; `manufacturer` is the gateway's initial (Gütesiegel) certificate.
 */
export type CertificateProfile = 'root-ca' | 'sub-ca' | 'tls' | 'sig' | 'enc' | 'manufacturer'
export type TlsRole = 'client' | 'server' | 'client-server'

export interface CertificateIssuer {
  readonly signer: Signer
  /** The issuer's certificate (DER); absent for a self-signed root. */
  readonly certificate?: Uint8Array
}

export interface IssueCertificateOptions {
  readonly profile: CertificateProfile
  /** The subject as attributes, or as an encoded Name (DER), e.g. taken over from a CSR. */
  readonly subject: DistinguishedName | Uint8Array
  /** The subject's SubjectPublicKeyInfo (DER); must be on an allowed curve. */
  readonly publicKey: Uint8Array
  /** Big-endian magnitude, 1 to 20 octets once encoded (RFC 5280 §4.1.2.2); positive. */
  readonly serialNumber: Uint8Array
  readonly notBefore: Date
  readonly notAfter: Date
  readonly issuer: CertificateIssuer
  /** Defaults to the hash TR-03109-3 pairs with the issuer's curve (SHA-256 for brainpoolP256r1). */
  readonly hash?: HashName
  /** CA profiles: basicConstraints pathLenConstraint (default: none for root-ca, 0 for sub-ca). */
  readonly pathLength?: number
  /** `tls` profile: which EKUs (default client-server). */
  readonly tlsRole?: TlsRole
  /** `sig` profile: also assert nonRepudiation. */
  readonly nonRepudiation?: boolean
  /** `enc` profile: also assert keyEncipherment. */
  readonly keyEncipherment?: boolean
  /** A cRLDistributionPoints URI (RFC 5280 §4.2.1.13), optional. */
  readonly crlDistributionPoint?: string
}

/** Days per profile for {@link defaultValidity}: about two years for end entities, longer for CAs. */
export const DEFAULT_VALIDITY_DAYS: Readonly<Record<CertificateProfile, number>> = {
  'root-ca': 8 * 365, 'sub-ca': 5 * 365, tls: 2 * 365, sig: 2 * 365, enc: 2 * 365, manufacturer: 10 * 365,
}

export function defaultValidity(profile: CertificateProfile, from: Date): { notBefore: Date; notAfter: Date } {
  const notBefore = new Date(Math.floor(from.getTime() / 1000) * 1000)
  return { notBefore, notAfter: new Date(notBefore.getTime() + DEFAULT_VALIDITY_DAYS[profile] * 86_400_000) }
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 over the subjectPublicKey BIT STRING value. */
export function keyIdentifierOf(spkiDer: Uint8Array): Uint8Array {
  const spki = AsnConvert.parse(spkiDer, SubjectPublicKeyInfo)
  return new Uint8Array(createHash('sha1').update(new Uint8Array(spki.subjectPublicKey)).digest())
}

interface ProfileRules {
  readonly keyUsage: (o: IssueCertificateOptions) => KeyUsageName[]
  readonly ca: boolean
  readonly eku: (o: IssueCertificateOptions) => string[] | undefined
}

const TLS_EKU: Readonly<Record<TlsRole, string[]>> = {
  client: [id_kp_clientAuth], server: [id_kp_serverAuth], 'client-server': [id_kp_serverAuth, id_kp_clientAuth],
}

/** Key usage and EKU per profile (RFC 5280 §4.2.1.3, §4.2.1.12; TR-03109-4 certificate profiles). */
const PROFILES: Readonly<Record<CertificateProfile, ProfileRules>> = {
  'root-ca': { ca: true, keyUsage: () => ['keyCertSign', 'cRLSign'], eku: () => undefined },
  'sub-ca': { ca: true, keyUsage: () => ['keyCertSign', 'cRLSign'], eku: () => undefined },
  tls: { ca: false, keyUsage: () => ['digitalSignature'], eku: (o) => TLS_EKU[o.tlsRole ?? 'client-server'] },
  sig: { ca: false, keyUsage: (o) => (o.nonRepudiation === true ? ['digitalSignature', 'nonRepudiation'] : ['digitalSignature']), eku: () => undefined },
  enc: { ca: false, keyUsage: (o) => (o.keyEncipherment === true ? ['keyEncipherment', 'keyAgreement'] : ['keyAgreement']), eku: () => undefined },
  // The Gütesiegel key authenticates the gateway's first TLS connection and signs its first CSR.
  manufacturer: { ca: false, keyUsage: () => ['digitalSignature'], eku: () => [id_kp_clientAuth] },
}

/** Issues (signs) one X.509 v3 certificate through the issuer's Signer. */
export async function issueCertificate(o: IssueCertificateOptions): Promise<Uint8Array> {
  const rules = PROFILES[o.profile] as ProfileRules | undefined
  if (rules === undefined) throw new PkiError('PKI_BAD_ARGUMENT', `unknown profile ${o.profile as string}`)
  curveOfSpki(o.publicKey)
  if (!(o.notBefore.getTime() < o.notAfter.getTime())) throw new PkiError('PKI_BAD_ARGUMENT', 'notBefore must be before notAfter')
  const serial = positiveIntegerOctets(o.serialNumber)
  if (serial.length > 20) throw new PkiError('PKI_BAD_ARGUMENT', 'serial number longer than 20 octets (RFC 5280 §4.1.2.2)')
  if (o.pathLength !== undefined && (!rules.ca || !Number.isInteger(o.pathLength) || o.pathLength < 0)) {
    throw new PkiError('PKI_BAD_ARGUMENT', 'pathLength only for CA profiles, a non-negative integer')
  }

  const ownKeyId = keyIdentifierOf(o.publicKey)
  let issuerName: Name
  let issuerKeyId: Uint8Array
  if (o.issuer.certificate === undefined) {
    if (o.profile !== 'root-ca') throw new PkiError('PKI_BAD_ARGUMENT', 'only a root-ca is self-signed; pass the issuer certificate')
    if (!bytesEqual(o.issuer.signer.publicKey, o.publicKey)) throw new PkiError('PKI_BAD_ARGUMENT', 'a self-signed root is signed by its own key')
    issuerName = subjectNameOf(o.subject)
    issuerKeyId = ownKeyId
  } else {
    const issuerCert = decodeCertificate(o.issuer.certificate)
    if (!bytesEqual(issuerCert.publicKey, o.issuer.signer.publicKey)) throw new PkiError('PKI_BAD_ARGUMENT', 'the signer does not hold the issuer certificate\'s key')
    if (issuerCert.basicConstraints?.ca !== true) throw new PkiError('PKI_BAD_ARGUMENT', 'the issuer certificate is not a CA')
    issuerName = AsnConvert.parse(issuerCert.subjectDer, Name)
    issuerKeyId = issuerCert.subjectKeyIdentifier ?? keyIdentifierOf(issuerCert.publicKey)
  }

  const hash = o.hash ?? CURVES[o.issuer.signer.curve].hash
  const algorithm = encodeSignatureAlgorithm(hash)
  const extensions: Extension[] = []
  const add = (oid: string, critical: boolean, value: ArrayBuffer | Uint8Array) => {
    extensions.push(new Extension({ extnID: oid, critical, extnValue: new OctetString(value) }))
  }
  // RFC 5280 §4.2.1.9: basicConstraints MUST be critical in CA certificates.
  if (rules.ca) {
    const pathLenConstraint = o.pathLength ?? (o.profile === 'sub-ca' ? 0 : undefined)
    add(id_ce_basicConstraints, true, AsnConvert.serialize(new BasicConstraints({ cA: true, ...(pathLenConstraint === undefined ? {} : { pathLenConstraint }) })))
  }
  // RFC 5280 §4.2.1.3: keyUsage SHOULD be critical.
  add(id_ce_keyUsage, true, encodeKeyUsage(rules.keyUsage(o)))
  const eku = rules.eku(o)
  if (eku !== undefined) add(id_ce_extKeyUsage, false, AsnConvert.serialize(new ExtendedKeyUsage(eku)))
  // RFC 5280 §4.2.1.2 / §4.2.1.1: SKI and AKI, both non-critical.
  add(id_ce_subjectKeyIdentifier, false, AsnConvert.serialize(new SubjectKeyIdentifier(ownKeyId)))
  add(id_ce_authorityKeyIdentifier, false, AsnConvert.serialize(new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(issuerKeyId) })))
  if (o.crlDistributionPoint !== undefined) {
    add(id_ce_cRLDistributionPoints, false, AsnConvert.serialize(new CRLDistributionPoints([new DistributionPoint({
      distributionPoint: new DistributionPointName({ fullName: [new GeneralName({ uniformResourceIdentifier: o.crlDistributionPoint })] }),
    })])))
  }

  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: serial.slice().buffer,
    signature: algorithm,
    issuer: issuerName,
    validity: new Validity({ notBefore: truncateToSecond(o.notBefore), notAfter: truncateToSecond(o.notAfter) }),
    subject: subjectNameOf(o.subject),
    subjectPublicKeyInfo: AsnConvert.parse(o.publicKey, SubjectPublicKeyInfo),
    extensions: new Extensions(extensions),
  })
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs))
  const signature = await o.issuer.signer.sign(tbsDer, hash)
  return encodeSigned(tbsDer, new Uint8Array(AsnConvert.serialize(algorithm)), signature)
}

function subjectNameOf(subject: DistinguishedName | Uint8Array): Name {
  if (!(subject instanceof Uint8Array)) return encodeName(subject)
  try {
    return AsnConvert.parse(subject, Name)
  } catch (err) {
    throw new PkiError('PKI_MALFORMED', 'subject Name does not decode', { cause: err })
  }
}

function truncateToSecond(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000)
}
