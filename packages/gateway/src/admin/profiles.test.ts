import { existsSync } from 'node:fs'
import { readFile, rm, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeCertificates } from '@smgw/crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { parseGatewayConfig, type GatewayConfig } from '../config.js'
import type { SystemLogEntry } from '../log/entries.js'
import { createGateway, type Gateway } from '../service.js'
import { createTempDir, createTestSig, type TestSig } from '../testing.js'
import { createConfigVersions, readActiveVersion, readEffectiveConfig, resolveActiveVersion, sha256Of, type ConfigVersions } from './profiles.js'

// Configuration versions with real files and a real running gateway (wM-Bus meters on UDP port 0).

let tmp: { dir: string; remove: () => Promise<void> }
let sig: TestSig
beforeAll(async () => {
  tmp = await createTempDir('smgw-profiles-')
  sig = await createTestSig()
})
afterAll(async () => { await tmp.remove() })
const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

let count = 0
const gas = (id: string, mbusId: string) => ({ id, kind: 'wmbus', mbusId, transport: { udp: { host: '127.0.0.1', port: 0 } }, intervalS: 32 })

interface World { gw: Gateway; versions: ConfigVersions; logged: SystemLogEntry[]; stateDir: string; file: string; raw: Record<string, unknown> }

async function world(): Promise<World> {
  count++
  const stateDir = join(tmp.dir, `state-${count}`)
  const raw = {
    gatewayId: 'smgw-0001',
    store: { path: join(tmp.dir, `gw-${count}.db`) },
    logs: { sigKey: 'unused-with-deps', sigCertificate: 'unused-with-deps' },
    meters: [gas('gas-1', '11111111')],
    admin: {
      endpoint: 'https://gwa.test:8443', gwaCertificate: 'gwa.pem', trust: { roots: ['root.pem'] },
      initialIdentity: { key: 'gs.key.pem', certificate: 'gs.cert.pem' }, stateDir, wakeUp: { port: 0 },
    },
  }
  const file = join(tmp.dir, `gateway-${count}.json`)
  await writeFile(file, JSON.stringify(raw))
  // The running gateway is not administered here (no GWA to call): the versions are driven directly; the file has the admin section.
  const { admin: _admin, ...running } = raw
  const gw = createGateway(parseGatewayConfig(running), { sig: { signer: sig.signer, certificate: sig.certificate } })
  cleanups.push(() => gw.close())
  await gw.start()
  const logged: SystemLogEntry[] = []
  const versions = createConfigVersions({ stateDir }, {
    current: () => gw.config(), reconfigure: (next) => gw.reconfigure(next),
    log: (e) => { logged.push(e); return Promise.resolve() },
  })
  return { gw, versions, logged, stateDir, file, raw }
}

const meterIds = (c: GatewayConfig): string[] => c.meters.map((m) => m.id)

describe('configuration versions', () => {
  it('a profile becomes v<N>.json, runs, and is named active; a later restart picks it', async () => {
    const w = await world()
    expect(await w.versions.active()).toBe(0)
    const r = await w.versions.applyProfile({ version: 4, meters: [gas('gas-1', '11111111'), gas('gas-2', '22222222')] })
    expect(meterIds(w.gw.config())).toEqual(['gas-1', 'gas-2'])
    expect(w.gw.status().meters.map((m) => m.id)).toEqual(['gas-1', 'gas-2'])
    expect(await readFile(join(w.stateDir, 'config', 'active'), 'utf8')).toBe('4\n')
    const written = parseGatewayConfig(JSON.parse(await readFile(join(w.stateDir, 'config', 'v4.json'), 'utf8')))
    expect(r).toEqual({ version: 4, sha256: sha256Of(written) })
    expect(w.logged).toEqual([{ type: 'config-changed', fields: { version: 4, sha256: r.sha256, by: 'gwa' } }])
    await w.gw.close()

    // Restart: the active version with the file's admin section, not the file's meters.
    const effective = await readEffectiveConfig(w.file)
    expect(effective.version).toBe(4)
    expect(meterIds(effective.config)).toEqual(['gas-1', 'gas-2'])
    expect(effective.config.admin?.stateDir).toBe(w.stateDir)
    // The operator's admin section wins over the copy inside the version.
    await writeFile(w.file, JSON.stringify({ ...w.raw, admin: { ...(w.raw.admin as object), pollIntervalS: 60 } }))
    expect((await readEffectiveConfig(w.file)).config.admin?.pollIntervalS).toBe(60)
  })

  it('all or nothing: one invalid meter changes nothing, the active file stays byte-identical, the refusal is logged', async () => {
    const w = await world()
    await w.versions.applyProfile({ version: 1, meters: [gas('gas-1', '11111111'), gas('gas-2', '22222222')] })
    const active = await readFile(join(w.stateDir, 'config', 'active'))
    const running = w.gw.config()
    const err = await w.versions.applyProfile({ version: 2, meters: [gas('gas-1', '11111111'), gas('gas-3', '3333')] }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/^CONFIG_INVALID: .*meters\[1\]\.mbusId/s) as unknown })
    expect(w.gw.config()).toBe(running)
    expect(Buffer.compare(await readFile(join(w.stateDir, 'config', 'active')), active)).toBe(0)
    expect(existsSync(join(w.stateDir, 'config', 'v2.json')) || existsSync(join(w.stateDir, 'config', 'v2'))).toBe(false)
    expect(await w.versions.versions()).toEqual([1])
    expect(w.logged.at(-1)).toEqual({ type: 'config-rejected', fields: { version: 2, code: 'CONFIG_INVALID' } })

    // Invalid tariff profiles and a communication part without a wan section: refused the same way.
    await expect(w.versions.applyProfile({ version: 2, tariffs: [{ id: 'x', useCase: 'taf99' }] })).rejects.toMatchObject({ code: 'CONFIG_INVALID' })
    await expect(w.versions.applyProfile({ version: 2, communication: { recipients: [] } })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/no wan section/) as unknown })
    // A configuration that parses but does not start (a serial line that is not there): ADMIN_APPLY_FAILED, the running one stays.
    await expect(w.versions.applyProfile({ version: 2, meters: [gas('gas-1', '11111111'), { id: 'sml-9', kind: 'sml', transport: { serial: { path: join(tmp.dir, 'no-tty') } }, intervalS: 1 }] }))
      .rejects.toMatchObject({ code: 'ADMIN_APPLY_FAILED' })
    expect(w.logged.at(-1)).toEqual({ type: 'config-rejected', fields: { version: 2, code: 'ADMIN_APPLY_FAILED' } })
    expect(meterIds(w.gw.config())).toEqual(['gas-1', 'gas-2'])
    expect(Buffer.compare(await readFile(join(w.stateDir, 'config', 'active')), active)).toBe(0)
    expect(await w.versions.versions()).toEqual([1])
  })

  it('versions not newer than every kept one are refused (VERSION_NOT_NEWER), also after a rollback', async () => {
    const w = await world()
    await w.versions.applyProfile({ version: 1, meters: [gas('gas-1', '11111111')] })
    await w.versions.applyProfile({ version: 3, meters: [gas('gas-3', '33333333')] })
    await expect(w.versions.applyProfile({ version: 3, meters: [] })).rejects.toMatchObject({ code: 'ADMIN_REFUSED', reason: 'VERSION_NOT_NEWER', message: expect.stringMatching(/^VERSION_NOT_NEWER/) as unknown })
    await expect(w.versions.applyProfile({ version: 2, meters: [] })).rejects.toMatchObject({ code: 'ADMIN_REFUSED' })
    expect(w.logged.at(-1)).toEqual({ type: 'config-rejected', fields: { version: 2, code: 'VERSION_NOT_NEWER' } })

    const back = await w.versions.rollback(1)
    expect(meterIds(w.gw.config())).toEqual(['gas-1'])
    expect(await readActiveVersion(w.stateDir)).toBe(1)
    expect(w.logged.at(-1)).toEqual({ type: 'config-changed', fields: { version: 1, sha256: back.sha256, by: 'gwa' } })
    // v3 is still kept, so 2 stays refused; an unknown version cannot be rolled back to.
    await expect(w.versions.applyProfile({ version: 2, meters: [] })).rejects.toMatchObject({ code: 'ADMIN_REFUSED' })
    await expect(w.versions.rollback(7)).rejects.toMatchObject({ code: 'ADMIN_REFUSED', message: expect.stringMatching(/^VERSION_UNKNOWN/) as unknown })
    expect(await w.versions.versions()).toEqual([1, 3])
    await w.versions.rollback(3)
    expect(meterIds(w.gw.config())).toEqual(['gas-3'])
  })

  it('communication: ENC certificates become files of the version; tariffs are copied so the version folder is complete', async () => {
    const stateDir = join(tmp.dir, 'state-comm')
    const profiles = join(tmp.dir, 'comm-profiles.json')
    await writeFile(profiles, '[]')
    let current = parseGatewayConfig({
      gatewayId: 'smgw-0001', store: { path: join(tmp.dir, 'comm.db') }, logs: { sigKey: 'k', sigCertificate: 'c' }, meters: [],
      tariffs: { profiles },
      wan: { tls: { key: 'k.pem', certificate: 'c.pem' }, trust: { roots: ['root.pem'] }, recipients: [{ id: 'emt-1', url: 'https://127.0.0.1:1', encCertificate: 'enc-1.pem' }] },
    })
    const v = createConfigVersions({ stateDir }, { current: () => current, reconfigure: (next) => { current = next; return Promise.resolve() }, log: () => Promise.resolve() })
    const enc = Buffer.from(sig.certificate).toString('base64')
    await v.applyProfile({ version: 1, communication: { recipients: [{ id: 'emt-7', url: 'https://emt-7.test:8443', encCertificate: enc }], contentEncryption: 'aes128-gcm' } })
    const wan = current.wan!
    expect(wan.recipients).toEqual([{ id: 'emt-7', url: 'https://emt-7.test:8443', encCertificate: join(stateDir, 'config', 'v1', 'enc-0.der') }])
    expect(wan.contentEncryption).toBe('aes128-gcm')
    expect(new Uint8Array(await readFile(wan.recipients[0]!.encCertificate))).toEqual(sig.certificate)
    expect(current.tariffs?.profiles).toBe(join(stateDir, 'config', 'v1', 'tariffs.json'))
    await expect(v.applyProfile({ version: 2, communication: { recipients: [{ id: 'emt-8', url: 'https://x.test', encCertificate: Buffer.from('not a certificate').toString('base64') }] } }))
      .rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/recipients\[0\]\.encCertificate/) as unknown })
    await expect(v.applyProfile({ version: 2, communication: { recipients: [{ id: 'emt-8', url: 'http://x.test', encCertificate: enc }] } }))
      .rejects.toMatchObject({ code: 'CONFIG_INVALID' })
  })

  it('cls: a profile sets, keeps, refuses and removes the CLS section; device CA certificates become PEM files of the version', async () => {
    const stateDir = join(tmp.dir, 'state-cls')
    let current = parseGatewayConfig({
      gatewayId: 'smgw-0001', store: { path: join(tmp.dir, 'cls.db') }, logs: { sigKey: 'k', sigCertificate: 'c' }, meters: [],
      wan: { tls: { key: 'k.pem', certificate: 'c.pem' }, trust: { roots: ['root.pem'] }, recipients: [{ id: 'emt-1', url: 'https://127.0.0.1:1', encCertificate: 'enc-1.pem' }] },
    })
    const v = createConfigVersions({ stateDir }, { current: () => current, reconfigure: (next) => { current = next; return Promise.resolve() }, log: () => Promise.resolve() })
    const ca = Buffer.from(sig.certificate).toString('base64')
    const cls = {
      devices: [
        { id: 'heat-pump', consumer: 'c-1', address: { host: '192.168.1.20', port: 5020 }, tls: { caCertificate: ca, serverName: 'hp.local' } },
        { id: 'wallbox', consumer: 'c-1', address: { host: '192.168.1.21', port: 5021 } },
      ],
      emts: [{ id: 'emt-1', tlsSubject: { CN: 'emt-1' }, allowedDevices: ['heat-pump', 'wallbox'] }],
      maxTimeoutS: 1800,
    }
    await v.applyProfile({ version: 1, cls })
    const file = join(stateDir, 'config', 'v1', 'cls-ca-0.pem')
    expect(current.cls?.devices).toEqual([
      { id: 'heat-pump', consumer: 'c-1', address: { host: '192.168.1.20', port: 5020 }, tls: { ca: file, serverName: 'hp.local' } },
      { id: 'wallbox', consumer: 'c-1', address: { host: '192.168.1.21', port: 5021 } },
    ])
    expect(current.cls?.maxTimeoutS).toBe(1800)
    expect(decodeCertificates(new Uint8Array(await readFile(file))).map((c) => c.der)).toEqual([sig.certificate])
    // A profile without cls keeps it; one that pairs an unknown device, or whose CA is not a certificate, changes nothing.
    await v.applyProfile({ version: 2, time: { ntp: { host: 'ntp.test' } } })
    expect(current.cls?.devices.map((d) => d.id)).toEqual(['heat-pump', 'wallbox'])
    await expect(v.applyProfile({ version: 3, cls: { ...cls, emts: [{ id: 'emt-1', tlsSubject: { CN: 'emt-1' }, allowedDevices: ['boiler'] }] } }))
      .rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/boiler is not in cls\.devices/) as unknown })
    await expect(v.applyProfile({ version: 3, cls: { ...cls, devices: [{ ...cls.devices[0], tls: { caCertificate: Buffer.from('no').toString('base64') } }] } }))
      .rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/devices\[0\]\.tls\.caCertificate/) as unknown })
    await expect(v.applyProfile({ version: 3, cls: { ...cls, devices: [{ ...cls.devices[1], tls: { ca: '/etc/ca.pem' } }] } }))
      .rejects.toMatchObject({ code: 'CONFIG_INVALID' })
    expect(current.cls?.maxTimeoutS).toBe(1800)
    // null removes the section; a rollback brings it back.
    await v.applyProfile({ version: 3, cls: null })
    expect(current.cls).toBeUndefined()
    await v.rollback(1)
    expect(current.cls?.devices[0]?.tls?.ca).toBe(file)
  })

  it('set-time-source is kept beside the versions and laid over the active one at restart', async () => {
    const w = await world()
    await w.versions.applyProfile({ version: 1, meters: [gas('gas-1', '11111111')] })
    await w.gw.close()
    let current = w.gw.config()
    const logged: SystemLogEntry[] = []
    const v = createConfigVersions({ stateDir: w.stateDir }, { current: () => current, reconfigure: (next) => { current = next; return Promise.resolve() }, log: (e) => { logged.push(e); return Promise.resolve() } })
    await expect(v.setTimeSource({ ntp: {} })).rejects.toMatchObject({ code: 'CONFIG_INVALID' })
    await v.setTimeSource({ ntp: { host: 'ntp.test' } })
    expect(current.time?.ntp).toEqual({ host: 'ntp.test', port: 123 })
    expect(logged).toEqual([{ type: 'time-source-set', fields: { by: 'gwa', servers: 1 } }])
    const effective = await readEffectiveConfig(w.file)
    expect([effective.version, effective.config.time?.ntp.host]).toEqual([1, 'ntp.test'])
    // A profile that names time replaces it.
    await v.applyProfile({ version: 2, time: { ntp: { host: 'other.test' } } })
    expect((await readEffectiveConfig(w.file)).config.time?.ntp.host).toBe('other.test')
  })
})

describe('a broken active version does not stop the start', () => {
  it('truncated, invalid or missing: the newest older kept version that validates runs, else the configuration file; logged once at start as config-fallback', async () => {
    const w = await world()
    await w.versions.applyProfile({ version: 1, meters: [gas('gas-1', '11111111'), gas('gas-2', '22222222')] })
    await w.versions.applyProfile({ version: 2, meters: [gas('gas-3', '33333333')] })
    await w.versions.applyProfile({ version: 3, meters: [gas('gas-4', '44444444')] })
    await w.gw.close()
    const dir = join(w.stateDir, 'config')
    const v3 = await readFile(join(dir, 'v3.json'), 'utf8')
    const startWith = async () => {
      const logged: SystemLogEntry[] = []
      const versions = createConfigVersions({ stateDir: w.stateDir }, { current: () => w.gw.config(), reconfigure: () => Promise.resolve(), log: (e) => { logged.push(e); return Promise.resolve() } })
      const version = await versions.activeAtStart()
      expect(await versions.active()).toBe(version)
      const effective = await readEffectiveConfig(w.file)
      expect(effective.version).toBe(version)
      return { version, logged, meters: meterIds(effective.config), fallback: effective.fallback }
    }

    // Intact: v3 runs, nothing logged.
    expect(await startWith()).toEqual({ version: 3, logged: [], meters: ['gas-4'], fallback: undefined })

    // Truncated by a crash half-way through a write.
    await truncate(join(dir, 'v3.json'), 40)
    const truncated = await startWith()
    expect(truncated).toMatchObject({ version: 2, meters: ['gas-3'], fallback: { rejected: 3, code: 'ACTIVE_VERSION_INVALID' } })
    expect(truncated.logged).toEqual([{ type: 'config-fallback', fields: { rejected: 3, running: 2, code: 'ACTIVE_VERSION_INVALID' } }])

    // JSON that is no configuration (garbage in a valid shape): the same; v2 truncated too → v1.
    await writeFile(join(dir, 'v3.json'), JSON.stringify({ ...JSON.parse(v3) as object, meters: 'garbage' }))
    await writeFile(join(dir, 'v2.json'), '\u0000\u0001 not json')
    expect(await startWith()).toMatchObject({ version: 1, meters: ['gas-1', 'gas-2'], logged: [{ type: 'config-fallback', fields: { rejected: 3, running: 1, code: 'ACTIVE_VERSION_INVALID' } }] })

    // Missing: the file active names is gone.
    await rm(join(dir, 'v3.json'))
    expect(await startWith()).toMatchObject({ version: 1, logged: [{ type: 'config-fallback', fields: { rejected: 3, running: 1, code: 'ACTIVE_VERSION_MISSING' } }] })

    // No kept version validates: the configuration file runs.
    await writeFile(join(dir, 'v1.json'), '')
    expect(await startWith()).toMatchObject({ version: 0, meters: ['gas-1'], logged: [{ type: 'config-fallback', fields: { rejected: 3, running: 0, code: 'ACTIVE_VERSION_MISSING' } }] })

    // `active` itself garbage: the newest kept version that validates.
    await writeFile(join(dir, 'v2.json'), v3)
    await writeFile(join(dir, 'active'), 'x\n')
    expect(await startWith()).toMatchObject({ version: 2, meters: ['gas-4'], logged: [{ type: 'config-fallback', fields: { rejected: 0, running: 2, code: 'ACTIVE_POINTER_INVALID' } }] })
    // The evidence stays: `active` is not rewritten by a start.
    expect(await readFile(join(dir, 'active'), 'utf8')).toBe('x\n')
  })

  it('never forward to a version the GWA rolled back from; a gateway starts on the fallback', async () => {
    const w = await world()
    await w.versions.applyProfile({ version: 1, meters: [gas('gas-1', '11111111'), gas('gas-2', '22222222')] })
    await w.versions.applyProfile({ version: 2, meters: [gas('gas-3', '33333333')] })
    await w.versions.rollback(1)
    await w.gw.close()
    await truncate(join(w.stateDir, 'config', 'v1.json'), 10)
    expect(await resolveActiveVersion(w.stateDir)).toMatchObject({ version: 0, fallback: { rejected: 1, code: 'ACTIVE_VERSION_INVALID' } })
    const effective = await readEffectiveConfig(w.file)
    expect(meterIds(effective.config)).toEqual(['gas-1'])
    // The configuration the fallback yields starts (the admin section aside: no GWA here).
    const { admin: _admin, ...running } = JSON.parse(JSON.stringify(effective.config)) as Record<string, unknown>
    const gw = createGateway(parseGatewayConfig(running), { sig: { signer: sig.signer, certificate: sig.certificate } })
    cleanups.push(() => gw.close())
    await gw.start()
    expect(gw.status().meters.map((m) => m.id)).toEqual(['gas-1'])
  })
})
