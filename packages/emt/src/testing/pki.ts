import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createKeyObjectSigner, encodePem, type CurveName, type Signer } from '@smgw/crypto'
import { createDemoPki, issueCertificate, issueCrl, type DemoCa, type DemoCaLabel, type DemoPki, type RevokedEntry } from '@smgw/pki'

/*
 * A demo SM-PKI for tests and the bench, written to a folder as PEM files: what an EMT
 * configuration points at, plus the gateways' keys for the test clients. Keys are
 * node:crypto KeyObjects (private keys also as PKCS#8 PEM files).
 */

export interface TestParticipant {
  readonly label: string
  readonly tls: { readonly cert: Uint8Array; readonly key: KeyObject; readonly certPath: string; readonly keyPath: string }
  readonly sig: { readonly cert: Uint8Array; readonly key: KeyObject; readonly signer: Signer; readonly certPath: string; readonly keyPath: string }
  readonly enc: { readonly cert: Uint8Array; readonly key: KeyObject; readonly certPath: string; readonly keyPath: string }
}

export interface TestPki {
  readonly dir: string
  readonly demo: DemoPki
  readonly rootPath: string
  readonly root: Uint8Array
  readonly chainPath: string
  readonly subCa: (label: DemoCaLabel) => DemoCa
  /** CRL files, one per CA (empty at first), in `crlPaths` order. */
  readonly crlPaths: readonly string[]
  readonly participant: (label: string) => TestParticipant
  /** Rewrites the CRL of `ca` with these revoked entries (crlNumber increases). */
  revoke(ca: DemoCaLabel, revoked: readonly RevokedEntry[], now: Date): Promise<void>
  /** Issues a SIG certificate with a chosen validity for a participant's SIG key (same subject). */
  issueSig(label: string, notBefore: Date, notAfter: Date): Promise<Uint8Array>
}

export async function createTestPki(dir: string, o: { readonly gateways: number; readonly emts?: number; readonly now: Date; readonly curve?: CurveName; readonly organization?: string }): Promise<TestPki> {
  const keys = new Map<string, KeyObject>()
  const demo = await createDemoPki({ gateways: o.gateways, emts: o.emts ?? 2, ...(o.curve === undefined ? {} : { curve: o.curve }), ...(o.organization === undefined ? {} : { organization: o.organization }) }, {
    newKey: (curve, label) => {
      const key = generateKeyPairSync('ec', { namedCurve: curve }).privateKey
      keys.set(label, key)
      return Promise.resolve(createKeyObjectSigner(key))
    },
    serialNumber: () => {
      const b = randomBytes(16)
      b[0] = (b[0] ?? 0) & 0x7f | 0x01
      return new Uint8Array(b)
    },
    now: o.now,
  })
  const pem = (label: string, der: Uint8Array) => encodePem(label, der)
  const keyPem = (k: KeyObject) => k.export({ format: 'pem', type: 'pkcs8' }).toString()
  await mkdir(dir, { recursive: true })
  const ca = (label: DemoCaLabel): DemoCa => {
    const found = demo.cas.find((c) => c.label === label)
    if (found === undefined) throw new Error(`no CA ${label}`)
    return found
  }
  const root = ca('root').certificate
  const rootPath = join(dir, 'root.cert.pem')
  await writeFile(rootPath, pem('CERTIFICATE', root))
  const chainPath = join(dir, 'chain.pem')
  await writeFile(chainPath, demo.cas.filter((c) => c.label !== 'root').map((c) => pem('CERTIFICATE', c.certificate)).join(''))
  const crlPaths: string[] = []
  const crlNumbers = new Map<DemoCaLabel, bigint>()
  for (const crl of demo.crls) {
    const p = join(dir, `${crl.ca}.crl.pem`)
    await writeFile(p, pem('X509 CRL', crl.der))
    crlPaths.push(p)
    crlNumbers.set(crl.ca, crl.crlNumber)
  }
  const participants = new Map<string, TestParticipant>()
  for (const p of demo.participants) {
    const folder = join(dir, p.label)
    await mkdir(folder, { recursive: true })
    const part: Record<string, { cert: Uint8Array; key: KeyObject; signer: Signer; certPath: string; keyPath: string }> = {}
    for (const c of p.certificates) {
      const key = keys.get(c.label)
      if (key === undefined) throw new Error(`no key ${c.label}`)
      const certPath = join(folder, `${c.kind}.cert.pem`)
      const keyPath = join(folder, `${c.kind}.key.pem`)
      await writeFile(certPath, pem('CERTIFICATE', c.certificate))
      await writeFile(keyPath, keyPem(key), { mode: 0o600 })
      part[c.kind] = { cert: c.certificate, key, signer: c.signer, certPath, keyPath }
    }
    const { tls, sig, enc } = part
    if (tls === undefined || sig === undefined || enc === undefined) throw new Error(`participant ${p.label} lacks a certificate`)
    participants.set(p.label, { label: p.label, tls, sig, enc })
  }
  return {
    dir, demo, root, rootPath, chainPath, crlPaths, subCa: ca,
    participant: (label) => {
      const found = participants.get(label)
      if (found === undefined) throw new Error(`no participant ${label}`)
      return found
    },
    revoke: async (label, revoked, now) => {
      const issuer = ca(label)
      const crlNumber = (crlNumbers.get(label) ?? 0n) + 1n
      crlNumbers.set(label, crlNumber)
      const der = await issueCrl({ issuer: { signer: issuer.signer, certificate: issuer.certificate }, crlNumber, thisUpdate: now, nextUpdate: new Date(now.getTime() + 7 * 86_400_000), revoked })
      await writeFile(join(dir, `${label}.crl.pem`), pem('X509 CRL', der))
    },
    issueSig: async (label, notBefore, notAfter) => {
      const p = demo.participants.find((x) => x.label === label)
      const sig = p?.certificates.find((c) => c.kind === 'sig')
      if (p === undefined || sig === undefined) throw new Error(`no participant ${label}`)
      const issuer = ca(sig.issuer)
      return issueCertificate({
        profile: 'sig', subject: p.subject, publicKey: sig.signer.publicKey, serialNumber: new Uint8Array([0x11, ...randomBytes(8)]),
        notBefore, notAfter, issuer: { signer: issuer.signer, certificate: issuer.certificate },
      })
    },
  }
}
