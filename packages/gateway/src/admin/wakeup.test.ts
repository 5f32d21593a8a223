import { createSocket, type Socket } from 'node:dgram'
import { createCmsSigner, type CmsSigner } from '@smgw/crypto'
import { createSignerVerifier, formatCanonicalJson, signAdminObject, WAKE_UP_MAX_BYTES, type SignerVerifier, type WakeUp } from '@smgw/admin-protocol'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createWanTestPki, type WanTestPki } from '../wan/testing.js'
import { createManualWorld } from '../testing.js'
import { WakeUpConfig, createWakeUpGate, createWakeUpListener, type WakeUpListener, type WakeUpLogEntry } from './wakeup.js'

const NOW = new Date('2026-11-30T06:00:00.000Z')
const GATEWAY = 'smgw-0001'

let t: WanTestPki
let gwaSigner: CmsSigner
let emtSigner: CmsSigner
let verifier: SignerVerifier
let client: Socket

function wakeUp(over: Partial<WakeUp> = {}): WakeUp {
  return { format: 'smgw-wakeup/1', gatewayId: GATEWAY, gwaId: 'gwa', createdAt: NOW.toISOString(), counter: 17, ...over }
}

beforeAll(async () => {
  t = await createWanTestPki({ gateways: 1, emts: 1 }, new Date(NOW.getTime() - 86_400_000))
  const gwa = t.pki.participants.find((p) => p.role === 'gwa')!
  gwaSigner = createCmsSigner({ signer: t.signer('gwa/sig'), certificate: t.cert('gwa/sig'), chain: [t.cert('sub-ca-emt')] })
  emtSigner = createCmsSigner({ signer: t.signer('emt-1/sig'), certificate: t.cert('emt-1/sig'), chain: [t.cert('sub-ca-emt')] })
  verifier = createSignerVerifier({ expectedSubject: gwa.subject, roots: [t.cert('root')], intermediates: [t.cert('sub-ca-emt')], notOwnRole: 'SIGNER_NOT_GWA' })
  client = createSocket('udp4')
  await new Promise<void>((resolve) => { client.bind(0, '127.0.0.1', resolve) })
}, 60_000)

afterAll(() => { client.close() })

/**
 * What a forger without the GWA's key can send: a genuine packet (GWA certificate included)
 * whose content was changed to `w` (same length), so the signature no longer matches.
 */
async function forge(w: WakeUp, template: WakeUp): Promise<Uint8Array> {
  const genuine = await signAdminObject(template, gwaSigner, NOW)
  const from = Buffer.from(formatCanonicalJson(template))
  const to = Buffer.from(formatCanonicalJson(w))
  if (from.length !== to.length) throw new Error('forge: same length only')
  const at = Buffer.from(genuine).indexOf(from)
  const forged = genuine.slice()
  forged.set(to, at)
  return forged
}

interface Harness {
  readonly listener: WakeUpListener
  readonly entries: WakeUpLogEntry[]
  readonly accepted: WakeUp[]
  readonly world: ReturnType<typeof createManualWorld>
  counter: number
  verifications: number
  monotonic: number
  send(bytes: Uint8Array): Promise<void>
  /** Waits until `n` packets in total have been decided. */
  decided(n: number): Promise<void>
}

let open: Harness[] = []
afterEach(async () => {
  await Promise.all(open.map((h) => h.listener.close()))
  open = []
})

async function startListener(over: Partial<WakeUpConfig> = {}, o: { realClock?: boolean } = {}): Promise<Harness> {
  const world = createManualWorld(NOW.getTime())
  const counting: SignerVerifier = {
    open: (der, at) => {
      h.verifications++
      return verifier.open(der, at)
    },
  }
  const h: Harness = {
    entries: [], accepted: [], world, counter: 10, verifications: 0, monotonic: 0,
    listener: undefined as unknown as WakeUpListener,
    send: (bytes) => new Promise<void>((resolve, reject) => {
      client.send(bytes, h.listener.port(), '127.0.0.1', (err) => { if (err) reject(err); else resolve() })
    }),
    decided: (n) => vi.waitFor(() => {
      const total = Object.values(h.listener.stats()).reduce((a, b) => a + b, 0)
      if (total < n) throw new Error(`${String(total)} of ${String(n)} decided`)
    }, { timeout: 30_000, interval: 5 }),
  }
  const config = WakeUpConfig.parse({ host: '127.0.0.1', port: 0, ...over })
  ;(h as { listener: WakeUpListener }).listener = createWakeUpListener(config, {
    gatewayId: GATEWAY,
    verifier: counting,
    now: world.now,
    setTimer: world.setTimer,
    ...(o.realClock === true ? {} : { monotonicMs: () => h.monotonic }),
    lastCounter: () => h.counter,
    acceptCounter: (c) => { h.counter = c },
    log: (e) => { h.entries.push(e) },
    onWakeUp: (w) => { h.accepted.push(w) },
  })
  await h.listener.start()
  open.push(h)
  return h
}

describe('wake-up config', () => {
  it('has the defaults of docs/admin-protocol.md', () => {
    expect(WakeUpConfig.parse({})).toEqual({ host: '0.0.0.0', port: 8124, freshnessS: 300, ratePerS: 10, burst: 20, logPerMinute: 20 })
    expect(() => WakeUpConfig.parse({ burst: 0 })).toThrow()
    expect(() => WakeUpConfig.parse({ extra: 1 })).toThrow()
  })
})

describe('wake-up listener (real UDP)', () => {
  it('accepts a genuine wake-up, stores its counter and logs it', async () => {
    const h = await startListener()
    await h.send(await signAdminObject(wakeUp(), gwaSigner, NOW))
    await h.decided(1)
    expect(h.accepted).toEqual([wakeUp()])
    expect(h.counter).toBe(17)
    expect(h.entries).toEqual([{ result: 'accepted', source: expect.stringMatching(/^127\.0\.0\.1:\d+$/) as unknown }])
  })

  it('rejects each attack with its reason and logs it', async () => {
    const h = await startListener()
    const attacks: [string, Uint8Array][] = [
      ['bad-signature', await forge(wakeUp({ counter: 99 }), wakeUp({ counter: 98 }))],
      ['signer-not-gwa', await signAdminObject(wakeUp(), emtSigner, NOW)],
      ['stale', await signAdminObject(wakeUp({ createdAt: new Date(NOW.getTime() - 301_000).toISOString() }), gwaSigner, NOW)],
      ['stale', await signAdminObject(wakeUp({ createdAt: new Date(NOW.getTime() + 301_000).toISOString() }), gwaSigner, NOW)],
      ['not-addressed', await signAdminObject(wakeUp({ gatewayId: 'smgw-0002' }), gwaSigner, NOW)],
      ['replayed', await signAdminObject(wakeUp({ counter: 10 }), gwaSigner, NOW)],
      ['too-large', new Uint8Array(WAKE_UP_MAX_BYTES + 1)],
      ['malformed', new TextEncoder().encode('wake up!')],
      ['malformed', await signAdminObject({ ...wakeUp(), format: 'smgw-wakeup/2' }, gwaSigner, NOW)],
    ]
    for (const [i, [, bytes]] of attacks.entries()) {
      await h.send(bytes)
      await h.decided(i + 1)
    }
    expect(h.entries.map((e) => e.result)).toEqual(attacks.map(([r]) => r))
    expect(h.accepted).toEqual([])
    expect(h.counter).toBe(10)
    // Only the signature-bearing, otherwise plausible packets cost a verification.
    expect(h.verifications).toBe(2)
  })

  it('accepts a replayed packet once only', async () => {
    const h = await startListener()
    const genuine = await signAdminObject(wakeUp({ counter: 20 }), gwaSigner, NOW)
    await Promise.all([h.send(genuine), h.send(genuine), h.send(genuine)])
    await h.decided(3)
    expect(h.accepted.map((w) => w.counter)).toEqual([20])
    expect(h.entries.map((e) => e.result).sort()).toEqual(['accepted', 'replayed', 'replayed'])
  })

  it('bounds signature checks by the token bucket under a flood of 5,000 plausible forgeries, then accepts a genuine wake-up', async () => {
    const h = await startListener({ ratePerS: 10, burst: 20, logPerMinute: 20 })
    // Plausible forgeries: well-formed, addressed, fresh, the GWA's certificate, each with a new
    // counter patched into one genuine packet (so no signature matches: what a forger has).
    const template = await forge(wakeUp({ counter: 1_000_000 }), wakeUp({ counter: 2_000_000 }))
    const at = Buffer.from(template).indexOf(Buffer.from('"counter":1000000')) + '"counter":'.length
    const forgeries = Array.from({ length: 5000 }, (_, i) => {
      const p = template.slice()
      p.set(new TextEncoder().encode(String(1_000_000 + i)), at)
      return p
    })
    // Batches small enough for the loopback receive buffer; elapsed monotonic time stays 0 during the flood.
    for (let i = 0; i < forgeries.length; i += 50) {
      await Promise.all(forgeries.slice(i, i + 50).map((p) => h.send(p)))
      await h.decided(Math.min(i + 50, forgeries.length))
    }
    const stats = h.listener.stats()
    expect(stats['rate-limited'] + stats['bad-signature']).toBe(5000)
    expect(h.verifications).toBeLessThanOrEqual(20) // burst + ratePerS × 0 s
    expect(stats['bad-signature']).toBe(h.verifications)
    // Log: 20 singles this minute, the rest counted.
    expect(h.entries).toHaveLength(20)
    // While the bucket is empty, even a genuine packet waits for a token.
    await h.send(await signAdminObject(wakeUp({ counter: 11 }), gwaSigner, NOW))
    await h.decided(5001)
    expect(h.accepted).toEqual([])
    // Tokens refill at ratePerS: one second later, a genuine wake-up is accepted.
    h.monotonic += 1000
    await h.send(await signAdminObject(wakeUp({ counter: 12 }), gwaSigner, NOW))
    await h.decided(5002)
    expect(h.accepted.map((w) => w.counter)).toEqual([12])
    expect(h.verifications).toBeLessThanOrEqual(20 + 10)
    // The minute ends: one summary per suppressed reason with its count.
    h.world.advance(60_000)
    const summaries = h.entries.filter((e) => e.count !== undefined)
    expect(summaries.map((e) => e.result)).toContain('rate-limited')
    expect(new Set(summaries.map((e) => e.result)).size).toBe(summaries.length)
    const logged = h.entries.filter((e) => e.count === undefined && e.result !== 'accepted').length
    const counted = summaries.reduce((a, e) => a + (e.count ?? 0), 0)
    expect(logged + counted).toBe(5001)
  }, 120_000)

  it('keeps the bound on the real monotonic clock: at most burst + ratePerS × elapsed checks', async () => {
    const h = await startListener({ ratePerS: 50, burst: 5, logPerMinute: 0 }, { realClock: true })
    const template = await forge(wakeUp({ counter: 1_000_000 }), wakeUp({ counter: 2_000_000 }))
    const at = Buffer.from(template).indexOf(Buffer.from('"counter":1000000')) + '"counter":'.length
    const started = performance.now()
    for (let i = 0; i < 2000; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => {
        const p = template.slice()
        p.set(new TextEncoder().encode(String(1_000_000 + i + j)), at)
        return h.send(p)
      }))
      await h.decided(i + 50)
    }
    const elapsedS = (performance.now() - started) / 1000
    expect(h.verifications).toBeGreaterThanOrEqual(5)
    expect(h.verifications).toBeLessThanOrEqual(5 + Math.ceil(50 * elapsedS))
    // Tokens come back with time: a genuine wake-up (a new counter each try) gets through.
    let counter = 11
    await vi.waitFor(async () => {
      await h.send(await signAdminObject(wakeUp({ counter: counter++ }), gwaSigner, NOW))
      await h.decided(2000 + counter - 11)
      if (h.accepted.length === 0) throw new Error('not yet')
    }, { timeout: 30_000, interval: 20 })
    expect(h.accepted).toHaveLength(1)
  }, 120_000)

  it('writes the pending summary when closed', async () => {
    const h = await startListener({ logPerMinute: 1 })
    await h.send(new Uint8Array([1]))
    await h.send(new Uint8Array([2]))
    await h.send(new Uint8Array([3]))
    await h.decided(3)
    await h.listener.close()
    expect(h.entries).toEqual([{ result: 'malformed', source: expect.any(String) as unknown }, { result: 'malformed', count: 2 }])
  })
})

describe('wake-up gate (pure)', () => {
  it('checks in the documented order: no signature work for a replayed or stale packet', async () => {
    let checks = 0
    const gate = createWakeUpGate({ freshnessS: 300, ratePerS: 1, burst: 1 }, {
      gatewayId: GATEWAY, now: () => NOW, lastCounter: () => 17, acceptCounter: () => undefined, monotonicMs: () => 0,
      verifier: { open: (der, at) => { checks++; return verifier.open(der, at) } },
    })
    expect((await gate.check(await signAdminObject(wakeUp({ counter: 17 }), gwaSigner, NOW))).result).toBe('replayed')
    expect((await gate.check(await signAdminObject(wakeUp({ counter: 18, createdAt: '2026-11-30T05:00:00.000Z' }), gwaSigner, NOW))).result).toBe('stale')
    expect(checks).toBe(0)
    expect((await gate.check(await signAdminObject(wakeUp({ counter: 18 }), emtSigner, NOW))).result).toBe('signer-not-gwa')
    expect((await gate.check(await signAdminObject(wakeUp({ counter: 19 }), gwaSigner, NOW))).result).toBe('rate-limited')
    expect(checks).toBe(1)
    expect(gate.verifications()).toBe(1)
  })

  it('accepts nothing when the counter cannot be stored', async () => {
    const gate = createWakeUpGate({ freshnessS: 300, ratePerS: 1, burst: 5 }, {
      gatewayId: GATEWAY, now: () => NOW, lastCounter: () => 0, verifier,
      acceptCounter: () => { throw new Error('store closed') },
    })
    await expect(gate.check(await signAdminObject(wakeUp(), gwaSigner, NOW))).rejects.toThrow('store closed')
  })

  it('refuses a wake-up signed by a certificate that expired', async () => {
    const gate = createWakeUpGate({ freshnessS: 300, ratePerS: 1, burst: 5 }, {
      gatewayId: GATEWAY, now: () => new Date('2040-01-01T00:00:00.000Z'), lastCounter: () => 0, acceptCounter: () => undefined, verifier,
    })
    const late = await signAdminObject(wakeUp({ createdAt: '2040-01-01T00:00:00.000Z' }), gwaSigner, NOW)
    const d = await gate.check(late)
    expect(d.result).toBe('bad-signature')
    expect(d.result === 'accepted' ? '' : d.detail).toContain('EXPIRED')
  })
})
