// Interoperability with the openssl 3 command line, both directions, for every curve
// the gateway uses for CMS. Certificates are made by openssl itself (testing/openssl.ts).
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CurveName } from '../curves.js'
import { createKeyObjectAgreer, createKeyObjectSigner } from '../keys/key-object.js'
import { decodePrivateKey } from '../keys/private-key.js'
import { createOpensslPki, createTempDir, openssl, type TestPki } from '../testing/openssl.js'
import { decryptCms } from './decrypt.js'
import { encryptCms } from './encrypt.js'
import { verifyCms } from './verify.js'
import { signCms } from './sign.js'
import { inspectCms } from './inspect.js'

const CURVES_UNDER_TEST: readonly CurveName[] = ['brainpoolP256r1', 'brainpoolP384r1', 'brainpoolP512r1', 'P-256']
const message = new TextEncoder().encode('1-0:1.8.0*255 12345.678 kWh\n')

let tmp: { dir: string; remove: () => Promise<void> }
const pkis = new Map<CurveName, TestPki>()

beforeAll(async () => {
  tmp = await createTempDir('smgw-cms-interop-')
  await Promise.all(CURVES_UNDER_TEST.map(async (c) => { pkis.set(c, await createOpensslPki(tmp.dir, c)) }))
})
afterAll(async () => { await tmp.remove() })

function pki(curve: CurveName): TestPki {
  const p = pkis.get(curve)
  if (!p) throw new Error(`no PKI for ${curve}`)
  return p
}

// Concurrent: each test writes its own files; the openssl processes overlap.
describe.concurrent.each(CURVES_UNDER_TEST)('openssl cms interop on %s', (curve) => {
  it('openssl cms -verify accepts what we sign (attached and detached)', async () => {
    const { alice, root, dir } = pki(curve)
    const signer = createKeyObjectSigner(decodePrivateKey(alice.keyPem))
    const attached = join(dir, `${curve}-ours-signed.der`)
    await writeFile(attached, await signCms(message, { signer, certificate: alice.certDer, signingTime: new Date('2026-01-02T03:04:05Z') }))
    const out = await openssl(['cms', '-verify', '-binary', '-inform', 'DER', '-in', attached, '-CAfile', root.certPath, '-purpose', 'any'])
    expect(out).toEqual(Buffer.from(message))

    const detached = join(dir, `${curve}-ours-detached.der`)
    const content = join(dir, `${curve}-content.bin`)
    await writeFile(content, message)
    await writeFile(detached, await signCms(message, { signer, certificate: alice.certDer, detached: true }))
    await openssl(['cms', '-verify', '-binary', '-inform', 'DER', '-in', detached, '-content', content, '-CAfile', root.certPath, '-purpose', 'any', '-out', join(dir, `${curve}-d.out`)])
    expect(await readFile(join(dir, `${curve}-d.out`))).toEqual(Buffer.from(message))
  })

  it('we verify what openssl cms -sign produces', async () => {
    const { alice, dir } = pki(curve)
    const content = join(dir, `${curve}-in.bin`)
    await writeFile(content, message)
    const signed = await openssl(['cms', '-sign', '-md', 'sha256', '-binary', '-nodetach', '-in', content, '-signer', alice.certPath, '-inkey', alice.keyPath, '-outform', 'DER'])
    const result = await verifyCms(new Uint8Array(signed))
    expect(result.content).toEqual(message)
    expect(result.signerCertificate).toEqual(alice.certDer)
    expect(result.signingTime).toBeInstanceOf(Date)
  })

  it.each(['aes128-cbc', 'aes256-cbc', 'aes128-gcm', 'aes256-gcm'] as const)('openssl cms -decrypt opens what we encrypt with %s', async (alg) => {
    const { alice, bob, dir } = pki(curve)
    const file = join(dir, `${curve}-${alg}-ours.der`)
    await writeFile(file, await encryptCms(message, { recipients: [alice.certDer, bob.certDer], contentEncryption: alg }))
    // Both recipients once (CBC-128); the other algorithms with the first recipient only, to keep the file fast.
    for (const who of alg === 'aes128-cbc' ? [alice, bob] : [alice]) {
      const out = await openssl(['cms', '-decrypt', '-binary', '-inform', 'DER', '-in', file, '-recip', who.certPath, '-inkey', who.keyPath])
      expect(out).toEqual(Buffer.from(message))
    }
  })

  it.each([['-aes128', 'aes128-cbc'], ['-aes256', 'aes256-cbc'], ['-aes-128-gcm', 'aes128-gcm'], ['-aes-256-gcm', 'aes256-gcm']] as const)('we decrypt what openssl cms -encrypt %s produces', async (flag, name) => {
    const { alice, bob, dir } = pki(curve)
    const content = join(dir, `${curve}${flag}-plain.bin`)
    await writeFile(content, message)
    const enc = new Uint8Array(await openssl(['cms', '-encrypt', '-binary', flag, '-in', content, '-recip', alice.certPath, '-keyopt', 'ecdh_kdf_md:sha256', '-recip', bob.certPath, '-keyopt', 'ecdh_kdf_md:sha256', '-outform', 'DER']))
    expect(inspectCms(enc).contentEncryptionAlgorithm).toBe(name)
    for (const who of [alice, bob]) {
      const agreer = createKeyObjectAgreer(decodePrivateKey(who.keyPem))
      expect(await decryptCms(enc, { agreer, certificate: who.certDer })).toEqual(message)
    }
  })
})
