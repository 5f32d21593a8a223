import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createKeyObjectAgreer, createSoftwareSecurityModule } from '@smgw/crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { openReceiverKeys } from './material.js'

const dir = mkdtempSync(join(tmpdir(), 'smgw-emt-material-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

describe('the receiver\'s keys', () => {
  const moduleKey = (label: string) => ({ softwareModule: { dir: join(dir, 'sm'), passphraseFile: join(dir, 'pass'), scryptLogN: 10 }, label })

  it('both from one software security module: the ENC key agrees the secret of its public key, the TLS key signs for node:tls', async () => {
    const sm = await createSoftwareSecurityModule({ dir: join(dir, 'sm'), passphrase: 'correct horse', scryptLogN: 10 })
    const enc = await sm.generateKey('brainpoolP256r1', 'emt-enc')
    const tls = await sm.generateKey('brainpoolP256r1', 'emt-tls')
    await sm.close()
    writeFileSync(join(dir, 'pass'), 'correct horse\n')
    const keys = await openReceiverKeys({ tls: { certificate: 'unused', chain: [], key: moduleKey('emt-tls') }, enc: { certificate: 'unused', key: moduleKey('emt-enc') } })
    try {
      expect(keys.agreer.publicKey).toEqual(enc.publicKey)
      const peer = createKeyObjectAgreer(generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' }).privateKey)
      expect(await keys.agreer.deriveSharedSecret(peer.publicKey)).toEqual(await peer.deriveSharedSecret(enc.publicKey))
      // The software module unseals the TLS key into the process: a key node:tls signs with, the module's TLS public key.
      if (typeof keys.tls === 'string' || 'kind' in keys.tls) throw new Error('expected a KeyObject')
      const signature = sign('sha256', Buffer.from('hello'), keys.tls)
      expect(verify('sha256', Buffer.from('hello'), createPublicKey({ key: Buffer.from(tls.publicKey), format: 'der', type: 'spki' }), signature)).toBe(true)
      expect(verify('sha256', Buffer.from('hello'), createPublicKey({ key: Buffer.from(enc.publicKey), format: 'der', type: 'spki' }), signature)).toBe(false)
    } finally {
      await keys.close()
    }
  })

  it('a wrong passphrase, a missing key file, or two passphrase files for one module fail with typed errors', async () => {
    writeFileSync(join(dir, 'wrong'), 'wrong')
    const wrong = { softwareModule: { dir: join(dir, 'sm'), passphraseFile: join(dir, 'wrong') }, label: 'emt-enc' }
    await expect(openReceiverKeys({ tls: { certificate: 'unused', chain: [], key: join(dir, 'missing.pem') }, enc: { certificate: 'unused', key: moduleKey('emt-enc') } })).rejects.toMatchObject({ code: 'EMT_CONFIG_INVALID' })
    await expect(openReceiverKeys({ tls: { certificate: 'unused', chain: [], key: moduleKey('emt-tls') }, enc: { certificate: 'unused', key: { file: join(dir, 'missing.pem') } } })).rejects.toMatchObject({ code: 'EMT_CONFIG_INVALID' })
    await expect(openReceiverKeys({ tls: { certificate: 'unused', chain: [], key: wrong }, enc: { certificate: 'unused', key: wrong } })).rejects.toMatchObject({ code: 'EMT_START_FAILED' })
    await expect(openReceiverKeys({ tls: { certificate: 'unused', chain: [], key: moduleKey('emt-tls') }, enc: { certificate: 'unused', key: wrong } })).rejects.toMatchObject({ code: 'EMT_CONFIG_INVALID' })
  })
})
