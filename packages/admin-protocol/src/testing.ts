// Test support (not exported from the package index): a demo SM-PKI whose keys stay
// reachable, signers for its participants, and openssl as an independent peer.
import { execFile } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { createCmsSigner, createKeyObjectSigner, type CmsSigner, type Signer } from '@smgw/crypto'
import { createDemoPki, decodeCertificate, issueCertificate, issueCrl, type DemoPki, type DistinguishedName } from '@smgw/pki'

export interface AdminTestPki {
  readonly pki: DemoPki
  readonly root: Uint8Array
  /** Every sub-CA certificate. */
  readonly intermediates: readonly Uint8Array[]
  readonly gwaSubject: DistinguishedName
  /** A certificate by label: `gwa/sig`, `emt-1/sig`, `gateways/smgw-0001/gs`, … */
  cert(label: string): Uint8Array
  signer(label: string): Signer
  /** A CMS signer for a participant's certificate, the issuing sub-CA included. */
  cmsSigner(label: string): CmsSigner
  /** A further SIG certificate for `subject`, issued by `ca` with the given validity. */
  issueSig(subject: DistinguishedName, ca: string, notBefore: Date, notAfter: Date): Promise<{ certificate: Uint8Array; signer: Signer; cms: CmsSigner }>
  /** A CRL of `ca` revoking `serials`. */
  revoke(ca: string, certificates: readonly Uint8Array[], at: Date): Promise<Uint8Array>
}

export function newSerial(): Uint8Array {
  const b = randomBytes(16)
  b[0] = (b[0]! & 0x7f) | 0x01
  return new Uint8Array(b)
}

function newKey(): Signer {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' })
  return createKeyObjectSigner(privateKey)
}

export async function createAdminTestPki(now: Date, options: { gateways?: number; crlBaseUri?: string } = {}): Promise<AdminTestPki> {
  const signers = new Map<string, Signer>()
  const pki = await createDemoPki({ gateways: options.gateways ?? 2, emts: 1 }, {
    now,
    serialNumber: newSerial,
    newKey: (_curve, label) => {
      const s = newKey()
      signers.set(label, s)
      return Promise.resolve(s)
    },
  })
  const all = pki.participants.flatMap((p) => p.certificates)
  const cert = (label: string): Uint8Array => {
    const ca = pki.cas.find((c) => c.label === label)
    if (ca !== undefined) return ca.certificate
    const found = all.find((c) => c.label === label)
    if (found === undefined) throw new Error(`no certificate ${label}`)
    return found.certificate
  }
  const signer = (label: string): Signer => {
    const s = signers.get(label) ?? signers.get(`${label}/ca`)
    if (s === undefined) throw new Error(`no key ${label}`)
    return s
  }
  const issuerOf = (label: string) => all.find((c) => c.label === label)?.issuer
  const gwa = pki.participants.find((p) => p.role === 'gwa')
  if (gwa === undefined) throw new Error('no GWA in the demo PKI')
  return {
    pki,
    root: cert('root'),
    intermediates: pki.cas.filter((c) => c.label !== 'root').map((c) => c.certificate),
    gwaSubject: gwa.subject,
    cert,
    signer,
    cmsSigner: (label) => createCmsSigner({ signer: signer(label), certificate: cert(label), chain: [cert(issuerOf(label) ?? 'root')] }),
    async issueSig(subject, ca, notBefore, notAfter) {
      const s = newKey()
      const certificate = await issueCertificate({
        profile: 'sig', subject, publicKey: s.publicKey, serialNumber: newSerial(), notBefore, notAfter,
        issuer: { signer: signer(ca), certificate: cert(ca) },
      })
      return { certificate, signer: s, cms: createCmsSigner({ signer: s, certificate, chain: [cert(ca)] }) }
    },
    revoke(ca, certificates, at) {
      return issueCrl({
        issuer: { signer: signer(ca), certificate: cert(ca) }, crlNumber: 2n, thisUpdate: at,
        nextUpdate: new Date(at.getTime() + 7 * 86_400_000),
        revoked: certificates.map((c) => ({ serialNumber: decodeCertificate(c).serialNumber, revocationDate: at })),
      })
    },
  }
}

export function openssl(args: readonly string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { encoding: 'buffer', timeout: 30_000 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`openssl ${args.join(' ')}: ${stderr.toString()}`, { cause: err }))
      else resolve(stdout)
    })
  })
}
