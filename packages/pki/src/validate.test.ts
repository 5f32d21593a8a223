import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import { AlgorithmIdentifier, AuthorityKeyIdentifier, Certificate, Extension, Extensions, KeyIdentifier, SubjectPublicKeyInfo, type TBSCertificate } from '@peculiar/asn1-x509'
import { createKeyObjectSigner, type Signer } from '@smgw/crypto'
import { createPublicKey } from 'node:crypto'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { decodeCertificate } from './certificate.js'
import { issueCrl } from './crl.js'
import { encodeSigned } from './der.js'
import { PkiError } from './errors.js'
import { issueCertificate } from './issue.js'
import { createTestPki, newKey, resign, serial, type TestPki } from './testing.js'
import { validatePath, type ValidatePathOptions, type ValidationReason } from './validate.js'

let t: TestPki
const GW = 'gateways/smgw-0001'

beforeAll(async () => {
  t = await createTestPki({ gateways: 1, emts: 1 })
})

function opts(leafLabel: string, extra: Partial<ValidatePathOptions> = {}): ValidatePathOptions {
  const leaf = t.cert(leafLabel)
  const issuer = t.pki.participants.flatMap((p) => p.certificates).find((c) => c.label === leafLabel)?.issuer ?? 'sub-ca-emt'
  return { leaf, intermediates: [t.cert(issuer)], roots: [t.cert('root')], at: t.now, purpose: 'tls-client', ...extra }
}

function reasonOf(o: ValidatePathOptions): ValidationReason | 'ok' {
  const r = validatePath(o)
  return r.ok ? 'ok' : r.reason
}

describe('validatePath: valid SM-PKI paths', () => {
  it('accepts every participant certificate for its purpose, chain leaf → sub-CA → root', () => {
    for (const p of t.pki.participants) {
      for (const c of p.certificates) {
        const purpose = c.kind === 'tls' ? (p.role === 'gateway' ? 'tls-client' : 'tls-server') : c.kind === 'gs' ? 'tls-client' : c.kind
        const r = validatePath(opts(c.label, { purpose }))
        expect(r.ok, `${c.label} ${purpose} ${r.ok ? '' : r.detail}`).toBe(true)
        expect(r.chain.map((x) => x.subject.split(',')[0])).toEqual([`CN=${String(p.subject.CN)}`, expect.stringMatching(/^CN=SM-Test-Sub-CA/), 'CN=SM-Test-Root'])
      }
    }
  })

  it('accepts sub-CAs for purpose ca and the GWA TLS certificate in both directions', () => {
    expect(reasonOf({ leaf: t.cert('sub-ca-gw'), roots: [t.cert('root')], at: t.now, purpose: 'ca' })).toBe('ok')
    expect(reasonOf({ leaf: t.cert('root'), roots: [t.cert('root')], at: t.now, purpose: 'ca' })).toBe('ok')
    expect(reasonOf({ leaf: t.cert('root'), roots: [t.cert('root')], at: t.now, purpose: 'sig' })).toBe('LEAF_IS_CA')
    expect(reasonOf(opts('gwa/tls', { purpose: 'tls-server' }))).toBe('ok')
    expect(reasonOf(opts('gwa/tls', { purpose: 'tls-client' }))).toBe('ok')
  })

  it('accepts with the demo CRLs required, and the chain does not depend on intermediate order', () => {
    const crls = t.pki.crls.map((c) => c.der)
    const r = validatePath(opts('emt-1/sig', { purpose: 'sig', crls, requireCrl: true, intermediates: [t.cert('sub-ca-gw'), t.cert('sub-ca-gs'), t.cert('sub-ca-emt')] }))
    expect(r.ok).toBe(true)
  })
})

describe('validatePath: one test per reason code', () => {
  it('MALFORMED: leaf bytes that do not decode', () => {
    expect(reasonOf({ ...opts('gwa/tls'), leaf: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]) })).toBe('MALFORMED')
  })

  it('PROFILE: leaf without authorityKeyIdentifier', async () => {
    const leaf = await resign(t.cert('gwa/tls'), t.signer('sub-ca-emt/ca'), (tbs) => {
      tbs.extensions = new Extensions(tbs.extensions?.filter((e) => e.extnID !== '2.5.29.35'))
    })
    expect(reasonOf({ ...opts('gwa/tls'), leaf })).toBe('PROFILE')
  })

  it('PROFILE: signatureAlgorithm differs from TBSCertificate.signature', async () => {
    const leaf = await resign(t.cert('gwa/tls'), t.signer('sub-ca-emt/ca'), () => undefined, '1.2.840.10045.4.3.3')
    expect(reasonOf({ ...opts('gwa/tls'), leaf })).toBe('PROFILE')
  })

  it('NO_PATH: issued under another root', async () => {
    const other = await createTestPki({ gateways: 0, emts: 0 })
    expect(reasonOf({ ...opts('gwa/tls'), roots: [other.cert('root')] })).toBe('NO_PATH')
    expect(reasonOf({ ...opts('gwa/tls'), intermediates: [] })).toBe('NO_PATH')
  })

  it('BAD_SIGNATURE: one bit of the signature flipped', () => {
    const leaf = t.cert('gwa/tls').slice()
    leaf[leaf.length - 5] = (leaf[leaf.length - 5] ?? 0) ^ 0x01
    expect(reasonOf({ ...opts('gwa/tls'), leaf })).toBe('BAD_SIGNATURE')
  })

  it('EXPIRED and NOT_YET_VALID', () => {
    const leaf = decodeCertificate(t.cert('gwa/tls'))
    expect(reasonOf(opts('gwa/tls', { at: new Date(leaf.notAfter.getTime() + 1000) }))).toBe('EXPIRED')
    expect(reasonOf(opts('gwa/tls', { at: new Date(leaf.notAfter.getTime() + 999) }))).toBe('ok') // second granularity
    expect(reasonOf(opts('gwa/tls', { at: new Date(leaf.notBefore.getTime() - 1000) }))).toBe('NOT_YET_VALID')
  })

  it('REVOKED: serial on the issuer CRL (reason reported)', async () => {
    const leaf = decodeCertificate(t.cert('emt-1/enc'))
    const crl = await issueCrl({
      issuer: t.ca('sub-ca-emt'), crlNumber: 2n, thisUpdate: t.now, nextUpdate: new Date(t.now.getTime() + 86_400_000),
      revoked: [{ serialNumber: leaf.serialNumber, revocationDate: new Date(t.now.getTime() - 1000), reason: 'keyCompromise' }],
    })
    const r = validatePath(opts('emt-1/enc', { purpose: 'enc', crls: [crl] }))
    expect(r.ok ? 'ok' : r.reason).toBe('REVOKED')
    expect(r.ok ? '' : r.detail).toContain('keyCompromise')
    // Another certificate of the same CA is not affected.
    expect(reasonOf(opts('emt-1/sig', { purpose: 'sig', crls: [crl] }))).toBe('ok')
  })

  it('CRL_MISSING: requireCrl without the issuer CRL', () => {
    const rootCrl = t.pki.crls.find((c) => c.ca === 'root')?.der ?? new Uint8Array()
    expect(reasonOf(opts('gwa/sig', { purpose: 'sig', requireCrl: true, crls: [rootCrl] }))).toBe('CRL_MISSING')
  })

  it('CRL_EXPIRED: the issuer CRL is past nextUpdate', () => {
    const crls = t.pki.crls.map((c) => c.der)
    expect(reasonOf(opts('gwa/sig', { purpose: 'sig', crls, at: new Date(t.now.getTime() + 30 * 86_400_000) }))).toBe('CRL_EXPIRED')
  })

  it('CRL_INVALID: a CRL in the issuer name signed by another key', async () => {
    const forged = await issueCrl({
      issuer: { signer: t.signer('sub-ca-gw/ca'), certificate: t.cert('sub-ca-gw') }, crlNumber: 1n, thisUpdate: t.now,
      nextUpdate: new Date(t.now.getTime() + 86_400_000), revoked: [],
    })
    // Same CRL bytes but claiming the EMT sub-CA's name is not constructible without its key; a
    // CRL of sub-ca-emt re-signed by the sub-ca-gw key is.
    const emtCrl = t.pki.crls.find((c) => c.ca === 'sub-ca-emt')?.der ?? new Uint8Array()
    const reSigned = await resignCrl(emtCrl, t.signer('sub-ca-gw/ca'))
    expect(reasonOf(opts('gwa/sig', { purpose: 'sig', crls: [reSigned] }))).toBe('CRL_INVALID')
    expect(reasonOf(opts('gwa/sig', { purpose: 'sig', crls: [forged] }))).toBe('ok') // another CA's CRL does not apply
    expect(reasonOf(opts('gwa/sig', { purpose: 'sig', crls: [new Uint8Array([1, 2, 3])] }))).toBe('CRL_INVALID')
  })

  it('KEY_USAGE: an ENC certificate used for signing', () => {
    expect(reasonOf(opts('gwa/enc', { purpose: 'sig' }))).toBe('KEY_USAGE')
    expect(reasonOf(opts('gwa/sig', { purpose: 'enc' }))).toBe('KEY_USAGE')
  })

  it('EKU: a client-only gateway TLS certificate as a server, a SIG certificate for TLS, a TLS certificate for SIG', () => {
    expect(reasonOf(opts(`${GW}/tls`, { purpose: 'tls-server' }))).toBe('EKU')
    expect(reasonOf(opts('gwa/sig', { purpose: 'tls-client' }))).toBe('EKU')
    expect(reasonOf(opts('gwa/tls', { purpose: 'sig' }))).toBe('EKU')
  })

  it('NOT_CA: a leaf issued by an end-entity certificate', async () => {
    const k = newKey('brainpoolP256r1')
    // An end-entity certificate as issuer (keyCertSign on a non-CA would be KEY_USAGE; it keeps digitalSignature).
    const eeAsCa = t.cert('gwa/sig')
    const eeKeyId = decodeCertificate(eeAsCa).subjectKeyIdentifier ?? new Uint8Array()
    const leaf = await resign(t.cert(`${GW}/sig`), createKeyObjectSigner(t.key('gwa/sig')), (tbs) => {
      tbs.issuer = decodeIssuerName(eeAsCa)
      const aki = tbs.extensions?.find((e) => e.extnID === '2.5.29.35')
      if (aki !== undefined) aki.extnValue = new OctetString(AsnConvert.serialize(new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(eeKeyId) })))
      tbs.subjectPublicKeyInfo = AsnConvert.parse(createPublicKey(k).export({ format: 'der', type: 'spki' }), SubjectPublicKeyInfo)
    })
    expect(reasonOf({ leaf, intermediates: [eeAsCa, t.cert('sub-ca-emt')], roots: [t.cert('root')], at: t.now, purpose: 'sig' })).toBe('NOT_CA')
  })

  it('LEAF_IS_CA: a sub-CA certificate presented as a TLS server', () => {
    expect(reasonOf({ leaf: t.cert('sub-ca-emt'), roots: [t.cert('root')], at: t.now, purpose: 'tls-server' })).toBe('LEAF_IS_CA')
  })

  it('PATH_LENGTH: a sub-CA below a pathLen-0 sub-CA, and maxIntermediates', async () => {
    const k = newKey('brainpoolP256r1')
    const subSigner = createKeyObjectSigner(k)
    const sub2 = await issueCertificate({
      profile: 'sub-ca', subject: { CN: 'Sub-Sub-CA', C: 'DE' }, publicKey: subSigner.publicKey, serialNumber: serial(),
      notBefore: t.now, notAfter: new Date(t.now.getTime() + 86_400_000 * 365), issuer: t.ca('sub-ca-emt'),
    })
    const leafKey = createKeyObjectSigner(newKey('brainpoolP256r1'))
    const leaf = await issueCertificate({
      profile: 'sig', subject: { CN: 'deep' }, publicKey: leafKey.publicKey, serialNumber: serial(), notBefore: t.now,
      notAfter: new Date(t.now.getTime() + 86_400_000), issuer: { signer: subSigner, certificate: sub2 },
    })
    expect(reasonOf({ leaf, intermediates: [sub2, t.cert('sub-ca-emt')], roots: [t.cert('root')], at: t.now, purpose: 'sig' })).toBe('PATH_LENGTH')
    expect(reasonOf(opts('gwa/sig', { purpose: 'sig', maxIntermediates: 0 }))).toBe('PATH_LENGTH')
  })

  it('ALGORITHM_NOT_ALLOWED: ecdsa-with-SHA1 (both fields)', async () => {
    const leaf = await resign(t.cert('gwa/sig'), t.signer('sub-ca-emt/ca'), (tbs) => {
      tbs.signature = new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.1' })
    }, '1.2.840.10045.4.1')
    expect(reasonOf(opts('gwa/sig', { purpose: 'sig', leaf }))).toBe('ALGORITHM_NOT_ALLOWED')
  })

  it('CURVE_NOT_ALLOWED: a secp521r1 key', async () => {
    const k = newKey('secp521r1')
    const leaf = await resign(t.cert('gwa/sig'), t.signer('sub-ca-emt/ca'), (tbs) => {
      tbs.subjectPublicKeyInfo = AsnConvert.parse(createPublicKey(k).export({ format: 'der', type: 'spki' }), SubjectPublicKeyInfo)
    })
    expect(reasonOf(opts('gwa/sig', { purpose: 'sig', leaf }))).toBe('CURVE_NOT_ALLOWED')
  })

  it('UNKNOWN_CRITICAL_EXTENSION: a critical private extension', async () => {
    const leaf = await resign(t.cert('gwa/sig'), t.signer('sub-ca-emt/ca'), (tbs) => {
      tbs.extensions?.push(new Extension({ extnID: '1.3.6.1.4.1.99999.1', critical: true, extnValue: new OctetString(new Uint8Array([5, 0])) }))
    })
    expect(reasonOf(opts('gwa/sig', { purpose: 'sig', leaf }))).toBe('UNKNOWN_CRITICAL_EXTENSION')
  })
})

describe('validatePath: properties', () => {
  it('a certificate with any single bit flipped never validates and never throws', () => {
    const der = t.cert('gwa/tls')
    fc.assert(fc.property(fc.integer({ min: 0, max: der.length * 8 - 1 }), (bit) => {
      const leaf = der.slice()
      leaf[bit >> 3] = (leaf[bit >> 3] ?? 0) ^ (0x80 >> (bit & 7))
      const r = validatePath({ ...opts('gwa/tls'), leaf })
      expect(r.ok).toBe(false)
    }), { numRuns: 250 })
  })

  it('random bytes and truncations: decodeCertificate throws only PkiError, validatePath never throws', () => {
    const der = t.cert('gwa/tls')
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 0, max: der.length - 1 }).map((n) => der.slice(0, n))), (bytes) => {
      try {
        decodeCertificate(bytes)
      } catch (err) {
        expect(err).toBeInstanceOf(PkiError)
      }
      expect(validatePath({ ...opts('gwa/tls'), leaf: bytes }).ok).toBe(false)
    }), { numRuns: 300 })
  })
})

function decodeIssuerName(subjectCert: Uint8Array): TBSCertificate['issuer'] {
  return AsnConvert.parse(subjectCert, Certificate).tbsCertificate.subject
}

async function resignCrl(der: Uint8Array, signer: Signer): Promise<Uint8Array> {
  const { CertificateList } = await import('@peculiar/asn1-x509')
  const list = AsnConvert.parse(der, CertificateList)
  const tbs = new Uint8Array(AsnConvert.serialize(list.tbsCertList))
  const sig = await signer.sign(tbs, 'SHA-256')
  return encodeSigned(tbs, new Uint8Array(AsnConvert.serialize(list.signatureAlgorithm)), sig)
}
