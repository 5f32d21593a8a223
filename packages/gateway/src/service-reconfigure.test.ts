import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { encodePem } from '@smgw/crypto'
import { createSimulator } from '@smgw/sim'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { parseGatewayConfig, type GatewayConfig } from './config.js'
import { readLogChain, verifyStoreLogs } from './log/verify.js'
import { createGateway, type Gateway } from './service.js'
import { openStore } from './store/store.js'
import { createTempDir } from './testing.js'
import { createTestReceiver, type TestReceiver } from './wan/test-receiver.js'
import { createWanTestPki, type WanTestPki } from './wan/testing.js'

// Gateway.reconfigure on a running gateway with real parts: SML meters over TCP (simulators),
// TAF 10 every second, delivery over mutual TLS to test receivers. Real time, bounded waits.

const START = Math.floor(Date.now() / 1000) * 1000
const DAY = 86_400_000
const GW = 'gateways/smgw-0001'
let t: WanTestPki
let tmp: { dir: string; remove: () => Promise<void> }
const cleanups: (() => Promise<unknown>)[] = []
let count = 0

beforeAll(async () => {
  tmp = await createTempDir('smgw-reconfigure-')
  t = await createWanTestPki({ gateways: 1, emts: 2 }, new Date(START - DAY))
  const pem = (label: string, der: Uint8Array) => writeFile(file(label), encodePem('CERTIFICATE', der))
  for (const label of ['root', 'sub-ca-gw', `${GW}/tls`, `${GW}/sig`, 'emt-1/enc', 'emt-2/enc', 'emt-1/sig']) await pem(label, t.cert(label))
  for (const label of [`${GW}/sig`, 'emt-1/sig']) await writeFile(file(`${label}.key`), t.key(label).export({ format: 'pem', type: 'pkcs8' }).toString(), { mode: 0o600 })
  await writeFile(join(tmp.dir, 'gw-tls.key.pem'), t.key(`${GW}/tls`).export({ format: 'pem', type: 'pkcs8' }).toString(), { mode: 0o600 })
  await writeFile(join(tmp.dir, 'broken.pem'), '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n')
})
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})
afterAll(async () => { await tmp.remove() })

function file(label: string): string {
  return join(tmp.dir, `${label.replaceAll('/', '-')}.pem`)
}

async function receiverFor(id: 'emt-1' | 'emt-2'): Promise<{ receiver: TestReceiver; port: number }> {
  const receiver = createTestReceiver({
    recipientId: id, identity: { key: t.key(`${id}/tls`), cert: t.cert(`${id}/tls`), chain: [t.cert('sub-ca-emt')] }, trust: { roots: [t.cert('root')] },
    encKey: t.key(`${id}/enc`), encCertificate: t.cert(`${id}/enc`), root: t.cert('root'), now: () => new Date(),
  })
  cleanups.push(() => receiver.stop())
  return { receiver, port: await receiver.listen() }
}

async function meter(seed: number): Promise<number> {
  const sim = createSimulator({ kind: 'sml', output: { kind: 'listen', host: '127.0.0.1', port: 0 }, intervalS: 1, meter: { seed } })
  cleanups.push(() => sim.close())
  await sim.start()
  return sim.port()!
}

const smlMeter = (id: string, port: number) => ({ id, kind: 'sml', transport: { tcp: { host: '127.0.0.1', port } }, intervalS: 1, consumer: 'c-1' })
const taf10 = (id: string, meterId: string, recipient: string) => ({
  id, useCase: 'taf10', meteringPoint: `DE-${id}`, channels: [{ meterId, obis: '1-0:16.7.0' }], recipients: [{ id: recipient, role: 'grid-operator' }], schedule: { everySeconds: 1 },
})

interface Setup { store: string; meters: unknown[]; profiles: unknown[]; recipients: { id: string; port: number; encCertificate?: string }[] }

async function configOf(s: Setup): Promise<GatewayConfig> {
  count++
  const profiles = join(tmp.dir, `profiles-${count}.json`)
  await writeFile(profiles, JSON.stringify(s.profiles))
  return parseGatewayConfig({
    gatewayId: 'smgw-0001',
    store: { path: s.store },
    logs: { sigKey: 'unused-with-deps', sigCertificate: 'unused-with-deps' },
    batch: { maxReadings: 100, maxDelayMs: 0 },
    meters: s.meters,
    ...(s.profiles.length === 0 ? {} : { tariffs: { profiles } }),
    wan: {
      tls: { key: join(tmp.dir, 'gw-tls.key.pem'), certificate: file(`${GW}/tls`), chain: [file('sub-ca-gw')] },
      trust: { roots: [file('root')] },
      sigChain: [file('sub-ca-gw')],
      recipients: s.recipients.map((r) => ({ id: r.id, url: `https://127.0.0.1:${String(r.port)}`, encCertificate: r.encCertificate ?? file(`${r.id}/enc`) })),
      retry: { initialMs: 100, maxMs: 400 },
    },
  })
}

function gateway(config: GatewayConfig): Gateway {
  const gw = createGateway(config, { sig: { signer: t.signer(`${GW}/sig`), certificate: t.cert(`${GW}/sig`) } })
  cleanups.push(() => gw.close())
  return gw
}

const storedOf = (gw: Gateway, id: string): number => gw.status().meters.find((m) => m.id === id)?.stored ?? -1

function checkStore(path: string): { system: string[]; ok: boolean; outbox: { recipient: string; messageId: string | undefined; state: string }[]; configs: number } {
  const store = openStore(path, { now: () => new Date() }, { readonly: true })
  try {
    return {
      system: readLogChain(store, 'system', '').entries.map((e) => String(e.type)),
      ok: verifyStoreLogs(store, { certificate: t.cert(`${GW}/sig`) }).ok,
      outbox: store.readOutbox().map((i) => ({ recipient: i.recipient, messageId: i.messageId, state: i.state })),
      configs: store.latestConfigVersion()?.version ?? 0,
    }
  } finally {
    store.close()
  }
}

describe('Gateway.reconfigure', () => {
  it('adds a meter, a tariff profile and a recipient without a restart: readings keep flowing, nothing is sent twice', async () => {
    const one = await receiverFor('emt-1')
    const two = await receiverFor('emt-2')
    const store = join(tmp.dir, 'adds.db')
    const port = await meter(1)
    const before = await configOf({ store, meters: [smlMeter('sml-1', port)], profiles: [taf10('grid-1', 'sml-1', 'emt-1')], recipients: [{ id: 'emt-1', port: one.port }] })
    const gw = gateway(before)
    await gw.start()
    await vi.waitFor(() => { expect(one.receiver.stored.size).toBeGreaterThanOrEqual(2) }, { timeout: 20_000, interval: 50 })
    const storedBefore = storedOf(gw, 'sml-1')
    expect(storedBefore).toBeGreaterThan(0)

    const after = await configOf({
      store,
      meters: [smlMeter('sml-1', port), smlMeter('sml-2', await meter(2))],
      profiles: [taf10('grid-1', 'sml-1', 'emt-1'), taf10('grid-2', 'sml-2', 'emt-2')],
      recipients: [{ id: 'emt-1', port: one.port }, { id: 'emt-2', port: two.port }],
    })
    await gw.reconfigure(after)
    expect(gw.config()).toBe(after)
    // The meter that stays kept its counter; the new one is there and both deliver.
    expect(storedOf(gw, 'sml-1')).toBeGreaterThanOrEqual(storedBefore)
    const oneAtSwitch = one.receiver.stored.size
    await vi.waitFor(() => {
      expect(storedOf(gw, 'sml-1')).toBeGreaterThan(storedBefore)
      expect(storedOf(gw, 'sml-2')).toBeGreaterThan(0)
      expect(one.receiver.stored.size).toBeGreaterThanOrEqual(oneAtSwitch + 2)
      expect(two.receiver.stored.size).toBeGreaterThanOrEqual(2)
    }, { timeout: 20_000, interval: 50 })
    await gw.close('sigterm')

    // Every period of grid-1 once, without a gap across the switch (the watermark is in the store).
    const ends = one.receiver.messages.map((m) => Date.parse(m.period.end)).sort((a, b) => a - b)
    expect(new Set(ends).size).toBe(ends.length)
    for (let i = 1; i < ends.length; i++) expect(ends[i]! - ends[i - 1]!).toBe(1000)
    expect(one.receiver.requests.filter((r) => r.status === 201).length).toBe(one.receiver.stored.size)
    expect(two.receiver.messages.every((m) => m.meteringPoint.id === 'DE-grid-2' && m.recipient === 'emt-2')).toBe(true)
    const s = checkStore(store)
    expect(s.ok).toBe(true)
    expect(s.configs).toBe(2) // the new configuration is in the store's history
    expect(s.system.filter((x) => x === 'gateway-started')).toHaveLength(1)
  })

  it('a broken recipient certificate is refused before anything stops: the old configuration keeps delivering', async () => {
    const one = await receiverFor('emt-1')
    const store = join(tmp.dir, 'broken.db')
    const port = await meter(3)
    const before = await configOf({ store, meters: [smlMeter('sml-1', port)], profiles: [taf10('grid-1', 'sml-1', 'emt-1')], recipients: [{ id: 'emt-1', port: one.port }] })
    const gw = gateway(before)
    await gw.start()
    await vi.waitFor(() => { expect(one.receiver.stored.size).toBeGreaterThanOrEqual(1) }, { timeout: 20_000, interval: 50 })
    const broken = await configOf({
      store, meters: [smlMeter('sml-1', port)], profiles: [taf10('grid-1', 'sml-1', 'emt-1')],
      recipients: [{ id: 'emt-1', port: one.port }, { id: 'emt-2', port: 1, encCertificate: join(tmp.dir, 'broken.pem') }],
    })
    await expect(gw.reconfigure(broken)).rejects.toMatchObject({ code: 'ADMIN_APPLY_FAILED', message: expect.stringMatching(/wan\.recipients\[1\]\.encCertificate/) as unknown })
    expect(gw.config()).toBe(before)
    expect(gw.status().state).toBe('running')
    const atRefusal = one.receiver.stored.size
    const storedAtRefusal = storedOf(gw, 'sml-1')
    await vi.waitFor(() => {
      expect(one.receiver.stored.size).toBeGreaterThanOrEqual(atRefusal + 2)
      expect(storedOf(gw, 'sml-1')).toBeGreaterThan(storedAtRefusal)
    }, { timeout: 20_000, interval: 50 })
    await gw.close()
    expect(checkStore(store).configs).toBe(1)
  })

  it('a new part that fails to start (a missing serial line) puts the previous configuration back', async () => {
    const one = await receiverFor('emt-1')
    const store = join(tmp.dir, 'restore.db')
    const port = await meter(4)
    const before = await configOf({ store, meters: [smlMeter('sml-1', port)], profiles: [taf10('grid-1', 'sml-1', 'emt-1')], recipients: [{ id: 'emt-1', port: one.port }] })
    const gw = gateway(before)
    await gw.start()
    await vi.waitFor(() => { expect(storedOf(gw, 'sml-1')).toBeGreaterThan(0) }, { timeout: 20_000, interval: 50 })
    const next = await configOf({
      store, profiles: [taf10('grid-1', 'sml-1', 'emt-1')], recipients: [{ id: 'emt-1', port: one.port }],
      meters: [smlMeter('sml-1', port), { id: 'sml-9', kind: 'sml', transport: { serial: { path: join(tmp.dir, 'no-such-tty') } }, intervalS: 1 }],
    })
    await expect(gw.reconfigure(next)).rejects.toMatchObject({ code: 'ADMIN_APPLY_FAILED', message: expect.stringMatching(/previous one runs again/) as unknown })
    expect(gw.config()).toBe(before)
    expect(gw.status().meters.map((m) => m.id)).toEqual(['sml-1'])
    const storedAtRefusal = storedOf(gw, 'sml-1')
    const delivered = one.receiver.stored.size
    await vi.waitFor(() => {
      expect(storedOf(gw, 'sml-1')).toBeGreaterThan(storedAtRefusal)
      expect(one.receiver.stored.size).toBeGreaterThan(delivered)
    }, { timeout: 20_000, interval: 50 })
    await gw.close()
    const s = checkStore(store)
    expect(s.ok).toBe(true)
    expect(s.configs).toBe(1)
  })

  it('a new SIG key: a certificate of another key is refused before anything changes; a matching pair is taken over and the chain still verifies', async () => {
    const store = join(tmp.dir, 'sig.db')
    const logs = (key: string, cert: string) => ({ logs: { sigKey: file(`${key}.key`), sigCertificate: file(cert) } })
    const before = parseGatewayConfig({ ...(await configOf({ store, meters: [], profiles: [], recipients: [{ id: 'emt-1', port: 1 }] })), ...logs(`${GW}/sig`, `${GW}/sig`) })
    const gw = createGateway(before, {}) // the SIG key from the files, as `smgw gateway` runs it
    cleanups.push(() => gw.close())
    await gw.start()
    await expect(gw.reconfigure(parseGatewayConfig({ ...before, ...logs(`${GW}/sig`, 'emt-1/sig') }))).rejects.toMatchObject({
      code: 'ADMIN_APPLY_FAILED', message: expect.stringMatching(/does not carry the signer's public key/) as unknown,
    })
    expect(gw.config()).toBe(before)
    const next = parseGatewayConfig({ ...before, ...logs('emt-1/sig', 'emt-1/sig') })
    await gw.reconfigure(next)
    expect(gw.config()).toBe(next)
    await gw.close()
    // Both certificates are in the store; the chain (one day, no head yet) verifies with the certificates it carries.
    const s = openStore(store, { now: () => new Date() }, { readonly: true })
    try {
      expect(s.logRows.certificates().length).toBe(2)
      expect(verifyStoreLogs(s).ok).toBe(true)
    } finally {
      s.close()
    }
  })

  it('refuses sections that need a restart, and a gateway that is not running', async () => {
    const store = join(tmp.dir, 'fixed.db')
    const before = await configOf({ store, meters: [], profiles: [], recipients: [{ id: 'emt-1', port: 1 }] })
    const gw = gateway(before)
    await expect(gw.reconfigure(before)).rejects.toMatchObject({ code: 'ADMIN_APPLY_FAILED', message: expect.stringMatching(/idle, not running/) as unknown })
    await gw.start()
    const moved = parseGatewayConfig({ ...before, store: { path: join(tmp.dir, 'elsewhere.db') }, gatewayId: 'smgw-0002' })
    await expect(gw.reconfigure(moved)).rejects.toMatchObject({ code: 'ADMIN_APPLY_FAILED', message: expect.stringMatching(/^gatewayId, store change only with a restart/) as unknown })
    expect(gw.config()).toBe(before)
  })
})
