import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readGatewayConfig, type GatewayConfig } from '../config.js'
import { GatewayError } from '../errors.js'
import { createGateway } from '../service.js'
import { openStore } from '../store/store.js'
import { createTempDir } from '../testing.js'
import { createWanTestPki, type WanTestPki } from '../wan/testing.js'
import { ended, gatewayTestConfig, pemFileIn, readLine, startTestDevice, startTestEmt, writeTestPkiFiles } from './testing.js'

// Gateway.reconfigure with a changed `cls` section: a real gateway (SQLite store, signed
// logs, its WAN TLS identity from files), a real EMT CLS endpoint (mutual TLS 1.2) and a real
// TCP device; channels opened as the admin executor opens them (requestedBy 'gwa').

const GATEWAY = 'smgw-0001'
const GW = `gateways/${GATEWAY}`
let t: WanTestPki
let tmp: { dir: string; remove: () => Promise<void> }
const closers: (() => unknown)[] = []

beforeAll(async () => {
  tmp = await createTempDir('smgw-cls-reconfigure-')
  t = await createWanTestPki({ gateways: 1, emts: 2 }, new Date(Date.now() - 86_400_000))
  await writeTestPkiFiles(t, tmp.dir, { certificates: ['root', 'sub-ca-emt', 'sub-ca-gw', `${GW}/sig`, `${GW}/tls`, 'emt-1/enc'], keys: [`${GW}/sig`, `${GW}/tls`] })
}, 60_000)
afterAll(async () => {
  for (const c of closers.reverse()) await c()
  await tmp.remove()
})

describe('Gateway.reconfigure with a new cls section', () => {
  it('closes only the channels whose pairing went (reconfigured, in the signed consumer log), keeps the others relaying; the section can go and come back without a restart', async () => {
    const emt = await startTestEmt(t)
    closers.push(() => { emt.close() })
    const device = await startTestDevice()
    closers.push(() => { device.close() })
    const endpoint = `https://127.0.0.1:${String(emt.port)}`
    const at = { host: '127.0.0.1', port: device.port }

    const base = gatewayTestConfig(GATEWAY, pemFileIn(tmp.dir))
    const version = async (name: string, cls: unknown): Promise<GatewayConfig> => {
      const path = join(tmp.dir, `${name}.json`)
      await writeFile(path, JSON.stringify({ ...base, ...(cls === undefined ? {} : { cls }) }))
      return readGatewayConfig(path)
    }
    const v1 = await version('v1', {
      devices: [{ id: 'hp-1', consumer: 'c-1', address: at }, { id: 'wb-1', consumer: 'c-2', address: at }],
      emts: [{ id: 'emt-1', tlsSubject: { CN: 'EMT Demo 1' }, allowedDevices: ['hp-1', 'wb-1'] }],
      idleTimeoutS: 3600, maxTimeoutS: 7200, defaultTimeoutS: 3600,
    })
    const v2 = await version('v2', {
      devices: [{ id: 'hp-1', consumer: 'c-1', address: at }, { id: 'wb-1', consumer: 'c-2', address: at }],
      emts: [{ id: 'emt-1', tlsSubject: { CN: 'EMT Demo 1' }, allowedDevices: ['hp-1'] }],
      idleTimeoutS: 3600, maxTimeoutS: 7200, defaultTimeoutS: 3600,
    })
    const v3 = await version('v3', undefined)

    const gateway = createGateway(v1, { hanUi: false })
    closers.push(() => gateway.close())
    await gateway.start()
    const open = async (deviceId: string) => {
      const opened = await gateway.cls()!.open({ deviceId, emtId: 'emt-1', endpoint, requestedBy: 'gwa' })
      const [e, d] = await Promise.all([emt.next(), device.next()])
      await readLine(e)
      return { ...opened, e, d }
    }
    const hp = await open('hp-1')
    const wb = await open('wb-1')
    const service = gateway.cls()

    // v2 unpairs wb-1: its channel closes, hp-1's keeps relaying on the same service.
    await gateway.reconfigure(v2)
    expect(gateway.cls()).toBe(service)
    await Promise.all([ended(wb.e), ended(wb.d)])
    expect(gateway.cls()!.channels().map((c) => c.deviceId)).toEqual(['hp-1'])
    hp.e.write('{"cmd":"limit","kw":4.2}\n')
    expect(await readLine(hp.d)).toBe('{"cmd":"limit","kw":4.2}')
    hp.d.write('{"ok":true}\n')
    expect(await readLine(hp.e)).toBe('{"ok":true}')
    const refused = await gateway.cls()!.open({ deviceId: 'wb-1', emtId: 'emt-1', endpoint, requestedBy: 'gwa' }).then(() => undefined, (e: unknown) => e)
    expect(refused).toBeInstanceOf(GatewayError)
    expect((refused as GatewayError).code).toBe('CLS_FAILED')

    // v3 has no cls section: every channel closes and the service goes.
    await gateway.reconfigure(v3)
    expect(gateway.cls()).toBeUndefined()
    await Promise.all([ended(hp.e), ended(hp.d)])

    // Back to v2 without a restart: a new service opens channels again.
    await gateway.reconfigure(v2)
    const again = await open('hp-1')
    expect(gateway.cls()!.channels().map((c) => c.channelId)).toEqual([again.channelId])
    await gateway.close()

    const store = openStore(join(tmp.dir, 'gateway.db'), { now: () => new Date() }, { readonly: true })
    try {
      const fieldsOf = (consumer: string) => store.logRows.entries('consumer', consumer).map((r) => JSON.parse(String(r.fields)) as { device: string; state: string; reason: string; text: string })
      expect(fieldsOf('c-1').map((e) => [e.device, e.state, e.reason])).toEqual([
        ['hp-1', 'opened', 'requested'], ['hp-1', 'closed', 'reconfigured'], ['hp-1', 'opened', 'requested'], ['hp-1', 'closed', 'requested'],
      ])
      expect(fieldsOf('c-1')[1]!.text).toContain('the gateway has no CLS devices any more')
      expect(fieldsOf('c-2').map((e) => [e.device, e.state, e.reason])).toEqual([['wb-1', 'opened', 'requested'], ['wb-1', 'closed', 'reconfigured']])
      expect(fieldsOf('c-2')[1]!.text).toContain('emt-1 is no longer paired with wb-1')
    } finally {
      store.close()
    }
  })
})
