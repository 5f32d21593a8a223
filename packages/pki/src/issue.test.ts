import { spawnSync } from 'node:child_process'
import { generateKeyPairSync, createPublicKey } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createKeyObjectSigner, encodePem } from '@smgw/crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeCertificate, decodeKeyUsage, encodeKeyUsage, KEY_USAGE_BITS } from './certificate.js'
import fc from 'fast-check'
import { PkiError } from './errors.js'
import { issueCertificate, keyIdentifierOf } from './issue.js'
import { createTestPki, newKey, serial, type TestPki } from './testing.js'

let t: TestPki
let dir: string
beforeAll(async () => {
  t = await createTestPki({ gateways: 1, emts: 1 })
  dir = mkdtempSync(join(tmpdir(), 'pki-issue-'))
})
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

function file(name: string, der: Uint8Array): string {
  const path = join(dir, name)
  writeFileSync(path, encodePem('CERTIFICATE', der))
  return path
}

describe('issueCertificate: profiles', () => {
  it('root: self-signed, cA critical, keyCertSign+cRLSign, SKI = AKI = SHA-1 of the key', () => {
    const root = decodeCertificate(t.cert('root'))
    expect(root.selfIssued).toBe(true)
    expect(root.basicConstraints).toEqual({ ca: true, pathLength: 1, critical: true })
    expect(root.keyUsage).toEqual(['keyCertSign', 'cRLSign'])
    expect(root.subjectKeyIdentifier).toEqual(keyIdentifierOf(root.publicKey))
    expect(root.authorityKeyIdentifier).toEqual(root.subjectKeyIdentifier)
    expect(root.publicKeyKind).toEqual({ kind: 'ec', curve: 'brainpoolP256r1' })
    expect(root.signatureAlgorithm).toBe('1.2.840.10045.4.3.2')
  })

  it('TLS / SIG / ENC / Gütesiegel key usages and EKUs, about two years of validity', () => {
    const get = (k: string) => decodeCertificate(t.cert(`gateways/smgw-0001/${k}`))
    expect(get('tls').keyUsage).toEqual(['digitalSignature'])
    expect(get('tls').extendedKeyUsage).toEqual(['1.3.6.1.5.5.7.3.2'])
    expect(decodeCertificate(t.cert('gwa/tls')).extendedKeyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'])
    expect(get('sig').keyUsage).toEqual(['digitalSignature'])
    expect(get('sig').extendedKeyUsage).toBeUndefined()
    expect(get('enc').keyUsage).toEqual(['keyAgreement'])
    expect(get('gs').issuer).toContain('Manufacturer')
    expect(get('gs').subject).toContain('OU=Guetesiegel')
    const days = (get('tls').notAfter.getTime() - get('tls').notBefore.getTime()) / 86_400_000
    expect(days).toBe(730)
    expect(get('tls').basicConstraints).toBeUndefined()
  })

  it('OpenSSL parses and verifies the whole demo chain (brainpoolP256r1, ecdsa-with-SHA256)', () => {
    const root = file('root.pem', t.cert('root'))
    const chain = join(dir, 'chain.pem')
    writeFileSync(chain, ['sub-ca-emt', 'sub-ca-gw', 'sub-ca-gs'].map((c) => encodePem('CERTIFICATE', t.cert(c))).join(''))
    for (const leaf of ['gwa/tls', 'gwa/sig', 'gwa/enc', 'emt-1/tls', 'gateways/smgw-0001/gs', 'gateways/smgw-0001/tls']) {
      const r = spawnSync('openssl', ['verify', '-CAfile', root, '-untrusted', chain, file('leaf.pem', t.cert(leaf))], { encoding: 'utf8' })
      expect(r.stdout + r.stderr, leaf).toContain(': OK')
    }
    const text = spawnSync('openssl', ['x509', '-in', file('tls.pem', t.cert('gateways/smgw-0001/tls')), '-noout', '-text'], { encoding: 'utf8' }).stdout
    expect(text).toContain('ASN1 OID: brainpoolP256r1')
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature/)
    expect(text).toContain('TLS Web Client Authentication')
  })

  it('other allowed curves: brainpoolP384r1 with SHA-384, P-256', async () => {
    for (const [curve, alg] of [['brainpoolP384r1', '1.2.840.10045.4.3.3'], ['P-256', '1.2.840.10045.4.3.2'], ['brainpoolP512r1', '1.2.840.10045.4.3.4']] as const) {
      const signer = createKeyObjectSigner(newKey(curve))
      const der = await issueCertificate({ profile: 'root-ca', subject: { CN: curve }, publicKey: signer.publicKey, serialNumber: serial(), notBefore: t.now, notAfter: new Date(t.now.getTime() + 1e10), issuer: { signer } })
      const c = decodeCertificate(der)
      expect(c.publicKeyKind).toEqual({ kind: 'ec', curve })
      expect(c.signatureAlgorithm).toBe(alg)
      const v = spawnSync('openssl', ['verify', '-attime', String(t.now.getTime() / 1000 + 60), '-CAfile', file('c.pem', der), file('c.pem', der)], { encoding: 'utf8' })
      expect(v.stdout + v.stderr, curve).toContain(': OK')
    }
  })

  it('cRLDistributionPoints when asked', async () => {
    const signer = t.signer('gwa/sig')
    const der = await issueCertificate({ profile: 'sig', subject: { CN: 'x' }, publicKey: signer.publicKey, serialNumber: serial(), notBefore: t.now, notAfter: new Date(t.now.getTime() + 1e9), issuer: t.ca('sub-ca-emt'), crlDistributionPoint: 'http://pki.example/sub-ca-emt.crl' })
    expect(decodeCertificate(der).crlDistributionPoints).toEqual(['http://pki.example/sub-ca-emt.crl'])
  })
})

describe('issueCertificate: errors', () => {
  const base = () => ({ profile: 'sig' as const, subject: { CN: 'x' }, publicKey: t.signer('gwa/sig').publicKey, serialNumber: serial(), notBefore: t.now, notAfter: new Date(t.now.getTime() + 1e9), issuer: t.ca('sub-ca-emt') })
  const code = async (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (e instanceof PkiError ? e.code : String(e)))

  it('PKI_BAD_ARGUMENT: zero serial, 21-octet serial, reversed validity, pathLength on an end entity, wrong signer, self-signed non-root', async () => {
    expect(await code(issueCertificate({ ...base(), serialNumber: new Uint8Array([0]) }))).toBe('PKI_BAD_ARGUMENT')
    expect(await code(issueCertificate({ ...base(), serialNumber: new Uint8Array(21).fill(0x11) }))).toBe('PKI_BAD_ARGUMENT')
    expect(await code(issueCertificate({ ...base(), notAfter: t.now }))).toBe('PKI_BAD_ARGUMENT')
    expect(await code(issueCertificate({ ...base(), pathLength: 0 }))).toBe('PKI_BAD_ARGUMENT')
    expect(await code(issueCertificate({ ...base(), issuer: { signer: t.signer('gwa/sig'), certificate: t.cert('sub-ca-emt') } }))).toBe('PKI_BAD_ARGUMENT')
    expect(await code(issueCertificate({ ...base(), issuer: { signer: t.signer('gwa/sig') } }))).toBe('PKI_BAD_ARGUMENT')
    expect(await code(issueCertificate({ ...base(), issuer: { signer: t.signer('gwa/sig'), certificate: t.cert('gwa/sig') } }))).toBe('PKI_BAD_ARGUMENT')
    expect(await code(issueCertificate({ ...base(), subject: { CN: '' } }))).toBe('PKI_BAD_ARGUMENT')
  })

  it('PKI_UNSUPPORTED_ALGORITHM: a secp521r1 or RSA subject key', async () => {
    const p521 = new Uint8Array(createPublicKey(newKey('secp521r1')).export({ format: 'der', type: 'spki' }))
    const rsa = new Uint8Array(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'der', type: 'spki' }))
    expect(await code(issueCertificate({ ...base(), publicKey: p521 }))).toBe('PKI_UNSUPPORTED_ALGORITHM')
    expect(await code(issueCertificate({ ...base(), publicKey: rsa }))).toBe('PKI_UNSUPPORTED_ALGORITHM')
  })

  it('PKI_MALFORMED: decodeCertificate on trailing data and on random bytes (property: only PkiError)', () => {
    const der = t.cert('gwa/sig')
    expect(() => decodeCertificate(new Uint8Array([...der, 0]))).toThrow(expect.objectContaining({ code: 'PKI_MALFORMED' }))
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
      try {
        decodeCertificate(bytes)
      } catch (err) {
        expect(err).toBeInstanceOf(PkiError)
      }
    }), { numRuns: 500 })
  })
})

describe('KeyUsage encoding', () => {
  it('round-trips every subset (DER: trailing zero bits dropped)', () => {
    fc.assert(fc.property(fc.subarray([...KEY_USAGE_BITS], { minLength: 1 }), (bits) => {
      const der = encodeKeyUsage(bits)
      expect(decodeKeyUsage(der)).toEqual(bits)
      expect(der[der.length - 1]).not.toBe(0)
    }))
  })
})
