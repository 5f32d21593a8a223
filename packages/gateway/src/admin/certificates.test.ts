// The certificate lifecycle of docs/admin-protocol.md with real parts: a demo SM-PKI whose
// CAs sign what the gateway requests (signRenewalRequest), the software security module and
// one SoftHSM2 token, the state folder on disk, a real TLS handshake, and openssl as the
// independent judge of the CSRs.
import { spawnSync } from 'node:child_process'
import { createPublicKey, diffieHellman, generateKeyPairSync, randomBytes } from 'node:crypto'
import { existsSync, statSync, writeFileSync } from 'node:fs'
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { CURVES, createPkcs11SecurityModule, createSoftwareSecurityModule, encodePem, findPkcs11Library, type SecurityModule, type Signer } from '@smgw/crypto'
import {
  connectTls, createTlsContext, createTlsServer, decodeCertificate, issueCertificate, issueCrl, signRenewalRequest, verifyRenewalRequest,
  type CertificateProfile, type DemoPki, type RenewalTrust,
} from '@smgw/pki'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GatewayError } from '../errors.js'
import type { SystemLogEntry } from '../log/entries.js'
import { createTempDir, initSoftHsmToken } from '../testing.js'
import { createWanTestPki } from '../wan/testing.js'
import { createCertificateManager, type CertificateManager, type CertificateManagerDeps, type OperationalKind } from './certificates.js'

const DAY = 86_400_000
// Real time: OpenSSL checks certificate validity against the system clock in the handshake.
const start = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000)

interface World {
  readonly pki: DemoPki
  readonly cert: (label: string) => Uint8Array
  readonly ca: (label: string) => { signer: Signer; certificate: Uint8Array }
  readonly pem: (label: string) => string
}

async function createWorld(organization = 'SMGW Test'): Promise<World> {
  const t = await createWanTestPki({ gateways: 2, emts: 1, organization }, start)
  const ca = (label: string) => {
    const c = t.pki.cas.find((x) => x.label === label)
    if (c === undefined) throw new Error(`no CA ${label}`)
    return { signer: c.signer, certificate: c.certificate }
  }
  return { pki: t.pki, cert: (label) => t.cert(label), ca, pem: (label) => t.key(label).export({ format: 'pem', type: 'pkcs8' }).toString() }
}

let w: World
let foreign: World
let tmp: { dir: string; remove: () => Promise<void> }
let counter = 0

beforeAll(async () => {
  w = await createWorld()
  foreign = await createWorld('Other Test')
  tmp = await createTempDir('smgw-certs-')
})
afterAll(async () => { await tmp.remove() })

const GW = 'gateways/smgw-0001'
const trust = () => ({ roots: [w.cert('root')], intermediates: [w.cert('sub-ca-gw'), w.cert('sub-ca-gs'), w.cert('sub-ca-emt')], crls: w.pki.crls.map((c) => c.der) })

interface Subject {
  readonly manager: CertificateManager
  readonly stateDir: string
  readonly entries: SystemLogEntry[]
  readonly clock: { t: number }
  readonly module: SecurityModule | undefined
  readonly open: () => Promise<CertificateManager>
}

async function createSubject(module?: SecurityModule): Promise<Subject> {
  const stateDir = join(tmp.dir, `state-${String(++counter)}`)
  await mkdir(stateDir)
  const entries: SystemLogEntry[] = []
  const clock = { t: start.getTime() + 60_000 }
  const deps: CertificateManagerDeps = { log: (e) => { entries.push(e) }, now: () => new Date(clock.t), ...(module === undefined ? {} : { module }) }
  const open = async () => {
    const m = createCertificateManager({
      stateDir, gatewayId: 'smgw-0001', trust: trust(),
      initialIdentity: { key: w.pem(`${GW}/gs`), certificate: w.cert(`${GW}/gs`), chain: [w.cert('sub-ca-gs')] },
    }, deps)
    await m.load()
    return m
  }
  return { manager: await open(), stateDir, entries, clock, module, open }
}

async function softwareModule(): Promise<SecurityModule> {
  return createSoftwareSecurityModule({ dir: join(tmp.dir, `sm-${String(++counter)}`), passphrase: 'test passphrase', scryptLogN: 10 })
}

const PROFILE: Record<OperationalKind, CertificateProfile> = { tls: 'tls', sig: 'sig', enc: 'enc' }
const caTrust = (at: Date): RenewalTrust => ({ roots: [w.cert('root')], intermediates: [w.cert('sub-ca-gw'), w.cert('sub-ca-gs')], at, purpose: 'tls-client' })
const b64 = (d: Uint8Array) => Buffer.from(d).toString('base64')
const der = (t: string | undefined) => new Uint8Array(Buffer.from(t ?? '', 'base64'))

/** The GWA side: the gateway sub-CA issues what the request asks for (first request: the subject may differ from the Gütesiegel one). */
async function issueFor(request: string | undefined, kind: OperationalKind, o: { notAfter?: Date; trustPurpose?: 'tls-client' | 'sig' | 'enc'; profile?: CertificateProfile } = {}): Promise<Uint8Array> {
  const at = new Date(start.getTime() + 60_000)
  return signRenewalRequest(der(request), { ...caTrust(at), purpose: o.trustPurpose ?? 'tls-client' }, {
    ca: w.ca('sub-ca-gw'), profile: o.profile ?? PROFILE[kind], ...((o.profile ?? PROFILE[kind]) === 'tls' ? { tlsRole: 'client' as const } : {}),
    serialNumber: new Uint8Array([0x20, ...randomBytes(9)]), notBefore: start, notAfter: o.notAfter ?? new Date(start.getTime() + 365 * DAY), allowSubjectChange: true,
  })
}

/** A real mutual-TLS handshake with the GWA's server: which client certificate does the server see? */
async function handshakeCertificate(m: CertificateManager, at: () => Date): Promise<Uint8Array> {
  const serverCtx = createTlsContext({ identity: { key: w.pem('gwa/tls'), cert: w.cert('gwa/tls'), chain: [w.cert('sub-ca-emt')] }, trust: { roots: [w.cert('root')] } }, { now: at })
  const seen = new Promise<Uint8Array>((resolve, reject) => {
    const server = createTlsServer(serverCtx, {
      onConnection: (socket, result) => {
        const leaf = result.chain[0]
        socket.end()
        server.close()
        if (leaf === undefined) reject(new Error('no chain'))
        else resolve(leaf.der)
      },
      onReject: (err) => { server.close(); reject(err) },
    })
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port
      const clientCtx = createTlsContext({ identity: m.tlsIdentity(), trust: { roots: [w.cert('root')] } }, { now: at })
      connectTls(clientCtx, { host: '127.0.0.1', port }).then((s) => { s.on('error', () => undefined); s.on('close', () => undefined) }, reject)
    })
  })
  return seen
}

function opensslVerifiesCsr(csrDer: Uint8Array, path: string): string {
  const r = spawnSync('openssl', ['req', '-in', path, '-inform', 'DER', '-verify', '-noout', '-subject'], { encoding: 'utf8' })
  return `${r.status === 0 ? 'exit 0' : `exit ${String(r.status)}`} ${r.stdout}${r.stderr}`
}

/** `openssl cms -verify` of a request wrapper (CMS SignedData by the old or Gütesiegel key), chain from the demo PKI. */
function opensslVerifiesWrapper(cms: Uint8Array, folder: string): string {
  const files = { cms: join(folder, 'request.p7'), root: join(folder, 'root.pem'), chain: join(folder, 'chain.pem'), out: join(folder, 'request.csr') }
  writeFileSync(files.cms, cms)
  writeFileSync(files.root, encodePem('CERTIFICATE', w.cert('root')))
  writeFileSync(files.chain, ['sub-ca-gw', 'sub-ca-gs'].map((l) => encodePem('CERTIFICATE', w.cert(l))).join(''))
  const r = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', files.cms, '-CAfile', files.root, '-certfile', files.chain, '-purpose', 'any', '-out', files.out], { encoding: 'utf8' })
  return `exit ${String(r.status)} ${r.stdout}${r.stderr}`
}

const types = (s: Subject) => s.entries.map((e) => e.type)
const codeOf = async (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: unknown) => (e instanceof GatewayError ? e.code : String(e)))

describe('certificate lifecycle: initial identity → CSRs → operational certificates → renewal → revocation', () => {
  it('runs the full cycle with the software security module, switching the TLS identity a real handshake sees', async () => {
    const module = await softwareModule()
    const s = await createSubject(module)
    const now = () => new Date(s.clock.t)
    const gs = w.cert(`${GW}/gs`)
    expect(s.manager.summary()).toEqual([{ kind: 'gs', serial: decodeCertificate(gs).serialHex, notAfter: decodeCertificate(gs).notAfter.toISOString(), source: 'initial' }])
    expect(s.manager.tlsIdentity().cert).toEqual(gs)
    expect(s.manager.overrides()).toEqual({})
    expect(await handshakeCertificate(s.manager, now)).toEqual(gs)

    // 1. The GWA has the gateway generate keys and CSRs: the first request is signed by the Gütesiegel key.
    const { csrs } = await s.manager.generateCsr({ kinds: ['tls', 'sig', 'enc'] })
    expect(Object.keys(csrs).sort()).toEqual(['enc', 'sig', 'tls'])
    for (const kind of ['tls', 'sig', 'enc'] as const) {
      const req = await verifyRenewalRequest(der(csrs[kind]))
      expect(req.oldCertificate.der).toEqual(gs)
      expect(req.csr.subject).toBe('CN=smgw-0001,serialNumber=SMGW-0001,O=SMGW Test,C=DE')
      const path = join(s.stateDir, `${kind}.csr.der`)
      await writeFile(path, req.csr.der)
      const verdict = opensslVerifiesCsr(req.csr.der, path)
      expect(verdict).toMatch(/^exit 0/)
      expect(verdict).toContain('verify OK')
    }
    // openssl as the independent judge of the outer signature: the Gütesiegel key, path to the root.
    expect(opensslVerifiesWrapper(der(csrs.tls), s.stateDir)).toMatch(/^exit 0[\s\S]*Verification successful/)
    // All three keys are in the module, none in a file (node:tls gets the TLS key through tlsPrivateKey).
    const labels = (await module.listKeys()).map((k) => k.label).sort()
    expect(labels).toEqual(['admin.enc.3', 'admin.sig.2', 'admin.tls.1'])
    expect((await readdir(join(s.stateDir, 'identity'))).filter((f) => f.endsWith('.key.pem'))).toEqual([])
    expect(types(s)).toEqual(['keys-generated', 'keys-generated', 'keys-generated', 'certificate-requested', 'certificate-requested', 'certificate-requested'])
    expect(s.entries.filter((e) => e.type === 'certificate-requested').map((e) => e.fields)).toEqual([
      { kind: 'tls', renewal: false }, { kind: 'sig', renewal: false }, { kind: 'enc', renewal: false },
    ])

    // Keys generated, nothing installed: no ENC identity to decrypt meter keys with.
    expect(await s.manager.encIdentity()).toBeUndefined()

    // 2. The CA issues, the gateway installs all three together.
    const issued = { tls: await issueFor(csrs.tls, 'tls'), sig: await issueFor(csrs.sig, 'sig'), enc: await issueFor(csrs.enc, 'enc') }
    const { serials } = await s.manager.install({ certificates: { tls: b64(issued.tls), sig: b64(issued.sig), enc: b64(issued.enc) }, chain: [b64(w.cert('sub-ca-gw'))] })
    expect(serials).toEqual({ tls: decodeCertificate(issued.tls).serialHex, sig: decodeCertificate(issued.sig).serialHex, enc: decodeCertificate(issued.enc).serialHex })
    expect(s.entries.filter((e) => e.type === 'certificate-installed').map((e) => e.fields)).toEqual([
      { kind: 'tls', serial: serials.tls }, { kind: 'sig', serial: serials.sig }, { kind: 'enc', serial: serials.enc },
    ])
    expect(s.manager.tlsIdentity().cert).toEqual(issued.tls)
    expect(s.manager.summary().map((i) => [i.kind, i.source])).toEqual([['gs', 'initial'], ['tls', 'operational'], ['sig', 'operational'], ['enc', 'operational']])
    // The ENC identity in force: the module key (admin.enc.3) that agrees with the certificate's key.
    const encIdentity = await s.manager.encIdentity()
    expect(encIdentity?.certificate).toEqual(issued.enc)
    expect(encIdentity?.agreer.publicKey).toEqual(decodeCertificate(issued.enc).publicKey)
    const peer = generateKeyPairSync('ec', { namedCurve: CURVES[encIdentity!.agreer.curve].nodeName })
    const shared = await encIdentity!.agreer.deriveSharedSecret(new Uint8Array(peer.publicKey.export({ format: 'der', type: 'spki' })))
    expect(Buffer.from(shared)).toEqual(diffieHellman({ privateKey: peer.privateKey, publicKey: createPublicKey({ key: Buffer.from(decodeCertificate(issued.enc).publicKey), format: 'der', type: 'spki' }) }))
    // Past its validity (legal time): none.
    const t0 = s.clock.t
    s.clock.t = decodeCertificate(issued.enc).notAfter.getTime() + 1000
    expect(await s.manager.encIdentity()).toBeUndefined()
    s.clock.t = t0
    const o = s.manager.overrides()
    expect(o.logs?.sigKeyLabel).toBe('admin.sig.2')
    expect(new Uint8Array(await readFile(o.logs?.sigCertificate ?? ''))).toEqual(new TextEncoder().encode(encodePem('CERTIFICATE', issued.sig)))
    expect(o.wanTls).toMatchObject({ keyLabel: 'admin.tls.1', chain: [expect.any(String)] })
    expect(await handshakeCertificate(s.manager, now)).toEqual(issued.tls)

    // A restart reads the same identity back.
    const again = await s.open()
    expect(again.tlsIdentity().cert).toEqual(issued.tls)
    expect(again.summary()).toEqual(s.manager.summary())

    // 3. Renewal: the TLS CSR is now signed by the old (operational) TLS key; the CA verifies it without a subject change.
    const renewal = await again.generateCsr({ kinds: ['tls'] })
    const req = await verifyRenewalRequest(der(renewal.csrs.tls))
    expect(req.oldCertificate.der).toEqual(issued.tls)
    expect(opensslVerifiesWrapper(der(renewal.csrs.tls), s.stateDir)).toMatch(/^exit 0[\s\S]*Verification successful/)
    expect(s.entries.at(-1)).toEqual({ type: 'certificate-requested', fields: { kind: 'tls', renewal: true } })
    const renewed = await signRenewalRequest(der(renewal.csrs.tls), caTrust(now()), {
      ca: w.ca('sub-ca-gw'), profile: 'tls', tlsRole: 'client', serialNumber: new Uint8Array([0x21, ...randomBytes(9)]), notBefore: start, notAfter: new Date(start.getTime() + 365 * DAY),
    })
    // Until installed, the old identity stays in use.
    expect(again.tlsIdentity().cert).toEqual(issued.tls)
    await again.install({ certificates: { tls: b64(renewed) }, chain: [b64(w.cert('sub-ca-gw'))] })
    expect(again.tlsIdentity().cert).toEqual(renewed)
    expect(await handshakeCertificate(again, now)).toEqual(renewed)
    // The replaced TLS key is retired with the new one in, and destroyed once the caller says the running configuration took it over.
    expect(await again.destroyRetiredKeys(new Set(['admin.tls.1']))).toEqual([])
    expect(await again.destroyRetiredKeys()).toEqual(['admin.tls.1'])
    expect((await module.listKeys()).map((k) => k.label)).not.toContain('admin.tls.1')

    // 4. Revocation: the TLS certificate on the gateway sub-CA's CRL → no longer used, back to the Gütesiegel identity.
    const crl = await issueCrl({
      issuer: w.ca('sub-ca-gw'), crlNumber: 2n, thisUpdate: start, nextUpdate: new Date(start.getTime() + 7 * DAY),
      revoked: [{ serialNumber: decodeCertificate(renewed).serialNumber, revocationDate: start, reason: 'keyCompromise' }],
    })
    const others = w.pki.crls.filter((c) => c.ca !== 'sub-ca-gw').map((c) => b64(c.der))
    expect(await again.updateCrls({ crls: [...others, b64(crl)] })).toEqual({ revokedOwn: ['tls'] })
    expect(s.entries.at(-1)).toEqual({ type: 'certificate-revoked', fields: { kind: 'tls', serial: decodeCertificate(renewed).serialHex } })
    expect(again.tlsIdentity().cert).toEqual(gs)
    expect(again.overrides().wanTls).toBeUndefined()
    expect(again.overrides().logs?.sigKeyLabel).toBe('admin.sig.2')
    expect(again.overrides().crls).toHaveLength(4)
    expect(again.summary().map((i) => i.kind)).toEqual(['gs', 'sig', 'enc'])
    expect((await again.encIdentity())?.certificate).toEqual(issued.enc) // only the TLS certificate was revoked
    expect(await handshakeCertificate(again, now)).toEqual(gs)
    // The same CRLs again: nothing newly revoked, nothing logged twice.
    const logged = s.entries.length
    expect(await again.updateCrls({ crls: [...others, b64(crl)] })).toEqual({ revokedOwn: [] })
    expect(s.entries).toHaveLength(logged)
    // Persisted: a restart still does not use the revoked certificate.
    const third = await s.open()
    expect(third.tlsIdentity().cert).toEqual(gs)
    expect(third.crls()).toHaveLength(4)
    // With the Gütesiegel identity the gateway can still ask for a new TLS certificate (first-request form again).
    const fresh = await third.generateCsr({ kinds: ['tls'] })
    expect((await verifyRenewalRequest(der(fresh.csrs.tls))).oldCertificate.der).toEqual(gs)
    await third.install({ certificates: { tls: b64(await issueFor(fresh.csrs.tls, 'tls')) }, chain: [b64(w.cert('sub-ca-gw'))] })
    expect(third.tlsIdentity().cert).not.toEqual(gs)
    await module.close()
  })
})

describe('install refuses and changes nothing', () => {
  let s: Subject
  let csrs: Partial<Record<OperationalKind, string>>
  let stateBefore: Buffer
  let filesBefore: string[]

  beforeAll(async () => {
    s = await createSubject(await softwareModule())
    ;({ csrs } = await s.manager.generateCsr({ kinds: ['tls', 'sig'] }))
    stateBefore = await readFile(join(s.stateDir, 'identity', 'state.json'))
    filesBefore = (await readdir(join(s.stateDir, 'identity'))).sort()
  })

  async function refusedUnchanged(certificates: Partial<Record<OperationalKind, Uint8Array | string>>, pattern: RegExp, chain = [w.cert('sub-ca-gw')]): Promise<void> {
    const before = s.entries.length
    const text = Object.fromEntries(Object.entries(certificates).map(([k, v]) => [k, typeof v === 'string' ? v : b64(v)]))
    const err = await s.manager.install({ certificates: text, chain: chain.map(b64) }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(GatewayError)
    expect((err as GatewayError).code).toBe('ADMIN_APPLY_FAILED')
    expect((err as GatewayError).message).toMatch(pattern)
    expect(await readFile(join(s.stateDir, 'identity', 'state.json'))).toEqual(stateBefore)
    expect((await readdir(join(s.stateDir, 'identity'))).sort()).toEqual(filesBefore)
    expect(s.manager.tlsIdentity().cert).toEqual(w.cert(`${GW}/gs`))
    expect(s.manager.summary().map((i) => i.kind)).toEqual(['gs'])
    expect(s.entries.slice(before)).toEqual([])
  }

  it('a certificate for another key (not the one generated for it)', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' }).publicKey.export({ format: 'der', type: 'spki' })
    const cert = await issueCertificate({
      profile: 'tls', tlsRole: 'client', subject: { C: 'DE', O: 'SMGW Test', CN: 'smgw-0001' }, publicKey: new Uint8Array(other),
      serialNumber: new Uint8Array([0x22, 1, 2]), notBefore: start, notAfter: new Date(start.getTime() + DAY * 30), issuer: w.ca('sub-ca-gw'),
    })
    await refusedUnchanged({ tls: cert }, /does not hold the key generated for it/)
    // Another gateway's genuine certificate.
    await refusedUnchanged({ tls: w.cert('gateways/smgw-0002/tls') }, /does not hold the key generated for it/)
  })

  it('a foreign certificate: our key, but issued by a CA outside our SM-PKI', async () => {
    const req = await verifyRenewalRequest(der(csrs.tls))
    const cert = await issueCertificate({
      profile: 'tls', tlsRole: 'client', subject: req.csr.subjectDer, publicKey: req.csr.publicKey,
      serialNumber: new Uint8Array([0x23, 1, 2]), notBefore: start, notAfter: new Date(start.getTime() + DAY * 30), issuer: foreign.ca('sub-ca-gw'),
    })
    await refusedUnchanged({ tls: cert }, /does not validate: NO_PATH/, [foreign.cert('sub-ca-gw')])
  })

  it('an expired certificate, and a certificate with the wrong key usage', async () => {
    const expired = await issueFor(csrs.tls, 'tls', { notAfter: new Date(start.getTime() + 30_000) })
    await refusedUnchanged({ tls: expired }, /EXPIRED/)
    // A SIG certificate for the TLS key: path validation for tls-client wants the clientAuth EKU.
    const wrongUsage = await issueFor(csrs.tls, 'tls', { profile: 'sig' })
    await refusedUnchanged({ tls: wrongUsage }, /does not validate: (EKU|KEY_USAGE)/)
  })

  it('a partial set: one bad certificate of two installs neither', async () => {
    const goodTls = await issueFor(csrs.tls, 'tls')
    const badSig = await issueFor(csrs.sig, 'sig', { notAfter: new Date(start.getTime() + 30_000) })
    await refusedUnchanged({ tls: goodTls, sig: badSig }, /sig certificate does not validate: EXPIRED/)
  })

  it('no key generated for the kind, garbage, and not base64', async () => {
    await refusedUnchanged({ enc: await issueFor(csrs.sig, 'enc') }, /no key was generated for it/)
    await refusedUnchanged({ tls: new Uint8Array([0x30, 0x03, 1, 2, 3]) }, /does not decode/)
    await refusedUnchanged({ tls: 'not base64!' }, /not base64/)
    await refusedUnchanged({}, /no certificates/)
  })

  it('property: arbitrary bytes and single-bit flips of a genuine certificate are refused with ADMIN_APPLY_FAILED, nothing changed', async () => {
    const genuine = await issueFor(csrs.tls, 'tls')
    const check = async (bytes: Uint8Array) => {
      const err = await s.manager.install({ certificates: { tls: b64(bytes) }, chain: [b64(w.cert('sub-ca-gw'))] }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(GatewayError)
      expect((err as GatewayError).code).toBe('ADMIN_APPLY_FAILED')
    }
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 700 }), check), { numRuns: 100 })
    await fc.assert(fc.asyncProperty(fc.nat({ max: genuine.length * 8 - 1 }), async (bit) => {
      const flipped = genuine.slice()
      flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (0x80 >> (bit & 7))
      await check(flipped)
    }), { numRuns: 150 })
    expect(await readFile(join(s.stateDir, 'identity', 'state.json'))).toEqual(stateBefore)
    expect((await readdir(join(s.stateDir, 'identity'))).sort()).toEqual(filesBefore)
  })

  it('then the genuine set installs', async () => {
    const r = await s.manager.install({ certificates: { tls: b64(await issueFor(csrs.tls, 'tls')), sig: b64(await issueFor(csrs.sig, 'sig')) }, chain: [b64(w.cert('sub-ca-gw'))] })
    expect(Object.keys(r.serials)).toEqual(['tls', 'sig'])
  })
})

describe('refusals outside install', () => {
  it('update-crls: a CRL that does not verify is refused and the CRLs in force stay', async () => {
    const s = await createSubject(await softwareModule())
    const before = await readFile(join(s.stateDir, 'identity', 'state.json')).catch(() => undefined)
    // A genuine CRL of the manufacturer sub-CA with one signature bit flipped.
    const genuine = w.pki.crls.find((c) => c.ca === 'sub-ca-gs')?.der ?? new Uint8Array()
    const tampered = genuine.slice()
    tampered[tampered.length - 2] = (tampered[tampered.length - 2] ?? 0) ^ 1
    expect(await codeOf(s.manager.updateCrls({ crls: [b64(tampered)] }))).toBe('ADMIN_APPLY_FAILED')
    expect(await codeOf(s.manager.updateCrls({ crls: ['%%%'] }))).toBe('ADMIN_APPLY_FAILED')
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), async (bytes) => {
      expect(await codeOf(s.manager.updateCrls({ crls: [...w.pki.crls.map((c) => b64(c.der)), b64(bytes)] }))).toBe('ADMIN_APPLY_FAILED')
    }), { numRuns: 100 })
    expect(await readFile(join(s.stateDir, 'identity', 'state.json')).catch(() => undefined)).toEqual(before)
    expect(s.manager.crls()).toEqual(trust().crls)
  })

  it('an ENC certificate found on a CRL is no ENC identity any more (meter keys sealed to it are not opened); a restart agrees', async () => {
    const module = await softwareModule()
    const s = await createSubject(module)
    const { csrs } = await s.manager.generateCsr({ kinds: ['enc'] })
    const enc = await issueFor(csrs.enc, 'enc')
    await s.manager.install({ certificates: { enc: b64(enc) }, chain: [b64(w.cert('sub-ca-gw'))] })
    expect((await s.manager.encIdentity())?.certificate).toEqual(enc)
    const crl = await issueCrl({
      issuer: w.ca('sub-ca-gw'), crlNumber: 3n, thisUpdate: start, nextUpdate: new Date(start.getTime() + 7 * DAY),
      revoked: [{ serialNumber: decodeCertificate(enc).serialNumber, revocationDate: start, reason: 'keyCompromise' }],
    })
    expect(await s.manager.updateCrls({ crls: [...w.pki.crls.filter((c) => c.ca !== 'sub-ca-gw').map((c) => b64(c.der)), b64(crl)] })).toEqual({ revokedOwn: ['enc'] })
    expect(await s.manager.encIdentity()).toBeUndefined()
    expect(await (await s.open()).encIdentity()).toBeUndefined()
    await module.close()
  })

  it('replaced module keys: a SIG key is destroyed at once, an ENC key opens for 7 days and is destroyed then; a restart agrees', async () => {
    const module = await softwareModule()
    const s = await createSubject(module)
    const labels = async () => (await module.listKeys()).map((k) => k.label).sort()
    const first = await s.manager.generateCsr({ kinds: ['sig', 'enc'] })
    const old = { sig: await issueFor(first.csrs.sig, 'sig'), enc: await issueFor(first.csrs.enc, 'enc') }
    await s.manager.install({ certificates: { sig: b64(old.sig), enc: b64(old.enc) }, chain: [b64(w.cert('sub-ca-gw'))] })
    expect(await labels()).toEqual(['admin.enc.2', 'admin.sig.1'])
    // A request replaced by a newer one before anything was installed: its key is retired at once.
    await s.manager.generateCsr({ kinds: ['sig'] })
    const renewal = await s.manager.generateCsr({ kinds: ['sig', 'enc'] })
    expect(await labels()).toEqual(['admin.enc.2', 'admin.enc.6', 'admin.sig.1', 'admin.sig.4', 'admin.sig.5'])
    expect(await s.manager.destroyRetiredKeys()).toEqual(['admin.sig.4'])
    const renewed = { sig: await issueFor(renewal.csrs.sig, 'sig', { trustPurpose: 'sig' }), enc: await issueFor(renewal.csrs.enc, 'enc', { trustPurpose: 'enc' }) }
    await s.manager.install({ certificates: { sig: b64(renewed.sig), enc: b64(renewed.enc) }, chain: [b64(w.cert('sub-ca-gw'))] })
    expect(s.manager.overrides().logs?.sigKeyLabel).toBe('admin.sig.5')

    // Installing destroys nothing by itself: the running configuration may still sign with the old SIG key.
    expect(await labels()).toEqual(['admin.enc.2', 'admin.enc.6', 'admin.sig.1', 'admin.sig.5'])
    // A label the caller says is in use is kept.
    expect(await s.manager.destroyRetiredKeys(new Set(['admin.sig.1']))).toEqual([])
    expect(await s.manager.destroyRetiredKeys()).toEqual(['admin.sig.1'])
    expect(await labels()).toEqual(['admin.enc.2', 'admin.enc.6', 'admin.sig.5'])
    expect(s.entries.filter((e) => e.type === 'key-destroyed').map((e) => e.fields)).toEqual([{ kind: 'sig', label: 'admin.sig.4' }, { kind: 'sig', label: 'admin.sig.1' }])

    // The old ENC key still agrees, with its own certificate (what an envelope sealed before the renewal names).
    expect((await s.manager.encIdentity())?.certificate).toEqual(renewed.enc)
    const retired = await s.manager.retiredEncIdentities()
    expect(retired.map((r) => r.certificate)).toEqual([old.enc])
    expect(retired[0]?.agreer.publicKey).toEqual(decodeCertificate(old.enc).publicKey)
    const restarted = await s.open()
    expect((await restarted.retiredEncIdentities()).map((r) => r.certificate)).toEqual([old.enc])

    // Six days on: still kept. Seven days on: no longer offered, and destroyed with its certificate file.
    s.clock.t += 6 * DAY
    expect(await restarted.destroyRetiredKeys()).toEqual([])
    expect(await restarted.retiredEncIdentities()).toHaveLength(1)
    s.clock.t += DAY
    expect(await restarted.retiredEncIdentities()).toEqual([])
    const certFiles = async () => (await readdir(join(s.stateDir, 'identity'))).filter((f) => f.startsWith('enc-')).length
    expect(await certFiles()).toBe(2)
    expect(await restarted.destroyRetiredKeys()).toEqual(['admin.enc.2'])
    expect(await labels()).toEqual(['admin.enc.6', 'admin.sig.5'])
    expect(await certFiles()).toBe(1)
    expect(s.entries.at(-1)).toEqual({ type: 'key-destroyed', fields: { kind: 'enc', label: 'admin.enc.2' } })
    expect(await (await s.open()).destroyRetiredKeys()).toEqual([])
    expect((await restarted.encIdentity())?.certificate).toEqual(renewed.enc)
    await module.close()
  })

  it('a retired key the module cannot destroy now stays retired and goes the next time', async () => {
    const module = await softwareModule()
    const s = await createSubject(module)
    const first = await s.manager.generateCsr({ kinds: ['sig'] })
    await s.manager.install({ certificates: { sig: b64(await issueFor(first.csrs.sig, 'sig')) }, chain: [b64(w.cert('sub-ca-gw'))] })
    const second = await s.manager.generateCsr({ kinds: ['sig'] })
    await s.manager.install({ certificates: { sig: b64(await issueFor(second.csrs.sig, 'sig', { trustPurpose: 'sig' })) }, chain: [b64(w.cert('sub-ca-gw'))] })
    const failing: SecurityModule = { ...module, deleteKey: () => Promise.reject(new Error('token removed')) }
    // The same state folder, opened with a module whose deletion fails.
    const m = createCertificateManager({
      stateDir: s.stateDir, gatewayId: 'smgw-0001', trust: trust(),
      initialIdentity: { key: w.pem(`${GW}/gs`), certificate: w.cert(`${GW}/gs`), chain: [w.cert('sub-ca-gs')] },
    }, { log: () => undefined, now: () => new Date(s.clock.t), module: failing })
    await m.load()
    expect(await m.destroyRetiredKeys()).toEqual([])
    expect((await module.listKeys()).map((k) => k.label)).toContain('admin.sig.1')
    expect(await (await s.open()).destroyRetiredKeys()).toEqual(['admin.sig.1'])
    expect((await module.listKeys()).map((k) => k.label)).toEqual([s.manager.overrides().logs?.sigKeyLabel])
    await module.close()
  })

  it('without a security module there is no ENC identity', async () => {
    const s = await createSubject()
    expect(await s.manager.encIdentity()).toBeUndefined()
  })

  it('generate-csr with a module that fails half-way: nothing kept, nothing logged as requested', async () => {
    const module = await softwareModule()
    const s = await createSubject(module)
    await module.close()
    const before = await readdir(join(s.stateDir, 'identity'))
    expect(await codeOf(s.manager.generateCsr({ kinds: ['tls', 'sig'] }))).toBe('ADMIN_APPLY_FAILED')
    // The TLS key written before the module failed is gone again; no state file was made.
    expect(await readdir(join(s.stateDir, 'identity'))).toEqual(before)
    expect(s.entries.filter((e) => e.type === 'certificate-requested')).toEqual([])
  })

  it('generate-csr for SIG/ENC without a security module is refused; TLS works without one', async () => {
    const s = await createSubject()
    expect(await codeOf(s.manager.generateCsr({ kinds: ['sig'] }))).toBe('ADMIN_APPLY_FAILED')
    expect(s.entries).toEqual([])
    const r = await s.manager.generateCsr({ kinds: ['tls'] })
    expect(Object.keys(r.csrs)).toEqual(['tls'])
    // Without a module the TLS key is a PKCS#8 file only the owner may read.
    const keyFiles = (await readdir(join(s.stateDir, 'identity'))).filter((f) => f.endsWith('.key.pem'))
    expect(keyFiles).toHaveLength(1)
    expect(statSync(join(s.stateDir, 'identity', keyFiles[0] ?? '')).mode & 0o077).toBe(0)
  })

  it('leftovers of a request or install interrupted before the state switch block nothing', async () => {
    const module = await softwareModule()
    const s = await createSubject(module)
    // As if a process died after generating keys and writing files, before the state file was replaced.
    await module.generateKey('brainpoolP256r1', 'admin.sig.1')
    await writeFile(join(s.stateDir, 'identity', 'tls-1.key.pem'), 'half')
    await writeFile(join(s.stateDir, 'identity', 'tls-1.cert.pem'), 'half')
    await writeFile(join(s.stateDir, 'identity', '.state.json.0a1b2c.tmp'), '{')
    await writeFile(join(s.stateDir, 'identity', 'README.operator'), 'not ours')
    const m = await s.open()
    expect((await readdir(join(s.stateDir, 'identity'))).sort()).toEqual(['README.operator'])
    const { csrs } = await m.generateCsr({ kinds: ['tls', 'sig'] })
    const sig = await verifyRenewalRequest(der(csrs.sig))
    expect(sig.csr.publicKey).toEqual((await module.publicKey('admin.sig.2')).publicKey)
    await m.install({ certificates: { tls: b64(await issueFor(csrs.tls, 'tls')), sig: b64(await issueFor(csrs.sig, 'sig')) }, chain: [b64(w.cert('sub-ca-gw'))] })
    expect(m.overrides().logs?.sigKeyLabel).toBe('admin.sig.2')
    await module.close()
  })

  it('a damaged state file stops load with ADMIN_APPLY_FAILED', async () => {
    const s = await createSubject()
    await s.manager.generateCsr({ kinds: ['tls'] })
    await writeFile(join(s.stateDir, 'identity', 'state.json'), '{"format":"smgw-identity-state/1","next":"x"}')
    expect(await codeOf(s.open())).toBe('ADMIN_APPLY_FAILED')
    await writeFile(join(s.stateDir, 'identity', 'state.json'), 'not json')
    expect(await codeOf(s.open())).toBe('ADMIN_APPLY_FAILED')
  })

  it('an initial key that does not belong to the initial certificate is a configuration error', () => {
    expect(() => createCertificateManager({
      stateDir: tmp.dir, gatewayId: 'smgw-0001', trust: trust(),
      initialIdentity: { key: w.pem(`${GW}/tls`), certificate: w.cert(`${GW}/gs`), chain: [] },
    }, { log: () => undefined, now: () => start })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }))
  })
})

const softhsm = findPkcs11Library(existsSync)

describe.skipIf(softhsm === undefined)('SIG key on a PKCS#11 token (SoftHSM2)', () => {
  it('generates the SIG key on the token; the CSR verifies with openssl and the sub-CA signs it; installed; renewed, the old key destroyed on the token; the TLS key on the token authenticates a real handshake', async () => {
    await initSoftHsmToken(tmp.dir, 'gateway')
    const module = await createPkcs11SecurityModule({ library: softhsm ?? '', tokenLabel: 'gateway', pin: '4321' })
    try {
      const s = await createSubject(module)
      const { csrs } = await s.manager.generateCsr({ kinds: ['sig'] })
      const req = await verifyRenewalRequest(der(csrs.sig))
      const path = join(s.stateDir, 'sig.csr.der')
      await writeFile(path, req.csr.der)
      expect(opensslVerifiesCsr(req.csr.der, path)).toMatch(/^exit 0[\s\S]*verify OK/)
      expect((await module.listKeys()).map((k) => k.label)).toContain('admin.sig.1')
      expect(req.csr.publicKey).toEqual((await module.publicKey('admin.sig.1')).publicKey)
      const cert = await issueFor(csrs.sig, 'sig')
      await s.manager.install({ certificates: { sig: b64(cert) }, chain: [b64(w.cert('sub-ca-gw'))] })
      expect(s.manager.overrides().logs?.sigKeyLabel).toBe('admin.sig.1')
      // The installed SIG key signs in the token: a renewal request for SIG is signed by it.
      const renewal = await s.manager.generateCsr({ kinds: ['sig'] })
      expect((await verifyRenewalRequest(der(renewal.csrs.sig))).oldCertificate.der).toEqual(cert)
      // Installed, the renewed key takes over and the old one is destroyed on the token.
      await s.manager.install({ certificates: { sig: b64(await issueFor(renewal.csrs.sig, 'sig', { trustPurpose: 'sig' })) }, chain: [b64(w.cert('sub-ca-gw'))] })
      const renewedLabel = s.manager.overrides().logs?.sigKeyLabel
      expect(await s.manager.destroyRetiredKeys()).toEqual(['admin.sig.1'])
      expect((await module.listKeys()).map((k) => k.label)).toEqual([renewedLabel])

      // The TLS key on the token too: a real handshake authenticates with it through OpenSSL's pkcs11 engine.
      const tlsRequest = await s.manager.generateCsr({ kinds: ['tls'] })
      const tlsLabel = (await module.listKeys()).map((k) => k.label).find((l) => l.startsWith('admin.tls.'))
      expect(tlsLabel).toBeDefined()
      const tlsCert = await issueFor(tlsRequest.csrs.tls, 'tls')
      await s.manager.install({ certificates: { tls: b64(tlsCert) }, chain: [b64(w.cert('sub-ca-gw'))] })
      expect(s.manager.tlsIdentity().key).toMatchObject({ kind: 'engine', identifier: expect.stringContaining(`object=${tlsLabel ?? ''};type=private`) as unknown })
      expect(s.manager.overrides().wanTls).toMatchObject({ keyLabel: tlsLabel })
      expect(await handshakeCertificate(s.manager, () => new Date(s.clock.t))).toEqual(tlsCert)
    } finally {
      await module.close()
    }
  })
})
