import type { CurveName, Signer } from '@smgw/crypto'
import { issueCrl } from './crl.js'
import { defaultValidity, issueCertificate, type CertificateProfile, type TlsRole } from './issue.js'
import { PkiError } from './errors.js'
import type { DistinguishedName } from './name.js'

/**
 * A complete demo SM-PKI (TR-03109-4 hierarchy, simplified): one root, sub-CAs for market
 * participants (GWA, EMT), for gateways and for the manufacturer's Gütesiegel certificates,
 * a GWA, EMTs and gateways with their TLS/SIG/ENC certificates, and an empty CRL per CA.
 */
export type DemoCaLabel = 'root' | 'sub-ca-emt' | 'sub-ca-gw' | 'sub-ca-gs'
export type DemoRole = 'gwa' | 'emt' | 'gateway' | 'manufacturer'
export type DemoCertificateKind = 'tls' | 'sig' | 'enc' | 'gs'

export interface DemoPkiOptions {
  readonly curve?: CurveName
  readonly gateways?: number
  readonly emts?: number
  readonly organization?: string
  /** Base URI for cRLDistributionPoints (`<base>/<ca>.crl`); none when absent. */
  readonly crlBaseUri?: string
  /**
   * Also enrol the gateway manufacturer (participant `manufacturer`, one SIG certificate
   * issued by sub-ca-gs): it signs firmware packages (docs/admin-protocol.md "Firmware
   * package"). Off by default so callers that expect TLS/SIG/ENC for every participant keep working.
   */
  readonly manufacturer?: boolean
}

export interface DemoPkiDeps {
  /** Creates a key pair on `curve` and keeps its private half under `label` (e.g. `gwa/tls`). */
  readonly newKey: (curve: CurveName, label: string) => Promise<Signer>
  /** A fresh positive serial number, big-endian, at most 20 octets. */
  readonly serialNumber: () => Uint8Array
  readonly now: Date
}

export interface DemoCa {
  readonly label: DemoCaLabel
  readonly subject: DistinguishedName
  readonly certificate: Uint8Array
  readonly signer: Signer
  /** The CA that issued this one (the root issues itself). */
  readonly issuer: DemoCaLabel
}

export interface DemoCertificate {
  /** Key/certificate label, e.g. `gateways/smgw-0001/tls`. */
  readonly label: string
  readonly kind: DemoCertificateKind
  readonly profile: CertificateProfile
  readonly issuer: DemoCaLabel
  readonly certificate: Uint8Array
  readonly signer: Signer
}

export interface DemoParticipant {
  /** Folder label: `gwa`, `emt-1`, `gateways/smgw-0001`. */
  readonly label: string
  readonly role: DemoRole
  readonly subject: DistinguishedName
  readonly certificates: readonly DemoCertificate[]
}

export interface DemoCrl {
  readonly ca: DemoCaLabel
  readonly crlNumber: bigint
  readonly der: Uint8Array
}

export interface DemoPki {
  readonly cas: readonly DemoCa[]
  readonly participants: readonly DemoParticipant[]
  readonly crls: readonly DemoCrl[]
}

/** TLS EKUs per role: the gateway is always the TLS client on the WAN (DOMAIN: WAN). */
const TLS_ROLE: Readonly<Record<Exclude<DemoRole, 'manufacturer'>, TlsRole>> = { gwa: 'client-server', emt: 'client-server', gateway: 'client' }
/**
 * The sub-CA issuing each role's certificates. The manufacturer's firmware SIG certificate
 * comes from the manufacturer CA that also issues the Gütesiegel certificates.
 */
const ISSUING_CA: Readonly<Record<DemoRole, DemoCaLabel>> = { gwa: 'sub-ca-emt', emt: 'sub-ca-emt', gateway: 'sub-ca-gw', manufacturer: 'sub-ca-gs' }
/** CRL lifetime: a week (TR-03109-4 leaves the CRL period to the CP; a week suits a demo). */
const CRL_DAYS = 7

export function gatewayId(n: number): string {
  return `smgw-${String(n).padStart(4, '0')}`
}

export async function createDemoPki(o: DemoPkiOptions, deps: DemoPkiDeps): Promise<DemoPki> {
  const curve = o.curve ?? 'brainpoolP256r1'
  const gateways = o.gateways ?? 1
  const emts = o.emts ?? 2
  if (!Number.isInteger(gateways) || gateways < 0 || gateways > 10_000) throw new PkiError('PKI_BAD_ARGUMENT', 'gateways: 0 to 10000')
  if (!Number.isInteger(emts) || emts < 0 || emts > 1000) throw new PkiError('PKI_BAD_ARGUMENT', 'emts: 0 to 1000')
  const org = o.organization ?? 'SMGW Demo'
  const cdp = (ca: DemoCaLabel) => (o.crlBaseUri === undefined ? {} : { crlDistributionPoint: `${o.crlBaseUri.replace(/\/$/, '')}/${ca}.crl` })

  const cas: DemoCa[] = []
  const rootSubject = { C: 'DE', O: org, CN: 'SM-Test-Root' }
  const rootSigner = await deps.newKey(curve, 'root/ca')
  const root: DemoCa = {
    label: 'root', subject: rootSubject, signer: rootSigner, issuer: 'root',
    certificate: await issueCertificate({
      profile: 'root-ca', subject: rootSubject, publicKey: rootSigner.publicKey, serialNumber: deps.serialNumber(),
      ...defaultValidity('root-ca', deps.now), issuer: { signer: rootSigner }, pathLength: 1,
    }),
  }
  cas.push(root)
  const subCaNames: Readonly<Record<Exclude<DemoCaLabel, 'root'>, string>> = {
    'sub-ca-emt': 'SM-Test-Sub-CA EMT', 'sub-ca-gw': 'SM-Test-Sub-CA GW', 'sub-ca-gs': 'SM-Test-Sub-CA Manufacturer',
  }
  for (const [label, cn] of Object.entries(subCaNames) as [Exclude<DemoCaLabel, 'root'>, string][]) {
    const signer = await deps.newKey(curve, `${label}/ca`)
    const subject = { C: 'DE', O: org, CN: cn }
    cas.push({
      label, subject, signer, issuer: 'root',
      certificate: await issueCertificate({
        profile: 'sub-ca', subject, publicKey: signer.publicKey, serialNumber: deps.serialNumber(),
        ...defaultValidity('sub-ca', deps.now), issuer: { signer: root.signer, certificate: root.certificate }, pathLength: 0, ...cdp('root'),
      }),
    })
  }
  const ca = (label: DemoCaLabel): DemoCa => {
    const found = cas.find((c) => c.label === label)
    if (found === undefined) throw new PkiError('PKI_BAD_ARGUMENT', `no CA ${label}`)
    return found
  }

  const participants: DemoParticipant[] = []
  const enroll = async (label: string, role: DemoRole, subject: DistinguishedName): Promise<void> => {
    const issuerLabel = ISSUING_CA[role]
    const issuer = ca(issuerLabel)
    const certificates: DemoCertificate[] = []
    const kinds: [DemoCertificateKind, CertificateProfile, DemoCaLabel][] = role === 'manufacturer'
      ? [['sig', 'sig', issuerLabel]]
      : [
          ...(role === 'gateway' ? [['gs', 'manufacturer', 'sub-ca-gs'] as [DemoCertificateKind, CertificateProfile, DemoCaLabel]] : []),
          ['tls', 'tls', issuerLabel], ['sig', 'sig', issuerLabel], ['enc', 'enc', issuerLabel],
        ]
    for (const [kind, profile, by] of kinds) {
      const signer = await deps.newKey(curve, `${label}/${kind}`)
      const iss = by === issuerLabel ? issuer : ca(by)
      certificates.push({
        label: `${label}/${kind}`, kind, profile, issuer: by, signer,
        certificate: await issueCertificate({
          profile, subject: kind === 'gs' ? { ...subject, OU: 'Guetesiegel' } : subject, publicKey: signer.publicKey,
          serialNumber: deps.serialNumber(), ...defaultValidity(profile, deps.now),
          issuer: { signer: iss.signer, certificate: iss.certificate }, ...(profile === 'tls' && role !== 'manufacturer' ? { tlsRole: TLS_ROLE[role] } : {}), ...cdp(by),
        }),
      })
    }
    participants.push({ label, role, subject, certificates })
  }
  await enroll('gwa', 'gwa', { C: 'DE', O: org, OU: 'GWA', CN: 'GWA Demo' })
  for (let i = 1; i <= emts; i++) await enroll(`emt-${String(i)}`, 'emt', { C: 'DE', O: org, OU: 'EMT', CN: `EMT Demo ${String(i)}` })
  for (let i = 1; i <= gateways; i++) {
    const id = gatewayId(i)
    await enroll(`gateways/${id}`, 'gateway', { C: 'DE', O: org, OU: 'SMGW', CN: id, serialNumber: id.toUpperCase() })
  }
  if (o.manufacturer === true) await enroll('manufacturer', 'manufacturer', { C: 'DE', O: org, OU: 'Manufacturer', CN: 'SMGW Manufacturer Demo' })

  const crls: DemoCrl[] = []
  for (const c of cas) {
    crls.push({
      ca: c.label, crlNumber: 1n,
      der: await issueCrl({
        issuer: { signer: c.signer, certificate: c.certificate }, crlNumber: 1n, thisUpdate: deps.now,
        nextUpdate: new Date(deps.now.getTime() + CRL_DAYS * 86_400_000), revoked: [],
      }),
    })
  }
  return { cas, participants, crls }
}
