// One behaviour suite run against every security-module backend (software store,
// PKCS#11 on SoftHSM2) and, where it applies, against the key-object Signer/KeyAgreer.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createECDH, createPublicKey, diffieHellman, generateKeyPairSync } from 'node:crypto'
import pkcs11js from 'pkcs11js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CURVES, type CurveName } from '../curves.js'
import { CryptoError, type CryptoErrorCode } from '../errors.js'
import { createKeyObjectAgreer, createKeyObjectSigner } from '../keys/key-object.js'
import { verifyEcdsa } from '../primitives/ecdsa.js'
import { encodeEcSpki } from '../primitives/ec-public-key.js'
import { createTempDir } from '../testing/openssl.js'
import { agreerFromModule, signerFromModule } from './adapters.js'
import { createPkcs11SecurityModule, findPkcs11Library } from './pkcs11.js'
import { createSoftwareSecurityModule } from './software.js'
import type { KeyAgreer, SecurityModule, Signer } from './types.js'

const exec = promisify(execFile)
const CURVES_UNDER_TEST: readonly CurveName[] = ['brainpoolP256r1', 'brainpoolP384r1', 'brainpoolP512r1', 'P-256']
const data = new TextEncoder().encode('TAF-7 load profile, 96 values')

async function rejectsWith(promise: Promise<unknown>, code: CryptoErrorCode): Promise<void> {
  await expect(promise).rejects.toSatisfy((err: unknown) => err instanceof CryptoError && err.code === code)
}

function peerKeys(curve: CurveName): { spki: Uint8Array; secretWith: (publicKey: Uint8Array) => Uint8Array } {
  const peer = generateKeyPairSync('ec', { namedCurve: CURVES[curve].nodeName })
  return {
    spki: new Uint8Array(peer.publicKey.export({ format: 'der', type: 'spki' })),
    secretWith: (pub) => new Uint8Array(diffieHellman({ privateKey: peer.privateKey, publicKey: createPublicKey({ key: Buffer.from(pub), format: 'der', type: 'spki' }) })),
  }
}

/** A point that is not on the curve: a valid point with its last byte changed, in an SPKI. */
function offCurveSpki(curve: CurveName): Uint8Array {
  const ecdh = createECDH(CURVES[curve].nodeName)
  ecdh.generateKeys()
  const point = new Uint8Array(ecdh.getPublicKey())
  point[point.length - 1] = (point[point.length - 1] ?? 0) ^ 1
  return encodeEcSpki(curve, point)
}

/** Signer and KeyAgreer behaviour shared by key objects and security-module keys. */
function describeKeyBehaviour(name: string, make: (curve: CurveName) => Promise<{ signer: Signer; agreer: KeyAgreer }>): void {
  describe.each(CURVES_UNDER_TEST)(`${name} on %s`, (curve) => {
    it('signs: DER ECDSA that verifyEcdsa accepts with the curve hash, and not for other data', async () => {
      const { signer } = await make(curve)
      expect(signer.curve).toBe(curve)
      const sig = await signer.sign(data, CURVES[curve].hash)
      expect(sig[0]).toBe(0x30)
      expect(verifyEcdsa(signer.publicKey, data, sig, CURVES[curve].hash)).toBe(true)
      expect(verifyEcdsa(signer.publicKey, new Uint8Array([...data, 0]), sig, CURVES[curve].hash)).toBe(false)
    })

    it('agrees the same secret as the peer computes', async () => {
      const { agreer } = await make(curve)
      const peer = peerKeys(curve)
      const secret = await agreer.deriveSharedSecret(peer.spki)
      expect(secret).toHaveLength(CURVES[curve].size)
      expect(secret).toEqual(peer.secretWith(agreer.publicKey))
    })

    it('refuses a peer key off the curve or on another curve', async () => {
      const { agreer } = await make(curve)
      await rejectsWith(agreer.deriveSharedSecret(offCurveSpki(curve)), 'PUBLIC_KEY_INVALID')
      const other: CurveName = curve === 'P-256' ? 'brainpoolP256r1' : 'P-256'
      await rejectsWith(agreer.deriveSharedSecret(peerKeys(other).spki), 'CURVE_MISMATCH')
    })
  })
}

/** SecurityModule behaviour every backend must show. */
function describeModuleBehaviour(name: string, open: () => Promise<SecurityModule>): void {
  describe(name, () => {
    let sm: SecurityModule
    beforeAll(async () => { sm = await open() })
    afterAll(async () => { await sm.close() })

    let n = 0
    const fresh = async (curve: CurveName): Promise<string> => {
      const label = `${name.replace(/[^A-Za-z0-9]/g, '')}-${curve}-${String(n++)}`
      const info = await sm.generateKey(curve, label)
      expect(info).toMatchObject({ label, curve })
      return label
    }

    describeKeyBehaviour(`${name} keys`, async (curve) => {
      const label = await fresh(curve)
      return { signer: await signerFromModule(sm, label), agreer: await agreerFromModule(sm, label) }
    })

    it('publicKey and listKeys report generated keys', async () => {
      const label = await fresh('brainpoolP256r1')
      const info = await sm.publicKey(label)
      expect(info.curve).toBe('brainpoolP256r1')
      expect(createPublicKey({ key: Buffer.from(info.publicKey), format: 'der', type: 'spki' }).asymmetricKeyDetails?.namedCurve).toBe('brainpoolP256r1')
      const listed = await sm.listKeys()
      expect(listed.find((k) => k.label === label)?.publicKey).toEqual(info.publicKey)
    })

    it('KEY_EXISTS for a label in use, KEY_NOT_FOUND for an unknown one, KEY_LABEL_INVALID for a bad one', async () => {
      const label = await fresh('P-256')
      await rejectsWith(sm.generateKey('P-256', label), 'KEY_EXISTS')
      await rejectsWith(sm.sign('no-such-key', data, 'SHA-256'), 'KEY_NOT_FOUND')
      await rejectsWith(sm.publicKey('no-such-key'), 'KEY_NOT_FOUND')
      await rejectsWith(sm.deriveSharedSecret('no-such-key', peerKeys('P-256').spki), 'KEY_NOT_FOUND')
      await rejectsWith(sm.generateKey('P-256', '../escape'), 'KEY_LABEL_INVALID')
    })

    it('deleteKey destroys both halves of one key pair and leaves the others', async () => {
      const gone = await fresh('brainpoolP256r1')
      const kept = await fresh('brainpoolP256r1')
      const signer = await signerFromModule(sm, gone)
      expect(await sm.deleteKey(gone)).toBe(true)
      await rejectsWith(sm.publicKey(gone), 'KEY_NOT_FOUND')
      await rejectsWith(signer.sign(data, 'SHA-256'), 'KEY_NOT_FOUND')
      await rejectsWith(sm.deriveSharedSecret(gone, peerKeys('brainpoolP256r1').spki), 'KEY_NOT_FOUND')
      const labels = (await sm.listKeys()).map((k) => k.label)
      expect(labels).not.toContain(gone)
      expect(labels).toContain(kept)
      expect((await signerFromModule(sm, kept)).publicKey).toEqual((await sm.publicKey(kept)).publicKey)
      expect(await sm.deleteKey(gone)).toBe(false)
      await rejectsWith(sm.deleteKey('../escape'), 'KEY_LABEL_INVALID')
      // The label is free again: a new key can take it.
      expect((await sm.generateKey('P-256', gone)).curve).toBe('P-256')
    })

    it('tlsPrivateKey: the key for node:tls — in this process (software) or behind OpenSSL\'s pkcs11 engine (token); KEY_NOT_FOUND for none', async () => {
      const label = await fresh('brainpoolP256r1')
      const key = await sm.tlsPrivateKey(label)
      const spki = (await sm.publicKey(label)).publicKey
      if (key.kind === 'key-object') expect(new Uint8Array(createPublicKey(key.key).export({ format: 'der', type: 'spki' }))).toEqual(spki)
      else expect(key.identifier).toMatch(new RegExp(`^pkcs11:token=[^;]+;object=${label};type=private\\?pin-value=`))
      await rejectsWith(sm.tlsPrivateKey('no-such-key'), 'KEY_NOT_FOUND')
    })

    it('CURVE_UNSUPPORTED for a curve outside TR-03109-3', async () => {
      await rejectsWith(sm.generateKey('secp256k1' as CurveName, 'k1'), 'CURVE_UNSUPPORTED')
    })

    it('random gives the requested number of bytes, and INVALID_ARGUMENT for a bad length', async () => {
      const a = await sm.random(32)
      const b = await sm.random(32)
      expect(a).toHaveLength(32)
      expect(a).not.toEqual(b)
      expect(await sm.random(0)).toHaveLength(0)
      await rejectsWith(sm.random(-1), 'INVALID_ARGUMENT')
    })
  })
}

describeKeyBehaviour('key objects', (curve) => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: CURVES[curve].nodeName })
  return Promise.resolve({ signer: createKeyObjectSigner(privateKey), agreer: createKeyObjectAgreer(privateKey) })
})

describe('software security module', () => {
  let tmp: { dir: string; remove: () => Promise<void> }
  beforeAll(async () => { tmp = await createTempDir('smgw-softsm-') })
  afterAll(async () => { await tmp.remove() })

  describeModuleBehaviour('software', () => createSoftwareSecurityModule({ dir: join(tmp.dir, 'shared'), passphrase: 'correct horse', scryptLogN: 10 }))

  it('keeps keys across reopening; WRONG_PASSPHRASE for another passphrase; MODULE_CLOSED after close', async () => {
    const dir = join(tmp.dir, 'reopen')
    const first = await createSoftwareSecurityModule({ dir, passphrase: 'pw-1', scryptLogN: 10 })
    const info = await first.generateKey('brainpoolP256r1', 'gw-sig')
    await first.close()
    await rejectsWith(first.sign('gw-sig', data, 'SHA-256'), 'MODULE_CLOSED')
    await rejectsWith(createSoftwareSecurityModule({ dir, passphrase: 'pw-2' }), 'WRONG_PASSPHRASE')
    const again = await createSoftwareSecurityModule({ dir, passphrase: 'pw-1' })
    expect((await again.listKeys()).map((k) => k.label)).toEqual(['gw-sig'])
    const sig = await again.sign('gw-sig', data, 'SHA-256')
    expect(verifyEcdsa(info.publicKey, data, sig, 'SHA-256')).toBe(true)
    // The private key is not stored in clear: the PKCS#8 bytes do not appear in the file.
    const file = await readFile(join(dir, 'keys', 'gw-sig.json'), 'utf8')
    expect(file).not.toMatch(/PRIVATE KEY/)
    expect(JSON.parse(file)).toMatchObject({ label: 'gw-sig', curve: 'brainpoolP256r1' })
    await again.close()
  })

  it('MODULE_STORE_CORRUPT for a damaged key file or module file', async () => {
    const dir = join(tmp.dir, 'corrupt')
    const sm = await createSoftwareSecurityModule({ dir, passphrase: 'pw', scryptLogN: 10 })
    await sm.generateKey('P-256', 'k')
    const path = join(dir, 'keys', 'k.json')
    const file = JSON.parse(await readFile(path, 'utf8')) as { sealed: string }
    const sealed = Buffer.from(file.sealed, 'base64')
    sealed[20] = (sealed[20] ?? 0) ^ 0xff
    await writeFile(path, JSON.stringify({ ...file, sealed: sealed.toString('base64') }))
    await rejectsWith(sm.sign('k', data, 'SHA-256'), 'MODULE_STORE_CORRUPT')
    await writeFile(path, '{not json')
    await rejectsWith(sm.publicKey('k'), 'MODULE_STORE_CORRUPT')
    await sm.close()
    await writeFile(join(dir, 'module.json'), JSON.stringify({ format: 'other' }))
    await rejectsWith(createSoftwareSecurityModule({ dir, passphrase: 'pw' }), 'MODULE_STORE_CORRUPT')
  })
})

const softhsmLibrary = findPkcs11Library(existsSync)

describe.skipIf(softhsmLibrary === undefined)('PKCS#11 security module on SoftHSM2', () => {
  const library = softhsmLibrary ?? ''
  let tmp: { dir: string; remove: () => Promise<void> }
  beforeAll(async () => {
    tmp = await createTempDir('smgw-softhsm-')
    const conf = join(tmp.dir, 'softhsm2.conf')
    await writeFile(conf, `directories.tokendir = ${join(tmp.dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`)
    await exec('mkdir', ['-p', join(tmp.dir, 'tokens')])
    // SoftHSM2 reads SOFTHSM2_CONF at C_Initialize; this test file runs in its own process (vitest pool: forks).
    process.env.SOFTHSM2_CONF = conf
    await exec('softhsm2-util', ['--init-token', '--free', '--label', 't', '--pin', '1234', '--so-pin', '5678'], { env: { ...process.env, SOFTHSM2_CONF: conf } })
  })
  afterAll(async () => { await tmp.remove() })

  describeModuleBehaviour('pkcs11', () => createPkcs11SecurityModule({ library, tokenLabel: 't', pin: '1234' }))

  it('opens the token under plain node as the smgw command runs it (node ESM + tsx, not vitest\'s module interop)', async () => {
    // Regression: a namespace import of the CommonJS pkcs11js left every CK* constant undefined
    // under node's ESM loader (C_OpenSession with flags 0: CKR_SESSION_PARALLEL_NOT_SUPPORTED),
    // which vitest's interop hid from every other test here.
    const script = `
      const { createPkcs11SecurityModule } = await import('@smgw/crypto')
      const sm = await createPkcs11SecurityModule({ library: ${JSON.stringify(library)}, tokenLabel: 't', pin: '1234' })
      const key = await sm.generateKey('brainpoolP256r1', 'plain-node-key')
      const signature = await sm.sign('plain-node-key', new Uint8Array([1, 2, 3]), 'SHA-256')
      console.log(JSON.stringify({ label: key.label, deleted: await sm.deleteKey('plain-node-key'), signatureBytes: signature.length > 60 }))
      await sm.close()`
    const { stdout } = await exec(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: process.env })
    expect(JSON.parse(stdout)).toEqual({ label: 'plain-node-key', deleted: true, signatureBytes: true })
  })

  it('derives with a peer point that also reads as a DER OCTET STRING (SoftHSM2 unwrapped it and failed: x starting 0x7f on brainpoolP512r1, one peer in 256)', async () => {
    const sm = await createPkcs11SecurityModule({ library, tokenLabel: 't', pin: '1234' })
    try {
      const info = await sm.generateKey('brainpoolP512r1', 'octet-string-peer')
      // The uncompressed point is the SPKI's last 129 bytes: 04 ‖ x ‖ y; "04 7f" + 127 bytes is also an OCTET STRING.
      let peer = peerKeys('brainpoolP512r1')
      while (peer.spki[peer.spki.length - 128] !== 0x7f) peer = peerKeys('brainpoolP512r1')
      expect(await sm.deriveSharedSecret('octet-string-peer', peer.spki)).toEqual(peer.secretWith(info.publicKey))
    } finally {
      await sm.close()
    }
  }, 60_000)

  it('keeps private keys on the token: sensitive, not extractable, CKA_VALUE unreadable', async () => {
    const sm = await createPkcs11SecurityModule({ library, tokenLabel: 't', pin: '1234' })
    await sm.generateKey('brainpoolP256r1', 'probe-key')
    // A second handle on the already initialised library looks at the object directly.
    const p = new pkcs11js.PKCS11()
    p.load(library)
    try { p.C_Initialize() } catch { /* already initialised by the module */ }
    const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === 't')
    if (slot === undefined) throw new Error('token t not found')
    const s = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION)
    p.C_FindObjectsInit(s, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }, { type: pkcs11js.CKA_LABEL, value: 'probe-key' }])
    const [handle] = p.C_FindObjects(s, 2)
    p.C_FindObjectsFinal(s)
    if (handle === undefined) throw new Error('private key not found')
    const [sensitive, extractable] = p.C_GetAttributeValue(s, handle, [{ type: pkcs11js.CKA_SENSITIVE }, { type: pkcs11js.CKA_EXTRACTABLE }])
    expect(sensitive?.value[0]).toBe(1)
    expect(extractable?.value[0]).toBe(0)
    expect(() => p.C_GetAttributeValue(s, handle, [{ type: pkcs11js.CKA_VALUE }])).toThrow(/CKR_ATTRIBUTE_SENSITIVE/)
    p.C_CloseSession(s)
    // The same token selected by slot ID instead of label sees the same key.
    const bySlot = await createPkcs11SecurityModule({ library, slot: Number(slot.readBigUInt64LE(0)), pin: '1234' })
    expect((await bySlot.publicKey('probe-key')).curve).toBe('brainpoolP256r1')
    await bySlot.close()
    await sm.close()
    await rejectsWith(sm.sign('probe-key', data, 'SHA-256'), 'MODULE_CLOSED')
  })

  it('WRONG_PASSPHRASE for a wrong PIN; PKCS11_ERROR for an unknown token or library; INVALID_ARGUMENT without a token selector', async () => {
    await rejectsWith(createPkcs11SecurityModule({ library, tokenLabel: 't', pin: '0000' }), 'WRONG_PASSPHRASE')
    await rejectsWith(createPkcs11SecurityModule({ library, tokenLabel: 'nope', pin: '1234' }), 'PKCS11_ERROR')
    await rejectsWith(createPkcs11SecurityModule({ library: join(tmp.dir, 'missing.so'), tokenLabel: 't', pin: '1234' }), 'PKCS11_ERROR')
    await rejectsWith(createPkcs11SecurityModule({ library, pin: '1234' }), 'INVALID_ARGUMENT')
  })
})
