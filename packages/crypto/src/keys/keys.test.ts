import { createPrivateKey, generateKeyPairSync } from 'node:crypto'
import { AttributeTypeAndValue, AttributeValue, Name, RelativeDistinguishedName } from '@peculiar/asn1-x509'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CryptoError } from '../errors.js'
import { createOpensslPki, createTempDir, openssl, type TestPki } from '../testing/openssl.js'
import { decodeCertificate, decodeCertificates } from './certificate.js'
import { formatName } from './name.js'
import { decodePemBlocks, decodePemOrDer, encodePem, isPem } from './pem.js'
import { decodePrivateKey } from './private-key.js'

let tmp: { dir: string; remove: () => Promise<void> }
let pki: TestPki
beforeAll(async () => {
  tmp = await createTempDir('smgw-keys-')
  pki = await createOpensslPki(tmp.dir, 'brainpoolP384r1')
})
afterAll(async () => { await tmp.remove() })

describe('certificates', () => {
  it('PEM and DER give the same certificate; fields are read as openssl writes them', () => {
    const [fromPem] = decodeCertificates(pki.alice.certPem)
    const fromDer = decodeCertificate(pki.alice.certDer)
    expect(fromPem?.der).toEqual(pki.alice.certDer)
    expect(fromDer.curve).toBe('brainpoolP384r1')
    expect(fromDer.subjectText).toBe('C=DE, O=SMGW Test, CN=alice brainpoolP384r1')
    expect(fromDer.issuerText).toBe('C=DE, O=SMGW Test, CN=Test Root brainpoolP384r1')
    expect(Buffer.from(fromDer.serialNumber).toString('hex')).toBe('1000')
    expect(fromDer.subjectKeyIdentifier).toHaveLength(20)
    expect(fromDer.notAfter.getTime()).toBeGreaterThan(fromDer.notBefore.getTime())
  })

  it('formatName: encoded order (subjectText) or RFC 4514, from a Name or its DER; RFC 4514 escaping', () => {
    const c = decodeCertificate(pki.alice.certDer)
    expect(formatName(c.subject)).toBe(c.subjectText)
    expect(formatName(c.subject, 'rfc4514')).toBe('CN=alice brainpoolP384r1,O=SMGW Test,C=DE')
    expect(c.version).toBe(3)
    expect(c.tbsSignatureAlgorithm).toBe(c.signatureAlgorithm)
    expect(c.extensions.map((e) => e.oid)).toContain('2.5.29.14')
    const name = new Name([new RelativeDistinguishedName([new AttributeTypeAndValue({ type: '2.5.4.3', value: new AttributeValue({ utf8String: ' a,b+c ' }) })])])
    expect(formatName(name, 'rfc4514')).toBe('CN=\\ a\\,b\\+c\\ ')
    expect(() => formatName(new Uint8Array([1, 2, 3]))).toThrow(expect.objectContaining({ code: 'CERT_MALFORMED' }) as Error)
  })

  it('CERT_MALFORMED (not a foreign error) for a certificate whose name value decodes but does not re-encode', () => {
    // PrintableString (0x13) → UTCTime (0x17): asn1-schema keeps it as ANY and fails to encode it again.
    const der = pki.alice.certDer
    for (const at of [...der.keys()].filter((i) => der[i] === 0x13 || der[i] === 0x0c)) {
      const m = der.slice()
      m[at] = (m[at] ?? 0) ^ 0x04
      try {
        decodeCertificate(m)
      } catch (err) {
        expect(err).toBeInstanceOf(CryptoError)
      }
    }
  })

  it('CERT_MALFORMED for a certificate whose unsigned outer fields carry other tags (0x30 → 0xb0 of signatureAlgorithm)', () => {
    const der = pki.alice.certDer
    expect(decodeCertificate(der).der).toEqual(der)
    expect([der[0], der[1], der[4], der[5]]).toEqual([0x30, 0x82, 0x30, 0x82]) // 30 82 LL LL | 30 82 LL LL tbs …
    const tbsEnd = 4 + ((der[6] ?? 0) << 8 | (der[7] ?? 0)) + 4
    expect(der[tbsEnd]).toBe(0x30)
    for (const [at, flipped] of [[tbsEnd, 0xb0], [0, 0xb0], [4, 0xb0]] as const) {
      const m = der.slice()
      m[at] = flipped
      expect(() => decodeCertificate(m)).toThrow(expect.objectContaining({ code: 'CERT_MALFORMED' }) as Error)
    }
  })

  it('reads every certificate of a PEM bundle, ignoring text between blocks', () => {
    const bundle = new TextEncoder().encode(`subject=alice\n${Buffer.from(pki.alice.certPem).toString()}\nsome text\n${Buffer.from(pki.root.certPem).toString()}`)
    expect(decodeCertificates(bundle).map((c) => c.der)).toEqual([pki.alice.certDer, pki.root.certDer])
  })
})

describe('private keys', () => {
  it('reads PKCS#8 PEM (openssl), SEC 1 PEM and DER, and encrypted PKCS#8 with its passphrase', async () => {
    const pem = decodePrivateKey(pki.alice.keyPem)
    const der = (type: 'pkcs8' | 'sec1'): Uint8Array => new Uint8Array(pem.export({ format: 'der', type }))
    const sec1Pem = new TextEncoder().encode(pem.export({ format: 'pem', type: 'sec1' }).toString())
    for (const input of [der('pkcs8'), der('sec1'), sec1Pem]) {
      expect(decodePrivateKey(input).export({ format: 'der', type: 'pkcs8' })).toEqual(pem.export({ format: 'der', type: 'pkcs8' }))
    }
    const encrypted = await openssl(['pkcs8', '-topk8', '-in', pki.alice.keyPath, '-passout', 'pass:s3cret', '-v2', 'aes-256-cbc'])
    expect(decodePrivateKey(new Uint8Array(encrypted), 's3cret').asymmetricKeyDetails?.namedCurve).toBe('brainpoolP384r1')
    expect(() => decodePrivateKey(new Uint8Array(encrypted), 'wrong')).toThrow(CryptoError)
  })

  it('refuses RSA keys and curves outside TR-03109-3', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'der', type: 'pkcs8' })
    expect(() => decodePrivateKey(new Uint8Array(rsa))).toThrow(expect.objectContaining({ code: 'KEY_MALFORMED' }) as Error)
    const k1 = createPrivateKey({ key: generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) })
    expect(() => decodePrivateKey(new TextEncoder().encode(k1.export({ format: 'pem', type: 'pkcs8' }).toString()))).toThrow(expect.objectContaining({ code: 'CURVE_UNSUPPORTED' }) as Error)
  })
})

describe('PEM', () => {
  it('detects PEM vs DER and round-trips encodePem', () => {
    const der = new Uint8Array(Array.from({ length: 100 }, (_, i) => i))
    const pem = new TextEncoder().encode(encodePem('CMS', der))
    expect(isPem(pem)).toBe(true)
    expect(isPem(der)).toBe(false)
    expect(decodePemBlocks(pem)).toEqual([{ label: 'CMS', der }])
    expect(decodePemOrDer(pem, ['CMS'], 'CMS_MALFORMED')).toEqual([der])
    expect(decodePemOrDer(der, ['CMS'], 'CMS_MALFORMED')).toEqual([der])
    expect(() => decodePemOrDer(pem, ['CERTIFICATE'], 'CERT_MALFORMED')).toThrow(expect.objectContaining({ code: 'CERT_MALFORMED' }) as Error)
  })

  // Moved here from @smgw/pki (its parsePem/formatPem were a second copy of these functions).
  it('round-trips any bytes, several blocks, label filter', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.uint8Array({ minLength: 1, maxLength: 50 }), (a, b) => {
      const text = new TextEncoder().encode(encodePem('CERTIFICATE', a) + encodePem('X509 CRL', b))
      expect(decodePemBlocks(text).map((x) => x.label)).toEqual(['CERTIFICATE', 'X509 CRL'])
      expect(decodePemOrDer(text, ['X509 CRL'], 'CERT_MALFORMED')).toEqual([b])
    }))
  })

  it('DER passes through; no block or a body that is not base64 throws the given code', () => {
    expect(decodePemOrDer(new Uint8Array([0x30, 0]), ['CERTIFICATE'], 'CERT_MALFORMED')).toEqual([new Uint8Array([0x30, 0])])
    expect(decodePemBlocks(new TextEncoder().encode('hello'))).toEqual([])
    expect(() => decodePemOrDer(new TextEncoder().encode('-----BEGIN CMS-----\n!!!!\n-----END CMS-----\n'), ['CMS'], 'CMS_MALFORMED')).toThrow(expect.objectContaining({ code: 'CMS_MALFORMED' }) as Error)
  })
})
