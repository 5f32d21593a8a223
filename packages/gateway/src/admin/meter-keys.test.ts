// The `meter-keys` command with real parts: a demo SM-PKI whose gateway sub-CA issues the
// gateway's operational ENC certificate for a key generated in the software security module
// (generate-csr → install, as through the GWA), envelopes sealed with sealMeterKeys, the keys
// imported into that module, and a running gateway whose wireless meter reads with them.
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { sealMeterKeys } from '@smgw/admin-protocol'
import { createPkcs11SecurityModule, createSoftwareSecurityModule, findPkcs11Library, type SecretKeyModule, type SecurityModule } from '@smgw/crypto'
import { signRenewalRequest } from '@smgw/pki'
import { createSimulator, createWmbusMeterFromConfig, parseWmbusMeterConfig, type SimulatorSent } from '@smgw/sim'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { parseGatewayConfig } from '../config.js'
import { GatewayError, type GatewayErrorCode } from '../errors.js'
import type { SystemLogEntry } from '../log/entries.js'
import { exportLog } from '../log/export.js'
import { createGateway } from '../service.js'
import { openStore } from '../store/store.js'
import { resolveModuleMeterKeys } from '../lmn/wmbus/keys.js'
import { createWmbusReader } from '../lmn/wmbus/reader.js'
import type { ReadingInput } from '../store/types.js'
import { createManualWorld, createTempDir, createTestSig, initSoftHsmToken } from '../testing.js'
import { createWanTestPki, type WanTestPki } from '../wan/testing.js'
import { createCertificateManager, type CertificateManager } from './certificates.js'
import { installMeterKeys, type InstallMeterKeysDeps } from './meter-keys.js'
import { resultCodeOf } from './session.js'

const DAY = 86_400_000
const GATEWAY = 'smgw-0001'
const GW = `gateways/${GATEWAY}`
const KEY_HEAT = '000102030405060708090a0b0c0d0e0f'
const KEY_GAS = 'f0e0d0c0b0a090807060504030201000'
const start = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000)

let demo: WanTestPki
let tmp: { dir: string; remove: () => Promise<void> }
let counter = 0

beforeAll(async () => {
  tmp = await createTempDir('smgw-meter-keys-')
  demo = await createWanTestPki({ gateways: 1, emts: 1 }, start)
}, 60_000)
afterAll(async () => { await tmp.remove() })

const cert = (label: string): Uint8Array => demo.cert(label)
const keyPem = (label: string): string => demo.key(label).export({ format: 'pem', type: 'pkcs8' }).toString()

interface Subject {
  readonly module: SecurityModule
  readonly certificates: CertificateManager
  readonly entries: SystemLogEntry[]
  readonly installed: string[][]
  /** The installed ENC certificate (undefined until `installEnc`). */
  enc?: Uint8Array
  deps(over?: Partial<InstallMeterKeysDeps>): InstallMeterKeysDeps
}

/** A gateway's certificate manager and security module; with `enc`, the operational ENC certificate installed (generate-csr, the sub-CA issues, install). */
async function createSubject(o: { enc: boolean; module?: SecurityModule; now?: () => Date }): Promise<Subject> {
  const n = ++counter
  const module = o.module ?? await createSoftwareSecurityModule({ dir: join(tmp.dir, `sm-${n}`), passphrase: 'test passphrase', scryptLogN: 10 })
  const entries: SystemLogEntry[] = []
  const certificates = createCertificateManager({
    stateDir: join(tmp.dir, `state-${n}`), gatewayId: GATEWAY,
    trust: { roots: [cert('root')], intermediates: [cert('sub-ca-gw'), cert('sub-ca-gs'), cert('sub-ca-emt')], crls: demo.pki.crls.map((c) => c.der) },
    initialIdentity: { key: keyPem(`${GW}/gs`), certificate: cert(`${GW}/gs`), chain: [cert('sub-ca-gs')] },
  }, { module, log: () => undefined, now: o.now ?? (() => new Date()) })
  await certificates.load()
  const installed: string[][] = []
  const s: Subject = {
    module, certificates, entries, installed,
    deps: (over = {}) => ({
      gatewayId: GATEWAY, module, encIdentity: () => certificates.encIdentity(), retiredEncIdentities: () => certificates.retiredEncIdentities(),
      log: (e) => { entries.push(e); return Promise.resolve() },
      keysInstalled: (ids) => { installed.push([...ids]); return Promise.resolve() },
      ...over,
    }),
  }
  if (o.enc) s.enc = await installEnc(certificates)
  return s
}

/** generate-csr and install for ENC; a renewal's request is signed by the old ENC key (purpose 'enc'), the first by the Gütesiegel key. */
async function installEnc(m: CertificateManager, purpose: 'tls-client' | 'enc' = 'tls-client'): Promise<Uint8Array> {
  const { csrs } = await m.generateCsr({ kinds: ['enc'] })
  const issued = await signRenewalRequest(new Uint8Array(Buffer.from(csrs.enc ?? '', 'base64')), {
    roots: [cert('root')], intermediates: [cert('sub-ca-gs'), cert('sub-ca-gw')], at: new Date(), purpose,
  }, {
    ca: { signer: demo.pki.cas.find((c) => c.label === 'sub-ca-gw')!.signer, certificate: cert('sub-ca-gw') }, profile: 'enc', allowSubjectChange: true,
    serialNumber: new Uint8Array([0x22, ...randomBytes(9)]), notBefore: start, notAfter: new Date(start.getTime() + 365 * DAY),
  })
  await m.install({ certificates: { enc: Buffer.from(issued).toString('base64') }, chain: [Buffer.from(cert('sub-ca-gw')).toString('base64')] })
  return issued
}

async function sealed(to: Uint8Array, content: { gatewayId?: string; keys: Record<string, string> }): Promise<string> {
  const envelope = await sealMeterKeys({
    format: 'smgw-meter-keys/1', gatewayId: content.gatewayId ?? GATEWAY, keys: Object.entries(content.keys).map(([keyId, key]) => ({ keyId, key })),
  }, { encCertificate: to })
  return Buffer.from(envelope).toString('base64')
}

/** Rejects with a GatewayError of `code`; returns the result code the GWA would see. */
async function refusal(p: Promise<unknown>, code: GatewayErrorCode): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(GatewayError)
  expect((err as GatewayError).code).toBe(code)
  return resultCodeOf(err)
}

const labels = async (m: SecretKeyModule) => (await m.listSecretKeys()).map((k) => k.label).sort()

/** What a module key encrypts one block to: tells two keys apart without reading them. */
async function fingerprint(m: SecretKeyModule, label: string): Promise<string> {
  return Buffer.from((await m.secretKey(label)).cbcEncrypt(new Uint8Array(16), new Uint8Array(16))).toString('hex')
}
const fingerprintOf = async (hex: string): Promise<string> => {
  const m = await createSoftwareSecurityModule({ dir: join(tmp.dir, `probe-${++counter}`), passphrase: 'probe', scryptLogN: 10 })
  try {
    await m.importSecretKey('probe', new Uint8Array(Buffer.from(hex, 'hex')))
    return await fingerprint(m, 'probe')
  } finally {
    await m.close()
  }
}

describe('meter-keys: a running gateway reads a wireless meter with keys the GWA sent', () => {
  it('mode 5 telegrams are key-rejected before the command and stored after it; the UDP socket stays bound while its reader takes the keys; logged without key material', async () => {
    const s = await createSubject({ enc: true })
    const sig = await createTestSig()
    const world = createManualWorld(Date.UTC(2026, 0, 15, 9, 0, 0))
    const config = parseGatewayConfig({
      gatewayId: GATEWAY, store: { path: join(tmp.dir, `gw-${++counter}.db`) }, logs: { sigKey: 'unused-with-deps', sigCertificate: 'unused-with-deps' },
      batch: { maxReadings: 100, maxDelayMs: 0 },
      meters: [
        { id: 'heat-1', kind: 'wmbus', mbusId: '22222222', keyId: 'wm.heat', transport: { udp: { host: '127.0.0.1', port: 0 } }, intervalS: 16 },
        { id: 'gas-1', kind: 'wmbus', mbusId: '11111111', keyId: 'wm.gas', transport: { udp: { host: '127.0.0.1', port: 0 } }, intervalS: 16 },
      ],
    })
    const gw = createGateway(config, { now: world.now, setTimer: world.setTimer, sig: { signer: sig.signer, certificate: sig.certificate }, keyModule: s.module })
    try {
      await gw.start()
      const [port] = gw.status().ports
      const heat = () => gw.status().meters.find((m) => m.id === 'heat-1')!
      const sent: SimulatorSent[] = []
      const send = async (seed: number) => {
        const sim = createSimulator({ kind: 'wmbus', output: { kind: 'udp', host: '127.0.0.1', port: port! }, intervalS: 16, jitter: 0, count: 1, meter: { kind: 'heat', mode: 5, key: KEY_HEAT, id: '22222222', seed } },
          { now: world.now, setTimer: world.setTimer, onSent: (x) => { sent.push(x) } })
        await sim.start()
        await sim.finished
        await sim.close()
      }
      await send(1)
      await vi.waitFor(() => { expect(heat().keyRejected).toBe(1) }, { timeout: 10_000, interval: 20 })

      const r = await installMeterKeys({ keys: await sealed(s.enc!, { keys: { 'wm.heat': KEY_HEAT } }), replace: false }, s.deps({ keysInstalled: (ids) => gw.meterKeysInstalled(ids) }))
      expect(r).toEqual({ keyIds: ['wm.heat'] })
      expect(gw.status().ports).toEqual([port]) // the same socket: taken in place, nothing rebound

      await send(2)
      await vi.waitFor(() => { expect(heat().stored).toBeGreaterThan(0) }, { timeout: 10_000, interval: 20 })
      expect(heat().keyRejected).toBe(1)
      expect(s.entries).toEqual([{ type: 'meter-keys-installed', fields: { keyIds: ['wm.heat'], replaced: [] } }])
      await gw.close()

      const store = openStore(config.store.path, { now: () => new Date() }, { readonly: true })
      try {
        const energy = store.readReadings().filter((x) => x.meterId === 'heat-1' && x.quantity === 'energy')
        const second = sent[1]
        expect(energy.map((x) => Number(x.mantissa) * 10 ** x.scaler)).toEqual([second?.kind === 'wmbus' ? second.emission.values.energyWh : undefined])
        // The logs hold no key material.
        for (const log of ['system', 'calibration'] as const) expect(exportLog(store, log, '')).not.toContain(KEY_HEAT)
      } finally {
        store.close()
      }
    } finally {
      await gw.close()
      await s.module.close()
    }
  }, 60_000)
})

describe('meter-keys after an ENC renewal', () => {
  it('an envelope sealed to the replaced ENC certificate still opens for 7 days, then its key is destroyed and it is KEYS_UNREADABLE', async () => {
    const clock = { t: Date.now() }
    const s = await createSubject({ enc: true, now: () => new Date(clock.t) })
    try {
      const old = s.enc!
      const queued = await sealed(old, { keys: { 'wm.heat': KEY_HEAT } })
      const renewed = await installEnc(s.certificates, 'enc')
      expect((await s.certificates.encIdentity())?.certificate).toEqual(renewed)
      // Sealed to the old certificate before the GWA saw the renewal: opens with the retired key.
      expect(await installMeterKeys({ keys: queued, replace: false }, s.deps())).toEqual({ keyIds: ['wm.heat'] })
      // Sealed to the new one: opens with the key in force.
      expect(await installMeterKeys({ keys: await sealed(renewed, { keys: { 'wm.gas': KEY_GAS } }), replace: false }, s.deps())).toEqual({ keyIds: ['wm.gas'] })
      expect(await fingerprint(s.module, 'wm.heat')).toBe(await fingerprintOf(KEY_HEAT))
      // A refusal other than "not for this key" is not retried with the retired key.
      expect(await refusal(installMeterKeys({ keys: await sealed(old, { gatewayId: 'smgw-0002', keys: { 'wm.x': KEY_HEAT } }), replace: false }, s.deps()), 'ADMIN_REFUSED')).toBe('NOT_ADDRESSED')
      // Seven days on the retired key is no longer offered and is destroyed.
      clock.t += 7 * DAY
      expect(await s.certificates.destroyRetiredKeys()).toHaveLength(1)
      expect(await refusal(installMeterKeys({ keys: await sealed(old, { keys: { 'wm.y': KEY_HEAT } }), replace: false }, s.deps()), 'ADMIN_REFUSED')).toBe('KEYS_UNREADABLE')
      expect(await labels(s.module)).toEqual(['wm.gas', 'wm.heat'])
    } finally {
      await s.module.close()
    }
  })
})

describe('meter-keys: refusals import nothing', () => {
  let s: Subject
  let other: Subject
  beforeAll(async () => {
    s = await createSubject({ enc: true })
    other = await createSubject({ enc: true })
    await s.module.importSecretKey('wm.a', new Uint8Array(Buffer.from(KEY_GAS, 'hex')))
  }, 60_000)
  afterAll(async () => {
    await s.module.close()
    await other.module.close()
  })

  it('sealed to another ENC certificate (another gateway\'s, as after a renewal): KEYS_UNREADABLE', async () => {
    expect(await refusal(installMeterKeys({ keys: await sealed(other.enc!, { keys: { 'wm.b': KEY_HEAT } }), replace: false }, s.deps()), 'ADMIN_REFUSED')).toBe('KEYS_UNREADABLE')
    expect(await labels(s.module)).toEqual(['wm.a'])
  })

  it('tampered envelope (one byte of the authenticated ciphertext flipped): KEYS_UNREADABLE', async () => {
    const good = Buffer.from(await sealed(s.enc!, { keys: { 'wm.b': KEY_HEAT } }), 'base64')
    good[good.length - 20]! ^= 0x01
    expect(await refusal(installMeterKeys({ keys: good.toString('base64'), replace: false }, s.deps()), 'ADMIN_REFUSED')).toBe('KEYS_UNREADABLE')
    expect(await labels(s.module)).toEqual(['wm.a'])
  })

  it('keys for another gateway ID, though sealed to this certificate: NOT_ADDRESSED', async () => {
    expect(await refusal(installMeterKeys({ keys: await sealed(s.enc!, { gatewayId: 'smgw-0002', keys: { 'wm.b': KEY_HEAT } }), replace: false }, s.deps()), 'ADMIN_REFUSED')).toBe('NOT_ADDRESSED')
    expect(await labels(s.module)).toEqual(['wm.a'])
  })

  it('a key ID the module holds, without replace: KEYS_INVALID, and the other key of the envelope is not imported either', async () => {
    const before = await fingerprint(s.module, 'wm.a')
    expect(await refusal(installMeterKeys({ keys: await sealed(s.enc!, { keys: { 'wm.b': KEY_HEAT, 'wm.a': KEY_HEAT } }), replace: false }, s.deps()), 'KEYS_INVALID')).toBe('KEYS_INVALID')
    expect(await labels(s.module)).toEqual(['wm.a'])
    expect(await fingerprint(s.module, 'wm.a')).toBe(before)
    expect(s.installed).toEqual([])
  })

  it('a key ID that cannot be a module label, or the pseudonym secret\'s ID: KEYS_INVALID before any import', async () => {
    expect(await refusal(installMeterKeys({ keys: await sealed(s.enc!, { keys: { 'wm.b': KEY_HEAT, '../x': KEY_HEAT } }), replace: false }, s.deps()), 'KEYS_INVALID')).toBe('KEYS_INVALID')
    expect(await refusal(installMeterKeys({ keys: await sealed(s.enc!, { keys: { pseudonym: KEY_HEAT } }), replace: false }, s.deps()), 'KEYS_INVALID')).toBe('KEYS_INVALID')
    expect(await labels(s.module)).toEqual(['wm.a'])
  })

  it('no operational ENC certificate yet: KEYS_UNREADABLE saying so', async () => {
    const fresh = await createSubject({ enc: false })
    try {
      const p = installMeterKeys({ keys: await sealed(s.enc!, { keys: { 'wm.b': KEY_HEAT } }), replace: false }, fresh.deps())
      await expect(p).rejects.toThrow(/no operational ENC certificate yet/)
      expect(await refusal(p, 'ADMIN_REFUSED')).toBe('KEYS_UNREADABLE')
      expect(await labels(fresh.module)).toEqual([])
    } finally {
      await fresh.module.close()
    }
  })

  it('no meter key module configured: KEY_MODULE_FAILED', async () => {
    expect(await refusal(installMeterKeys({ keys: await sealed(s.enc!, { keys: { 'wm.b': KEY_HEAT } }), replace: false }, s.deps({ module: undefined })), 'KEY_MODULE_FAILED')).toBe('KEY_MODULE_FAILED')
  })

  it('an import failing half-way deletes the keys this command created: KEY_MODULE_FAILED', async () => {
    let imports = 0
    const failing: SecretKeyModule = {
      importSecretKey: (label, key, options) => (++imports === 2 ? Promise.reject(new Error('token full')) : s.module.importSecretKey(label, key, options)),
      secretKey: (label) => s.module.secretKey(label),
      listSecretKeys: () => s.module.listSecretKeys(),
      deleteSecretKey: (label) => s.module.deleteSecretKey(label),
    }
    const p = installMeterKeys({ keys: await sealed(s.enc!, { keys: { 'wm.b': KEY_HEAT, 'wm.c': KEY_HEAT } }), replace: false }, s.deps({ module: failing }))
    expect(await refusal(p, 'KEY_MODULE_FAILED')).toBe('KEY_MODULE_FAILED')
    await expect(p).rejects.toThrow(/deleted again: wm\.b/)
    expect(await labels(s.module)).toEqual(['wm.a'])
    expect(s.entries).toEqual([])
  })

  it('with replace, new key IDs go first: a failure at the replacement undoes the new key and leaves the held one as it was', async () => {
    const before = await fingerprint(s.module, 'wm.a')
    const tried: string[] = []
    const failing: SecretKeyModule = {
      importSecretKey: (label, key, options) => { tried.push(label); return label === 'wm.a' ? Promise.reject(new Error('token full')) : s.module.importSecretKey(label, key, options) },
      secretKey: (label) => s.module.secretKey(label),
      listSecretKeys: () => s.module.listSecretKeys(),
      deleteSecretKey: (label) => s.module.deleteSecretKey(label),
    }
    const p = installMeterKeys({ keys: await sealed(s.enc!, { keys: { 'wm.a': KEY_HEAT, 'wm.d': KEY_HEAT } }), replace: true }, s.deps({ module: failing }))
    expect(await refusal(p, 'KEY_MODULE_FAILED')).toBe('KEY_MODULE_FAILED')
    expect(tried).toEqual(['wm.d', 'wm.a'])
    expect(await labels(s.module)).toEqual(['wm.a'])
    expect(await fingerprint(s.module, 'wm.a')).toBe(before)
  })

  it('property: arbitrary bytes as the envelope are refused (KEYS_UNREADABLE) and import nothing', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 512 }), async (bytes) => {
      expect(await refusal(installMeterKeys({ keys: Buffer.from(bytes).toString('base64'), replace: false }, s.deps()), 'ADMIN_REFUSED')).toBe('KEYS_UNREADABLE')
    }), { numRuns: 40 })
    expect(await labels(s.module)).toEqual(['wm.a'])
  })

  it('then with replace: the held key is replaced, the new one created, both logged, the copies handed to the module wiped', async () => {
    const handed: Uint8Array[] = []
    const recording: SecretKeyModule = {
      importSecretKey: (label, key, options) => { handed.push(key); return s.module.importSecretKey(label, key, options) },
      secretKey: (label) => s.module.secretKey(label),
      listSecretKeys: () => s.module.listSecretKeys(),
      deleteSecretKey: (label) => s.module.deleteSecretKey(label),
    }
    const r = await installMeterKeys({ keys: await sealed(s.enc!, { keys: { 'wm.a': KEY_HEAT, 'wm.b': KEY_GAS } }), replace: true }, s.deps({ module: recording }))
    expect(r).toEqual({ keyIds: ['wm.a', 'wm.b'] })
    expect(await labels(s.module)).toEqual(['wm.a', 'wm.b'])
    expect(await fingerprint(s.module, 'wm.a')).toBe(await fingerprintOf(KEY_HEAT))
    expect(await fingerprint(s.module, 'wm.b')).toBe(await fingerprintOf(KEY_GAS))
    expect(s.entries).toEqual([{ type: 'meter-keys-installed', fields: { keyIds: ['wm.a', 'wm.b'], replaced: ['wm.a'] } }])
    expect(s.installed).toEqual([['wm.a', 'wm.b']])
    expect(handed).toHaveLength(2)
    expect(handed.every((k) => k.every((b) => b === 0))).toBe(true)
  })
})

const softhsm = findPkcs11Library(existsSync)

describe.skipIf(softhsm === undefined)('meter-keys on a PKCS#11 token (SoftHSM2): the ENC key and the meter keys on the token', () => {
  it('the envelope opens with the token\'s ENC key, the keys land on the token and decode a mode 5 telegram; a held key without replace imports nothing', async () => {
    await initSoftHsmToken(tmp.dir, 'gateway')
    const module = await createPkcs11SecurityModule({ library: softhsm ?? '', tokenLabel: 'gateway', pin: '4321' })
    try {
      const s = await createSubject({ enc: true, module })
      expect((await module.listKeys()).map((k) => k.label)).toContain('admin.enc.1')
      expect(await installMeterKeys({ keys: await sealed(s.enc!, { keys: { 'wm.heat': KEY_HEAT, 'wm.gas': KEY_GAS } }), replace: false }, s.deps())).toEqual({ keyIds: ['wm.heat', 'wm.gas'] })
      expect(await labels(module)).toEqual(['wm.gas', 'wm.heat'])
      expect(await refusal(installMeterKeys({ keys: await sealed(s.enc!, { keys: { 'wm.new': KEY_HEAT, 'wm.gas': KEY_HEAT } }), replace: false }, s.deps()), 'KEYS_INVALID')).toBe('KEYS_INVALID')
      expect(await labels(module)).toEqual(['wm.gas', 'wm.heat'])

      // The wM-Bus reader with the token's key operations (as the gateway resolves them) decodes the meter's telegram.
      const config = parseGatewayConfig({
        gatewayId: GATEWAY, store: { path: 'x.db' }, logs: { sigKey: 'k', sigCertificate: 'c' },
        meters: [{ id: 'heat-1', kind: 'wmbus', mbusId: '22222222', keyId: 'wm.heat', transport: { udp: { port: 0 } }, intervalS: 16 }],
      })
      const { keys: ops, missing } = await resolveModuleMeterKeys(module, config)
      expect(missing).toEqual([])
      const got: ReadingInput[] = []
      const reader = createWmbusReader([{ id: 'heat-1', mbusId: '22222222', key: ops.get('wm.heat')! }], 'wmbus-udp', { readings: (_id, b) => { got.push(...b) }, event: () => undefined }, () => new Date())
      const t = createWmbusMeterFromConfig(parseWmbusMeterConfig({ kind: 'heat', mode: 5, key: KEY_HEAT, id: '22222222', seed: 5, crc: 'none' })).next(new Date())
      reader.telegram(t.bytes)
      expect(got.find((r) => r.quantity === 'energy')).toBeDefined()
    } finally {
      await module.close()
    }
  }, 60_000)
})
