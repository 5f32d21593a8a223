import { SignerIdentifier } from '@peculiar/asn1-cms'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeCertificate } from '../keys/certificate.js'
import { createOpensslPki, createTempDir, type TestPki } from '../testing/openssl.js'
import { createPartParser } from './content-info.js'
import { TAG, tlv } from './der.js'
import { createSignerIdentifierParser } from './verify.js'

let tmp: { dir: string; remove: () => Promise<void> }
let pki: TestPki
beforeAll(async () => {
  tmp = await createTempDir('smgw-sid-')
  pki = await createOpensslPki(tmp.dir, 'brainpoolP256r1')
})
afterAll(async () => { await tmp.remove() })

/** issuerAndSerialNumber (RFC 5652 §10.2.4) of a certificate, as a signer names it. */
function sidOf(certificate: Uint8Array): Uint8Array {
  const c = decodeCertificate(certificate)
  return tlv(TAG.SEQUENCE, c.issuer, tlv(TAG.INTEGER, c.serialNumber))
}

describe('signer identifier parser of the prepared verifier', () => {
  it('gives what asn1-schema gives for real identifiers, and the same issuer object for the same issuer bytes', () => {
    const parse = createSignerIdentifierParser()
    const schema = createPartParser(SignerIdentifier)
    const [a, b] = [sidOf(pki.alice.certDer), sidOf(pki.bob.certDer)]
    expect(parse(a)).toEqual(schema(a))
    expect(parse(b)).toEqual(schema(b))
    expect(parse(a)?.issuerAndSerialNumber?.issuer).toBe(parse(b)?.issuerAndSerialNumber?.issuer)
  })

  it('property: changed, cut or extended identifiers parse as asn1-schema parses them (or not at all, like it)', () => {
    const parse = createSignerIdentifierParser()
    const schema = createPartParser(SignerIdentifier)
    const base = sidOf(pki.alice.certDer)
    fc.assert(fc.property(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(8), fc.uint8Array({ maxLength: 3 }), (position, xor, cut, extra) => {
      const m = new Uint8Array([...base.subarray(0, base.length - cut), ...extra])
      const at = position % m.length
      m[at] = (m[at] ?? 0) ^ xor
      expect(parse(m)).toEqual(schema(m))
    }), { numRuns: 2000 })
  })
})
