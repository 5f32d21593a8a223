import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import {
  ContentEncryptionAlgorithmIdentifier, ContentInfo, EncryptedContent, EncryptedContentInfo, EnvelopedData, IssuerAndSerialNumber, KeyAgreeRecipientIdentifier,
  KeyAgreeRecipientInfo, KeyEncryptionAlgorithmIdentifier, OriginatorIdentifierOrKey, OriginatorPublicKey, RecipientEncryptedKey, RecipientEncryptedKeys,
  RecipientInfo, RecipientInfos, RecipientKeyIdentifier, CMSVersion,
} from '@peculiar/asn1-cms'
import { AlgorithmIdentifier, Name, SubjectKeyIdentifier } from '@peculiar/asn1-x509'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeOid } from '../primitives/ec-public-key.js'
import { createOpensslPki, createTempDir, type TestPki } from '../testing/openssl.js'
import { encryptCms } from './encrypt.js'
import { decodeOid } from './der.js'
import { readEnvelopedData } from './enveloped-reader.js'

let tmp: { dir: string; remove: () => Promise<void> }
let pki: TestPki
beforeAll(async () => {
  tmp = await createTempDir('smgw-cms-reader-')
  pki = await createOpensslPki(tmp.dir, 'brainpoolP256r1')
})
afterAll(async () => { await tmp.remove() })

const oid = fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 39 }), fc.array(fc.integer({ min: 0, max: 2 ** 28 - 1 }), { maxLength: 6 }))
  .map(([a, b, rest]) => [a, b, ...rest].join('.'))
const bytes = (max: number) => fc.uint8Array({ minLength: 1, maxLength: max })
const rid = fc.oneof(
  bytes(8).map((serial) => new KeyAgreeRecipientIdentifier({ issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: new Name(), serialNumber: serial.slice().buffer }) })),
  bytes(20).map((ski) => new KeyAgreeRecipientIdentifier({ rKeyId: new RecipientKeyIdentifier({ subjectKeyIdentifier: new SubjectKeyIdentifier(ski) }) })),
)
const envelope = fc.record({
  curve: oid, point: bytes(65), ukm: fc.option(bytes(16), { nil: undefined }), agreement: oid, wrap: oid,
  reks: fc.array(fc.tuple(rid, bytes(40)), { minLength: 1, maxLength: 3 }), cipher: oid, iv: bytes(16), ciphertext: fc.uint8Array({ maxLength: 300 }),
}).map((r) => new Uint8Array(AsnConvert.serialize(new EnvelopedData({
  version: CMSVersion.v2,
  recipientInfos: new RecipientInfos([new RecipientInfo({ kari: new KeyAgreeRecipientInfo({
    version: CMSVersion.v3,
    originator: new OriginatorIdentifierOrKey({ originatorKey: new OriginatorPublicKey({ algorithm: new AlgorithmIdentifier({ algorithm: '1.2.840.10045.2.1', parameters: encodeOid(r.curve) }), publicKey: r.point.slice().buffer }) }),
    ...(r.ukm === undefined ? {} : { ukm: new OctetString(r.ukm) }),
    keyEncryptionAlgorithm: new KeyEncryptionAlgorithmIdentifier({ algorithm: r.agreement, parameters: AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: r.wrap })) }),
    recipientEncryptedKeys: new RecipientEncryptedKeys(r.reks.map(([id, key]) => new RecipientEncryptedKey({ rid: id, encryptedKey: new OctetString(key) }))),
  }) })]),
  encryptedContentInfo: new EncryptedContentInfo({
    contentType: '1.2.840.113549.1.7.1',
    contentEncryptionAlgorithm: new ContentEncryptionAlgorithmIdentifier({ algorithm: r.cipher, parameters: AsnConvert.serialize(new OctetString(r.iv)) }),
    encryptedContent: new EncryptedContent({ value: new OctetString(r.ciphertext) }),
  }),
}))))

const hex = (b: ArrayBuffer | Uint8Array) => Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)).toString('hex')

/** The fast reader either declines, or gives what asn1-schema parses (compared as re-encoded DER, which is the input). */
function agrees(der: Uint8Array): 'fast' | 'declined' {
  const fast = readEnvelopedData(der)
  if (fast === undefined) return 'declined'
  const parsed = AsnConvert.parse(der, EnvelopedData)
  expect(hex(AsnConvert.serialize(fast))).toBe(hex(AsnConvert.serialize(parsed)))
  expect(hex(AsnConvert.serialize(fast))).toBe(hex(der))
  return 'fast'
}

describe('readEnvelopedData (the strict receive-path reader) against asn1-schema', () => {
  it('reads what encryptCms writes (EnvelopedData, AES-CBC), so the decryptor takes the fast path', async () => {
    for (const contentEncryption of ['aes128-cbc', 'aes256-cbc'] as const) {
      const der = await encryptCms(new Uint8Array(100), { recipients: [pki.bob.certDer], contentEncryption })
      const content = new Uint8Array(AsnConvert.parse(der, ContentInfo).content)
      expect(agrees(content)).toBe('fast')
    }
  })

  it('declines two recipients (left to asn1-schema)', async () => {
    const der = await encryptCms(new Uint8Array(10), { recipients: [pki.alice.certDer, pki.bob.certDer] })
    const ed = AsnConvert.parse(AsnConvert.parse(der, ContentInfo).content, EnvelopedData)
    if (ed.recipientInfos.length === 1) expect(agrees(new Uint8Array(AsnConvert.parse(der, ContentInfo).content))).toBe('fast')
    else expect(readEnvelopedData(new Uint8Array(AsnConvert.parse(der, ContentInfo).content))).toBeUndefined()
  })

  it('property: random valid envelopes are read as asn1-schema reads them', () => {
    fc.assert(fc.property(envelope, (der) => { expect(agrees(der)).toBe('fast') }), { numRuns: 200 })
  })

  it('property: mutated envelopes are declined or read as asn1-schema reads them', () => {
    fc.assert(fc.property(envelope, fc.nat(), fc.integer({ min: 0, max: 255 }), (der, where, byte) => {
      const mutated = der.slice()
      mutated[where % der.length] = byte
      try {
        AsnConvert.parse(mutated, EnvelopedData)
      } catch {
        expect(readEnvelopedData(mutated)).toBeUndefined()
        return
      }
      agrees(mutated)
    }), { numRuns: 1000 })
  })

  it('decodeOid gives the dotted form asn1-schema gives, and refuses non-minimal forms', () => {
    fc.assert(fc.property(oid, (o) => { expect(decodeOid(new Uint8Array(encodeOid(o)).subarray(2))).toBe(o) }))
    expect(decodeOid(Uint8Array.of(0x2a, 0x80, 0x01))).toBeUndefined()
    expect(decodeOid(Uint8Array.of(0x2a, 0x86))).toBeUndefined()
    expect(decodeOid(new Uint8Array(0))).toBeUndefined()
  })
})
