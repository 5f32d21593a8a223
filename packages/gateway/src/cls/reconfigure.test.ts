import { writeFile } from 'node:fs/promises'
import { createServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { TLSSocket } from 'node:tls'
import { encodePem } from '@smgw/crypto'
import { createTlsContext, createTlsServer } from '@smgw/pki'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readGatewayConfig, type GatewayConfig } from '../config.js'
import { GatewayError } from '../errors.js'
import { createGateway } from '../service.js'
import { openStore } from '../store/store.js'
import { createTempDir } from '../testing.js'
import { createWanTestPki, type WanTestPki } from '../wan/testing.js'

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
  for (const label of ['root', 'sub-ca-emt', 'sub-ca-gw', `${GW}/sig`, `${GW}/tls`, 'emt-1/enc']) await writeFile(file(label), encodePem('CERTIFICATE', t.cert(label)))
  for (const label of [`${GW}/sig`, `${GW}/tls`]) await writeFile(file(`${label}.key`), t.key(label).export({ format: 'pem', type: 'pkcs8' }).toString(), { mode: 0o600 })
}, 60_000)
afterAll(async () => {
  for (const c of closers.reverse()) await c()
  await tmp.remove()
})

function file(label: string): string {
  return join(tmp.dir, `${label.replaceAll('/', '-')}.pem`)
}

/** A listener that hands on every connection it accepts. */
function queueOf<S>(): { push: (s: S) => void; next: () => Promise<S>; all: S[] } {
  const waiting: ((s: S) => void)[] = []
  const arrived: S[] = []
  const all: S[] = []
  return {
    all,
    push: (s) => { all.push(s); const w = waiting.shift(); if (w !== undefined) w(s); else arrived.push(s) },
    next: () => { const s = arrived.shift(); return s !== undefined ? Promise.resolve(s) : new Promise((resolve) => { waiting.push(resolve) }) },
  }
}

function readLine(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = ''
    const onData = (c: Buffer): void => {
      text += c.toString('utf8')
      const nl = text.indexOf('\n')
      if (nl < 0) return
      socket.off('data', onData)
      resolve(text.slice(0, nl))
    }
    socket.on('data', onData)
  })
}

const ended = (socket: Socket): Promise<void> => new Promise((resolve) => {
  if (socket.readableEnded || socket.destroyed) resolve()
  else { socket.once('end', () => { resolve() }); socket.once('close', () => { resolve() }); socket.resume() }
})

describe('Gateway.reconfigure with a new cls section', () => {
  it('closes only the channels whose pairing went (reconfigured, in the signed consumer log), keeps the others relaying; the section can go and come back without a restart', async () => {
    const emtSockets = queueOf<TLSSocket>()
    const emt = createTlsServer(createTlsContext({ identity: { key: t.key('emt-1/tls'), cert: t.cert('emt-1/tls'), chain: [t.cert('sub-ca-emt')] }, trust: { roots: [t.cert('root')] } }), {
      onConnection: (s) => { emtSockets.push(s) },
    })
    await new Promise<void>((resolve) => { emt.listen(0, '127.0.0.1', resolve) })
    closers.push(() => { for (const s of emtSockets.all) s.destroy(); emt.close() })
    const deviceSockets = queueOf<Socket>()
    const device = createServer((s) => { deviceSockets.push(s) })
    await new Promise<void>((resolve) => { device.listen(0, '127.0.0.1', resolve) })
    closers.push(() => { for (const s of deviceSockets.all) s.destroy(); device.close() })
    const endpoint = `https://127.0.0.1:${String((emt.address() as AddressInfo).port)}`
    const at = { host: '127.0.0.1', port: (device.address() as AddressInfo).port }

    const base = {
      gatewayId: GATEWAY,
      store: { path: 'gateway.db' },
      logs: { sigKey: file(`${GW}/sig.key`), sigCertificate: file(`${GW}/sig`) },
      meters: [],
      wan: {
        tls: { key: file(`${GW}/tls.key`), certificate: file(`${GW}/tls`), chain: [file('sub-ca-gw')] },
        trust: { roots: [file('root')], intermediates: [file('sub-ca-emt')] },
        recipients: [{ id: 'emt-1', url: 'https://127.0.0.1:1', encCertificate: file('emt-1/enc') }],
      },
    }
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
      const [e, d] = await Promise.all([emtSockets.next(), deviceSockets.next()])
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
