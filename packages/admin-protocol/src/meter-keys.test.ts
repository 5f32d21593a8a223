import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createKeyObjectAgreer, type KeyAgreer } from '@smgw/crypto'
import { issueCertificate } from '@smgw/pki'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  AdminProtocolError, METER_KEYS_MAX_BYTES, openMeterKeys, peekCommand, sealMeterKeys, signCommand, type AdminCommand, type MeterKeysContent,
} from './index.js'
import { createAdminTestPki, newSerial, openssl, type AdminTestPki } from './testing.js'

const NOW = new Date('2026-11-30T06:00:00.000Z')
const DAY = 86_400_000

interface EncIdentity { readonly certificate: Uint8Array; readonly agreer: KeyAgreer; readonly keyPem: string }

let t: AdminTestPki
let gateway: EncIdentity
let other: EncIdentity

async function encIdentity(cn: string): Promise<EncIdentity> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' })
  const certificate = await issueCertificate({
    profile: 'enc', subject: { C: 'DE', O: 'Demo', CN: cn }, publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })),
    serialNumber: newSerial(), notBefore: new Date(NOW.getTime() - DAY), notAfter: new Date(NOW.getTime() + 365 * DAY),
    issuer: { signer: t.signer('sub-ca-gw'), certificate: t.cert('sub-ca-gw') },
  })
  return { certificate, agreer: createKeyObjectAgreer(privateKey), keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() }
}

function content(keys: readonly { keyId: string; key: string }[], gatewayId = 'smgw-0001'): MeterKeysContent {
  return { format: 'smgw-meter-keys/1', gatewayId, keys: [...keys] }
}

const KEY_A = { keyId: 'wmbus-1', key: '000102030405060708090a0b0c0d0e0f' }
const KEY_B = { keyId: 'wmbus-2', key: 'f0e0d0c0b0a090807060504030201000' }

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'none'
  } catch (err) {
    return err instanceof AdminProtocolError ? err.code : `foreign ${String(err)}`
  }
}

beforeAll(async () => {
  t = await createAdminTestPki(new Date(NOW.getTime() - DAY))
  gateway = await encIdentity('smgw-0001')
  other = await encIdentity('smgw-0002')
}, 60_000)

describe('meter keys sealed to the gateway ENC certificate', () => {
  it('open with the gateway ENC key to exactly the keys sealed, in order', async () => {
    const envelope = await sealMeterKeys(content([KEY_A, KEY_B]), { encCertificate: gateway.certificate })
    const opened = await openMeterKeys(envelope, 'smgw-0001', gateway.agreer, gateway.certificate)
    expect(opened.map((k) => [k.keyId, Buffer.from(k.key).toString('hex')])).toEqual([[KEY_A.keyId, KEY_A.key], [KEY_B.keyId, KEY_B.key]])
  })

  it('decrypt with openssl cms as an independent peer (AES-GCM by default, CBC on request)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meter-keys-'))
    try {
      await writeFile(join(dir, 'key.pem'), gateway.keyPem)
      await writeFile(join(dir, 'cert.der'), gateway.certificate)
      for (const contentEncryption of ['aes128-gcm', 'aes128-cbc'] as const) {
        await writeFile(join(dir, 'env.der'), await sealMeterKeys(content([KEY_A]), { encCertificate: gateway.certificate, contentEncryption }))
        const plain = await openssl(['cms', '-decrypt', '-inform', 'DER', '-in', join(dir, 'env.der'), '-inkey', join(dir, 'key.pem'), '-recip', join(dir, 'cert.der')])
        expect(JSON.parse(plain.toString('utf8'))).toEqual(content([KEY_A]))
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('are KEYS_UNREADABLE for another gateway key, a tampered or truncated envelope and garbage', async () => {
    const envelope = await sealMeterKeys(content([KEY_A]), { encCertificate: gateway.certificate })
    expect(await codeOf(openMeterKeys(envelope, 'smgw-0002', other.agreer, other.certificate))).toBe('KEYS_UNREADABLE')
    const tampered = envelope.slice()
    tampered[tampered.length - 20]! ^= 0x01
    expect(await codeOf(openMeterKeys(tampered, 'smgw-0001', gateway.agreer, gateway.certificate))).toBe('KEYS_UNREADABLE')
    expect(await codeOf(openMeterKeys(envelope.subarray(0, envelope.length - 7), 'smgw-0001', gateway.agreer, gateway.certificate))).toBe('KEYS_UNREADABLE')
    expect(await codeOf(openMeterKeys(new Uint8Array(randomBytes(300)), 'smgw-0001', gateway.agreer, gateway.certificate))).toBe('KEYS_UNREADABLE')
    expect(await codeOf(openMeterKeys(new Uint8Array(METER_KEYS_MAX_BYTES + 1), 'smgw-0001', gateway.agreer, gateway.certificate))).toBe('TOO_LARGE')
  })

  it('are NOT_ADDRESSED when sealed for another gateway ID, even to this gateway ENC key', async () => {
    const lifted = await sealMeterKeys(content([KEY_A], 'smgw-0002'), { encCertificate: gateway.certificate })
    expect(await codeOf(openMeterKeys(lifted, 'smgw-0001', gateway.agreer, gateway.certificate))).toBe('NOT_ADDRESSED')
  })

  it('refuse to seal repeated key IDs, short keys and upper-case hex (MALFORMED)', async () => {
    expect(await codeOf(sealMeterKeys(content([KEY_A, { ...KEY_B, keyId: KEY_A.keyId }]), { encCertificate: gateway.certificate }))).toBe('MALFORMED')
    expect(await codeOf(sealMeterKeys(content([{ keyId: 'k', key: '00' }]), { encCertificate: gateway.certificate }))).toBe('MALFORMED')
    expect(await codeOf(sealMeterKeys(content([{ keyId: 'k', key: KEY_B.key.toUpperCase() }]), { encCertificate: gateway.certificate }))).toBe('MALFORMED')
    expect(await codeOf(sealMeterKeys(content([]), { encCertificate: gateway.certificate }))).toBe('MALFORMED')
  })

  it('round trip any set of distinct key IDs (fast-check)', async () => {
    const entry = fc.record({ keyId: fc.stringMatching(/^[a-z0-9-]{1,24}$/), key: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('hex')) })
    await fc.assert(fc.asyncProperty(fc.uniqueArray(entry, { minLength: 1, maxLength: 12, selector: (e) => e.keyId }), async (keys) => {
      const opened = await openMeterKeys(await sealMeterKeys(content(keys), { encCertificate: gateway.certificate }), 'smgw-0001', gateway.agreer, gateway.certificate)
      expect(opened.map((k) => ({ keyId: k.keyId, key: Buffer.from(k.key).toString('hex') }))).toEqual(keys)
    }), { numRuns: 25 })
  })
})

describe('meter-keys and answer-request commands', () => {
  const base = { format: 'smgw-admin-command/1', commandId: 'c-1', gatewayId: 'smgw-0001', sequence: 7, issuedAt: NOW.toISOString() } as const

  it('sign and peek with their fields', async () => {
    const envelope = await sealMeterKeys(content([KEY_A]), { encCertificate: gateway.certificate })
    const keys: AdminCommand = { ...base, type: 'meter-keys', keys: Buffer.from(envelope).toString('base64'), replace: false }
    expect(peekCommand(await signCommand(keys, t.cmsSigner('gwa/sig'), NOW))).toEqual(keys)
    const answer: AdminCommand = { ...base, type: 'answer-request', requestId: 3, state: 'done', note: 'Deleted the readings of 2025 at the EMT.' }
    expect(peekCommand(await signCommand(answer, t.cmsSigner('gwa/sig'), NOW))).toEqual(answer)
  })

  it('refuse an answer that reopens a request, a note with control characters, and keys that are not base64', async () => {
    const sign = (c: Record<string, unknown>) => signCommand({ ...base, ...c } as AdminCommand, t.cmsSigner('gwa/sig'), NOW)
    expect(await codeOf(sign({ type: 'answer-request', requestId: 3, state: 'received', note: '' }))).toBe('MALFORMED')
    expect(await codeOf(sign({ type: 'answer-request', requestId: 3, state: 'done', note: 'a\u0007b' }))).toBe('MALFORMED')
    expect(await codeOf(sign({ type: 'answer-request', requestId: 0, state: 'done', note: '' }))).toBe('MALFORMED')
    expect(await codeOf(sign({ type: 'meter-keys', keys: '%%', replace: false }))).toBe('MALFORMED')
    expect(await codeOf(sign({ type: 'meter-keys', keys: 'AAAA' }))).toBe('MALFORMED')
  })
})
