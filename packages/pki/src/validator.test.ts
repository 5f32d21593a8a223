import { createPublicKey } from 'node:crypto'
import { AsnConvert } from '@peculiar/asn1-schema'
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509'
import { createKeyObjectSigner } from '@smgw/crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { decodeCertificate } from './certificate.js'
import { issueCrl } from './crl.js'
import { issueCertificate } from './issue.js'
import { createTestPki, newKey, resign, serial, type TestPki } from './testing.js'
import { createPathValidator, signatureMemoKey, validatePath, type ValidationPurpose } from './validate.js'

let t: TestPki
const GW = 'gateways/smgw-0001'
const DAY = 86_400_000

beforeAll(async () => {
  t = await createTestPki({ gateways: 1, emts: 1 })
})

const reason = (r: { ok: boolean; reason?: string }) => (r.ok ? 'ok' : r.reason)

describe('createPathValidator: the same verdicts as validatePath', () => {
  it('agrees with validatePath for every participant certificate, purpose and time, with presented and configured intermediates', () => {
    const roots = [t.cert('root')]
    const crls = t.pki.crls.map((c) => c.der)
    const subCas = ['sub-ca-gw', 'sub-ca-gs', 'sub-ca-emt'].map((l) => t.cert(l))
    const configured = createPathValidator({ roots, intermediates: subCas, crls, requireCrl: true })
    const bare = createPathValidator({ roots, crls, requireCrl: true })
    const purposes: ValidationPurpose[] = ['tls-client', 'tls-server', 'sig', 'enc']
    let ok = 0
    for (const c of t.pki.participants.flatMap((p) => p.certificates)) {
      for (const purpose of purposes) {
        for (const at of [t.now, new Date(t.now.getTime() + 3 * 365 * DAY)]) {
          const expected = validatePath({ leaf: c.certificate, intermediates: subCas, roots, crls, requireCrl: true, at, purpose })
          // Twice each: the second call runs on what the first remembered.
          for (let i = 0; i < 2; i++) {
            const a = configured.validate({ leaf: c.certificate, at, purpose })
            const b = bare.validate({ leaf: c.certificate, intermediates: subCas, at, purpose })
            expect(a).toEqual(expected)
            expect(b).toEqual(expected)
          }
          if (expected.ok) ok++
        }
      }
    }
    expect(ok).toBeGreaterThan(5)
  })

  it('reports an undecodable configured CRL on every call, as validatePath does', () => {
    const v = createPathValidator({ roots: [t.cert('root')], intermediates: [t.cert('sub-ca-gw')], crls: [new Uint8Array([0x30, 0x00])] })
    const r = v.validate({ leaf: t.cert(`${GW}/sig`), at: t.now, purpose: 'sig' })
    expect(reason(r)).toBe('CRL_INVALID')
    expect(reason(v.validate({ leaf: new Uint8Array([1, 2, 3]), at: t.now, purpose: 'sig' }))).toBe('MALFORMED')
  })
})

describe('createPathValidator: what it remembers never lets a bad path through', () => {
  it('the same leaf at two times: valid, then EXPIRED (and NOT_YET_VALID before)', () => {
    const v = createPathValidator({ roots: [t.cert('root')], intermediates: [t.cert('sub-ca-gw')] })
    const leaf = t.cert(`${GW}/sig`)
    const notAfter = decodeCertificate(leaf).notAfter.getTime()
    expect(reason(v.validate({ leaf, at: t.now, purpose: 'sig' }))).toBe('ok')
    expect(reason(v.validate({ leaf, at: new Date(notAfter + 1000), purpose: 'sig' }))).toBe('EXPIRED')
    expect(reason(v.validate({ leaf, at: new Date(t.now.getTime() - 365 * DAY), purpose: 'sig' }))).toBe('NOT_YET_VALID')
    expect(reason(v.validate({ leaf, at: t.now, purpose: 'sig' }))).toBe('ok')
  })

  it('a CRL revoking the leaf: ok before the revocation date, REVOKED after; CRL_EXPIRED past nextUpdate; a validator with the CRL added says REVOKED', async () => {
    const leaf = t.cert(`${GW}/sig`)
    const revokedAt = new Date(t.now.getTime() + DAY)
    const crl = await issueCrl({
      issuer: t.ca('sub-ca-gw'), crlNumber: 5n, thisUpdate: t.now, nextUpdate: new Date(t.now.getTime() + 7 * DAY),
      revoked: [{ serialNumber: decodeCertificate(leaf).serialNumber, revocationDate: revokedAt, reason: 'keyCompromise' }],
    })
    const before = createPathValidator({ roots: [t.cert('root')], intermediates: [t.cert('sub-ca-gw')] })
    const v = createPathValidator({ roots: [t.cert('root')], intermediates: [t.cert('sub-ca-gw')], crls: [crl] })
    expect(reason(before.validate({ leaf, at: new Date(t.now.getTime() + 2 * DAY), purpose: 'sig' }))).toBe('ok')
    expect(reason(v.validate({ leaf, at: t.now, purpose: 'sig' }))).toBe('ok')
    expect(reason(v.validate({ leaf, at: new Date(t.now.getTime() + 2 * DAY), purpose: 'sig' }))).toBe('REVOKED')
    expect(reason(v.validate({ leaf, at: new Date(t.now.getTime() + 8 * DAY), purpose: 'sig' }))).toBe('CRL_EXPIRED')
    expect(reason(v.validate({ leaf, at: t.now, purpose: 'sig' }))).toBe('ok')
  })

  it('a tampered sub-CA certificate (same subject, one signature bit flipped) is not accepted after the genuine one was', () => {
    // maxLearned 0: the genuine sub-CA, learned from the first path, would otherwise complete the path itself.
    const v = createPathValidator({ roots: [t.cert('root')], maxLearned: 0 })
    const leaf = t.cert(`${GW}/sig`)
    const genuine = t.cert('sub-ca-gw')
    expect(reason(v.validate({ leaf, intermediates: [genuine], at: t.now, purpose: 'sig' }))).toBe('ok')
    const tampered = genuine.slice()
    tampered[tampered.length - 3] = (tampered[tampered.length - 3] ?? 0) ^ 0x01
    expect(decodeCertificate(tampered).subject).toBe(decodeCertificate(genuine).subject)
    expect(reason(v.validate({ leaf, intermediates: [tampered], at: t.now, purpose: 'sig' }))).toBe('BAD_SIGNATURE')
    expect(reason(v.validate({ leaf, intermediates: [genuine], at: t.now, purpose: 'sig' }))).toBe('ok')
  })

  it('a forged sub-CA (same subject and key identifier, another key, signed by a stranger) and its leaf are refused', async () => {
    const v = createPathValidator({ roots: [t.cert('root')], intermediates: [t.cert('sub-ca-gw')] })
    expect(reason(v.validate({ leaf: t.cert(`${GW}/sig`), at: t.now, purpose: 'sig' }))).toBe('ok')
    const strangerKey = newKey('brainpoolP256r1')
    const strangerSpki = new Uint8Array(createPublicKey(strangerKey).export({ format: 'der', type: 'spki' }))
    const forgedCa = await resign(t.cert('sub-ca-gw'), createKeyObjectSigner(strangerKey), (tbs) => {
      tbs.subjectPublicKeyInfo = AsnConvert.parse(strangerSpki, SubjectPublicKeyInfo)
    })
    expect(decodeCertificate(forgedCa).subject).toBe(decodeCertificate(t.cert('sub-ca-gw')).subject)
    const leafSigner = createKeyObjectSigner(newKey('brainpoolP256r1'))
    const forgedLeaf = await issueCertificate({
      profile: 'sig', subject: { CN: 'forged' }, publicKey: leafSigner.publicKey, serialNumber: serial(),
      notBefore: t.now, notAfter: new Date(t.now.getTime() + DAY), issuer: { signer: createKeyObjectSigner(strangerKey), certificate: forgedCa },
    })
    // The genuine sub-CA's key does not verify the leaf; the forged CA's own signature does not verify under the root.
    expect(reason(v.validate({ leaf: forgedLeaf, intermediates: [forgedCa], at: t.now, purpose: 'sig' }))).toBe('BAD_SIGNATURE')
    expect(reason(v.validate({ leaf: forgedLeaf, at: t.now, purpose: 'sig' }))).toBe('BAD_SIGNATURE')
    // A leaf of the genuine sub-CA presented with the forged CA first still finds the genuine path.
    expect(reason(v.validate({ leaf: t.cert(`${GW}/sig`), intermediates: [forgedCa], at: t.now, purpose: 'sig' }))).toBe('ok')
  })

  it('a leaf sent alone (a resumed TLS session) validates through the sub-CA of an accepted path, never through a refused one', () => {
    const v = createPathValidator({ roots: [t.cert('root')] })
    const leaf = t.cert(`${GW}/tls`)
    expect(reason(v.validate({ leaf, at: t.now, purpose: 'tls-client' }))).toBe('NO_PATH')
    const tampered = t.cert('sub-ca-gw').slice()
    tampered[tampered.length - 3] = (tampered[tampered.length - 3] ?? 0) ^ 0x01
    expect(reason(v.validate({ leaf, intermediates: [tampered], at: t.now, purpose: 'tls-client' }))).toBe('BAD_SIGNATURE')
    expect(reason(v.validate({ leaf, at: t.now, purpose: 'tls-client' }))).toBe('NO_PATH')
    expect(v.learnedIntermediates()).toEqual([])
    expect(reason(v.validate({ leaf, intermediates: [t.cert('sub-ca-gw')], at: t.now, purpose: 'tls-client' }))).toBe('ok')
    expect(v.learnedIntermediates()).toEqual([t.cert('sub-ca-gw')])
    expect(reason(v.validate({ leaf, at: t.now, purpose: 'tls-client' }))).toBe('ok')
    // Learned, not trusted: time and purpose rules still apply on every call.
    expect(reason(v.validate({ leaf: t.cert(`${GW}/sig`), at: t.now, purpose: 'tls-client' }))).not.toBe('ok')
    expect(reason(v.validate({ leaf, at: new Date(t.now.getTime() + 20 * 365 * DAY), purpose: 'tls-client' }))).toBe('EXPIRED')
  })

  it('with no presented certificate remembered (maxCached 0) the verdicts are the same', () => {
    const v = createPathValidator({ roots: [t.cert('root')], intermediates: [t.cert('sub-ca-gw')], crls: t.pki.crls.map((c) => c.der), maxCached: 0 })
    for (let i = 0; i < 2; i++) expect(reason(v.validate({ leaf: t.cert(`${GW}/sig`), at: t.now, purpose: 'sig' }))).toBe('ok')
    expect(reason(v.validate({ leaf: t.cert(`${GW}/sig`), at: t.now, purpose: 'enc' }))).toBe('KEY_USAGE')
  })
})

describe('createPathValidator: a signature memo beyond the validator (signatureMemo)', () => {
  const memoOf = () => {
    const entries = new Map<string, Date>()
    const asked: string[] = []
    return { entries, asked, memo: { has: (k: string) => { asked.push(k); return entries.has(k) }, add: (k: string, notAfter: Date) => { entries.set(k, notAfter) } } }
  }

  it('records each verified certificate signature (the leaf by the sub-CA, the sub-CA by the root) with the certificate\'s end of validity', () => {
    const m = memoOf()
    const v = createPathValidator({ roots: [t.cert('root')], signatureMemo: m.memo })
    const leaf = t.cert(`${GW}/tls`)
    const subCa = t.cert('sub-ca-gw')
    expect(reason(v.validate({ leaf, intermediates: [subCa], at: t.now, purpose: 'tls-client' }))).toBe('ok')
    const spki = (der: Uint8Array) => decodeCertificate(der).publicKey
    expect([...m.entries.keys()].sort()).toEqual([signatureMemoKey(leaf, spki(subCa)), signatureMemoKey(subCa, spki(t.cert('root')))].sort())
    expect(m.entries.get(signatureMemoKey(leaf, spki(subCa)))).toEqual(decodeCertificate(leaf).notAfter)
  })

  it('a second validator (a restarted service) takes the signature from the memo; time and rules are still checked', () => {
    const m = memoOf()
    const leaf = t.cert(`${GW}/sig`)
    const subCa = t.cert('sub-ca-gw')
    createPathValidator({ roots: [t.cert('root')], signatureMemo: m.memo }).validate({ leaf, intermediates: [subCa], at: t.now, purpose: 'sig' })
    const recorded = new Map(m.entries)
    const again = createPathValidator({ roots: [t.cert('root')], signatureMemo: m.memo })
    m.asked.length = 0
    expect(reason(again.validate({ leaf, intermediates: [subCa], at: t.now, purpose: 'sig' }))).toBe('ok')
    expect(m.asked.sort()).toEqual([...recorded.keys()].sort())
    expect(m.entries).toEqual(recorded)
    expect(reason(again.validate({ leaf, intermediates: [subCa], at: new Date(t.now.getTime() + 20 * 365 * DAY), purpose: 'sig' }))).toBe('EXPIRED')
    expect(reason(again.validate({ leaf, intermediates: [subCa], at: t.now, purpose: 'tls-client' }))).not.toBe('ok')
  })

  it('a signature that does not verify is not recorded; an entry binds the exact bytes and the issuer key', () => {
    const m = memoOf()
    const v = createPathValidator({ roots: [t.cert('root')], intermediates: [t.cert('sub-ca-gw')], signatureMemo: m.memo })
    const leaf = t.cert(`${GW}/sig`)
    const tampered = leaf.slice()
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 0x01
    expect(reason(v.validate({ leaf: tampered, at: t.now, purpose: 'sig' }))).toBe('BAD_SIGNATURE')
    const subCaKey = decodeCertificate(t.cert('sub-ca-gw')).publicKey
    expect(m.entries.has(signatureMemoKey(tampered, subCaKey))).toBe(false)
    expect(reason(v.validate({ leaf, at: t.now, purpose: 'sig' }))).toBe('ok')
    expect(m.entries.has(signatureMemoKey(leaf, subCaKey))).toBe(true)
    expect(signatureMemoKey(tampered, subCaKey)).not.toBe(signatureMemoKey(leaf, subCaKey))
    expect(signatureMemoKey(leaf, decodeCertificate(t.cert('root')).publicKey)).not.toBe(signatureMemoKey(leaf, subCaKey))
  })

  it('what the memo says is taken as verified: it belongs in the service\'s own store (a forged entry lets a tampered certificate through)', () => {
    const leaf = t.cert(`${GW}/sig`)
    const tampered = leaf.slice()
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 0x01
    const m = memoOf()
    m.entries.set(signatureMemoKey(tampered, decodeCertificate(t.cert('sub-ca-gw')).publicKey), decodeCertificate(leaf).notAfter)
    const v = createPathValidator({ roots: [t.cert('root')], intermediates: [t.cert('sub-ca-gw')], signatureMemo: m.memo })
    expect(reason(v.validate({ leaf: tampered, at: t.now, purpose: 'sig' }))).toBe('ok')
  })
})
