import { generateKeyPairSync } from 'node:crypto'
import { Server as NetServer } from 'node:net'
import { join } from 'node:path'
import { createKeyObjectSigner } from '@smgw/crypto'
import { encodeMeterData, VALUE_STATUS, type MeterDataMessage } from '@smgw/meter-data'
import { decodeCertificate, issueCertificate, issueCrl, type TlsIdentity } from '@smgw/pki'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createGatewayLogs, type GatewayLogs } from '../log/writer.js'
import { openStore } from '../store/store.js'
import type { OutboxItem, Store } from '../store/types.js'
import { createTempDir, createTestClock } from '../testing.js'
import { backoffBounds } from './backoff.js'
import { createDeliveryService, formatDeliveryText, type DeliveryConfigInput, type DeliveryDeps, type DeliveryService } from './delivery.js'
import { createMessageSealer, type MessageSealer } from './seal.js'
import { createTestReceiver, type TestReceiver } from './test-receiver.js'
import { createManualTimer, createWanTestPki, newSerial, type ManualTimer, type WanTestPki } from './testing.js'

// Certificates are issued a day before the test clock starts and the clock starts at the
// real time (whole seconds): OpenSSL checks validity against the wall clock, our path
// validation against the injected clock, and both must agree on "valid".
const START = Math.floor(Date.now() / 1000) * 1000
const DAY = 86_400_000
const GW_ID = 'smgw-0001'
const GW = `gateways/${GW_ID}`
let t: WanTestPki
let other: WanTestPki
const bad: Record<string, TlsIdentity> = {}
let revokedCrl: Uint8Array

beforeAll(async () => {
  t = await createWanTestPki({ gateways: 1, emts: 2 }, new Date(START - DAY))
  other = await createWanTestPki({ gateways: 0, emts: 1 }, new Date(START - DAY))
  const emtCa = t.pki.cas.find((c) => c.label === 'sub-ca-emt')!
  const issue = async (o: { notBefore: number; notAfter: number; tlsRole: 'client' | 'client-server' }) => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' })
    const cert = await issueCertificate({
      profile: 'tls', subject: { C: 'DE', O: 'SMGW Demo', OU: 'EMT', CN: 'EMT Demo 1' }, publicKey: createKeyObjectSigner(privateKey).publicKey,
      serialNumber: newSerial(), notBefore: new Date(o.notBefore), notAfter: new Date(o.notAfter), issuer: { signer: emtCa.signer, certificate: emtCa.certificate }, tlsRole: o.tlsRole,
    })
    return { key: privateKey, cert, chain: [emtCa.certificate] }
  }
  bad['other CA'] = { key: other.key('emt-1/tls'), cert: other.cert('emt-1/tls'), chain: [other.cert('sub-ca-emt')] }
  bad.expired = await issue({ notBefore: START - 10 * DAY, notAfter: START - DAY, tlsRole: 'client-server' })
  bad['wrong EKU (clientAuth only)'] = await issue({ notBefore: START - DAY, notAfter: START + 30 * DAY, tlsRole: 'client' })
  bad.revoked = await issue({ notBefore: START - DAY, notAfter: START + 30 * DAY, tlsRole: 'client-server' })
  revokedCrl = await issueCrl({
    issuer: { signer: emtCa.signer, certificate: emtCa.certificate }, crlNumber: 2n, thisUpdate: new Date(START - 3_600_000), nextUpdate: new Date(START + 7 * DAY),
    revoked: [{ serialNumber: Buffer.from(decodeCertificate(bad.revoked.cert).serialHex, 'hex'), revocationDate: new Date(START - 3_600_000) }],
  })
}, 60_000)

const emtIdentity = (): TlsIdentity => ({ key: t.key('emt-1/tls'), cert: t.cert('emt-1/tls'), chain: [t.cert('sub-ca-emt')] })
const demoCrls = () => t.pki.crls.map((c) => c.der)

interface Fixture {
  readonly clock: ReturnType<typeof createTestClock>
  readonly timer: ManualTimer
  readonly receiver: TestReceiver
  readonly port: number
  readonly sealer: MessageSealer
  store: Store
  logs: GatewayLogs
  service(overrides?: Partial<DeliveryConfigInput>, deps?: Partial<DeliveryDeps>): DeliveryService
  /** Enqueues `n` sealed TAF 7 day messages for emt-1 (days `from`…), returns their message IDs. */
  enqueue(n: number, from?: number, recipient?: string): Promise<string[]>
  /** Reopens the store and the log writer (a restarted process). */
  reopen(): void
  outbox(): OutboxItem[]
  entries(log: 'system' | 'consumer', stream: string): { type: string; fields: Record<string, unknown> }[]
}

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})
afterAll(() => { vi.restoreAllMocks() })

function seeded(seed: number): () => number {
  let s = seed
  return () => (s = (s * 16807) % 2147483647) / 2147483647
}

function dayMessage(day: number, recipient: string): MeterDataMessage {
  const start = Date.UTC(2026, 10, 22, 23) + day * DAY
  const iso = (ms: number) => new Date(ms).toISOString()
  return {
    format: 'smgw-meter-data', version: 1, messageId: `${GW_ID}:taf7-M1:${recipient}:${String((start + DAY) / 1000)}`, gatewayId: GW_ID, recipient,
    useCase: 'taf7', createdAt: iso(start + DAY + 60_000), meteringPoint: { kind: 'pseudonym', id: 'p-3f9a01' }, period: { start: iso(start), end: iso(start + DAY) },
    series: [{
      obis: '1-0:1.8.0*255', unit: 'Wh', scaler: -1, kind: 'profile', periodSeconds: 900,
      values: [1, 2, 3, 4].map((i) => (i === 3
        ? { time: iso(start + i * 900_000), value: null, status: VALUE_STATUS.gap }
        : { time: iso(start + i * 900_000), value: String(1_000_000 + day * 1000 + i), status: 0 })),
    }],
  }
}

async function setup(o: { serverIdentity?: TlsIdentity; crls?: Uint8Array[] } = {}): Promise<Fixture> {
  const clock = createTestClock(new Date(START).toISOString())
  const timer = createManualTimer(clock.now)
  const tmp = await createTempDir('smgw-wan-delivery-')
  const file = join(tmp.dir, 'gateway.db')
  const receiver = createTestReceiver({
    recipientId: 'emt-1', identity: o.serverIdentity ?? emtIdentity(), trust: { roots: [t.cert('root')] },
    encKey: t.key('emt-1/enc'), encCertificate: t.cert('emt-1/enc'), root: t.cert('root'), now: clock.now,
  })
  const port = await receiver.listen()
  const sealer = createMessageSealer({
    signer: t.key(`${GW}/sig`), sigCertificate: t.cert(`${GW}/sig`), chain: [t.cert('sub-ca-gw')],
    recipients: [{ id: 'emt-1', encCertificate: t.cert('emt-1/enc') }, { id: 'emt-2', encCertificate: t.cert('emt-2/enc') }],
  }, { now: clock.now })
  const services: DeliveryService[] = []
  const makeLogs = (store: Store) => createGatewayLogs({ store, signer: t.signer(`${GW}/sig`), certificate: t.cert(`${GW}/sig`), now: clock.now })
  const store = openStore(file, { now: clock.now })
  const f: Fixture = {
    clock, timer, receiver, port, sealer, store, logs: makeLogs(store),
    service: (overrides = {}, deps = {}) => {
      const s = createDeliveryService({
        recipients: [{ id: 'emt-1', url: `https://127.0.0.1:${String(port)}` }],
        tls: { identity: { key: t.key(`${GW}/tls`), cert: t.cert(`${GW}/tls`), chain: [t.cert('sub-ca-gw')] }, trust: { roots: [t.cert('root')], crls: o.crls ?? demoCrls() } },
        ...overrides,
      }, {
        store: f.store, logs: f.logs, now: clock.now, setTimer: timer.setTimer, random: seeded(42),
        describe: (item) => ({ consumers: ['c-1'], dataClass: 'load-profile', text: formatDeliveryText(item) }),
        ...deps,
      })
      services.push(s)
      return s
    },
    enqueue: async (n, from = 0, recipient = 'emt-1') => {
      const ids: string[] = []
      for (let d = from; d < from + n; d++) {
        const m = dayMessage(d, recipient)
        f.store.enqueueOutbox({ recipient, purpose: 'taf7', payload: await sealer.seal(encodeMeterData(m), recipient === 'emt-9' ? 'emt-2' : recipient), messageId: m.messageId })
        ids.push(m.messageId)
      }
      return ids
    },
    reopen: () => {
      f.store.close()
      f.store = openStore(file, { now: clock.now })
      f.logs = makeLogs(f.store)
    },
    outbox: () => f.store.readOutbox(),
    entries: (log, stream) => f.store.logRows.entries(log, stream).map((r) => ({ type: String(r.type), fields: JSON.parse(String(r.fields)) as Record<string, unknown> })),
  }
  cleanups.push(async () => {
    for (const s of services) await s.close()
    await receiver.stop()
    f.store.close()
    await tmp.remove()
  })
  return f
}

/** Moves the clock to each pending timer up to `until`, fires it and waits for the pass it started. */
async function runUntil(f: Fixture, service: DeliveryService, until: number, afterPass?: () => void): Promise<void> {
  for (let guard = 0; guard < 1000; guard++) {
    const next = f.timer.pending()[0]
    if (next === undefined || next.at > until) break
    f.clock.set(new Date(Math.max(next.at, f.clock.now().getTime())).toISOString())
    f.timer.fireDue(f.clock.now().getTime())
    await service.kick()
    afterPass?.()
  }
  if (f.clock.now().getTime() < until) f.clock.set(new Date(until).toISOString())
}

describe('createDeliveryService', () => {
  it('delivers over mutual TLS: receipts checked, delivered once, one consumer-log entry each, no listening socket', async () => {
    const f = await setup()
    const ids = await f.enqueue(3)
    const listen = vi.spyOn(NetServer.prototype, 'listen')
    const service = f.service({ recipients: [{ id: 'emt-1', url: `https://127.0.0.1:${String(f.port)}/`, serverSubject: { CN: 'EMT Demo 1', OU: 'EMT' } }] })
    await service.start()
    await service.kick()
    await service.close()
    expect(listen).not.toHaveBeenCalled()
    listen.mockRestore()

    expect(f.outbox().map((i) => [i.messageId, i.state, i.attempts, i.deliveredAt?.getTime()])).toEqual(ids.map((id) => [id, 'delivered', 1, START]))
    expect([...f.receiver.stored.keys()]).toEqual(ids)
    expect(f.receiver.requests).toEqual(ids.map((messageId) => ({ messageId, status: 201 })))
    expect(f.receiver.connections()).toBe(1) // one kept-alive TLS connection for the three requests
    expect(f.receiver.messages.map((m) => m.series[0]!.values[0]!.value)).toEqual(['1000001', '1001001', '1002001'])
    const sent = f.entries('consumer', 'c-1')
    expect(sent).toHaveLength(3)
    expect(sent[0]).toEqual({ type: 'data-sent', fields: { recipient: 'emt-1', purpose: 'taf7', dataClass: 'load-profile', text: 'Data of tariff profile taf7-M1 up to 24 Nov 2026, 00:00 (German time) sent to emt-1.' } })
    expect(f.entries('system', '')).toEqual([])
    expect(f.timer.pending()).toEqual([])
  })

  it('survives 3 days of a receiver that is down: backoff within the jitter bounds, then every item delivered exactly once', async () => {
    const f = await setup()
    await f.receiver.stop() // connections to the port are refused from now on
    const ids = await f.enqueue(4)
    const service = f.service()
    await service.start()
    await service.kick()
    const policy = { initialMs: 30_000, maxMs: 6 * 3_600_000, factor: 2, jitter: 'equal' } as const
    const seen: { attempts: number; delay: number }[] = []
    const check = () => {
      const items = f.outbox()
      expect(new Set(items.map((i) => i.attempts)).size).toBe(1) // one connection attempt per pass for the whole group
      const item = items[0]!
      if (seen.at(-1)?.attempts === item.attempts) return
      const delay = item.nextAttempt.getTime() - f.clock.now().getTime()
      const { min, max } = backoffBounds(policy, item.attempts)
      expect(delay).toBeGreaterThanOrEqual(min)
      expect(delay).toBeLessThanOrEqual(max)
      expect(item.state).toBe('pending')
      expect(item.lastError).toMatch(/ECONNREFUSED|connect/)
      seen.push({ attempts: item.attempts, delay })
    }
    check()
    await runUntil(f, service, START + 3 * DAY, check)
    expect(seen.map((s) => s.attempts)).toEqual(seen.map((_, i) => i + 1))
    expect(seen.length).toBeGreaterThan(15) // ten doublings to the cap, then every 3–6 h
    expect(seen.length).toBeLessThan(40)
    const ceilings = seen.map((s) => backoffBounds(policy, s.attempts).max)
    expect(ceilings).toEqual([...ceilings].sort((a, b) => a - b))
    expect(ceilings.at(-1)).toBe(policy.maxMs)
    expect(f.receiver.requests).toEqual([])
    expect(f.entries('system', '')).toEqual([]) // a refused connection is not a TLS rejection

    await f.receiver.listen(f.port)
    await runUntil(f, service, START + 4 * DAY)
    expect(f.outbox().every((i) => i.state === 'delivered')).toBe(true)
    expect(f.receiver.requests).toEqual(ids.map((messageId) => ({ messageId, status: 201 })))
    expect([...f.receiver.stored.keys()]).toEqual(ids)
    expect(f.entries('consumer', 'c-1')).toHaveLength(4)
  })

  it('a lost answer (receiver committed, then the connection dropped) is retried and ends as a 200 duplicate: delivered once', async () => {
    const f = await setup()
    const ids = await f.enqueue(2)
    f.receiver.behaviour = 'drop-after-commit-once'
    const service = f.service()
    await service.start()
    await service.kick()
    let [first, second] = f.outbox()
    expect(first).toMatchObject({ state: 'pending', attempts: 1 })
    expect(first!.lastError).toMatch(/connection lost/)
    expect(second).toMatchObject({ state: 'delivered', attempts: 1 })
    await runUntil(f, service, START + DAY)
    ;[first, second] = f.outbox()
    expect(first).toMatchObject({ state: 'delivered', attempts: 2 })
    expect(f.receiver.requests).toEqual([{ messageId: ids[0], status: 0 }, { messageId: ids[1], status: 201 }, { messageId: ids[0], status: 200 }])
    expect([...f.receiver.stored.keys()].sort()).toEqual([...ids].sort())
    expect(f.receiver.messages).toHaveLength(2)
    expect(f.entries('consumer', 'c-1')).toHaveLength(2)
  })

  it('the next connection resumes the TLS session of the last one; a refused resumption is retried with a full handshake', async () => {
    const f = await setup()
    const service = f.service()
    await service.start()
    const [day0] = await f.enqueue(1, 0)
    await service.kick()
    expect([f.receiver.connections(), f.receiver.resumedConnections()]).toEqual([1, 0])
    // The next day: the kept-alive connection is gone (idle timeout), the session is not.
    f.receiver.dropConnections()
    const [day1] = await f.enqueue(1, 1)
    await service.kick()
    expect([f.receiver.connections(), f.receiver.resumedConnections()]).toEqual([2, 1])
    // A receiver that cannot accept the resumed session cuts it: the item stays pending, the
    // session is forgotten, and the retry is a full handshake that delivers it.
    f.receiver.dropConnections()
    f.receiver.refuseResumed = true
    const [day2] = await f.enqueue(1, 2)
    await service.kick()
    expect(f.outbox().find((i) => i.messageId === day2)).toMatchObject({ state: 'pending', attempts: 1 })
    await runUntil(f, service, START + DAY)
    expect(f.outbox().map((i) => [i.messageId, i.state])).toEqual([[day0, 'delivered'], [day1, 'delivered'], [day2, 'delivered']])
    expect([f.receiver.connections(), f.receiver.resumedConnections()]).toEqual([4, 2])
    expect(f.receiver.requests.map((r) => r.status)).toEqual([201, 201, 201])
  })

  it('no answer within the request timeout: the connection is cut, the item retried, then a duplicate', async () => {
    const f = await setup()
    const [id] = await f.enqueue(1)
    f.receiver.behaviour = 'hang-after-commit'
    const service = f.service({ requestTimeoutMs: 10_000 })
    await service.start()
    const pass = service.kick()
    await f.receiver.committed(1)
    f.clock.advance(10_000)
    expect(f.timer.fireDue(f.clock.now().getTime())).toBe(1)
    await pass
    expect(f.outbox()[0]).toMatchObject({ state: 'pending', attempts: 1, lastError: 'no answer within 10000 ms' })
    f.receiver.behaviour = 'normal'
    await runUntil(f, service, START + DAY)
    expect(f.outbox()[0]).toMatchObject({ state: 'delivered', attempts: 2 })
    expect(f.receiver.requests).toEqual([{ messageId: id, status: 0 }, { messageId: id, status: 200 }])
  })

  it('4xx refusals: failed, system log delivery-rejected with the code, never retried; 408/429/5xx: retried', async () => {
    const f = await setup()
    const service = f.service()
    await service.start()
    const cases = [
      { status: 400, body: '{"code":"WRONG_RECIPIENT","message":"not for emt-1"}', state: 'failed', code: 'WRONG_RECIPIENT' },
      { status: 409, body: '{"code":"REPLAYED","message":"seen with other content"}', state: 'failed', code: 'REPLAYED' },
      { status: 404, body: 'Not Found', state: 'failed', code: 'UNREADABLE_REJECTION' },
      { status: 503, body: '', state: 'pending' },
      { status: 429, body: '', state: 'pending' },
      { status: 408, body: '', state: 'pending' },
      { status: 500, body: 'oops', state: 'pending' },
      { status: 201, body: '{"status":"stored","messageId":"someone-else"}', state: 'pending' },
      { status: 200, body: '{"status":"stored","messageId":"x"}', state: 'pending' },
    ] as const
    for (const [n, c] of cases.entries()) {
      f.receiver.behaviour = { status: c.status, body: c.body }
      await f.enqueue(1, n)
      await service.kick()
      const item = f.outbox()[n]!
      expect(item.state, `HTTP ${String(c.status)}`).toBe(c.state)
      expect(item.attempts).toBe(1)
      if (c.state === 'pending') f.store.updateOutbox(item.id, { state: 'failed', attempts: 1, nextAttempt: item.nextAttempt }) // park it
    }
    expect(f.entries('system', '')).toEqual([
      { type: 'delivery-rejected', fields: { recipient: 'emt-1', item: 1, code: 'WRONG_RECIPIENT' } },
      { type: 'delivery-rejected', fields: { recipient: 'emt-1', item: 2, code: 'REPLAYED' } },
      { type: 'delivery-rejected', fields: { recipient: 'emt-1', item: 3, code: 'UNREADABLE_REJECTION' } },
    ])
    expect(f.outbox()[0]!.lastError).toBe('HTTP 400 WRONG_RECIPIENT')
    // A week later, the receiver fine again: the refused items are not sent again.
    f.receiver.behaviour = 'normal'
    const before = f.receiver.requests.length
    f.clock.advance(7 * DAY)
    await service.kick()
    expect(f.receiver.requests.length).toBe(before)
    expect(f.entries('consumer', 'c-1')).toEqual([])
  })

  it('recipients are served in parallel, each over its own connection: one that is down does not hold back another', async () => {
    const f = await setup()
    await f.receiver.stop()
    const emt2 = createTestReceiver({
      recipientId: 'emt-2', identity: { key: t.key('emt-2/tls'), cert: t.cert('emt-2/tls'), chain: [t.cert('sub-ca-emt')] }, trust: { roots: [t.cert('root')] },
      encKey: t.key('emt-2/enc'), encCertificate: t.cert('emt-2/enc'), root: t.cert('root'), now: f.clock.now,
    })
    cleanups.push(() => emt2.stop())
    const port2 = await emt2.listen()
    const down = await f.enqueue(2, 0, 'emt-1')
    const up = await f.enqueue(2, 0, 'emt-2')
    const service = f.service({ recipients: [{ id: 'emt-1', url: `https://127.0.0.1:${String(f.port)}` }, { id: 'emt-2', url: `https://127.0.0.1:${String(port2)}` }] })
    await service.start()
    await service.kick()
    expect(f.outbox().map((i) => [i.messageId, i.state, i.attempts])).toEqual([
      [down[0], 'pending', 1], [down[1], 'pending', 1], [up[0], 'delivered', 1], [up[1], 'delivered', 1],
    ])
    const [a, b] = f.outbox()
    expect(a!.nextAttempt).toEqual(b!.nextAttempt) // one shared next attempt for the unreachable recipient
    expect(emt2.requests).toEqual(up.map((messageId) => ({ messageId, status: 201 })))
    expect(emt2.connections()).toBe(1)
  })

  it('items for a recipient outside the configuration, or without a message ID, are never sent', async () => {
    const f = await setup()
    await f.enqueue(1, 0, 'emt-9')
    f.store.enqueueOutbox({ recipient: 'emt-1', purpose: 'taf7', payload: new Uint8Array([1, 2, 3]) })
    const service = f.service()
    await service.start()
    await service.kick()
    expect(f.outbox().map((i) => i.state)).toEqual(['failed', 'failed'])
    expect(f.receiver.requests).toEqual([])
    expect(f.entries('system', '').map((e) => e.fields)).toEqual([
      { recipient: 'emt-9', item: 1, code: 'NOT_CONFIGURED' },
      { recipient: 'emt-1', item: 2, code: 'MESSAGE_ID_MISSING' },
    ])
  })

  it.each([
    ['other CA', 'certificate-invalid'],
    ['expired', 'certificate-invalid'],
    ['wrong EKU (clientAuth only)', 'certificate-invalid'],
    ['revoked', 'certificate-revoked'],
  ] as const)('a server certificate from %s: nothing sent, tls-rejected (%s), retried later against the right server', async (name, reason) => {
    const crls = name === 'revoked' ? [...t.pki.crls.filter((c) => c.ca !== 'sub-ca-emt').map((c) => c.der), revokedCrl] : demoCrls()
    const f = await setup({ serverIdentity: bad[name]!, crls })
    const [id] = await f.enqueue(1)
    const service = f.service()
    await service.start()
    await service.kick()
    expect(f.outbox()[0]).toMatchObject({ state: 'pending', attempts: 1 })
    expect(f.receiver.requests).toEqual([])
    expect(f.receiver.stored.size).toBe(0)
    expect(f.entries('system', '')).toEqual([{ type: 'tls-rejected', fields: { interface: 'wan', reason } }])

    await f.receiver.stop()
    const good = createTestReceiver({
      recipientId: 'emt-1', identity: emtIdentity(), trust: { roots: [t.cert('root')] },
      encKey: t.key('emt-1/enc'), encCertificate: t.cert('emt-1/enc'), root: t.cert('root'), now: f.clock.now,
    })
    cleanups.push(() => good.stop())
    await good.listen(f.port)
    await runUntil(f, service, START + DAY)
    expect(f.outbox()[0]).toMatchObject({ state: 'delivered', attempts: 2 })
    expect(good.requests).toEqual([{ messageId: id, status: 201 }])
  })

  it('a server whose certificate subject is not the configured participant is refused (tls-rejected)', async () => {
    const f = await setup()
    await f.enqueue(1)
    const service = f.service({ recipients: [{ id: 'emt-1', url: `https://127.0.0.1:${String(f.port)}`, serverSubject: { CN: 'EMT Demo 2' } }] })
    await service.start()
    await service.kick()
    expect(f.outbox()[0]).toMatchObject({ state: 'pending', attempts: 1 })
    expect(f.outbox()[0]!.lastError).toMatch(/CN is "EMT Demo 1", expected "EMT Demo 2"/)
    expect(f.receiver.requests).toEqual([])
    expect(f.entries('system', '')).toEqual([{ type: 'tls-rejected', fields: { interface: 'wan', reason: 'certificate-invalid' } }])
  })

  it('crash consistency: a fresh service over the reopened store delivers the rest; no loss, the cut one a receiver-side duplicate', async () => {
    const f = await setup()
    const ids = await f.enqueue(5)
    f.receiver.behaviour = 'normal'
    let n = 0
    const service = f.service({ closeTimeoutMs: 5_000, requestTimeoutMs: 60_000 })
    // The receiver commits the 3rd message and then never answers: the process "crashes" then.
    const third = f.receiver.committed(2).then(() => { f.receiver.behaviour = 'hang-after-commit' })
    await service.start()
    await third
    await f.receiver.committed(3)
    const closing = service.close()
    f.clock.advance(5_000)
    n = f.timer.fireDue(f.clock.now().getTime())
    await closing
    expect(n).toBe(1) // the close bound, not the request timeout
    expect(f.outbox().map((i) => [i.state, i.attempts])).toEqual([['delivered', 1], ['delivered', 1], ['pending', 1], ['pending', 0], ['pending', 0]])

    f.reopen()
    f.receiver.behaviour = 'normal'
    const fresh = f.service()
    await fresh.start()
    await fresh.kick()
    await runUntil(f, fresh, START + DAY)
    expect(f.outbox().every((i) => i.state === 'delivered')).toBe(true)
    expect([...f.receiver.stored.keys()].sort()).toEqual([...ids].sort())
    expect(f.receiver.messages).toHaveLength(5)
    const byId = (id: string) => f.receiver.requests.filter((r) => r.messageId === id).map((r) => r.status)
    expect(ids.map(byId)).toEqual([[201], [201], [0, 200], [201], [201]])
    expect(f.entries('consumer', 'c-1')).toHaveLength(5)
  })

  it('a pass that fails in the store is tried again after initialMs, not in a busy loop; the wake-up is at most a day away', async () => {
    const f = await setup()
    const [id] = await f.enqueue(1)
    let failures = 2 // the pass start() begins and the one kick() asks for
    const service = f.service({}, {
      store: {
        dueOutbox: (at, limit) => f.store.dueOutbox(at, limit),
        updateOutbox: (itemId, update) => {
          if (failures-- > 0) throw new Error('disk I/O error')
          f.store.updateOutbox(itemId, update)
        },
      },
    })
    await service.start()
    await service.kick()
    expect(f.outbox()[0]).toMatchObject({ state: 'pending', attempts: 0 }) // the receiver has it; the row did not change
    expect(f.timer.pending()).toEqual([{ at: START + 30_000 }])
    await runUntil(f, service, START + 60_000)
    expect(f.outbox()[0]).toMatchObject({ state: 'delivered', attempts: 1 })
    expect(f.receiver.requests).toEqual([{ messageId: id, status: 201 }, { messageId: id, status: 200 }, { messageId: id, status: 200 }])
    expect(f.entries('consumer', 'c-1')).toHaveLength(3) // logged before the row: more than once rather than never

    f.store.enqueueOutbox({ recipient: 'emt-1', purpose: 'taf7', payload: new Uint8Array([1]), messageId: 'later', notBefore: new Date(START + 30 * DAY) })
    await service.kick()
    expect(f.timer.pending()).toEqual([{ at: START + 60_000 + DAY }])
  })

  it('start and close are idempotent; close before start and kick after close do nothing', async () => {
    const f = await setup()
    await f.enqueue(1)
    const never = f.service()
    await never.close()
    await never.kick()
    await never.start()
    expect(f.receiver.requests).toEqual([])
    const service = f.service()
    await service.start()
    await service.start()
    await service.kick()
    await service.close()
    await service.close()
    await service.kick()
    expect(f.receiver.requests).toHaveLength(1)
    expect(f.timer.pending()).toEqual([])
  })

  it('WAN_CONFIG_INVALID names the problems', async () => {
    const f = await setup()
    const url = `https://127.0.0.1:${String(f.port)}`
    const bads: [Partial<DeliveryConfigInput>, RegExp][] = [
      [{ recipients: [] }, /recipients/],
      [{ recipients: [{ id: 'emt-1', url: `http://127.0.0.1:${String(f.port)}` }] }, /recipients\.0\.url/],
      [{ recipients: [{ id: 'emt-1', url }, { id: 'emt-1', url }] }, /unique/],
      [{ recipients: [{ id: 'emt 1', url }] }, /recipients\.0\.id/],
      [{ retry: { initialMs: 60_000, maxMs: 1000 } }, /retry\.maxMs/],
      [{ retry: { jitter: 'none' as 'full' } }, /retry\.jitter/],
      [{ tls: { identity: { key: t.key(`${GW}/tls`), cert: t.cert(`${GW}/tls`) }, trust: { roots: [] } } }, /tls\.trust\.roots/],
      [{ batchSize: 0 }, /batchSize/],
      [{ extra: 1 } as Partial<DeliveryConfigInput>, /extra/],
    ]
    for (const [overrides, message] of bads) {
      expect(() => f.service(overrides)).toThrow(expect.objectContaining({ code: 'WAN_CONFIG_INVALID', message: expect.stringMatching(message) as string }) as Error)
    }
  })
})
