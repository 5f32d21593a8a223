import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  createCmsDecryptor, createCmsVerifier, createKeyObjectAgreer, createSoftwareSecurityModule, encodePem, inspectCms,
  signerFromModule, type Signer,
} from '@smgw/crypto'
import { issueCertificate, validatePath } from '@smgw/pki'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GatewayError } from '../errors.js'
import { createTempDir } from '../testing.js'
import { createMessageSealer } from './seal.js'
import { createWanTestPki, newSerial, openssl, type WanTestPki } from './testing.js'

const NOW = new Date('2026-11-24T00:05:00.000Z')
const GW = 'gateways/smgw-0001'
const message = new TextEncoder().encode('{"format":"smgw-meter-data","version":1,"messageId":"smgw-0001:taf7-M1:emt-1:1795474800"}')
let t: WanTestPki
let tmp: { dir: string; remove: () => Promise<void> }

beforeAll(async () => {
  t = await createWanTestPki({ gateways: 1, emts: 2 }, new Date('2026-01-01T00:00:00Z'))
  tmp = await createTempDir('smgw-wan-seal-')
}, 30_000)
afterAll(async () => { await tmp.remove() })

const recipients = () => [
  { id: 'emt-1', encCertificate: t.cert('emt-1/enc') },
  { id: 'emt-2', encCertificate: t.cert('emt-2/enc') },
]
const sealerWith = (signer: Signer | ReturnType<WanTestPki['key']>, extra: { contentEncryption?: 'aes128-gcm' } = {}) => createMessageSealer(
  { signer, sigCertificate: t.cert(`${GW}/sig`), chain: [t.cert('sub-ca-gw')], recipients: recipients(), ...extra },
  { now: () => NOW },
)

/** Opens a sealed message the way a receiver does: decrypt with the ENC key, verify the signature and the signer's path. */
async function open(sealed: Uint8Array, emt: string) {
  const plain = await createCmsDecryptor({ agreer: createKeyObjectAgreer(t.key(`${emt}/enc`)), certificate: t.cert(`${emt}/enc`) }).decrypt(sealed)
  const verifier = createCmsVerifier({
    trust: (signerCert, carried) => {
      const r = validatePath({ leaf: signerCert, intermediates: carried, roots: [t.cert('root')], at: NOW, purpose: 'sig' })
      return r.ok ? Promise.resolve() : Promise.reject(new Error(r.reason))
    },
  })
  return verifier.verify(plain)
}

describe('createMessageSealer', () => {
  it('seals for each configured recipient: only that recipient decrypts, the signature verifies to the SM-PKI root', async () => {
    const sealer = sealerWith(t.key(`${GW}/sig`))
    expect(sealer.recipients).toEqual(['emt-1', 'emt-2'])
    const sealed = await sealer.seal(message, 'emt-1')
    const summary = inspectCms(sealed)
    expect(summary.contentType).toBe('envelopedData')
    expect(summary.recipients).toHaveLength(1)
    const opened = await open(sealed, 'emt-1')
    expect(opened.content).toEqual(message)
    expect(opened.signerCertificate).toEqual(t.cert(`${GW}/sig`))
    expect(opened.signingTime).toEqual(NOW)
    await expect(open(sealed, 'emt-2')).rejects.toMatchObject({ code: 'CMS_NO_RECIPIENT' })
    // Fresh content key and ephemeral key per message.
    expect(await sealer.seal(message, 'emt-1')).not.toEqual(sealed)
  })

  it('openssl cms decrypts and verifies what it seals (CBC and GCM)', async () => {
    const root = join(tmp.dir, 'root.pem')
    const encCert = join(tmp.dir, 'emt-1.enc.cert.pem')
    const encKey = join(tmp.dir, 'emt-1.enc.key.pem')
    await writeFile(root, encodePem('CERTIFICATE', t.cert('root')))
    await writeFile(encCert, encodePem('CERTIFICATE', t.cert('emt-1/enc')))
    await writeFile(encKey, t.key('emt-1/enc').export({ format: 'pem', type: 'pkcs8' }))
    for (const contentEncryption of [undefined, 'aes128-gcm'] as const) {
      const sealer = sealerWith(t.key(`${GW}/sig`), contentEncryption === undefined ? {} : { contentEncryption })
      const file = join(tmp.dir, `sealed-${contentEncryption ?? 'cbc'}.der`)
      const signedFile = join(tmp.dir, `signed-${contentEncryption ?? 'cbc'}.der`)
      await writeFile(file, await sealer.seal(message, 'emt-1'))
      await writeFile(signedFile, await openssl(['cms', '-decrypt', '-binary', '-inform', 'DER', '-in', file, '-recip', encCert, '-inkey', encKey]))
      const content = await openssl(['cms', '-verify', '-binary', '-inform', 'DER', '-in', signedFile, '-CAfile', root, '-purpose', 'any'])
      expect(new Uint8Array(content)).toEqual(message)
    }
  })

  it('signs with a key inside a security module (signerFromModule)', async () => {
    const sm = await createSoftwareSecurityModule({ dir: join(tmp.dir, 'sm'), passphrase: 'test passphrase', scryptLogN: 10 })
    try {
      const info = await sm.generateKey('brainpoolP256r1', 'gw-sig')
      const ca = t.pki.cas.find((c) => c.label === 'sub-ca-gw')!
      const cert = await issueCertificate({
        profile: 'sig', subject: { C: 'DE', O: 'SMGW Demo', OU: 'SMGW', CN: 'smgw-0001' }, publicKey: info.publicKey, serialNumber: newSerial(),
        notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2028-01-01T00:00:00Z'), issuer: { signer: ca.signer, certificate: ca.certificate },
      })
      const sealer = createMessageSealer({ signer: await signerFromModule(sm, 'gw-sig'), sigCertificate: cert, chain: [ca.certificate], recipients: recipients() }, { now: () => NOW })
      const opened = await open(await sealer.seal(message, 'emt-2'), 'emt-2')
      expect(opened.content).toEqual(message)
      expect(opened.signerCertificate).toEqual(cert)
    } finally {
      await sm.close()
    }
  })

  it('WAN_RECIPIENT_UNKNOWN: nobody outside the configuration gets a message', async () => {
    const sealer = sealerWith(t.key(`${GW}/sig`))
    for (const id of ['emt-3', 'EMT-1', '', 'gwa']) {
      await expect(sealer.seal(message, id)).rejects.toMatchObject({ name: 'GatewayError', code: 'WAN_RECIPIENT_UNKNOWN' })
    }
  })

  it('WAN_CONFIG_INVALID: no recipients, duplicates, bad IDs, undecodable certificates, a SIG certificate of another key', () => {
    const base = { signer: t.key(`${GW}/sig`), sigCertificate: t.cert(`${GW}/sig`) }
    const bad = [
      { ...base, recipients: [] },
      { ...base, recipients: [...recipients(), { id: 'emt-1', encCertificate: t.cert('emt-2/enc') }] },
      { ...base, recipients: [{ id: 'emt 1', encCertificate: t.cert('emt-1/enc') }] },
      { ...base, recipients: [{ id: 'emt-1', encCertificate: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]) }] },
      { ...base, sigCertificate: new Uint8Array(10), recipients: recipients() },
      { ...base, sigCertificate: t.cert(`${GW}/tls`), recipients: recipients() },
    ]
    for (const config of bad) {
      expect(() => createMessageSealer(config, { now: () => NOW })).toThrow(expect.objectContaining({ code: 'WAN_CONFIG_INVALID' }) as Error)
    }
  })

  it('WAN_SEAL_FAILED when the signer fails', async () => {
    const good = t.signer(`${GW}/sig`)
    const failing: Signer = { curve: good.curve, publicKey: good.publicKey, sign: () => Promise.reject(new Error('token removed')) }
    const sealer = createMessageSealer({ signer: failing, sigCertificate: t.cert(`${GW}/sig`), recipients: recipients() }, { now: () => NOW })
    const err = await sealer.seal(message, 'emt-1').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(GatewayError)
    expect(err).toMatchObject({ code: 'WAN_SEAL_FAILED' })
  })
})
