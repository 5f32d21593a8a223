import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createKeyObjectSigner, encodePem, type Signer } from '@smgw/crypto'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signCsr, signRenewalRequest, type RenewalTrust } from './ca.js'
import { decodeCertificate } from './certificate.js'
import { issueCrl } from './crl.js'
import { createCsr, decodeCsr, verifyCsr } from './csr.js'
import { PkiError } from './errors.js'
import { createRenewalRequest, decodeRenewalRequest, verifyRenewalRequest } from './renewal.js'
import { createTestPki, newKey, serial, type TestPki } from './testing.js'
import { validatePath } from './validate.js'

let t: TestPki
let dir: string
const GW = 'gateways/smgw-0001'
const subject = { C: 'DE', O: 'SMGW Demo', OU: 'SMGW', CN: 'smgw-0001', serialNumber: 'SMGW-0001' }

beforeAll(async () => {
  t = await createTestPki({ gateways: 1, emts: 0 })
  dir = mkdtempSync(join(tmpdir(), 'pki-csr-'))
})
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

const code = async (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (e instanceof PkiError ? e.code : String(e)))
const validity = () => ({ serialNumber: serial(), notBefore: t.now, notAfter: new Date(t.now.getTime() + 2 * 365 * 86_400_000) })
const trust = (): RenewalTrust => ({ roots: [t.cert('root')], intermediates: [t.cert('sub-ca-gw'), t.cert('sub-ca-gs')], at: t.now, purpose: 'tls-client' })
const fresh = (): Signer => createKeyObjectSigner(newKey('brainpoolP256r1'))

describe('createCsr / verifyCsr / signCsr', () => {
  it('a PKCS#10 request OpenSSL verifies; the CA issues for its subject and key', async () => {
    const signer = fresh()
    const csr = await createCsr({ signer, subject })
    const path = join(dir, 'a.csr')
    writeFileSync(path, encodePem('CERTIFICATE REQUEST', csr))
    const r = spawnSync('openssl', ['req', '-in', path, '-verify', '-noout', '-subject'], { encoding: 'utf8' })
    expect(r.stderr + r.stdout).toContain('verify OK')
    expect(r.stdout).toContain('CN = smgw-0001')
    const decoded = verifyCsr(csr)
    expect(decoded.subject).toBe('CN=smgw-0001,serialNumber=SMGW-0001,OU=SMGW,O=SMGW Demo,C=DE')
    const cert = await signCsr(csr, { ca: t.ca('sub-ca-gw'), profile: 'tls', tlsRole: 'client', ...validity() })
    const c = decodeCertificate(cert)
    expect(c.subjectDer).toEqual(decoded.subjectDer)
    expect(c.publicKey).toEqual(signer.publicKey)
    expect(validatePath({ leaf: cert, intermediates: [t.cert('sub-ca-gw')], roots: [t.cert('root')], at: t.now, purpose: 'tls-client' }).ok).toBe(true)
  })

  it('PKI_BAD_SIGNATURE: a request whose signature does not match its key', async () => {
    const csr = (await createCsr({ signer: fresh(), subject })).slice()
    csr[csr.length - 3] = (csr[csr.length - 3] ?? 0) ^ 0x40
    expect(() => verifyCsr(csr)).toThrow(expect.objectContaining({ code: 'PKI_BAD_SIGNATURE' }))
    expect(await code(signCsr(csr, { ca: t.ca('sub-ca-gw'), profile: 'sig', ...validity() }))).toBe('PKI_BAD_SIGNATURE')
  })

  it('PKI_MALFORMED: bytes that are no request (property: only PkiError)', async () => {
    expect(() => decodeCsr(new Uint8Array([0x30, 0x00]))).toThrow(expect.objectContaining({ code: 'PKI_MALFORMED' }))
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      for (const f of [decodeCsr, verifyCsr, decodeRenewalRequest]) {
        try {
          f(bytes)
        } catch (err) {
          expect(err).toBeInstanceOf(PkiError)
        }
      }
    }), { numRuns: 300 })
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
      await verifyRenewalRequest(bytes).then(() => undefined, (err: unknown) => { expect(err).toBeInstanceOf(PkiError) })
    }), { numRuns: 300 })
  })
})

describe('renewal requests (CSR signed additionally by the old key)', () => {
  it('a gateway renews its TLS certificate: the CA checks both signatures and the old certificate', async () => {
    const next = fresh()
    const request = await createRenewalRequest({ csr: await createCsr({ signer: next, subject }), oldSigner: t.signer(`${GW}/tls`), oldCertificate: t.cert(`${GW}/tls`) })
    const decoded = await verifyRenewalRequest(request)
    expect(decoded.oldCertificate.subject).toContain('CN=smgw-0001')
    const cert = await signRenewalRequest(request, trust(), { ca: t.ca('sub-ca-gw'), profile: 'tls', tlsRole: 'client', ...validity() })
    expect(decodeCertificate(cert).publicKey).toEqual(next.publicKey)
  })

  it('the renewal request is a CMS SignedData by the old key that openssl cms -verify accepts, printing the new CSR', async () => {
    const csr = await createCsr({ signer: fresh(), subject })
    const at = new Date('2026-05-01T10:00:00Z')
    const request = await createRenewalRequest({ csr, oldSigner: t.signer(`${GW}/tls`), oldCertificate: t.cert(`${GW}/tls`), chain: [t.cert('sub-ca-gw')], signingTime: at })
    const decoded = decodeRenewalRequest(request)
    expect(decoded).toMatchObject({ signatureAlgorithm: '1.2.840.10045.4.3.2', signingTime: at, certificates: [t.cert(`${GW}/tls`), t.cert('sub-ca-gw')] })
    expect(decoded.csr.der).toEqual(csr)
    const reqPath = join(dir, 'renew.p7')
    const rootPath = join(dir, 'root.pem')
    const out = join(dir, 'renew.csr.der')
    writeFileSync(reqPath, encodePem('CMS', request))
    writeFileSync(rootPath, encodePem('CERTIFICATE', t.cert('root')))
    const r = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'PEM', '-in', reqPath, '-CAfile', rootPath, '-purpose', 'any', '-attime', String(Math.floor(t.now.getTime() / 1000) + 60), '-out', out], { encoding: 'utf8' })
    expect(r.stderr).toContain('Verification successful')
    expect(r.status).toBe(0)
    expect(new Uint8Array(readFileSync(out))).toEqual(csr)
    // A changed signature: openssl refuses it as well.
    const bad = request.slice()
    bad[bad.length - 3] = (bad[bad.length - 3] ?? 0) ^ 0x01
    writeFileSync(reqPath, encodePem('CMS', bad))
    expect(spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'PEM', '-in', reqPath, '-CAfile', rootPath, '-purpose', 'any', '-out', out]).status).not.toBe(0)
  })

  it('the first operational request, signed with the Gütesiegel (manufacturer) key', async () => {
    const request = await createRenewalRequest({ csr: await createCsr({ signer: fresh(), subject }), oldSigner: t.signer(`${GW}/gs`), oldCertificate: t.cert(`${GW}/gs`) })
    const cert = await signRenewalRequest(request, trust(), { ca: t.ca('sub-ca-gw'), profile: 'sig', ...validity(), allowSubjectChange: true })
    expect(decodeCertificate(cert).keyUsage).toEqual(['digitalSignature'])
  })

  it('PKI_BAD_SIGNATURE: the wrapper signed by a key other than the old certificate\'s', async () => {
    const csr = await createCsr({ signer: fresh(), subject })
    const request = (await createRenewalRequest({ csr, oldSigner: t.signer(`${GW}/tls`), oldCertificate: t.cert(`${GW}/tls`) })).slice()
    request[request.length - 2] = (request[request.length - 2] ?? 0) ^ 0x01
    await expect(verifyRenewalRequest(request)).rejects.toThrow(expect.objectContaining({ code: 'PKI_BAD_SIGNATURE' }))
    expect(await code(createRenewalRequest({ csr, oldSigner: t.signer(`${GW}/sig`), oldCertificate: t.cert(`${GW}/tls`) }))).toBe('PKI_BAD_ARGUMENT')
  })

  it('PKI_RENEWAL_REJECTED: old certificate expired or revoked, same key, another subject', async () => {
    const ca = { ca: t.ca('sub-ca-gw'), profile: 'tls' as const, ...validity() }
    const request = await createRenewalRequest({ csr: await createCsr({ signer: fresh(), subject }), oldSigner: t.signer(`${GW}/tls`), oldCertificate: t.cert(`${GW}/tls`) })
    const late = { ...trust(), at: new Date(t.now.getTime() + 3 * 365 * 86_400_000) }
    const expired = await signRenewalRequest(request, late, ca).catch((e: unknown) => e)
    expect(expired).toMatchObject({ code: 'PKI_RENEWAL_REJECTED', reason: 'EXPIRED' })

    const old = decodeCertificate(t.cert(`${GW}/tls`))
    const crl = await issueCrl({ issuer: t.ca('sub-ca-gw'), crlNumber: 9n, thisUpdate: t.now, nextUpdate: new Date(t.now.getTime() + 86_400_000), revoked: [{ serialNumber: old.serialNumber, revocationDate: t.now, reason: 'superseded' }] })
    expect(await signRenewalRequest(request, { ...trust(), crls: [crl] }, ca).catch((e: unknown) => e)).toMatchObject({ code: 'PKI_RENEWAL_REJECTED', reason: 'REVOKED' })

    const sameKey = await createRenewalRequest({ csr: await createCsr({ signer: t.signer(`${GW}/tls`), subject }), oldSigner: t.signer(`${GW}/tls`), oldCertificate: t.cert(`${GW}/tls`) })
    expect(await code(signRenewalRequest(sameKey, trust(), ca))).toBe('PKI_RENEWAL_REJECTED')

    const other = await createRenewalRequest({ csr: await createCsr({ signer: fresh(), subject: { ...subject, CN: 'smgw-9999' } }), oldSigner: t.signer(`${GW}/tls`), oldCertificate: t.cert(`${GW}/tls`) })
    expect(await code(signRenewalRequest(other, trust(), ca))).toBe('PKI_RENEWAL_REJECTED')
  })
})
