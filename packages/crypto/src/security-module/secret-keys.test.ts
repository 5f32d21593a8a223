// Secret (AES-128 meter) keys in every security-module backend: the software store and
// PKCS#11 on a real SoftHSM2 token. node:crypto under the same key is the reference.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import fc from 'fast-check'
import pkcs11js from 'pkcs11js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CryptoError, type CryptoErrorCode } from '../errors.js'
import { createTempDir } from '../testing/openssl.js'
import { aesCmac, createAesKeyOps } from './aes-key.js'
import { createPkcs11SecurityModule, findPkcs11Library } from './pkcs11.js'
import { createSoftwareSecurityModule } from './software.js'
import type { SecretKeyOps, SecurityModule } from './types.js'

const exec = promisify(execFile)
const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s/g, ''), 'hex'))
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const KEY = h('000102030405060708090a0b0c0d0e0f')

async function rejectsWith(promise: Promise<unknown>, code: CryptoErrorCode): Promise<void> {
  await expect(promise).rejects.toSatisfy((err: unknown) => err instanceof CryptoError && err.code === code)
}

function reference(key: Uint8Array, mode: 'cbc' | 'ctr', iv: Uint8Array, data: Uint8Array, decrypt = false): string {
  const c = decrypt ? createDecipheriv(`aes-128-${mode}`, key, iv) : createCipheriv(`aes-128-${mode}`, key, iv)
  c.setAutoPadding(false)
  return Buffer.concat([c.update(data), c.final()]).toString('hex')
}

/** Every operation against node:crypto and the RFC 4493 vectors; and that nothing returns the key. */
function expectOpsMatch(ops: SecretKeyOps, key: Uint8Array): void {
  // RFC 4493 §4 examples.
  const rfc = createAesKeyOps(h('2b7e151628aed2a6abf7158809cf4f3c'))
  expect(hex(rfc.cmac(new Uint8Array(0)))).toBe('bb1d6929e95937287fa37d129b756746')
  expect(hex(rfc.cmac(h('6bc1bee22e409f96e93d7e117393172a')))).toBe('070a16b46b4d4144f79bdd9dd04a287c')
  fc.assert(fc.property(
    fc.uint8Array({ minLength: 16, maxLength: 16 }),
    fc.integer({ min: 0, max: 6 }).chain((n) => fc.uint8Array({ minLength: n * 16, maxLength: n * 16 })),
    fc.uint8Array({ maxLength: 70 }),
    (iv, blocks, any) => {
      expect(hex(ops.cbcEncrypt(iv, blocks))).toBe(reference(key, 'cbc', iv, blocks))
      expect(hex(ops.cbcDecrypt(iv, blocks))).toBe(reference(key, 'cbc', iv, blocks, true))
      expect(hex(ops.ctr(iv, any))).toBe(reference(key, 'ctr', iv, any))
      expect(hex(ops.cmac(any))).toBe(hex(aesCmac(key, any)))
      for (const out of [ops.cbcEncrypt(iv, blocks), ops.ctr(iv, any), ops.cmac(any)]) expect(hex(out)).not.toContain(hex(key))
    },
  ), { numRuns: 40 })
  // The counter crosses a 64-bit boundary: all 128 bits count (as node:crypto does).
  const iv = h('00000000000000ffffffffffffffffff')
  const data = new Uint8Array(48)
  expect(hex(ops.ctr(iv, data))).toBe(reference(key, 'ctr', iv, data))
  expect(() => ops.cbcDecrypt(new Uint8Array(16), new Uint8Array(15))).toThrow(CryptoError)
  expect(() => ops.cbcEncrypt(new Uint8Array(8), new Uint8Array(16))).toThrow(CryptoError)
  expect(Object.values(ops).every((v) => typeof v === 'function')).toBe(true)
}

function describeSecretKeys(name: string, open: () => Promise<SecurityModule>): void {
  describe(`${name}: secret keys`, () => {
    it('imports an AES-128 key and operates with it like node:crypto; the key is never returned', async () => {
      const sm = await open()
      await sm.importSecretKey('meter.a', KEY)
      const ops = await sm.secretKey('meter.a')
      expectOpsMatch(ops, KEY)
      expect(JSON.stringify(await sm.listSecretKeys())).not.toContain(hex(KEY))
      await sm.close()
    })

    it('refuses other sizes and existing labels unless replace; lists labels; deletes', async () => {
      const sm = await open()
      await rejectsWith(sm.importSecretKey('meter.b', new Uint8Array(32)), 'INVALID_ARGUMENT')
      await rejectsWith(sm.importSecretKey('meter.b', new Uint8Array(15)), 'INVALID_ARGUMENT')
      await rejectsWith(sm.importSecretKey('../x', KEY), 'KEY_LABEL_INVALID')
      await sm.importSecretKey('meter.b', KEY)
      await rejectsWith(sm.importSecretKey('meter.b', new Uint8Array(16)), 'KEY_EXISTS')
      const other = new Uint8Array(randomBytes(16))
      await sm.importSecretKey('meter.b', other, { replace: true })
      expect(hex((await sm.secretKey('meter.b')).cmac(new Uint8Array(3)))).toBe(hex(aesCmac(other, new Uint8Array(3))))
      const labels = (await sm.listSecretKeys()).map((k) => k.label)
      expect(labels).toContain('meter.b')
      expect(labels.filter((l) => l === 'meter.b')).toHaveLength(1)
      // Secret keys are not EC keys.
      expect((await sm.listKeys()).map((k) => k.label)).not.toContain('meter.b')
      expect(await sm.deleteSecretKey('meter.b')).toBe(true)
      expect(await sm.deleteSecretKey('meter.b')).toBe(false)
      await rejectsWith(sm.deleteSecretKey('../meter'), 'KEY_LABEL_INVALID')
      await rejectsWith(sm.secretKey('meter.b'), 'KEY_NOT_FOUND')
      const held = await sm.secretKey('meter.a')
      await sm.close()
      await rejectsWith(sm.secretKey('meter.a'), 'MODULE_CLOSED')
      // Operations obtained before close refuse after it.
      expect(() => held.cmac(new Uint8Array(16))).toThrow(CryptoError)
    })
  })
}

describe('createAesKeyOps (in memory)', () => {
  it('matches node:crypto and RFC 4493; refuses keys that are not 16 bytes', () => {
    expectOpsMatch(createAesKeyOps(KEY), KEY)
    expect(() => createAesKeyOps(new Uint8Array(24))).toThrow(CryptoError)
  })
  it('takes a copy of the key', () => {
    const key = new Uint8Array(KEY)
    const ops = createAesKeyOps(key)
    key.fill(0)
    expect(hex(ops.cmac(new Uint8Array(1)))).toBe(hex(aesCmac(KEY, new Uint8Array(1))))
  })
})

describe('software security module', () => {
  let tmp: { dir: string; remove: () => Promise<void> }
  beforeAll(async () => { tmp = await createTempDir('smgw-sm-secret-') })
  afterAll(async () => { await tmp.remove() })
  const open = (): Promise<SecurityModule> => createSoftwareSecurityModule({ dir: join(tmp.dir, 'sm'), passphrase: 'pw', scryptLogN: 10 })
  describeSecretKeys('software', open)

  it('keeps the key sealed at rest (0600, not in the file) and refuses a damaged or moved file', async () => {
    const sm = await open()
    await sm.importSecretKey('meter.c', KEY)
    await sm.close()
    const path = join(tmp.dir, 'sm', 'secrets', 'meter.c.json')
    const text = await readFile(path, 'utf8')
    expect(text).not.toContain(hex(KEY))
    expect(text).not.toContain(Buffer.from(KEY).toString('base64'))
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    // The same sealed value under another label does not open (label bound as additional data).
    await writeFile(join(tmp.dir, 'sm', 'secrets', 'meter.d.json'), text.replace('"meter.c"', '"meter.d"'))
    const again = await open()
    await rejectsWith(again.secretKey('meter.d'), 'MODULE_STORE_CORRUPT')
    await writeFile(join(tmp.dir, 'sm', 'secrets', 'meter.e.json'), '{"format":"x"}')
    await rejectsWith(again.secretKey('meter.e'), 'MODULE_STORE_CORRUPT')
    expect(hex((await again.secretKey('meter.c')).cmac(new Uint8Array(0)))).toBe(hex(aesCmac(KEY, new Uint8Array(0))))
    await again.close()
    await rejectsWith(createSoftwareSecurityModule({ dir: join(tmp.dir, 'sm'), passphrase: 'wrong', scryptLogN: 10 }), 'WRONG_PASSPHRASE')
  })
})

const softhsmLibrary = findPkcs11Library(existsSync)

describe.skipIf(softhsmLibrary === undefined)('PKCS#11 security module on SoftHSM2', () => {
  const library = softhsmLibrary ?? ''
  let tmp: { dir: string; remove: () => Promise<void> }
  beforeAll(async () => {
    tmp = await createTempDir('smgw-softhsm-secret-')
    const conf = join(tmp.dir, 'softhsm2.conf')
    await mkdir(join(tmp.dir, 'tokens'))
    await writeFile(conf, `directories.tokendir = ${join(tmp.dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`)
    // SoftHSM2 reads SOFTHSM2_CONF at C_Initialize; this test file runs in its own process (vitest pool: forks).
    process.env.SOFTHSM2_CONF = conf
    await exec('softhsm2-util', ['--init-token', '--free', '--label', 's', '--pin', '1234', '--so-pin', '5678'], { env: { ...process.env, SOFTHSM2_CONF: conf } })
  })
  afterAll(async () => { await tmp.remove() })
  const open = (): Promise<SecurityModule> => createPkcs11SecurityModule({ library, tokenLabel: 's', pin: '1234' })
  describeSecretKeys('pkcs11', open)

  it('keeps secret keys on the token: CKK_AES, sensitive, not extractable, CKA_VALUE unreadable', async () => {
    const sm = await open()
    await sm.importSecretKey('meter.probe', KEY)
    const p = new pkcs11js.PKCS11()
    p.load(library)
    try { p.C_Initialize() } catch { /* already initialised by the module */ }
    const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === 's')
    if (slot === undefined) throw new Error('token s not found')
    const s = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION)
    p.C_FindObjectsInit(s, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY }, { type: pkcs11js.CKA_LABEL, value: 'meter.probe' }])
    const [handle] = p.C_FindObjects(s, 2)
    p.C_FindObjectsFinal(s)
    if (handle === undefined) throw new Error('secret key not found')
    const [type, sensitive, extractable] = p.C_GetAttributeValue(s, handle, [{ type: pkcs11js.CKA_KEY_TYPE }, { type: pkcs11js.CKA_SENSITIVE }, { type: pkcs11js.CKA_EXTRACTABLE }])
    expect(type?.value.readUInt32LE(0)).toBe(pkcs11js.CKK_AES)
    expect(sensitive?.value[0]).toBe(1)
    expect(extractable?.value[0]).toBe(0)
    expect(() => p.C_GetAttributeValue(s, handle, [{ type: pkcs11js.CKA_VALUE }])).toThrow(/CKR_ATTRIBUTE_SENSITIVE/)
    p.C_CloseSession(s)
    await sm.close()
  })
})
