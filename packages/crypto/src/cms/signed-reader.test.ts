import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import {
  Attribute, CMSVersion, ContentInfo, DigestAlgorithmIdentifier, DigestAlgorithmIdentifiers, EncapsulatedContent, EncapsulatedContentInfo, IssuerAndSerialNumber,
  SignatureAlgorithmIdentifier, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
} from '@peculiar/asn1-cms'
import { Name } from '@peculiar/asn1-x509'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodePrivateKey } from '../keys/private-key.js'
import { createKeyObjectSigner } from '../keys/key-object.js'
import { encodeOid } from '../primitives/ec-public-key.js'
import { createOpensslPki, createTempDir, type TestPki } from '../testing/openssl.js'
import { tlv } from './der.js'
import { signCms } from './sign.js'
import { readSignedData } from './signed-reader.js'

let tmp: { dir: string; remove: () => Promise<void> }
let pki: TestPki
beforeAll(async () => {
  tmp = await createTempDir('smgw-cms-sreader-')
  pki = await createOpensslPki(tmp.dir, 'brainpoolP256r1')
})
afterAll(async () => { await tmp.remove() })

const oid = fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 39 }), fc.array(fc.integer({ min: 0, max: 2 ** 28 - 1 }), { maxLength: 5 }))
  .map(([a, b, rest]) => [a, b, ...rest].join('.'))
const octets = fc.uint8Array({ maxLength: 64 }).map((b) => AsnConvert.serialize(new OctetString(b)))
const utcTime = fc.stringMatching(/^\d{12}Z$/).map((t) => tlv(0x17, new TextEncoder().encode(t)).slice().buffer)
const value = fc.oneof(octets, utcTime, oid.map((o) => encodeOid(o)))
const signerInfo = fc.record({
  serial: fc.uint8Array({ minLength: 1, maxLength: 8 }), digest: oid, sigAlg: oid, signature: fc.uint8Array({ maxLength: 72 }),
  attrs: fc.array(fc.record({ attrType: oid, attrValues: fc.array(value, { minLength: 1, maxLength: 2 }) }), { minLength: 1, maxLength: 4 }),
}).map((r) => new SignerInfo({
  version: CMSVersion.v1,
  sid: new SignerIdentifier({ issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: new Name(), serialNumber: r.serial.slice().buffer }) }),
  digestAlgorithm: new DigestAlgorithmIdentifier({ algorithm: r.digest }),
  signedAttrs: r.attrs.map((a) => new Attribute(a)),
  signatureAlgorithm: new SignatureAlgorithmIdentifier({ algorithm: r.sigAlg }),
  signature: new OctetString(r.signature),
}))
const signedData = fc.record({ digests: fc.array(oid, { maxLength: 2 }), type: oid, content: fc.uint8Array({ maxLength: 300 }), infos: fc.array(signerInfo, { maxLength: 2 }), v3: fc.boolean() })
  .map((r) => new Uint8Array(AsnConvert.serialize(new SignedData({
    version: r.v3 ? CMSVersion.v3 : CMSVersion.v1,
    digestAlgorithms: new DigestAlgorithmIdentifiers(r.digests.map((d) => new DigestAlgorithmIdentifier({ algorithm: d }))),
    encapContentInfo: new EncapsulatedContentInfo({ eContentType: r.type, eContent: new EncapsulatedContent({ single: new OctetString(r.content) }) }),
    signerInfos: new SignerInfos(r.infos),
  }))))

const hex = (b: ArrayBuffer) => Buffer.from(b).toString('hex')

function agrees(der: Uint8Array): 'fast' | 'declined' {
  const fast = readSignedData(der)
  if (fast === undefined) return 'declined'
  const parsed = AsnConvert.parse(der, SignedData)
  expect(hex(AsnConvert.serialize(fast))).toBe(hex(AsnConvert.serialize(parsed)))
  expect(hex(AsnConvert.serialize(fast))).toBe(Buffer.from(der).toString('hex'))
  return 'fast'
}

describe('readSignedData (the strict receive-path reader) against asn1-schema', () => {
  it('reads what signCms writes once the certificates are left out (as the verifier does for known ones); declines it with them', async () => {
    const signer = createKeyObjectSigner(decodePrivateKey(pki.alice.keyPem))
    const der = await signCms(new Uint8Array(500), { signer, certificate: pki.alice.certDer, signingTime: new Date('2026-03-01T00:15:00Z') })
    const sd = AsnConvert.parse(AsnConvert.parse(der, ContentInfo).content, SignedData)
    expect(readSignedData(new Uint8Array(AsnConvert.serialize(sd)))).toBeUndefined()
    sd.certificates = undefined
    expect(agrees(new Uint8Array(AsnConvert.serialize(sd)))).toBe('fast')
  })

  it('property: random valid SignedData are read as asn1-schema reads them', () => {
    fc.assert(fc.property(signedData, (der) => { expect(agrees(der)).toBe('fast') }), { numRuns: 200 })
  })

  it('property: mutated SignedData are declined or read as asn1-schema reads them', () => {
    fc.assert(fc.property(signedData, fc.nat(), fc.integer({ min: 0, max: 255 }), (der, where, byte) => {
      const mutated = der.slice()
      mutated[where % der.length] = byte
      try {
        AsnConvert.parse(mutated, SignedData)
      } catch {
        expect(readSignedData(mutated)).toBeUndefined()
        return
      }
      agrees(mutated)
    }), { numRuns: 1000 })
  })
})
