import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { createSoftwareSecurityModule, type SecurityModule } from '@smgw/crypto'
import { issueCertificate } from '@smgw/pki'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeFile } from 'node:fs/promises'
import { encodePem } from '@smgw/crypto'
import { parseGatewayConfig } from './config.js'
import { verifyStoreLogs } from './log/verify.js'
import { createGateway } from './service.js'
import { openStore } from './store/store.js'
import { createTempDir, createTestSig, type TestSig } from './testing.js'

// TR-03109-2: the gateway's SIG key lives in its security module and signs the log heads
// there; the gateway only names its label (config logs.sigKeyLabel).

let tmp: { dir: string; remove: () => Promise<void> }
let sig: TestSig
let sm: SecurityModule
let certificate: Uint8Array

beforeAll(async () => {
  tmp = await createTempDir('smgw-sig-module-')
  sig = await createTestSig()
  sm = await createSoftwareSecurityModule({ dir: join(tmp.dir, 'sm'), passphrase: 'correct horse battery staple', scryptLogN: 10 })
  const key = await sm.generateKey('brainpoolP256r1', 'gw-sig')
  const subCa = sig.pki.cas.find((c) => c.label === 'sub-ca-gw')!
  const serialNumber = randomBytes(16)
  serialNumber[0] = (serialNumber[0]! & 0x7f) | 0x01
  certificate = await issueCertificate({
    profile: 'sig', subject: { C: 'DE', O: 'SMGW Demo', OU: 'SMGW', CN: 'smgw-0001' }, publicKey: key.publicKey, serialNumber,
    notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000), issuer: { signer: subCa.signer, certificate: subCa.certificate },
  })
  await writeFile(join(tmp.dir, 'sig.cert.pem'), encodePem('CERTIFICATE', certificate))
})
afterAll(async () => {
  await sm.close()
  await tmp.remove()
})

const config = (store: string) => parseGatewayConfig({
  gatewayId: 'smgw-0001', store: { path: join(tmp.dir, store) },
  logs: { sigKeyLabel: 'gw-sig', sigCertificate: join(tmp.dir, 'sig.cert.pem') },
  meterKeys: { securityModule: { software: { dir: join(tmp.dir, 'sm'), passphraseEnv: 'UNUSED_HERE' } } },
  meters: [],
})

describe('the SIG key in the security module', () => {
  it('signs the log day heads through the module; the chains verify against the issued certificate', async () => {
    let now = Date.parse('2026-11-29T10:00:00Z')
    const gw = createGateway(config('a.db'), { sigModule: sm, now: () => new Date(now) })
    await gw.start()
    await gw.close('admin')
    now += 86_400_000 // the next legal day: the first entry seals yesterday's head
    const again = createGateway(config('a.db'), { sigModule: sm, now: () => new Date(now) })
    await again.start()
    await again.close('admin')
    const store = openStore(join(tmp.dir, 'a.db'), { now: () => new Date(now) }, { readonly: true })
    try {
      const heads = store.logRows.heads('system', '')
      expect(heads.length).toBeGreaterThanOrEqual(1)
      expect(verifyStoreLogs(store, { certificate }).ok).toBe(true)
      // A certificate of another key does not verify these heads.
      expect(verifyStoreLogs(store, { certificate: sig.certificate }).ok).toBe(false)
    } finally {
      store.close()
    }
  })

  it('refuses to start without the module, or with a label the module does not hold', async () => {
    await expect(createGateway(config('b.db')).start()).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/started without its security module/) as unknown })
    const other = parseGatewayConfig({ ...config('c.db'), logs: { sigKeyLabel: 'nope', sigCertificate: join(tmp.dir, 'sig.cert.pem') } })
    await expect(createGateway(other, { sigModule: sm }).start()).rejects.toMatchObject({ code: 'CONFIG_INVALID' })
  })
})
