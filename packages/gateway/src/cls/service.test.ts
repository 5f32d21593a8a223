import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { Socket } from 'node:net'
import { join } from 'node:path'
import { createServer as createTlsDeviceServer } from 'node:tls'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GatewayError } from '../errors.js'
import type { ConsumerLogEntry } from '../log/entries.js'
import { createManualWorld, createTempDir } from '../testing.js'
import { createWanTestPki, openssl, type WanTestPki } from '../wan/testing.js'
import type { ClsConfigInput } from './config.js'
import { CLS_PREAMBLE_FORMAT, createClsService, type ClsServiceDeps } from './service.js'
import { ended, readLine, startTestDevice, startTestEmt, type TestEndpoint } from './testing.js'

// Real sockets throughout: an EMT CLS endpoint (mutual TLS 1.2 with @smgw/pki's server), a
// device as a TCP server on 127.0.0.1, the service in between. Time moves only by hand.
const DAY = 86_400_000
let pki: WanTestPki
let other: WanTestPki

beforeAll(async () => {
  pki = await createWanTestPki({ gateways: 1, emts: 2 }, new Date(Date.now() - DAY))
  other = await createWanTestPki({ gateways: 0, emts: 1 }, new Date(Date.now() - DAY))
})

const servers: { close: () => void }[] = []
afterAll(() => { for (const s of servers) s.close() })

/** An EMT CLS endpoint: accepts the gateway (SM-PKI client certificate), hands each socket on. */
async function startEmt(label = 'emt-1', trustFrom: WanTestPki = pki, identityFrom: WanTestPki = pki): Promise<TestEndpoint<TLSSocket>> {
  const emt = await startTestEmt(identityFrom, label, trustFrom)
  servers.push(emt)
  return emt
}

/** A device on the HAN: every connection handed on. */
async function startDevice(): Promise<TestEndpoint<Socket>> {
  const device = await startTestDevice()
  servers.push(device)
  return device
}

/** Reads from `socket` until `n` bytes arrived (or the end). */
function readBytes(socket: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (c: Buffer): void => {
      chunks.push(c)
      size += c.length
      if (size >= n) done()
    }
    const done = (): void => {
      socket.off('data', onData)
      socket.off('end', done)
      resolve(Buffer.concat(chunks))
    }
    socket.on('data', onData)
    socket.on('end', done)
  })
}

function config(devicePort: number, extra: Partial<ClsConfigInput> = {}): ClsConfigInput {
  return {
    devices: [
      { id: 'hp-1', consumer: 'c-1', address: { host: '127.0.0.1', port: devicePort } },
      { id: 'wb-1', consumer: 'c-2', address: { host: '127.0.0.1', port: devicePort } },
    ],
    emts: [
      { id: 'emt-1', tlsSubject: { CN: 'EMT Demo 1' }, allowedDevices: ['hp-1'] },
      { id: 'emt-2', tlsSubject: { CN: 'EMT Demo 2' }, allowedDevices: ['wb-1'] },
    ],
    ...extra,
  }
}

function deps(entries: { consumer: string; entry: ConsumerLogEntry }[], extra: Partial<ClsServiceDeps> = {}): ClsServiceDeps {
  return {
    gatewayId: 'smgw-0001',
    tls: () => ({
      identity: { key: pki.key('gateways/smgw-0001/tls'), cert: pki.cert('gateways/smgw-0001/tls'), chain: [pki.cert('sub-ca-gw')] },
      trust: { roots: [pki.cert('root')], intermediates: [pki.cert('sub-ca-emt')] },
    }),
    logs: { consumer: (consumer, entry) => { entries.push({ consumer, entry }); return Promise.resolve({} as never) } },
    ...extra,
  }
}

async function expectCode(p: Promise<unknown>, code: string): Promise<GatewayError> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(GatewayError)
  expect((err as GatewayError).code, (err as Error).message).toBe(code)
  return err as GatewayError
}

describe('CLS channel', () => {
  it('relays bytes both ways after a preamble, logs opened and closed in the device consumer\'s log', async () => {
    const emt = await startEmt()
    const device = await startDevice()
    const entries: { consumer: string; entry: ConsumerLogEntry }[] = []
    const cls = createClsService(config(device.port), deps(entries))
    const opened = await cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint: `https://127.0.0.1:${emt.port}`, timeoutS: 60 })
    const [e, d] = await Promise.all([emt.next(), device.next()])
    const preamble = JSON.parse(await readLine(e)) as Record<string, unknown>
    expect(preamble).toEqual({ format: CLS_PREAMBLE_FORMAT, channelId: opened.channelId, gatewayId: 'smgw-0001', deviceId: 'hp-1', timeoutS: 60 })
    e.write('{"cmd":"limit","kw":4.2}\n')
    expect(await readLine(d)).toBe('{"cmd":"limit","kw":4.2}')
    d.write('{"ok":true}\n')
    expect(await readLine(e)).toBe('{"ok":true}')
    expect(cls.channels()).toMatchObject([{ channelId: opened.channelId, deviceId: 'hp-1', emtId: 'emt-1', timeoutS: 60, bytesToDevice: 25, bytesToEmt: 12 }])
    expect(entries).toEqual([{ consumer: 'c-1', entry: { type: 'cls-channel', fields: { device: 'hp-1', recipient: 'emt-1', state: 'opened', reason: 'requested', text: expect.stringContaining('emt-1 opened a control channel to your device hp-1') as string } } }])

    const closed = cls.closed(opened.channelId)!
    await cls.closeChannel(opened.channelId)
    await Promise.all([ended(e), ended(d)])
    expect(await closed).toMatchObject({ reason: 'requested', bytesToDevice: 25, bytesToEmt: 12 })
    expect(entries[1]).toMatchObject({ consumer: 'c-1', entry: { type: 'cls-channel', fields: { device: 'hp-1', recipient: 'emt-1', state: 'closed', reason: 'requested' } } })
    expect(cls.channels()).toEqual([])
    await cls.close()
  })

  it('relays megabytes in order both ways (pipe with backpressure)', async () => {
    const emt = await startEmt()
    const device = await startDevice()
    const cls = createClsService(config(device.port), deps([]))
    await cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint: `https://127.0.0.1:${emt.port}` })
    const [e, d] = await Promise.all([emt.next(), device.next()])
    await readLine(e)
    const down = randomBytes(4 * 1024 * 1024)
    const up = randomBytes(3 * 1024 * 1024)
    const gotDown = readBytes(d, down.length)
    const gotUp = readBytes(e, up.length)
    e.write(down)
    d.write(up)
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')
    expect(sha(await gotDown)).toBe(sha(down))
    expect(sha(await gotUp)).toBe(sha(up))
    await cls.close()
  })

  it('a channel ends when either side closes (peer-closed); the other side is closed too', async () => {
    const emt = await startEmt()
    const device = await startDevice()
    const entries: { consumer: string; entry: ConsumerLogEntry }[] = []
    const cls = createClsService(config(device.port), deps(entries))
    const a = await cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint: `https://127.0.0.1:${emt.port}` })
    const [e1, d1] = await Promise.all([emt.next(), device.next()])
    const closedA = cls.closed(a.channelId)!
    e1.end()
    await ended(d1)
    expect(await closedA).toMatchObject({ reason: 'peer-closed' })
    // The device is free again; now the device hangs up.
    const b = await cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint: `https://127.0.0.1:${emt.port}` })
    const [e2, d2] = await Promise.all([emt.next(), device.next()])
    const closedB = cls.closed(b.channelId)!
    d2.destroy()
    await ended(e2)
    expect(await closedB).toMatchObject({ reason: 'peer-closed' })
    expect(entries.map((x) => { const f = x.entry.fields as { state?: string; reason?: string }; return [f.state, f.reason] })).toEqual([['opened', 'requested'], ['closed', 'peer-closed'], ['opened', 'requested'], ['closed', 'peer-closed']])
    await cls.close()
  })

  it('closes at the channel\'s timeout and after idleTimeoutS without a byte (timeout); timeoutS is cut to maxTimeoutS', async () => {
    const world = createManualWorld(Date.now())
    const emt = await startEmt()
    const device = await startDevice()
    const cls = createClsService(config(device.port, { defaultTimeoutS: 60, maxTimeoutS: 120, idleTimeoutS: 30 }), deps([], { now: world.now, setTimer: world.setTimer }))
    const a = await cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint: `https://127.0.0.1:${emt.port}`, timeoutS: 3600 })
    expect(a.timeoutS).toBe(120)
    const [e, d] = await Promise.all([emt.next(), device.next()])
    await readLine(e)
    // Traffic every 20 s keeps the channel alive past the idle limit…
    for (let i = 0; i < 5; i++) {
      world.advance(20_000)
      e.write('x\n')
      await readLine(d)
    }
    expect(cls.channels()).toHaveLength(1)
    // …until its timeout (120 s after opening).
    const closedA = cls.closed(a.channelId)!
    world.advance(20_000)
    expect(await closedA).toMatchObject({ reason: 'timeout' })
    await Promise.all([ended(e), ended(d)])

    const b = await cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint: `https://127.0.0.1:${emt.port}` })
    await Promise.all([emt.next(), device.next()])
    const closedB = cls.closed(b.channelId)!
    world.advance(29_000)
    expect(cls.channels()).toHaveLength(1)
    world.advance(1000)
    expect(await closedB).toMatchObject({ reason: 'timeout' })
    await cls.close()
  })

  it('refuses a device or EMT not configured, not paired, or busy (CLS_FAILED), and a requester the access table does not allow (FORBIDDEN)', async () => {
    const emt = await startEmt()
    const device = await startDevice()
    const entries: { consumer: string; entry: ConsumerLogEntry }[] = []
    const cls = createClsService(config(device.port), deps(entries))
    const endpoint = `https://127.0.0.1:${emt.port}`
    await expectCode(cls.open({ deviceId: 'pool-pump', emtId: 'emt-1', endpoint }), 'CLS_FAILED')
    await expectCode(cls.open({ deviceId: 'hp-1', emtId: 'emt-9', endpoint }), 'CLS_FAILED')
    const notPaired = await expectCode(cls.open({ deviceId: 'wb-1', emtId: 'emt-1', endpoint }), 'CLS_FAILED')
    expect(notPaired.message).toContain('not paired')
    await expectCode(cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint: 'http://127.0.0.1:1' }), 'CLS_FAILED')
    await expectCode(cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint, requestedBy: 'consumer' }), 'FORBIDDEN')
    await expectCode(cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint, requestedBy: 'emt:taf7' }), 'FORBIDDEN')
    expect(entries).toEqual([])
    const first = cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint })
    const busy = await expectCode(cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint }), 'CLS_FAILED')
    expect(busy.message).toContain('open already')
    await first
    expect(cls.channels()).toHaveLength(1)
    await cls.close()
    await expectCode(cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint }), 'CLS_FAILED')
  })

  it('refuses an endpoint whose certificate is another EMT\'s or outside the SM-PKI, and an unreachable device; nothing is logged and the device stays free', async () => {
    const device = await startDevice()
    const entries: { consumer: string; entry: ConsumerLogEntry }[] = []
    const cls = createClsService(config(device.port), deps(entries))
    const wrongEmt = await startEmt('emt-2')
    const wrong = await expectCode(cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint: `https://127.0.0.1:${wrongEmt.port}` }), 'CLS_FAILED')
    expect(wrong.message).toContain('EMT Demo 2')
    const foreign = await startEmt('emt-1', other, other)
    await expectCode(cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint: `https://127.0.0.1:${foreign.port}` }), 'CLS_FAILED')

    const emt = await startEmt()
    const gone = await startDevice()
    const gonePort = gone.port
    await new Promise<void>((resolve) => { gone.server.close(() => { resolve() }) })
    const unreachable = createClsService(config(gonePort), deps(entries))
    const refused = await expectCode(unreachable.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint: `https://127.0.0.1:${emt.port}` }), 'CLS_FAILED')
    expect(refused.message).toContain('cannot reach device hp-1')
    // The EMT saw a connection that was closed again.
    await ended(await emt.next())
    expect(entries).toEqual([])
    // The failures left no device busy.
    await cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint: `https://127.0.0.1:${emt.port}` })
    await Promise.all([cls.close(), unreachable.close()])
  })

  it('is not opened when its consumer-log entry cannot be written', async () => {
    const emt = await startEmt()
    const device = await startDevice()
    const cls = createClsService(config(device.port), deps([], { logs: { consumer: () => Promise.reject(new Error('disk full')) } }))
    await expectCode(cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint: `https://127.0.0.1:${emt.port}` }), 'CLS_FAILED')
    await Promise.all([ended(await emt.next()), ended(await device.next())])
    expect(cls.channels()).toEqual([])
    await cls.close()
  })

  it('refuses an invalid configuration (CONFIG_INVALID): an EMT paired with an unknown device, duplicate IDs', () => {
    expect(() => createClsService({ ...config(1), emts: [{ id: 'emt-1', tlsSubject: { CN: 'x' }, allowedDevices: ['nope'] }] }, deps([]))).toThrow(/allowedDevices/)
    expect(() => createClsService({ ...config(1), devices: [config(1).devices[0]!, config(1).devices[0]!] }, deps([]))).toThrow(/twice/)
    expect(() => createClsService({ ...config(1), emts: [{ id: 'emt-1', tlsSubject: {}, allowedDevices: ['hp-1'] }] }, deps([]))).toThrow(/subject attribute/)
  })

  it('speaks TLS to a device that has tls.ca (a certificate made by openssl); a device certificate from another CA is refused', async () => {
    const tmp = await createTempDir('smgw-cls-device-tls-')
    try {
      const made = async (name: string) => {
        const key = join(tmp.dir, `${name}.key.pem`)
        const cert = join(tmp.dir, `${name}.cert.pem`)
        await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=hp-1.han', '-addext', 'subjectAltName=DNS:hp-1.han'])
        return { key, cert }
      }
      const [device, stranger] = await Promise.all([made('device'), made('stranger')])
      const server = createTlsDeviceServer({ key: await readFile(device.key), cert: await readFile(device.cert) }, (socket) => {
        socket.on('data', (b: Buffer) => { socket.write(`echo ${b.toString('utf8')}`) })
      })
      servers.push(server)
      await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
      const port = (server.address() as AddressInfo).port
      const emt = await startEmt()
      const tlsDevice = (ca: string) => ({ devices: [{ id: 'hp-1', consumer: 'c-1', address: { host: '127.0.0.1', port }, tls: { ca, serverName: 'hp-1.han' } }], emts: [{ id: 'emt-1', tlsSubject: { CN: 'EMT Demo 1' }, allowedDevices: ['hp-1'] }] })
      const cls = createClsService(tlsDevice(device.cert), deps([]))
      await cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint: `https://127.0.0.1:${emt.port}` })
      const e = await emt.next()
      await readLine(e)
      e.write('{"cmd":"status"}\n')
      expect(await readLine(e)).toBe('echo {"cmd":"status"}')
      await cls.close()
      const wrongCa = createClsService(tlsDevice(stranger.cert), deps([]))
      const refused = await expectCode(wrongCa.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint: `https://127.0.0.1:${emt.port}` }), 'CLS_FAILED')
      expect(refused.message).toContain('cannot reach device hp-1')
      await wrongCa.close()
    } finally {
      await tmp.remove()
    }
  })
})

describe('CLS reconfiguration (a new cls section while channels run)', () => {
  const reasonsOf = (entries: { consumer: string; entry: ConsumerLogEntry }[]) => entries.map((x) => {
    const f = x.entry.fields as { device?: string; recipient?: string; state?: string; reason?: string }
    return [x.consumer, f.device, f.recipient, f.state, f.reason]
  })

  it('closes the channels of a removed device and of an unpaired one (reconfigured), keeps the others relaying; new devices and pairings apply at once', async () => {
    const emt1 = await startEmt('emt-1')
    const emt2 = await startEmt('emt-2')
    const device = await startDevice()
    const at = { host: '127.0.0.1', port: device.port }
    const entries: { consumer: string; entry: ConsumerLogEntry }[] = []
    const cls = createClsService({
      devices: [{ id: 'hp-1', consumer: 'c-1', address: at }, { id: 'wb-1', consumer: 'c-2', address: at }, { id: 'pv-1', consumer: 'c-1', address: at }],
      emts: [{ id: 'emt-1', tlsSubject: { CN: 'EMT Demo 1' }, allowedDevices: ['hp-1'] }, { id: 'emt-2', tlsSubject: { CN: 'EMT Demo 2' }, allowedDevices: ['wb-1', 'pv-1'] }],
    }, deps(entries))
    const open = async (deviceId: string, emtId: string, emt: { port: number; next: () => Promise<TLSSocket> }) => {
      const opened = await cls.open({ deviceId, emtId, endpoint: `https://127.0.0.1:${emt.port}` })
      const [e, d] = await Promise.all([emt.next(), device.next()])
      await readLine(e)
      return { ...opened, e, d, closed: cls.closed(opened.channelId)! }
    }
    const hp = await open('hp-1', 'emt-1', emt1)
    const wb = await open('wb-1', 'emt-2', emt2)
    const pv = await open('pv-1', 'emt-2', emt2)
    entries.length = 0

    const closed = await cls.reconfigure({
      devices: [{ id: 'hp-1', consumer: 'c-1', address: at }, { id: 'pv-1', consumer: 'c-1', address: at }, { id: 'bat-1', consumer: 'c-1', address: at }],
      emts: [{ id: 'emt-1', tlsSubject: { CN: 'EMT Demo 1' }, allowedDevices: ['hp-1'] }, { id: 'emt-2', tlsSubject: { CN: 'EMT Demo 2' }, allowedDevices: ['bat-1'] }],
    })
    expect(closed.map((c) => [c.deviceId, c.reason]).sort()).toEqual([['pv-1', 'reconfigured'], ['wb-1', 'reconfigured']])
    expect(await wb.closed).toMatchObject({ reason: 'reconfigured', emtId: 'emt-2' })
    expect(await pv.closed).toMatchObject({ reason: 'reconfigured' })
    await Promise.all([ended(wb.e), ended(wb.d), ended(pv.e), ended(pv.d)])
    expect(reasonsOf(entries).sort()).toEqual([['c-1', 'pv-1', 'emt-2', 'closed', 'reconfigured'], ['c-2', 'wb-1', 'emt-2', 'closed', 'reconfigured']])
    const text = (device: string) => (entries.find((x) => (x.entry.fields as { device: string }).device === device)!.entry.fields as { text: string }).text
    expect(text('wb-1')).toContain('the device wb-1 was removed')
    expect(text('pv-1')).toContain('emt-2 is no longer paired with pv-1')

    // The untouched channel still relays both ways.
    expect(cls.channels().map((c) => c.channelId)).toEqual([hp.channelId])
    hp.e.write('{"cmd":"limit","kw":4.2}\n')
    expect(await readLine(hp.d)).toBe('{"cmd":"limit","kw":4.2}')
    hp.d.write('{"ok":true}\n')
    expect(await readLine(hp.e)).toBe('{"ok":true}')

    // The new pairing opens; the removed one is refused.
    const notPaired = await expectCode(cls.open({ deviceId: 'pv-1', emtId: 'emt-2', endpoint: `https://127.0.0.1:${emt2.port}` }), 'CLS_FAILED')
    expect(notPaired.message).toContain('not paired')
    await expectCode(cls.open({ deviceId: 'wb-1', emtId: 'emt-2', endpoint: `https://127.0.0.1:${emt2.port}` }), 'CLS_FAILED')
    const bat = await open('bat-1', 'emt-2', emt2)
    expect(cls.channels().map((c) => c.deviceId).sort()).toEqual(['bat-1', 'hp-1'])
    await cls.close()
    expect(await bat.closed).toMatchObject({ reason: 'requested' })
  })

  it('closes a channel whose device settings (consumer, address) or EMT subject changed; an invalid section changes nothing (CONFIG_INVALID)', async () => {
    const emt = await startEmt('emt-1')
    const device = await startDevice()
    const at = { host: '127.0.0.1', port: device.port }
    const entries: { consumer: string; entry: ConsumerLogEntry }[] = []
    const base = config(device.port, { emts: [{ id: 'emt-1', tlsSubject: { CN: 'EMT Demo 1' }, allowedDevices: ['hp-1', 'wb-1'] }] })
    const cls = createClsService(base, deps(entries))
    const endpoint = `https://127.0.0.1:${emt.port}`
    const a = await cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint })
    const b = await cls.open({ deviceId: 'wb-1', emtId: 'emt-1', endpoint })
    await Promise.all([emt.next(), emt.next(), device.next(), device.next()])

    const err = await expectCode(cls.reconfigure({ ...base, emts: [{ id: 'emt-1', tlsSubject: { CN: 'EMT Demo 1' }, allowedDevices: ['nope'] }] }), 'CONFIG_INVALID')
    expect(err.message).toContain('allowedDevices')
    expect(cls.channels()).toHaveLength(2)
    // The same section again closes nothing.
    expect(await cls.reconfigure(base)).toEqual([])

    // hp-1 now belongs to another consumer: its channel is not the one c-1 was told about.
    const moved = await cls.reconfigure({ ...base, devices: [{ id: 'hp-1', consumer: 'c-9', address: at }, base.devices[1]!] })
    expect(moved.map((c) => [c.channelId, c.reason])).toEqual([[a.channelId, 'reconfigured']])
    expect(cls.channels().map((c) => c.channelId)).toEqual([b.channelId])
    const subject = await cls.reconfigure({ devices: [{ id: 'hp-1', consumer: 'c-9', address: at }, base.devices[1]!], emts: [{ id: 'emt-1', tlsSubject: { CN: 'EMT Demo 1', O: 'Demo' }, allowedDevices: ['hp-1', 'wb-1'] }] })
    expect(subject.map((c) => [c.channelId, c.reason])).toEqual([[b.channelId, 'reconfigured']])
    expect((entries.at(-1)!.entry.fields as { text: string }).text).toContain("emt-1's certificate subject changed")
    expect(reasonsOf(entries).filter((r) => r[3] === 'closed')).toEqual([['c-1', 'hp-1', 'emt-1', 'closed', 'reconfigured'], ['c-2', 'wb-1', 'emt-1', 'closed', 'reconfigured']])
    await cls.close()
  })

  it('running channels take the new timeouts: a shorter maxTimeoutS cuts them (timeout), a new idleTimeoutS counts from the last byte', async () => {
    const world = createManualWorld(Date.now())
    const emt = await startEmt()
    const device = await startDevice()
    const base = config(device.port, { defaultTimeoutS: 600, maxTimeoutS: 3600, idleTimeoutS: 300 })
    const cls = createClsService(base, deps([], { now: world.now, setTimer: world.setTimer }))
    const endpoint = `https://127.0.0.1:${emt.port}`
    const a = await cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint, timeoutS: 1800 })
    const [e, d] = await Promise.all([emt.next(), device.next()])
    await readLine(e)
    world.advance(100_000)
    e.write('x\n')
    await readLine(d)
    // 100 s open; the new limit is 150 s in all and 60 s of silence.
    await cls.reconfigure({ ...base, defaultTimeoutS: 150, maxTimeoutS: 150, idleTimeoutS: 60 })
    expect(cls.channels()).toMatchObject([{ channelId: a.channelId, timeoutS: 150 }])
    const closedA = cls.closed(a.channelId)!
    world.advance(45_000)
    e.write('y\n')
    await readLine(d)
    expect(cls.channels()).toHaveLength(1)
    world.advance(5_000)
    expect(await closedA).toMatchObject({ reason: 'timeout', timeoutS: 150 })

    // Idle: 50 s quiet under a 300-s idle limit, then a 60-s one: 10 s later it closes.
    const b = await cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint })
    await Promise.all([emt.next(), device.next()])
    world.advance(50_000)
    await cls.reconfigure({ ...base, idleTimeoutS: 60 })
    const closedB = cls.closed(b.channelId)!
    world.advance(9_000)
    expect(cls.channels()).toHaveLength(1)
    world.advance(1_000)
    expect(await closedB).toMatchObject({ reason: 'timeout' })
    await cls.close()
  })

  it('a channel being opened while the pairing is removed is refused (CLS_FAILED): before its opened entry nothing is logged, after it the closed entry follows; removing the section closes every channel (reconfigured)', async () => {
    const emt = await startEmt()
    const device = await startDevice()
    const entries: { consumer: string; entry: ConsumerLogEntry }[] = []
    let release: () => void = () => undefined
    const gate = new Promise<void>((resolve) => { release = resolve })
    const plain = deps(entries)
    const cls = createClsService(config(device.port), deps(entries, { tls: async () => { await gate; return plain.tls() } }))
    const endpoint = `https://127.0.0.1:${emt.port}`
    const opening = cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint })
    await cls.reconfigure({ ...config(device.port), emts: [{ id: 'emt-1', tlsSubject: { CN: 'EMT Demo 1' }, allowedDevices: ['wb-1'] }] })
    release()
    const refused = await expectCode(opening, 'CLS_FAILED')
    expect(refused.message).toContain('emt-1 is no longer paired with hp-1')
    await Promise.all([ended(await emt.next()), ended(await device.next())])
    expect(entries).toEqual([])

    // Removed while the opened entry is being written: the channel is logged closed (reconfigured) before a byte is relayed.
    let releaseLog: () => void = () => undefined
    const logGate = new Promise<void>((resolve) => { releaseLog = resolve })
    let writingStarted: () => void = () => undefined
    const started = new Promise<void>((resolve) => { writingStarted = resolve })
    const late: { consumer: string; entry: ConsumerLogEntry }[] = []
    const slow = createClsService(config(device.port), deps(late, {
      logs: { consumer: async (consumer, entry) => { if (late.length === 0) { writingStarted(); await logGate } late.push({ consumer, entry }); return {} as never } },
    }))
    const writing = slow.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint })
    const [e2, d2] = await Promise.all([emt.next(), device.next()])
    await started
    await slow.reconfigure({ ...config(device.port), devices: [config(device.port).devices[1]!], emts: [{ id: 'emt-1', tlsSubject: { CN: 'EMT Demo 1' }, allowedDevices: ['wb-1'] }] })
    releaseLog()
    const refusedLate = await expectCode(writing, 'CLS_FAILED')
    expect(refusedLate.message).toContain('the device hp-1 was removed')
    await Promise.all([ended(e2), ended(d2)])
    expect(reasonsOf(late)).toEqual([['c-1', 'hp-1', 'emt-1', 'opened', 'requested'], ['c-1', 'hp-1', 'emt-1', 'closed', 'reconfigured']])
    expect(slow.channels()).toEqual([])
    await slow.close()

    const c = await cls.open({ deviceId: 'wb-1', emtId: 'emt-1', endpoint })
    await Promise.all([emt.next(), device.next()])
    const closedC = cls.closed(c.channelId)!
    await cls.close('reconfigured')
    expect(await closedC).toMatchObject({ reason: 'reconfigured' })
    expect((entries.at(-1)!.entry.fields as { text: string }).text).toContain('the gateway has no CLS devices any more')
  })
})
