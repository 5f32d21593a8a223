import { AsnConvert } from '@peculiar/asn1-schema'
import { ContentInfo, EnvelopedData, SignedData } from '@peculiar/asn1-cms'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CryptoError, type CryptoErrorCode } from '../errors.js'
import { decodeCertificate } from '../keys/certificate.js'
import { createKeyObjectAgreer, createKeyObjectSigner } from '../keys/key-object.js'
import { decodePrivateKey } from '../keys/private-key.js'
import type { KeyAgreer, Signer } from '../security-module/types.js'
import { createOpensslPki, createTempDir, type TestPki } from '../testing/openssl.js'
import { AuthEnvelopedData } from './asn1/auth-enveloped-data.js'
import { decryptCms, createCmsDecryptor } from './decrypt.js'
import { createCmsEncryptor, encryptCms } from './encrypt.js'
import { createCmsSigner, signCms } from './sign.js'
import { createCmsVerifier, verifyCms } from './verify.js'

const time = new Date('2026-03-01T00:15:00Z')
let tmp: { dir: string; remove: () => Promise<void> }
let pki: TestPki
let alice: { signer: Signer; agreer: KeyAgreer; cert: Uint8Array }
let bob: { signer: Signer; agreer: KeyAgreer; cert: Uint8Array }

beforeAll(async () => {
  tmp = await createTempDir('smgw-cms-prepared-')
  pki = await createOpensslPki(tmp.dir, 'brainpoolP256r1')
  const party = (p: TestPki['alice']) => {
    const key = decodePrivateKey(p.keyPem)
    return { signer: createKeyObjectSigner(key), agreer: createKeyObjectAgreer(key), cert: p.certDer }
  }
  alice = party(pki.alice)
  bob = party(pki.bob)
})
afterAll(async () => { await tmp.remove() })

async function rejectsWith(promise: Promise<unknown>, code: CryptoErrorCode): Promise<void> {
  await expect(promise).rejects.toSatisfy((err: unknown) => err instanceof CryptoError && err.code === code)
}

/** A signer that signs each distinct input once (ECDSA is randomised), so two encoders of the same input give the same bytes. */
function memoSigner(inner: Signer): Signer {
  const seen = new Map<string, Promise<Uint8Array>>()
  return {
    ...inner,
    sign: (data, hash) => {
      const id = `${hash}:${Buffer.from(data).toString('hex')}`
      let sig = seen.get(id)
      if (sig === undefined) {
        sig = inner.sign(data, hash)
        seen.set(id, sig)
      }
      return sig
    },
  }
}

/** asn1-schema decodes the message and encodes it back to the same bytes: our hand-written DER is the schema's DER. */
function expectSchemaRoundTrip(der: Uint8Array): void {
  const info = AsnConvert.parse(der, ContentInfo)
  const types: Record<string, (new () => object) | undefined> = { '1.2.840.113549.1.7.2': SignedData, '1.2.840.113549.1.7.3': EnvelopedData, '1.2.840.113549.1.9.16.1.23': AuthEnvelopedData }
  const type = types[info.contentType]
  if (type === undefined) throw new Error(`content type ${info.contentType}`)
  const inner = AsnConvert.parse(info.content, type)
  const again = AsnConvert.serialize(new ContentInfo({ contentType: info.contentType, content: AsnConvert.serialize(inner) }))
  expect(Buffer.from(again).equals(der)).toBe(true)
}

describe('prepared CMS objects', () => {
  it('createCmsSigner gives the bytes signCms gives (DER or decoded certificate, attached, detached, with chain and content type), in schema DER', async () => {
    const signer = memoSigner(alice.signer)
    const variants = [{}, { detached: true }, { chain: [pki.root.certDer] }, { contentType: '1.2.840.113549.1.9.16.1.4' }]
    for (const variant of variants) {
      for (const content of [new Uint8Array(0), new TextEncoder().encode('x'), new Uint8Array(6500).fill(0x41), new Uint8Array(70_000).fill(7)]) {
        for (const signingTime of [undefined, time, new Date('2026-11-30T23:59:59.999Z'), new Date('1950-01-01T00:00:00Z'), new Date('2049-12-31T23:59:59Z'), new Date('1949-12-31T23:59:59Z'), new Date('2051-01-01T00:00:00Z')]) {
          const perMessage = signingTime === undefined ? {} : { signingTime }
          const oneShot = await signCms(content, { signer, certificate: alice.cert, ...variant, ...perMessage })
          const fromDer = await createCmsSigner({ signer, certificate: alice.cert, ...variant }).sign(content, perMessage)
          const fromDecoded = await createCmsSigner({ signer, certificate: decodeCertificate(alice.cert), ...variant }).sign(content, perMessage)
          expect(Buffer.from(fromDer).equals(oneShot)).toBe(true)
          expect(Buffer.from(fromDecoded).equals(oneShot)).toBe(true)
          expectSchemaRoundTrip(oneShot)
        }
      }
    }
  })

  it('createCmsSigner refuses a certificate that does not hold the signer key, at creation', () => {
    expect(() => createCmsSigner({ signer: alice.signer, certificate: bob.cert })).toThrow(CryptoError)
  })

  it('createCmsEncryptor output is schema DER and opens with decryptCms and createCmsDecryptor, for every content encryption and both recipients', async () => {
    for (const contentEncryption of ['aes128-cbc', 'aes256-cbc', 'aes128-gcm', 'aes256-gcm'] as const) {
      const encryptor = createCmsEncryptor({ recipients: [alice.cert, decodeCertificate(bob.cert)], contentEncryption })
      for (const content of [new Uint8Array(0), new Uint8Array(6500).fill(3)]) {
        const sealed = await encryptor.encrypt(content)
        expectSchemaRoundTrip(sealed)
        expect(await decryptCms(sealed, { agreer: alice.agreer, certificate: alice.cert })).toEqual(content)
        expect(await createCmsDecryptor({ agreer: bob.agreer, certificate: decodeCertificate(bob.cert) }).decrypt(sealed)).toEqual(content)
        const oneShot = await encryptCms(content, { recipients: [alice.cert], contentEncryption })
        expect(await createCmsDecryptor({ agreer: alice.agreer, certificate: alice.cert }).decrypt(oneShot)).toEqual(content)
      }
    }
  })

  it('a fresh ephemeral key and content key per message', async () => {
    const encryptor = createCmsEncryptor({ recipients: [alice.cert] })
    const a = await encryptor.encrypt(new Uint8Array(16))
    const b = await encryptor.encrypt(new Uint8Array(16))
    expect(Buffer.from(a).equals(b)).toBe(false)
  })

  it('createCmsVerifier gives what verifyCms gives, before and after it remembered the certificates', async () => {
    const signed = await signCms(new TextEncoder().encode('hello'), { signer: alice.signer, certificate: alice.cert, chain: [pki.root.certDer], signingTime: time })
    const expected = await verifyCms(signed)
    for (const verifier of [createCmsVerifier(), createCmsVerifier({ certificates: [alice.cert, decodeCertificate(pki.root.certDer)] })]) {
      expect(await verifier.verify(signed)).toEqual(expected)
      expect(await verifier.verify(signed)).toEqual(expected)
    }
    const detached = await signCms(new TextEncoder().encode('d'), { signer: alice.signer, certificate: alice.cert, detached: true })
    const v = createCmsVerifier()
    await rejectsWith(v.verify(detached), 'CMS_CONTENT_MISSING')
    expect((await v.verify(detached, { detachedContent: new TextEncoder().encode('d') })).content).toEqual(new TextEncoder().encode('d'))
  })

  it('a remembered certificate does not vouch for a message signed by another key under the same certificate name', async () => {
    const verifier = createCmsVerifier({ certificates: [alice.cert] })
    const good = await signCms(new TextEncoder().encode('m'), { signer: alice.signer, certificate: alice.cert })
    await verifier.verify(good)
    // Bob's key signs a message that carries Alice's (remembered) certificate: the remembered key is Alice's, so it fails.
    const impostor: Signer = { ...bob.signer, publicKey: alice.signer.publicKey }
    const forged = await signCms(new TextEncoder().encode('m'), { signer: impostor, certificate: alice.cert })
    await rejectsWith(verifier.verify(forged), 'CMS_SIGNATURE_INVALID')
    await rejectsWith(verifyCms(forged), 'CMS_SIGNATURE_INVALID')
    expect((await verifier.verify(good)).content).toEqual(new TextEncoder().encode('m'))
    // A tampered copy of Alice's certificate (one bit of its signature) is a different certificate, decoded anew.
    const tampered = Buffer.from(good)
    const certAt = tampered.indexOf(Buffer.from(alice.cert))
    tampered[certAt + alice.cert.length - 2] = (tampered[certAt + alice.cert.length - 2] ?? 0) ^ 1
    const opened = await verifier.verify(new Uint8Array(tampered)).catch((err: unknown) => err)
    if (!(opened instanceof CryptoError)) expect(Buffer.from((opened as { signerCertificate: Uint8Array }).signerCertificate).equals(alice.cert)).toBe(false)
  })

  it('property: a prepared round trip returns the content; mutated messages fail with CryptoError only', async () => {
    const signer = createCmsSigner({ signer: alice.signer, certificate: alice.cert })
    const encryptor = createCmsEncryptor({ recipients: [bob.cert], contentEncryption: 'aes128-gcm' })
    const decryptor = createCmsDecryptor({ agreer: bob.agreer, certificate: bob.cert })
    const verifier = createCmsVerifier({ certificates: [alice.cert] })
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.integer({ min: 1, max: 255 }), async (content, pos, flip) => {
      const sealed = await encryptor.encrypt(await signer.sign(content, { signingTime: time }))
      expect((await verifier.verify(await decryptor.decrypt(sealed))).content).toEqual(content)
      const mutated = sealed.slice()
      const i = pos % mutated.length
      mutated[i] = (mutated[i] ?? 0) ^ flip
      const result = await decryptor.decrypt(mutated).then((inner) => verifier.verify(inner)).then(() => 'ok', (err: unknown) => err)
      if (result !== 'ok') expect(result).toBeInstanceOf(CryptoError)
    }), { numRuns: 60 })
  })
})
