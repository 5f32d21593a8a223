import { mkdir, writeFile } from 'node:fs/promises'
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { createCmsSigner, type CmsSigner } from '@smgw/crypto'
import { decodeAdminResults, encodeCommandsAnswer, signAdminObject, type AdminResult } from '@smgw/admin-protocol'
import { createTlsContext, createTlsServer } from '@smgw/pki'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RESULTS_PATH, SESSION_PATH } from '../admin/session.js'
import { readGatewayConfig } from '../config.js'
import { createGateway, type Gateway } from '../service.js'
import { openStore } from '../store/store.js'
import { createTempDir } from '../testing.js'
import { createWanTestPki, type WanTestPki } from '../wan/testing.js'
import { gatewayTestConfig, pemFileIn, startTestDevice, startTestEmt, writeTestPkiFiles } from './testing.js'

// `cls-open` through the real administration path: a test GWA (mutual TLS, the session
// protocol, GWA-signed commands) answers the gateway's start-up session with cls-open
// commands; the gateway opens the channel to a real EMT CLS endpoint and a real TCP device.
// The cls section itself comes from the configuration file, a reconfiguration, or a GWA profile.

const NOW = new Date()
const GATEWAY = 'smgw-0001'
const GW = `gateways/${GATEWAY}`
let t: WanTestPki
let tmp: { dir: string; remove: () => Promise<void> }
let gwaSigner: CmsSigner
const closers: (() => unknown)[] = []

beforeAll(async () => {
  tmp = await createTempDir('smgw-cls-admin-')
  t = await createWanTestPki({ gateways: 1, emts: 1 }, new Date(NOW.getTime() - 86_400_000))
  gwaSigner = createCmsSigner({ signer: t.signer('gwa/sig'), certificate: t.cert('gwa/sig'), chain: [t.cert('sub-ca-emt')] })
  await writeTestPkiFiles(t, tmp.dir, {
    certificates: ['root', 'sub-ca-emt', 'sub-ca-gw', 'sub-ca-gs', 'gwa/sig', `${GW}/gs`, `${GW}/sig`, `${GW}/tls`, 'emt-1/enc'],
    keys: [`${GW}/gs`, `${GW}/sig`, `${GW}/tls`],
  })
}, 60_000)
afterAll(async () => {
  for (const c of closers.reverse()) await c()
  await tmp.remove()
})

/** An EMT CLS endpoint and a TCP device, both real, both closed after the tests. */
async function startEmtAndDevice(): Promise<{ endpoint: string; devicePort: number; emtSockets: readonly unknown[]; deviceSockets: readonly unknown[] }> {
  const emt = await startTestEmt(t)
  closers.push(() => { emt.close() })
  const device = await startTestDevice()
  closers.push(() => { device.close() })
  return { endpoint: `https://127.0.0.1:${String(emt.port)}`, devicePort: device.port, emtSockets: emt.all, deviceSockets: device.all }
}

const file = (label: string): string => pemFileIn(tmp.dir)(label)

/** The admin section: the test GWA at `endpoint`, the gateway's initial GS identity, no polling. */
const adminSection = (endpoint: string): Record<string, unknown> => ({
  endpoint, gwaCertificate: file('gwa/sig'),
  trust: { roots: [file('root')], intermediates: [file('sub-ca-emt'), file('sub-ca-gw'), file('sub-ca-gs')] },
  initialIdentity: { key: file(`${GW}/gs.key`), certificate: file(`${GW}/gs`), chain: [file('sub-ca-gs')] },
  stateDir: 'state', wakeUp: { host: '127.0.0.1', port: 0 }, pollIntervalS: 0,
})

/**
 * A GWA that answers the start-up session with `commands` and records the results; each later
 * request (results post, next session) is answered with the next batch of `later`, then none.
 */
async function startGwa(commands: Uint8Array[], later: Uint8Array[][] = []): Promise<{ endpoint: string; results: AdminResult[][] }> {
  const ctx = createTlsContext({
    identity: { key: t.key('gwa/tls'), cert: t.cert('gwa/tls'), chain: [t.cert('sub-ca-emt')] },
    trust: { roots: [t.cert('root')], intermediates: [t.cert('sub-ca-gw'), t.cert('sub-ca-gs')] },
  })
  const results: AdminResult[][] = []
  let queue: Uint8Array[][] = [commands, ...later]
  const http = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (req.url === RESULTS_PATH) results.push([...decodeAdminResults(new Uint8Array(Buffer.concat(chunks))).results])
      else if (req.url !== SESSION_PATH) { res.writeHead(404).end(); return }
      const next = queue[0] ?? []
      queue = queue.slice(1)
      res.writeHead(200, { 'content-type': 'application/json' }).end(encodeCommandsAnswer({ format: 'smgw-admin-commands/1', commands: next.map((c) => Buffer.from(c).toString('base64')) }))
    })
  })
  const tls = createTlsServer(ctx, { onConnection: (socket) => { http.emit('connection', socket) } })
  await new Promise<void>((resolve) => { tls.listen(0, '127.0.0.1', resolve) })
  closers.push(() => new Promise<void>((resolve) => { http.closeAllConnections(); tls.close(() => { resolve() }) }))
  return { endpoint: `https://127.0.0.1:${String((tls.address() as AddressInfo).port)}`, results }
}

let sequence = 0
function command(fields: Record<string, unknown>): Promise<Uint8Array> {
  sequence++
  return signAdminObject({
    format: 'smgw-admin-command/1', commandId: `cmd-${String(sequence)}`, gatewayId: GATEWAY, sequence,
    issuedAt: new Date(NOW.getTime() - 60_000).toISOString(), ...fields,
  }, gwaSigner, NOW)
}

/**
 * Runs the next admin session. The session at start has posted its results before it has quite
 * finished, and until it has a new one is absorbed (runSession gives undefined): asked again then.
 */
async function nextSession(gateway: Gateway): Promise<void> {
  await expect.poll(async () => (await gateway.admin()!.runSession('schedule')) !== undefined, { timeout: 30_000 }).toBe(true)
}

describe('cls-open through the admin session', () => {
  it('the GWA\'s cls-open opens the channel (result {channelId}); a device the EMT is not paired with is refused with CLS_FAILED', async () => {
    const { endpoint, devicePort, emtSockets, deviceSockets } = await startEmtAndDevice()
    const gwa = await startGwa([
      await command({ type: 'cls-open', deviceId: 'hp-1', emtId: 'emt-1', endpoint, timeoutS: 600 }),
      await command({ type: 'cls-open', deviceId: 'wb-1', emtId: 'emt-1', endpoint, timeoutS: 600 }),
    ])
    const configPath = join(tmp.dir, 'gateway.json')
    await writeFile(configPath, JSON.stringify({
      ...gatewayTestConfig(GATEWAY, file),
      admin: adminSection(gwa.endpoint),
      cls: {
        devices: [
          { id: 'hp-1', consumer: 'c-1', address: { host: '127.0.0.1', port: devicePort } },
          { id: 'wb-1', consumer: 'c-2', address: { host: '127.0.0.1', port: devicePort } },
        ],
        emts: [{ id: 'emt-1', tlsSubject: { CN: 'EMT Demo 1' }, allowedDevices: ['hp-1'] }],
      },
    }))
    const gateway = createGateway(await readGatewayConfig(configPath), { hanUi: false })
    closers.push(() => gateway.close())
    await gateway.start()
    await expect.poll(() => gwa.results.length, { timeout: 30_000 }).toBeGreaterThan(0)
    const results = gwa.results.flat()
    expect(results).toHaveLength(2)
    const [opened, refused] = results
    expect(opened).toMatchObject({ ok: true, data: { channelId: expect.any(String) as unknown, timeoutS: 600 } })
    expect(refused).toMatchObject({ ok: false, error: { code: 'CLS_FAILED' } })
    expect(gateway.cls()!.channels()).toMatchObject([{ deviceId: 'hp-1', emtId: 'emt-1', timeoutS: 600 }])
    expect(emtSockets).toHaveLength(1)
    expect(deviceSockets).toHaveLength(1)
    await gateway.close()
    const store = openStore(join(tmp.dir, 'gateway.db'), { now: () => new Date() }, { readonly: true })
    try {
      const entries = store.logRows.entries('consumer', 'c-1').map((r) => JSON.parse(String(r.fields)) as { state: string; reason: string })
      expect(entries.map((e) => [e.state, e.reason])).toEqual([['opened', 'requested'], ['closed', 'requested']])
      expect(store.logRows.entries('consumer', 'c-2')).toEqual([])
    } finally {
      store.close()
    }
  })
})

describe('cls-open and a cls section that comes with a reconfiguration', () => {
  it('without a cls section cls-open is CLS_FAILED; after Gateway.reconfigure adds one, the next session\'s cls-open opens the channel', async () => {
    const { endpoint, devicePort, emtSockets, deviceSockets } = await startEmtAndDevice()
    const gwa = await startGwa(
      [await command({ type: 'cls-open', deviceId: 'hp-1', emtId: 'emt-1', endpoint, timeoutS: 600 })],
      [[], [await command({ type: 'cls-open', deviceId: 'hp-1', emtId: 'emt-1', endpoint, timeoutS: 600 })]],
    )
    const dir = join(tmp.dir, 'later')
    await mkdir(dir)
    const base = { ...gatewayTestConfig(GATEWAY, file), admin: adminSection(gwa.endpoint) }
    await writeFile(join(dir, 'gateway.json'), JSON.stringify(base))
    await writeFile(join(dir, 'gateway-cls.json'), JSON.stringify({
      ...base,
      cls: { devices: [{ id: 'hp-1', consumer: 'c-1', address: { host: '127.0.0.1', port: devicePort } }], emts: [{ id: 'emt-1', tlsSubject: { CN: 'EMT Demo 1' }, allowedDevices: ['hp-1'] }] },
    }))
    const gateway = createGateway(await readGatewayConfig(join(dir, 'gateway.json')), { hanUi: false })
    closers.push(() => gateway.close())
    await gateway.start()
    await expect.poll(() => gwa.results.length, { timeout: 30_000 }).toBeGreaterThan(0)
    expect(gwa.results.flat()).toMatchObject([{ ok: false, error: { code: 'CLS_FAILED', message: expect.stringContaining('no cls section') as unknown } }])
    expect(gateway.cls()).toBeUndefined()
    expect(emtSockets).toHaveLength(0)

    await gateway.reconfigure(await readGatewayConfig(join(dir, 'gateway-cls.json')))
    await nextSession(gateway)
    expect(gwa.results.flat()[1]).toMatchObject({ ok: true, data: { channelId: expect.any(String) as unknown, timeoutS: 600 } })
    expect(gateway.cls()!.channels()).toMatchObject([{ deviceId: 'hp-1', emtId: 'emt-1' }])
    expect(emtSockets).toHaveLength(1)
    expect(deviceSockets).toHaveLength(1)
    await gateway.close()
  })
})

describe('a cls section the GWA sends in a profile', () => {
  it('profile with a cls part, then cls-open in the same session: the channel opens; a profile with cls null removes the section and cls-open is CLS_FAILED', async () => {
    const { endpoint, devicePort, emtSockets, deviceSockets } = await startEmtAndDevice()
    const cls = {
      devices: [
        { id: 'hp-1', consumer: 'c-1', address: { host: '127.0.0.1', port: devicePort } },
        // A device on the HAN with TLS: its CA arrives inline and becomes a file of the version.
        { id: 'wb-1', consumer: 'c-2', address: { host: '127.0.0.1', port: devicePort }, tls: { caCertificate: Buffer.from(t.cert('root')).toString('base64'), serverName: 'wb-1.local' } },
      ],
      emts: [{ id: 'emt-1', tlsSubject: { CN: 'EMT Demo 1' }, allowedDevices: ['hp-1', 'wb-1'] }],
    }
    const gwa = await startGwa(
      [
        await command({ type: 'profile', version: 1, cls }),
        await command({ type: 'cls-open', deviceId: 'hp-1', emtId: 'emt-1', endpoint, timeoutS: 600 }),
      ],
      [[], [
        await command({ type: 'profile', version: 2, cls: null }),
        await command({ type: 'cls-open', deviceId: 'hp-1', emtId: 'emt-1', endpoint, timeoutS: 600 }),
      ]],
    )
    const dir = join(tmp.dir, 'by-profile')
    await mkdir(dir)
    await writeFile(join(dir, 'gateway.json'), JSON.stringify({ ...gatewayTestConfig(GATEWAY, file), admin: adminSection(gwa.endpoint) }))
    const gateway = createGateway(await readGatewayConfig(join(dir, 'gateway.json')), { hanUi: false })
    closers.push(() => gateway.close())
    await gateway.start()
    await expect.poll(() => gwa.results.length, { timeout: 30_000 }).toBeGreaterThan(0)
    expect(gwa.results.flat()).toMatchObject([
      { ok: true, data: { version: 1 } },
      { ok: true, data: { channelId: expect.any(String) as unknown, timeoutS: 600 } },
    ])
    expect(gateway.config().cls?.devices[1]?.tls).toEqual({ ca: expect.stringMatching(/v1[/\\]cls-ca-1\.pem$/) as unknown, serverName: 'wb-1.local' })
    expect(gateway.cls()!.channels()).toMatchObject([{ deviceId: 'hp-1', emtId: 'emt-1' }])
    expect(emtSockets).toHaveLength(1)
    expect(deviceSockets).toHaveLength(1)

    await nextSession(gateway)
    expect(gwa.results.flat().slice(2)).toMatchObject([
      { ok: true, data: { version: 2 } },
      { ok: false, error: { code: 'CLS_FAILED', message: expect.stringContaining('no cls section') as unknown } },
    ])
    expect(gateway.cls()).toBeUndefined()
    await gateway.close()
    // The open channel was closed by the removal (reason reconfigured), in c-1's consumer log.
    const store = openStore(join(dir, 'gateway.db'), { now: () => new Date() }, { readonly: true })
    try {
      const entries = store.logRows.entries('consumer', 'c-1').map((r) => JSON.parse(String(r.fields)) as { state: string; reason: string })
      expect(entries.slice(-2).map((e) => [e.state, e.reason])).toEqual([['opened', 'requested'], ['closed', 'reconfigured']])
    } finally {
      store.close()
    }
  })
})
