import { join } from 'node:path'
import { AsnConvert } from '@peculiar/asn1-schema'
import { ContentInfo, EnvelopedData, SignedData } from '@peculiar/asn1-cms'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CryptoError, type CryptoErrorCode } from '../errors.js'
import { createKeyObjectAgreer, createKeyObjectSigner } from '../keys/key-object.js'
import { decodeCertificate } from '../keys/certificate.js'
import { decodePrivateKey } from '../keys/private-key.js'
import { encodePem } from '../keys/pem.js'
import { agreerFromModule, signerFromModule } from '../security-module/adapters.js'
import { createSoftwareSecurityModule } from '../security-module/software.js'
import type { KeyAgreer, SecurityModule, Signer } from '../security-module/types.js'
import { createOpensslPki, createTempDir, issueCertificate, type TestPki } from '../testing/openssl.js'
import { decryptAndVerify, signAndEncrypt } from './combined.js'
import { decodeCmsInput } from './content-info.js'
import { decryptCms } from './decrypt.js'
import { encryptCms } from './encrypt.js'
import { inspectCms } from './inspect.js'
import { signCms } from './sign.js'
import { decodeSignedData } from './signed-data.js'
import { verifyCms } from './verify.js'

const content = new TextEncoder().encode('{"obis":"1-0:1.8.0*255","value":"12345.678","unit":"kWh"}')
const time = new Date('2026-03-01T00:15:00Z')

let tmp: { dir: string; remove: () => Promise<void> }
let pki: TestPki
let other: TestPki
let alice: { signer: Signer; agreer: KeyAgreer; cert: Uint8Array }
let bob: { signer: Signer; agreer: KeyAgreer; cert: Uint8Array }

beforeAll(async () => {
  tmp = await createTempDir('smgw-cms-')
  ;[pki, other] = await Promise.all([createOpensslPki(tmp.dir, 'brainpoolP256r1'), createOpensslPki(tmp.dir, 'P-256')])
  const party = (p: TestPki['alice']): { signer: Signer; agreer: KeyAgreer; cert: Uint8Array } => {
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

function flip(bytes: Uint8Array, index: number, mask = 0x01): Uint8Array {
  const out = bytes.slice()
  const i = index < 0 ? out.length + index : index
  out[i] = (out[i] ?? 0) ^ mask
  return out
}

describe('SignedData', () => {
  it('decodeSignedData takes a message apart without verifying it', async () => {
    const der = await signCms(content, { signer: alice.signer, certificate: alice.cert, chain: [pki.root.certDer], signingTime: time })
    const d = decodeSignedData(der)
    expect(d).toMatchObject({ contentType: '1.2.840.113549.1.7.1', content, certificates: [alice.cert, pki.root.certDer], signerCertificate: alice.cert, digestAlgorithm: '2.16.840.1.101.3.4.2.1', signatureAlgorithm: '1.2.840.10045.4.3.2', signingTime: time })
    // A broken signature still decodes (decoding checks nothing); verifyCms rejects it.
    const bad = flip(der, -3)
    expect(decodeSignedData(bad).content).toEqual(content)
    await rejectsWith(verifyCms(bad), 'CMS_SIGNATURE_INVALID')
    expect(decodeSignedData(await signCms(content, { signer: alice.signer, certificate: alice.cert, detached: true })).content).toBeUndefined()
    expect(() => decodeSignedData(content)).toThrow(expect.objectContaining({ code: 'CMS_MALFORMED' }) as Error)
  })

  it('round-trips attached content with signing time and chain', async () => {
    const der = await signCms(content, { signer: alice.signer, certificate: alice.cert, chain: [pki.root.certDer], signingTime: time })
    const seen: Uint8Array[] = []
    const result = await verifyCms(der, { trust: (cert) => { seen.push(cert); return Promise.resolve() } })
    expect(result.content).toEqual(content)
    expect(result.signerCertificate).toEqual(alice.cert)
    // The decoded signer is the certificate that signed: its DER and subject.
    expect(result.signer.der).toEqual(alice.cert)
    expect(result.signer.subjectText).toBe(decodeCertificate(alice.cert).subjectText)
    expect(result.certificates).toEqual([alice.cert, pki.root.certDer])
    expect(result.signingTime).toEqual(time)
    expect(seen).toEqual([alice.cert])
  })

  it('round-trips detached content; inspect shows the structure', async () => {
    const der = await signCms(content, { signer: alice.signer, certificate: alice.cert, detached: true })
    expect((await verifyCms(der, { detachedContent: content })).content).toEqual(content)
    const summary = inspectCms(der)
    expect(summary).toMatchObject({ contentType: 'signedData', version: 1, eContentType: 'data', detached: true })
    expect(summary.signers).toEqual([{ issuer: 'C=DE, O=SMGW Test, CN=Test Root brainpoolP256r1', serialNumber: '1000', digestAlgorithm: 'sha256', signatureAlgorithm: 'ecdsa-with-SHA256' }])
  })

  it('signed attributes are a DER SET OF sorted by encoding (content-type, signing-time, message-digest)', async () => {
    const der = await signCms(content, { signer: alice.signer, certificate: alice.cert, signingTime: time })
    const sd = AsnConvert.parse(AsnConvert.parse(der, ContentInfo).content, SignedData)
    const encoded = (sd.signerInfos[0]?.signedAttrs ?? []).map((a) => Buffer.from(AsnConvert.serialize(a)))
    expect(encoded.map((e) => e.toString('hex'))).toEqual([...encoded].sort((a, b) => Buffer.compare(a, b)).map((e) => e.toString('hex')))
    expect(sd.signerInfos[0]?.signedAttrs?.map((a) => a.attrType)).toEqual(['1.2.840.113549.1.9.3', '1.2.840.113549.1.9.5', '1.2.840.113549.1.9.4'])
  })

  it('accepts PEM CMS input as openssl writes it', async () => {
    const der = await signCms(content, { signer: alice.signer, certificate: alice.cert })
    expect(decodeCmsInput(new TextEncoder().encode(encodePem('CMS', der)))).toEqual(der)
    expect(decodeCmsInput(der)).toEqual(der)
  })
})

describe('EnvelopedData and AuthEnvelopedData', () => {
  it.each(['aes128-cbc', 'aes256-cbc', 'aes128-gcm', 'aes256-gcm'] as const)('%s reaches every recipient', async (alg) => {
    const der = await encryptCms(content, { recipients: [alice.cert, bob.cert], contentEncryption: alg })
    expect(await decryptCms(der, { agreer: alice.agreer, certificate: alice.cert })).toEqual(content)
    expect(await decryptCms(der, { agreer: bob.agreer, certificate: bob.cert })).toEqual(content)
    const summary = inspectCms(der)
    expect(summary.contentType).toBe(alg.endsWith('gcm') ? 'authEnvelopedData' : 'envelopedData')
    expect(summary.contentEncryptionAlgorithm).toBe(alg)
    expect(summary.recipients).toHaveLength(2)
    expect(summary.recipients?.[0]).toMatchObject({ kind: 'keyAgree', keyEncryptionAlgorithm: 'dhSinglePass-stdDH-sha256kdf-scheme', keyWrapAlgorithm: alg.startsWith('aes128') ? 'id-aes128-wrap' : 'id-aes256-wrap' })
  })

  it('mixes recipients on different curves', async () => {
    const carol = decodePrivateKey(other.alice.keyPem)
    const der = await encryptCms(content, { recipients: [alice.cert, other.alice.certDer], contentEncryption: 'aes128-gcm' })
    expect(await decryptCms(der, { agreer: createKeyObjectAgreer(carol), certificate: other.alice.certDer })).toEqual(content)
  })

  it('sign then encrypt, decrypt then verify (what the gateway sends an EMT)', async () => {
    const der = await signAndEncrypt(content, { sign: { signer: alice.signer, certificate: alice.cert, signingTime: time }, encrypt: { recipients: [bob.cert], contentEncryption: 'aes128-gcm' } })
    const result = await decryptAndVerify(der, { agreer: bob.agreer, certificate: bob.cert })
    expect(result.content).toEqual(content)
    expect(result.signerCertificate).toEqual(alice.cert)
  })

  it('works with security-module keys (software store): signer and agreer never see the private key', async () => {
    const sm: SecurityModule = await createSoftwareSecurityModule({ dir: join(tmp.dir, 'sm'), passphrase: 'pw', scryptLogN: 10 })
    const sig = await sm.generateKey('brainpoolP256r1', 'gw-sig')
    const enc = await sm.generateKey('brainpoolP256r1', 'gw-enc')
    const sigCert = await issueCertificate(pki, sig.publicKey, 'gw-sig', 7001)
    const encCert = await issueCertificate(pki, enc.publicKey, 'gw-enc', 7002)
    const der = await signAndEncrypt(content, { sign: { signer: await signerFromModule(sm, 'gw-sig'), certificate: sigCert }, encrypt: { recipients: [encCert] } })
    const result = await decryptAndVerify(der, { agreer: await agreerFromModule(sm, 'gw-enc'), certificate: encCert })
    expect(result.content).toEqual(content)
    expect(result.signerCertificate).toEqual(sigCert)
    await sm.close()
  })
})

describe('bad input gives a specific CryptoError', () => {
  it('malformed DER and truncated CMS: CMS_MALFORMED', async () => {
    const der = await signCms(content, { signer: alice.signer, certificate: alice.cert })
    await rejectsWith(verifyCms(new Uint8Array([0x30, 0x03, 0x02, 0x01])), 'CMS_MALFORMED')
    await rejectsWith(verifyCms(der.subarray(0, der.length - 10)), 'CMS_MALFORMED')
    const enc = await encryptCms(content, { recipients: [alice.cert] })
    await rejectsWith(decryptCms(enc.subarray(0, 100), { agreer: alice.agreer, certificate: alice.cert }), 'CMS_MALFORMED')
    expect(() => inspectCms(new Uint8Array([1, 2, 3]))).toThrow(CryptoError)
  })

  it('wrong content type: CMS_UNSUPPORTED_CONTENT_TYPE', async () => {
    const signed = await signCms(content, { signer: alice.signer, certificate: alice.cert })
    const enc = await encryptCms(content, { recipients: [alice.cert] })
    await rejectsWith(verifyCms(enc), 'CMS_UNSUPPORTED_CONTENT_TYPE')
    await rejectsWith(decryptCms(signed, { agreer: alice.agreer, certificate: alice.cert }), 'CMS_UNSUPPORTED_CONTENT_TYPE')
  })

  it('unknown digest, content-encryption or key-wrap OID: CMS_UNSUPPORTED_ALGORITHM', async () => {
    const signed = await signCms(content, { signer: alice.signer, certificate: alice.cert })
    // sha256 (…4.2.1) → sha224 (…4.2.4), everywhere it appears.
    await rejectsWith(verifyCms(replaceAll(signed, '608648016503040201', '608648016503040204')), 'CMS_UNSUPPORTED_ALGORITHM')
    const enc = await encryptCms(content, { recipients: [alice.cert], contentEncryption: 'aes128-cbc' })
    // aes128-CBC (…4.1.2) → aes192-CBC (…4.1.22)
    await rejectsWith(decryptCms(replaceAll(enc, '0609608648016503040102', '0609608648016503040116'), { agreer: alice.agreer, certificate: alice.cert }), 'CMS_UNSUPPORTED_ALGORITHM')
    // dhSinglePass-stdDH-sha256kdf (1.3.132.1.11.1) → sha224kdf (1.3.132.1.11.0)
    await rejectsWith(decryptCms(replaceAll(enc, '06062b8104010b01', '06062b8104010b00'), { agreer: alice.agreer, certificate: alice.cert }), 'CMS_UNSUPPORTED_ALGORITHM')
  })

  it('detached without content: CMS_CONTENT_MISSING; other content: CMS_DIGEST_MISMATCH', async () => {
    const der = await signCms(content, { signer: alice.signer, certificate: alice.cert, detached: true })
    await rejectsWith(verifyCms(der), 'CMS_CONTENT_MISSING')
    await rejectsWith(verifyCms(der, { detachedContent: flip(content, 0) }), 'CMS_DIGEST_MISMATCH')
  })

  it('bit flips in the signature or the signed content: CMS_SIGNATURE_INVALID / CMS_DIGEST_MISMATCH', async () => {
    const der = await signCms(content, { signer: alice.signer, certificate: alice.cert })
    // The signature OCTET STRING is the last field of the last SignerInfo.
    await rejectsWith(verifyCms(flip(der, -1)), 'CMS_SIGNATURE_INVALID')
    await rejectsWith(verifyCms(flip(der, -20)), 'CMS_SIGNATURE_INVALID')
    const at = Buffer.from(der).indexOf(Buffer.from(content))
    await rejectsWith(verifyCms(flip(der, at + 5)), 'CMS_DIGEST_MISMATCH')
  })

  it('signer certificate missing: CMS_SIGNER_NOT_FOUND; refused by the trust callback: CMS_SIGNER_UNTRUSTED', async () => {
    const der = await signCms(content, { signer: alice.signer, certificate: alice.cert })
    const info = AsnConvert.parse(der, ContentInfo)
    const sd = AsnConvert.parse(info.content, SignedData)
    delete sd.certificates
    const stripped = new Uint8Array(AsnConvert.serialize(new ContentInfo({ contentType: info.contentType, content: AsnConvert.serialize(sd) })))
    await rejectsWith(verifyCms(stripped), 'CMS_SIGNER_NOT_FOUND')
    await rejectsWith(verifyCms(der, { trust: () => Promise.reject(new Error('not issued by the SM-PKI root')) }), 'CMS_SIGNER_UNTRUSTED')
  })

  it('not a recipient: CMS_NO_RECIPIENT; the other recipient\'s key: CMS_UNWRAP_FAILED', async () => {
    const toAlice = await encryptCms(content, { recipients: [alice.cert] })
    await rejectsWith(decryptCms(toAlice, { agreer: bob.agreer, certificate: bob.cert }), 'CMS_NO_RECIPIENT')
    const toBoth = await encryptCms(content, { recipients: [alice.cert, bob.cert] })
    await rejectsWith(decryptCms(toBoth, { agreer: bob.agreer, certificate: alice.cert }), 'CMS_UNWRAP_FAILED')
  })

  it('bit flips in the ciphertext: CMS_DECRYPT_FAILED (GCM tag, CBC padding); in the wrapped key: CMS_UNWRAP_FAILED', async () => {
    const gcm = await encryptCms(content, { recipients: [alice.cert], contentEncryption: 'aes256-gcm' })
    // AuthEnvelopedData ends with the 16-byte MAC; the ciphertext sits right before it.
    await rejectsWith(decryptCms(flip(gcm, -20), { agreer: alice.agreer, certificate: alice.cert }), 'CMS_DECRYPT_FAILED')
    await rejectsWith(decryptCms(flip(gcm, -1), { agreer: alice.agreer, certificate: alice.cert }), 'CMS_DECRYPT_FAILED')
    // CBC: flipping the top bit of the last byte of the next-to-last block turns the padding byte (1..16) into 129..144.
    const cbc = await encryptCms(content, { recipients: [alice.cert], contentEncryption: 'aes128-cbc' })
    await rejectsWith(decryptCms(flip(cbc, -17, 0x80), { agreer: alice.agreer, certificate: alice.cert }), 'CMS_DECRYPT_FAILED')
    const summary = inspectCms(cbc)
    expect(summary.recipients).toHaveLength(1)
    // Locate the wrapped key (24 bytes) through the parsed structure.
    const ed = AsnConvert.parse(AsnConvert.parse(cbc, ContentInfo).content, EnvelopedData)
    const wrapped = ed.recipientInfos[0]?.kari?.recipientEncryptedKeys[0]?.encryptedKey
    if (!wrapped) throw new Error('no wrapped key')
    const wrappedAt = Buffer.from(cbc).indexOf(Buffer.from(wrapped.buffer))
    expect(wrappedAt).toBeGreaterThan(0)
    await rejectsWith(decryptCms(flip(cbc, wrappedAt + 3), { agreer: alice.agreer, certificate: alice.cert }), 'CMS_UNWRAP_FAILED')
  })

  it('a key on another curve than the certificate: CURVE_MISMATCH', async () => {
    const enc = await encryptCms(content, { recipients: [alice.cert] })
    await rejectsWith(decryptCms(enc, { agreer: createKeyObjectAgreer(decodePrivateKey(other.alice.keyPem)), certificate: alice.cert }), 'CURVE_MISMATCH')
  })

  it('a certificate that is not one: CERT_MALFORMED; a signer that does not match it: INVALID_ARGUMENT', async () => {
    await rejectsWith(signCms(content, { signer: alice.signer, certificate: new Uint8Array([0x30, 0x00]) }), 'CERT_MALFORMED')
    await rejectsWith(signCms(content, { signer: alice.signer, certificate: bob.cert }), 'INVALID_ARGUMENT')
    await rejectsWith(encryptCms(content, { recipients: [] }), 'INVALID_ARGUMENT')
  })
})

describe('properties', () => {
  const mutation = fc.record({ at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }), cut: fc.boolean() })
  const mutate = (der: Uint8Array, m: { at: number; mask: number; cut: boolean }): Uint8Array =>
    m.cut ? der.subarray(0, m.at % der.length) : flip(der, m.at % der.length, m.mask)
  const onlyCryptoError = (err: unknown): void => {
    if (!(err instanceof CryptoError)) throw err
  }

  it('a mutated SignedData never verifies to other content, and only ever throws CryptoError', async () => {
    const der = await signCms(content, { signer: alice.signer, certificate: alice.cert, signingTime: time })
    await fc.assert(fc.asyncProperty(mutation, async (m) => {
      try {
        // Unsigned fields (version, digestAlgorithms SET, the certificate's own signature) may change without effect.
        expect((await verifyCms(mutate(der, m))).content).toEqual(content)
      } catch (err) { onlyCryptoError(err) }
    }), { numRuns: 300 })
  })

  it('a mutated sign-then-encrypt message never opens to other content, and only ever throws CryptoError', async () => {
    for (const alg of ['aes128-cbc', 'aes128-gcm'] as const) {
      const der = await signAndEncrypt(content, { sign: { signer: alice.signer, certificate: alice.cert }, encrypt: { recipients: [bob.cert], contentEncryption: alg } })
      await fc.assert(fc.asyncProperty(mutation, async (m) => {
        try {
          expect((await decryptAndVerify(mutate(der, m), { agreer: bob.agreer, certificate: bob.cert })).content).toEqual(content)
        } catch (err) { onlyCryptoError(err) }
      }), { numRuns: 150 })
    }
  })

  it('a mutated AuthEnvelopedData never opens to other content; a mutated EnvelopedData only ever throws CryptoError', async () => {
    const gcm = await encryptCms(content, { recipients: [alice.cert], contentEncryption: 'aes128-gcm' })
    await fc.assert(fc.asyncProperty(mutation, async (m) => {
      try {
        // GCM authenticates the content; fields outside it (versions, unused parameters) may change without effect.
        expect(await decryptCms(mutate(gcm, m), { agreer: alice.agreer, certificate: alice.cert })).toEqual(content)
      } catch (err) { onlyCryptoError(err) }
    }), { numRuns: 200 })
    // CBC has no integrity (RFC 5652 §6): a flipped ciphertext bit can decrypt to other content,
    // which is why the gateway signs first; here we only require that nothing but CryptoError escapes.
    const cbc = await encryptCms(content, { recipients: [alice.cert], contentEncryption: 'aes128-cbc' })
    await fc.assert(fc.asyncProperty(mutation, async (m) => {
      await decryptCms(mutate(cbc, m), { agreer: alice.agreer, certificate: alice.cert }).then(() => undefined, onlyCryptoError)
    }), { numRuns: 200 })
  })

  it('a name value whose string tag is changed (it decodes, but no longer re-encodes) only ever throws CryptoError', async () => {
    // Regression, found by an exhaustive single-byte flip: a PrintableString (0x13) turned into
    // a UTCTime (0x17), or a UTF8String (0x0c) into 0x08, inside an issuer Name or a carried
    // certificate made asn1-schema throw a plain Error when the Name was re-encoded.
    const stringTags = (der: Uint8Array): number[] => [...der.keys()].filter((i) => der[i] === 0x13 || der[i] === 0x0c)
    const signed = await signCms(content, { signer: alice.signer, certificate: alice.cert, chain: [pki.root.certDer], signingTime: time })
    for (const at of stringTags(signed)) {
      const m = flip(signed, at, 0x04)
      await verifyCms(m).then(() => undefined, onlyCryptoError)
      try { decodeSignedData(m) } catch (err) { onlyCryptoError(err) }
      try { inspectCms(m) } catch (err) { onlyCryptoError(err) }
    }
    const gcm = await encryptCms(content, { recipients: [alice.cert], contentEncryption: 'aes128-gcm' })
    for (const at of stringTags(gcm)) await decryptCms(flip(gcm, at, 0x04), { agreer: alice.agreer, certificate: alice.cert }).then(() => undefined, onlyCryptoError)
  })

  it('random bytes only ever throw CryptoError from verify, decrypt and inspect', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
      await verifyCms(bytes).then(() => { throw new Error('random bytes verified') }, onlyCryptoError)
      await decryptCms(bytes, { agreer: alice.agreer, certificate: alice.cert }).then(() => { throw new Error('random bytes decrypted') }, onlyCryptoError)
      try { inspectCms(bytes) } catch (err) { onlyCryptoError(err) }
    }), { numRuns: 300 })
  })

  it('sign/verify and encrypt/decrypt round-trip any content', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), fc.constantFrom('aes128-cbc', 'aes256-gcm' as const), async (bytes, alg) => {
      const signed = await signCms(bytes, { signer: alice.signer, certificate: alice.cert })
      expect((await verifyCms(signed)).content).toEqual(bytes)
      const enc = await encryptCms(bytes, { recipients: [alice.cert], contentEncryption: alg })
      expect(await decryptCms(enc, { agreer: alice.agreer, certificate: alice.cert })).toEqual(bytes)
    }), { numRuns: 40 })
  })
})

function replaceAll(der: Uint8Array, fromHex: string, toHex: string): Uint8Array {
  const out = Buffer.from(Buffer.from(der).toString('hex').split(fromHex).join(toHex), 'hex')
  if (out.equals(der)) throw new Error(`pattern ${fromHex} not found`)
  return new Uint8Array(out)
}
