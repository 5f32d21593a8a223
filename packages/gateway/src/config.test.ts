import { chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkMeterKeys, parseGatewayConfig, readGatewayConfig, readMeterKeys } from './config.js'
import { isGatewayError } from './errors.js'
import { createTempDir } from './testing.js'

let tmp: { dir: string; remove: () => Promise<void> }
beforeAll(async () => { tmp = await createTempDir('smgw-config-') })
afterAll(async () => { await tmp.remove() })

const base = {
  gatewayId: 'smgw-0001',
  store: { path: 'gateway.db' },
  logs: { sigKey: 'sig.key.pem', sigCertificate: 'sig.cert.pem' },
  meters: [
    { id: '1EMH0012345678', kind: 'sml', transport: { serial: { path: '/dev/ttyUSB0' } }, intervalS: 2 },
    { id: 'gas-1', kind: 'wmbus', mbusId: '12345678', keyId: 'k-gas-1', transport: { udp: { port: 7260 } }, intervalS: 32, consumer: 'c-1' },
  ],
}

function problems(input: unknown): string {
  try {
    parseGatewayConfig(input)
  } catch (err) {
    if (isGatewayError(err) && err.code === 'CONFIG_INVALID') return err.message
    throw err
  }
  throw new Error('accepted')
}

describe('parseGatewayConfig', () => {
  it('fills defaults and freezes the result', () => {
    const c = parseGatewayConfig(base)
    expect(c.batch).toEqual({ maxReadings: 500, maxDelayMs: 200 })
    const [sml, gas] = c.meters
    expect(sml).toMatchObject({ silentAfterMissed: 3, transport: { serial: { path: '/dev/ttyUSB0', baudRate: 9600, frameCrc: 'none' } }, quirks: { signedPositivePower: false, unsignedNegativePower: false } })
    expect(gas).toMatchObject({ transport: { udp: { host: '127.0.0.1', port: 7260 } }, consumer: 'c-1' })
    expect(Object.isFrozen(c.meters[0])).toBe(true)
  })

  it('names the path of every problem', () => {
    const msg = problems({
      ...base,
      extra: 1,
      meters: [
        { ...base.meters[0], transport: { tcp: { host: 'meter', port: 70_000 } } },
        { ...base.meters[1], mbusId: '1234', key: '000102' },
      ],
    })
    expect(msg).toMatch(/\(top level\): Unrecognized key.*extra/)
    expect(msg).toMatch(/meters\[0\]\.transport/)
    expect(msg).toMatch(/meters\[1\]\.mbusId: 8 decimal digits/)
    expect(msg).toMatch(/meters\[1\]: Unrecognized key.*"key"/) // keys never in the main config
  })

  it('refuses duplicate meter IDs and two SML meters on one line', () => {
    const msg = problems({ ...base, meters: [base.meters[0], base.meters[0]] })
    expect(msg).toMatch(/meters\[1\]\.id: meter ID 1EMH0012345678 already used by meters\[0\]/)
    expect(msg).toMatch(/meters\[1\]\.transport: one SML meter per line/)
  })

  it('never throws anything but CONFIG_INVALID on arbitrary JSON', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      try {
        parseGatewayConfig(v)
      } catch (err) {
        expect(isGatewayError(err) && err.code === 'CONFIG_INVALID').toBe(true)
      }
    }))
  })

  it('readGatewayConfig: a file that is not JSON is CONFIG_INVALID naming the file', async () => {
    const f = join(tmp.dir, 'broken.json')
    await writeFile(f, '{ "gatewayId": ')
    await expect(readGatewayConfig(f)).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('broken.json') as string })
    const ok = join(tmp.dir, 'ok.json')
    await writeFile(ok, JSON.stringify(base))
    const c = await readGatewayConfig(ok)
    expect(c.gatewayId).toBe('smgw-0001')
    // Relative paths are taken from the configuration file's folder; absolute ones stay.
    expect([c.store.path, 'sigKey' in c.logs ? c.logs.sigKey : undefined, c.meters[0]!.transport]).toEqual([join(tmp.dir, 'gateway.db'), join(tmp.dir, 'sig.key.pem'), { serial: { path: '/dev/ttyUSB0', baudRate: 9600, frameCrc: 'none' } }])
  })
})

describe('logs: the SIG key in the security module', () => {
  it('names a label in the meterKeys module; without the module section it is refused', () => {
    const module = { securityModule: { software: { dir: 'sm', passphraseEnv: 'SMGW_SM_PASSPHRASE' } } }
    const c = parseGatewayConfig({ ...base, logs: { sigKeyLabel: 'gw-sig', sigCertificate: 'sig.cert.pem' }, meterKeys: module })
    expect(c.logs).toEqual({ sigKeyLabel: 'gw-sig', sigCertificate: 'sig.cert.pem' })
    expect(() => parseGatewayConfig({ ...base, logs: { sigKeyLabel: 'gw-sig', sigCertificate: 'sig.cert.pem' } })).toThrow(/logs\.sigKeyLabel: a SIG key in the security module needs meterKeys\.securityModule/)
    expect(() => parseGatewayConfig({ ...base, logs: { sigKeyLabel: 'gw-sig', sigKey: 'k.pem', sigCertificate: 'c.pem' }, meterKeys: module })).toThrow(/logs/)
  })
})

describe('wan.tls: the TLS key in the security module', () => {
  it('keyLabel names a key in the meterKeys module (kept as it is when paths are resolved); without the module section it is refused; not both key and keyLabel', async () => {
    const module = { securityModule: { software: { dir: 'sm', passphraseEnv: 'SMGW_SM_PASSPHRASE' } } }
    const wan = {
      tls: { keyLabel: 'admin.tls.4', certificate: 'tls.cert.pem' }, trust: { roots: ['root.pem'] },
      recipients: [{ id: 'emt-1', url: 'https://emt.example:8443', encCertificate: 'enc.pem' }],
    }
    expect(parseGatewayConfig({ ...base, wan, meterKeys: module }).wan?.tls).toEqual({ keyLabel: 'admin.tls.4', certificate: 'tls.cert.pem', chain: [] })
    expect(() => parseGatewayConfig({ ...base, wan })).toThrow(/wan\.tls\.keyLabel: a TLS key in the security module needs meterKeys\.securityModule/)
    expect(() => parseGatewayConfig({ ...base, wan: { ...wan, tls: { ...wan.tls, key: 'k.pem' } }, meterKeys: module })).toThrow(/wan/)
    const file = join(tmp.dir, 'tls-label.json')
    await writeFile(file, JSON.stringify({ ...base, wan, meterKeys: module }))
    expect((await readGatewayConfig(file)).wan?.tls).toEqual({ keyLabel: 'admin.tls.4', certificate: join(tmp.dir, 'tls.cert.pem'), chain: [] })
  })
})

describe('the admin section', () => {
  const admin = {
    endpoint: 'https://gwa.example:8443',
    gwaCertificate: 'pki/gwa/sig.cert.pem',
    trust: { roots: ['pki/root.cert.pem'] },
    initialIdentity: { key: 'pki/gs/tls.key.pem', certificate: 'pki/gs/tls.cert.pem', chain: ['pki/sub-ca-gs.cert.pem'] },
    stateDir: 'admin-state',
    wakeUp: { port: 7500 },
  }

  it('fills the contract defaults', () => {
    const c = parseGatewayConfig({ ...base, admin })
    expect(c.admin).toMatchObject({
      pollIntervalS: 86_400, contactAtStart: true, commandMaxAgeS: 604_800, requestTimeoutMs: 30_000,
      trust: { intermediates: [], crls: [], requireCrl: false },
      wakeUp: { host: '0.0.0.0', port: 7500, freshnessS: 300, ratePerS: 10, burst: 20, logPerMinute: 20 },
    })
    expect(c.admin?.firmware).toBeUndefined()
    expect(parseGatewayConfig({ ...base, admin: { ...admin, firmware: { dir: 'fw' } } }).admin?.firmware).toEqual({ dir: 'fw', healthTimeoutS: 30 })
  })

  it('refuses a plain-HTTP endpoint, unknown keys and a bad wake-up port, naming the path; wakeUp defaults as in the contract', () => {
    expect(problems({ ...base, admin: { ...admin, endpoint: 'http://gwa.example' } })).toMatch(/admin\.endpoint: an https:\/\/ URL/)
    expect(problems({ ...base, admin: { ...admin, secret: 1 } })).toMatch(/admin: Unrecognized key/)
    expect(problems({ ...base, admin: { ...admin, wakeUp: { port: 70_000 } } })).toMatch(/admin\.wakeUp\.port/)
    const { wakeUp: _w, ...noWakeUp } = admin
    expect(parseGatewayConfig({ ...base, admin: noWakeUp }).admin?.wakeUp).toEqual({ host: '0.0.0.0', port: 8124, freshnessS: 300, ratePerS: 10, burst: 20, logPerMinute: 20 })
    expect(problems({ ...base, admin: { ...admin, trust: { roots: [] } } })).toMatch(/admin\.trust\.roots/)
  })

  it('readGatewayConfig resolves its paths against the file\'s folder', async () => {
    const f = join(tmp.dir, 'admin.json')
    await writeFile(f, JSON.stringify({ ...base, admin: { ...admin, manufacturerCertificate: 'pki/manufacturer/sig.cert.pem', firmware: { dir: 'fw', healthTimeoutS: 5 } } }))
    const a = (await readGatewayConfig(f)).admin!
    const at = (p: string): string => join(tmp.dir, p)
    expect(a).toMatchObject({
      endpoint: admin.endpoint, gwaCertificate: at('pki/gwa/sig.cert.pem'), manufacturerCertificate: at('pki/manufacturer/sig.cert.pem'),
      trust: { roots: [at('pki/root.cert.pem')] }, stateDir: at('admin-state'), firmware: { dir: at('fw'), healthTimeoutS: 5 },
      initialIdentity: { key: at('pki/gs/tls.key.pem'), certificate: at('pki/gs/tls.cert.pem'), chain: [at('pki/sub-ca-gs.cert.pem')] },
    })
  })
})

describe('readMeterKeys', () => {
  it('reads a 0600 key file; a key ID a meter names must be there', async () => {
    const f = join(tmp.dir, 'keys.json')
    await writeFile(f, JSON.stringify({ 'k-gas-1': '000102030405060708090A0B0C0D0E0F' }), { mode: 0o600 })
    const keys = await readMeterKeys(f)
    expect(Buffer.from(keys.get('k-gas-1')!).toString('hex')).toBe('000102030405060708090a0b0c0d0e0f')
    const config = parseGatewayConfig(base)
    expect(() => { checkMeterKeys(config, keys) }).not.toThrow()
    expect(() => { checkMeterKeys(config, new Map()) }).toThrow(expect.objectContaining({ code: 'KEYS_INVALID', message: expect.stringContaining('meters[1].keyId: k-gas-1') as string }))
  })

  it('refuses a key file readable by others (KEYS_PERMISSIONS) and never echoes a key', async () => {
    const f = join(tmp.dir, 'open.json')
    await writeFile(f, JSON.stringify({ k: '000102030405060708090a0b0c0d0e0f' }))
    await chmod(f, 0o640)
    await expect(readMeterKeys(f)).rejects.toMatchObject({ code: 'KEYS_PERMISSIONS' })
    const short = join(tmp.dir, 'short.json')
    await writeFile(short, JSON.stringify({ k: 'deadbeefdeadbeef' }), { mode: 0o600 })
    const err = await readMeterKeys(short).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'KEYS_INVALID' })
    expect((err as Error).message).not.toContain('deadbeef')
  })
})
