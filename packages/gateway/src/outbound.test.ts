import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { encodePem } from '@smgw/crypto'
import { createSimulator } from '@smgw/sim'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { parseGatewayConfig, type GatewayConfig } from './config.js'
import { verifyStoreLogs } from './log/verify.js'
import { createGateway, type Gateway } from './service.js'
import { openStore } from './store/store.js'
import { createTempDir } from './testing.js'
import { createTestReceiver, type TestReceiver } from './wan/test-receiver.js'
import { createWanTestPki, type WanTestPki } from './wan/testing.js'

// The outbound half inside the gateway (config sections `tariffs` and `wan`): a simulated SML
// meter → the store → TAF 10 every second → sealed per recipient → delivered over mutual TLS
// to a market participant that goes away and comes back. Real sockets, real time (the meter,
// the TAF schedule and the delivery retries all run on their own timers), bounded waits.

const START = Math.floor(Date.now() / 1000) * 1000
const DAY = 86_400_000
const GW = 'gateways/smgw-0001'
let t: WanTestPki
let tmp: { dir: string; remove: () => Promise<void> }
const cleanups: (() => Promise<unknown>)[] = []
let dbCount = 0

beforeAll(async () => {
  tmp = await createTempDir('smgw-outbound-')
  t = await createWanTestPki({ gateways: 1, emts: 2 }, new Date(START - DAY))
  const pem = (label: string, der: Uint8Array) => writeFile(join(tmp.dir, `${label.replaceAll('/', '-')}.pem`), encodePem('CERTIFICATE', der))
  for (const label of ['root', 'sub-ca-gw', 'sub-ca-emt', `${GW}/tls`, 'emt-1/enc', 'emt-2/enc']) await pem(label, t.cert(label))
  await writeFile(join(tmp.dir, 'gw-tls.key.pem'), t.key(`${GW}/tls`).export({ format: 'pem', type: 'pkcs8' }).toString(), { mode: 0o600 })
})
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})
afterAll(async () => { await tmp.remove() })

const file = (label: string) => join(tmp.dir, `${label.replaceAll('/', '-')}.pem`)

async function receiverFor(id: 'emt-1' | 'emt-2'): Promise<{ receiver: TestReceiver; port: number }> {
  const receiver = createTestReceiver({
    recipientId: id, identity: { key: t.key(`${id}/tls`), cert: t.cert(`${id}/tls`), chain: [t.cert('sub-ca-emt')] }, trust: { roots: [t.cert('root')] },
    encKey: t.key(`${id}/enc`), encCertificate: t.cert(`${id}/enc`), root: t.cert('root'), now: () => new Date(),
  })
  cleanups.push(() => receiver.stop())
  return { receiver, port: await receiver.listen() }
}

async function configWith(profiles: unknown[], recipients: { id: string; port: number }[], meterPort: number): Promise<GatewayConfig> {
  dbCount++
  const profileFile = join(tmp.dir, `profiles-${dbCount}.json`)
  await writeFile(profileFile, JSON.stringify(profiles))
  return parseGatewayConfig({
    gatewayId: 'smgw-0001',
    store: { path: join(tmp.dir, `gateway-${dbCount}.db`) },
    logs: { sigKey: 'unused-with-deps', sigCertificate: 'unused-with-deps' },
    batch: { maxReadings: 100, maxDelayMs: 0 },
    meters: [{ id: 'sml-1', kind: 'sml', transport: { tcp: { host: '127.0.0.1', port: meterPort } }, intervalS: 1, consumer: 'c-1' }],
    tariffs: { profiles: profileFile },
    wan: {
      tls: { key: join(tmp.dir, 'gw-tls.key.pem'), certificate: file(`${GW}/tls`), chain: [file('sub-ca-gw')] },
      trust: { roots: [file('root')] },
      sigChain: [file('sub-ca-gw')],
      recipients: recipients.map((r) => ({ id: r.id, url: `https://127.0.0.1:${String(r.port)}`, encCertificate: file(`${r.id}/enc`) })),
      retry: { initialMs: 100, maxMs: 400 },
    },
  })
}

const taf10 = { id: 'grid-1', useCase: 'taf10', meteringPoint: 'DE0001', channels: [{ meterId: 'sml-1', obis: '1-0:16.7.0' }], recipients: [{ id: 'emt-2', role: 'grid-operator' }], schedule: { everySeconds: 1 } }

async function meter(): Promise<number> {
  const sim = createSimulator({ kind: 'sml', output: { kind: 'listen', host: '127.0.0.1', port: 0 }, intervalS: 1, meter: { seed: 7 } })
  cleanups.push(() => sim.close())
  await sim.start()
  return sim.port()!
}

function gateway(config: GatewayConfig): Gateway {
  const gw = createGateway(config, { sig: { signer: t.signer(`${GW}/sig`), certificate: t.cert(`${GW}/sig`) } })
  cleanups.push(() => gw.close())
  return gw
}

describe('gateway outbound: tariffs → outbox → mutual TLS', () => {
  it('delivers every TAF 10 period exactly once to the grid operator, across its downtime, and tells the consumer', async () => {
    const { receiver, port } = await receiverFor('emt-2')
    const config = await configWith([taf10], [{ id: 'emt-2', port }], await meter())
    const gw = gateway(config)
    await gw.start()
    await vi.waitFor(() => { expect(receiver.stored.size).toBeGreaterThanOrEqual(2) }, { timeout: 20_000, interval: 50 })
    // The grid operator goes away for a while; periods keep being computed and queue up.
    await receiver.stop()
    const whileDown = receiver.stored.size
    await new Promise((resolve) => setTimeout(resolve, 2500))
    expect(receiver.stored.size).toBe(whileDown)
    await receiver.listen(port)
    await vi.waitFor(() => { expect(receiver.stored.size).toBeGreaterThanOrEqual(whileDown + 3) }, { timeout: 20_000, interval: 50 })
    await gw.close('sigterm')

    const store = openStore(config.store.path, { now: () => new Date() }, { readonly: true })
    try {
      const items = store.readOutbox()
      // Whatever was committed before the stop and not yet sent stays pending (sent on the next start); the rest arrived once each.
      const delivered = items.filter((i) => i.state === 'delivered')
      expect(delivered.length).toBeGreaterThanOrEqual(whileDown + 3)
      expect(items.every((i) => i.state === 'delivered' || i.state === 'pending')).toBe(true)
      // Every delivered item is stored at the receiver; everything it stored came from this outbox.
      for (const d of delivered) expect(receiver.stored.has(d.messageId!)).toBe(true)
      const ids = new Set(items.map((i) => i.messageId))
      for (const id of receiver.stored.keys()) expect(ids.has(id)).toBe(true)
      expect(receiver.requests.filter((r) => r.status === 201).length).toBe(receiver.stored.size)
      // One message per one-second period, none twice, none missing between the first and the last.
      const ends = receiver.messages.map((m) => Date.parse(m.period.end)).sort((a, b) => a - b)
      expect(new Set(ends).size).toBe(ends.length)
      for (let i = 1; i < ends.length; i++) expect(ends[i]! - ends[i - 1]!).toBe(1000)
      // Only the grid operator's use case and data went out, with the metering point it is entitled to.
      for (const m of receiver.messages) {
        expect(m).toMatchObject({ gatewayId: 'smgw-0001', recipient: 'emt-2', useCase: 'taf10', meteringPoint: { kind: 'metering-point', id: 'DE0001' } })
        expect(m.series.map((s) => s.obis)).toEqual(['1-0:16.7.0*255'])
      }
      // The consumer sees each delivery in plain words.
      const sent = store.logRows.entries('consumer', 'c-1').filter((e) => e.type === 'data-sent').map((e) => JSON.parse(String(e.fields)) as { recipient: string; text: string })
      expect(sent.length).toBe(delivered.length)
      expect(sent[0]).toMatchObject({ recipient: 'emt-2' })
      expect(sent[0]!.text).toMatch(/^grid-status values .* for TAF 10 sent to emt-2, signed and encrypted for it\.$/)
      expect(verifyStoreLogs(store, { certificate: t.cert(`${GW}/sig`) }).ok).toBe(true)
    } finally {
      store.close()
    }
  })

  it('refuses to start when a profile names a recipient the WAN section does not know (principle 5)', async () => {
    const config = await configWith([taf10], [{ id: 'emt-1', port: 1 }], await meter())
    const gw = gateway(config)
    await expect(gw.start()).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/profile grid-1: recipient emt-2 is not in wan\.recipients/) as unknown })
  })

  it('refuses tariffs without a wan section', () => {
    expect(() => parseGatewayConfig({
      gatewayId: 'smgw-0001', store: { path: 'x.db' }, logs: { sigKey: 'k', sigCertificate: 'c' }, meters: [], tariffs: { profiles: 'p.json' },
    })).toThrow(/wan: tariffs need a wan section/)
  })
})
