import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodePem } from '@smgw/crypto'
import { decodeCertificate } from './certificate.js'
import { decodeCrl, issueCrl, REVOCATION_REASONS, type RevocationReason } from './crl.js'
import { PkiError } from './errors.js'
import { createTestPki, type TestPki } from './testing.js'

let t: TestPki
let dir: string
beforeAll(async () => {
  t = await createTestPki({ gateways: 1, emts: 1 })
  dir = mkdtempSync(join(tmpdir(), 'pki-crl-'))
})
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('issueCrl / decodeCrl', () => {
  it('a v2 CRL with cRLNumber, AKI, thisUpdate/nextUpdate and reasons; OpenSSL verifies its signature', async () => {
    const revoked = ['gwa/tls', 'emt-1/sig'].map((l) => decodeCertificate(t.cert(l)))
    const crl = await issueCrl({
      issuer: t.ca('sub-ca-emt'), crlNumber: 42n, thisUpdate: t.now, nextUpdate: new Date(t.now.getTime() + 7 * 86_400_000),
      revoked: [
        { serialNumber: revoked[0]?.serialNumber ?? new Uint8Array([1]), revocationDate: t.now, reason: 'keyCompromise' },
        { serialNumber: revoked[1]?.serialNumber ?? new Uint8Array([1]), revocationDate: t.now },
      ],
    })
    const d = decodeCrl(crl)
    expect(d.version).toBe(2)
    expect(d.crlNumber).toBe(42n)
    expect(d.issuer).toBe('CN=SM-Test-Sub-CA EMT,O=SMGW Demo,C=DE')
    expect(d.authorityKeyIdentifier).toEqual(decodeCertificate(t.cert('sub-ca-emt')).subjectKeyIdentifier)
    expect(d.revoked.map((r) => [r.serialHex, r.reason])).toEqual([[revoked[0]?.serialHex, 'keyCompromise'], [revoked[1]?.serialHex, undefined]])

    const crlPath = join(dir, 'a.crl')
    const caPath = join(dir, 'ca.pem')
    writeFileSync(crlPath, encodePem('X509 CRL', crl))
    writeFileSync(caPath, encodePem('CERTIFICATE', t.cert('sub-ca-emt')))
    const r = spawnSync('openssl', ['crl', '-in', crlPath, '-CAfile', caPath, '-noout', '-text'], { encoding: 'utf8' })
    expect(r.stderr).toContain('verify OK')
    expect(r.stdout).toMatch(/X509v3 CRL Number:\s+42/)
    expect(r.stdout).toContain('Key Compromise')
  })

  it('every reason code round-trips', async () => {
    const serial = decodeCertificate(t.cert('gwa/sig')).serialNumber
    await fc.assert(fc.asyncProperty(fc.constantFrom(...(Object.keys(REVOCATION_REASONS) as RevocationReason[])), fc.bigInt({ min: 0n, max: 2n ** 64n }), async (reason, crlNumber) => {
      const d = decodeCrl(await issueCrl({ issuer: t.ca('sub-ca-emt'), crlNumber, thisUpdate: t.now, nextUpdate: new Date(t.now.getTime() + 1000), revoked: [{ serialNumber: serial, revocationDate: t.now, reason }] }))
      expect(d.revoked[0]?.reason ?? 'unspecified').toBe(reason)
      expect(d.crlNumber).toBe(crlNumber)
    }), { numRuns: 15 })
  })

  it('PKI_BAD_ARGUMENT: nextUpdate not after thisUpdate, a signer without the CA key, a negative number', async () => {
    const base = { issuer: t.ca('sub-ca-emt'), crlNumber: 1n, thisUpdate: t.now, nextUpdate: new Date(t.now.getTime() + 1000), revoked: [] }
    await expect(issueCrl({ ...base, nextUpdate: t.now })).rejects.toMatchObject({ code: 'PKI_BAD_ARGUMENT' })
    await expect(issueCrl({ ...base, issuer: { signer: t.signer('gwa/sig'), certificate: t.cert('sub-ca-emt') } })).rejects.toMatchObject({ code: 'PKI_BAD_ARGUMENT' })
    await expect(issueCrl({ ...base, crlNumber: -1n })).rejects.toMatchObject({ code: 'PKI_BAD_ARGUMENT' })
  })

  it('PKI_MALFORMED on random bytes and truncations (property: only PkiError)', () => {
    const crl = t.pki.crls[0]?.der ?? new Uint8Array()
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: crl.length - 1 }).map((n) => crl.slice(0, n))), (bytes) => {
      try {
        decodeCrl(bytes)
      } catch (err) {
        expect(err).toBeInstanceOf(PkiError)
      }
    }), { numRuns: 300 })
  })
})
