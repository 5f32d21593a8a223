// One test per error code: the table's type makes it list every CryptoErrorCode.
import { generateKeyPairSync } from 'node:crypto'
import { join } from 'node:path'
import { AsnConvert } from '@peculiar/asn1-schema'
import { ContentInfo, SignedData } from '@peculiar/asn1-cms'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decryptCms } from './cms/decrypt.js'
import { encryptCms } from './cms/encrypt.js'
import { signCms } from './cms/sign.js'
import { verifyCms } from './cms/verify.js'
import { CryptoError, isCryptoError, settle, wrapErrors, type CryptoErrorCode } from './errors.js'
import { decodeCertificate } from './keys/certificate.js'
import { createKeyObjectAgreer, createKeyObjectSigner } from './keys/key-object.js'
import { decodePrivateKey } from './keys/private-key.js'
import { aesCbcDecrypt, aesKeyUnwrap, aesKeyWrap } from './primitives/aes.js'
import { decodeEcPublicKey } from './primitives/ec-public-key.js'
import { createPkcs11SecurityModule } from './security-module/pkcs11.js'
import { createSoftwareSecurityModule } from './security-module/software.js'
import { createOpensslPki, createTempDir, type TestPki } from './testing/openssl.js'

let tmp: { dir: string; remove: () => Promise<void> }
let pki: TestPki
beforeAll(async () => {
  tmp = await createTempDir('smgw-errors-')
  pki = await createOpensslPki(tmp.dir, 'brainpoolP256r1')
})
afterAll(async () => { await tmp.remove() })

const text = new TextEncoder().encode('x')
const alice = (): { signer: ReturnType<typeof createKeyObjectSigner>; agreer: ReturnType<typeof createKeyObjectAgreer> } => {
  const key = decodePrivateKey(pki.alice.keyPem)
  return { signer: createKeyObjectSigner(key), agreer: createKeyObjectAgreer(key) }
}
const softModule = (name: string, passphrase = 'pw') => createSoftwareSecurityModule({ dir: join(tmp.dir, name), passphrase, scryptLogN: 10 })
const k1 = (): ReturnType<typeof generateKeyPairSync> => generateKeyPairSync('ec', { namedCurve: 'secp256k1' })

const triggers: Record<CryptoErrorCode, () => Promise<unknown>> = {
  CMS_MALFORMED: () => verifyCms(new Uint8Array([0x30, 0x80])),
  CMS_UNSUPPORTED_CONTENT_TYPE: async () => verifyCms(await encryptCms(text, { recipients: [pki.alice.certDer] })),
  CMS_UNSUPPORTED_ALGORITHM: async () => {
    const der = Buffer.from(await signCms(text, { signer: alice().signer, certificate: pki.alice.certDer })).toString('hex')
    return verifyCms(new Uint8Array(Buffer.from(der.split('06082a8648ce3d040302').join('06082a8648ce3d040301'), 'hex')))
  },
  CMS_CONTENT_MISSING: async () => verifyCms(await signCms(text, { signer: alice().signer, certificate: pki.alice.certDer, detached: true })),
  CMS_DIGEST_MISMATCH: async () => verifyCms(await signCms(text, { signer: alice().signer, certificate: pki.alice.certDer, detached: true }), { detachedContent: new Uint8Array([1]) }),
  CMS_SIGNATURE_INVALID: async () => {
    const der = await signCms(text, { signer: alice().signer, certificate: pki.alice.certDer })
    der[der.length - 2] = (der[der.length - 2] ?? 0) ^ 4
    return verifyCms(der)
  },
  CMS_SIGNER_NOT_FOUND: async () => {
    // The SignedData without its certificates: the signer cannot be found.
    const info = AsnConvert.parse(await signCms(text, { signer: alice().signer, certificate: pki.alice.certDer }), ContentInfo)
    const sd = AsnConvert.parse(info.content, SignedData)
    delete sd.certificates
    return verifyCms(new Uint8Array(AsnConvert.serialize(new ContentInfo({ contentType: info.contentType, content: AsnConvert.serialize(sd) }))))
  },
  CMS_SIGNER_UNTRUSTED: async () => verifyCms(await signCms(text, { signer: alice().signer, certificate: pki.alice.certDer }), { trust: () => Promise.reject(new Error('no')) }),
  CMS_NO_RECIPIENT: async () => decryptCms(await encryptCms(text, { recipients: [pki.bob.certDer] }), { agreer: alice().agreer, certificate: pki.alice.certDer }),
  CMS_UNWRAP_FAILED: () => settle(() => aesKeyUnwrap(new Uint8Array(16), new Uint8Array(24))),
  CMS_DECRYPT_FAILED: () => settle(() => aesCbcDecrypt(new Uint8Array(16), new Uint8Array(16), new Uint8Array(16))),
  CERT_MALFORMED: () => settle(() => decodeCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]))),
  KEY_MALFORMED: () => settle(() => decodePrivateKey(new TextEncoder().encode('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'))),
  PUBLIC_KEY_INVALID: () => settle(() => decodeEcPublicKey(new Uint8Array([0x30, 0x00]))),
  CURVE_UNSUPPORTED: () => settle(() => decodePrivateKey(new Uint8Array(k1().privateKey.export({ format: 'der', type: 'pkcs8' })))),
  CURVE_MISMATCH: () => alice().agreer.deriveSharedSecret(new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'der', type: 'spki' }))),
  KEY_NOT_FOUND: async () => (await softModule('nf')).publicKey('missing'),
  KEY_EXISTS: async () => {
    const sm = await softModule('exists')
    await sm.generateKey('P-256', 'a')
    return sm.generateKey('P-256', 'a')
  },
  KEY_LABEL_INVALID: async () => (await softModule('label')).generateKey('P-256', 'a/b'),
  WRONG_PASSPHRASE: async () => {
    await (await softModule('pass', 'one')).close()
    return softModule('pass', 'two')
  },
  MODULE_STORE_CORRUPT: async () => {
    const sm = await softModule('corrupt')
    await (await import('node:fs/promises')).writeFile(join(tmp.dir, 'corrupt', 'keys', 'x.json'), '[]')
    return sm.publicKey('x')
  },
  MODULE_CLOSED: async () => {
    const sm = await softModule('closed')
    await sm.close()
    return sm.random(1)
  },
  PKCS11_ERROR: () => createPkcs11SecurityModule({ library: join(tmp.dir, 'no-such-library.so'), tokenLabel: 't', pin: '1' }),
  INVALID_ARGUMENT: () => settle(() => aesKeyWrap(new Uint8Array(16), new Uint8Array(7))),
}

describe('CryptoError codes', () => {
  it.each(Object.entries(triggers))('%s', async (code, trigger) => {
    const err: unknown = await trigger().then(() => undefined, (e: unknown) => e)
    expect(isCryptoError(err)).toBe(true)
    expect((err as CryptoError).code).toBe(code)
    expect((err as CryptoError).name).toBe('CryptoError')
  })

  it('wrapErrors keeps CryptoError and wraps foreign errors with cause', () => {
    const foreign = new RangeError('boom')
    const wrapped = (() => { try { wrapErrors('CMS_MALFORMED', 'parsing', () => { throw foreign }) } catch (e) { return e } })()
    expect(wrapped).toBeInstanceOf(CryptoError)
    expect((wrapped as CryptoError).cause).toBe(foreign)
    const own = new CryptoError('KEY_EXISTS', 'x')
    expect(() => wrapErrors('CMS_MALFORMED', 'parsing', () => { throw own })).toThrow(own)
  })
})
