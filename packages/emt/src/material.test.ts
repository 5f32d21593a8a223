import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createKeyObjectAgreer, createSoftwareSecurityModule } from '@smgw/crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { openEncKey } from './material.js'

const dir = mkdtempSync(join(tmpdir(), 'smgw-emt-material-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

describe('the ENC key', () => {
  it('from the software security module: agrees the same secret as the key itself', async () => {
    const sm = await createSoftwareSecurityModule({ dir: join(dir, 'sm'), passphrase: 'correct horse', scryptLogN: 10 })
    const info = await sm.generateKey('brainpoolP256r1', 'emt-enc')
    await sm.close()
    writeFileSync(join(dir, 'pass'), 'correct horse\n')
    const enc = await openEncKey({ softwareModule: { dir: join(dir, 'sm'), passphraseFile: join(dir, 'pass'), scryptLogN: 10 }, label: 'emt-enc' })
    try {
      expect(enc.agreer.publicKey).toEqual(info.publicKey)
      const peer = createKeyObjectAgreer(generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' }).privateKey)
      expect(await enc.agreer.deriveSharedSecret(peer.publicKey)).toEqual(await peer.deriveSharedSecret(info.publicKey))
    } finally {
      await enc.close()
    }
  })

  it('a wrong passphrase or a missing key file fails with a typed error', async () => {
    writeFileSync(join(dir, 'wrong'), 'wrong')
    await expect(openEncKey({ softwareModule: { dir: join(dir, 'sm'), passphraseFile: join(dir, 'wrong') }, label: 'emt-enc' })).rejects.toMatchObject({ code: 'EMT_START_FAILED' })
    await expect(openEncKey({ file: join(dir, 'missing.pem') })).rejects.toMatchObject({ code: 'EMT_CONFIG_INVALID' })
  })
})
