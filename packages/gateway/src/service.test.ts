import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createSimulator, createSmlMeterFromConfig, parseSmlMeterConfig, type SimulatorDeps, type SimulatorSent } from '@smgw/sim'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { parseGatewayConfig, type GatewayConfig } from './config.js'
import { readLogChain, verifyStoreLogs } from './log/verify.js'
import { createGateway, type Gateway, type GatewayDeps } from './service.js'
import { openStore } from './store/store.js'
import type { StoredReading } from './store/types.js'
import { createManualWorld, createTempDir, createTestSig, type TestSig } from './testing.js'

const KEY = '000102030405060708090a0b0c0d0e0f'
const OTHER_KEY = 'ffeeddccbbaa99887766554433221100'
const START = Date.UTC(2026, 0, 15, 9, 0, 0)

let tmp: { dir: string; remove: () => Promise<void> }
let sig: TestSig
beforeAll(async () => {
  tmp = await createTempDir('smgw-gateway-')
  sig = await createTestSig()
})
afterAll(async () => { await tmp.remove() })

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

let dbCount = 0
function configOf(meters: unknown[], extra: Record<string, unknown> = {}): GatewayConfig {
  dbCount++
  return parseGatewayConfig({
    gatewayId: 'smgw-0001',
    store: { path: join(tmp.dir, `gateway-${dbCount}.db`) },
    logs: { sigKey: 'unused-with-deps.sig', sigCertificate: 'unused-with-deps.sig' },
    batch: { maxReadings: 100, maxDelayMs: 0 },
    meters,
    ...extra,
  })
}

/** A clock and timers the test drives (shared by simulator and gateway): nothing waits on wall-clock time. */
function manualWorld() {
  const world = createManualWorld(START)
  const sent: SimulatorSent[] = []
  return {
    ...world,
    sent,
    sim: { now: world.now, setTimer: world.setTimer, onSent: (s: SimulatorSent) => { sent.push(s) } } satisfies SimulatorDeps,
  }
}

function started(config: GatewayConfig, deps: Omit<GatewayDeps, 'sig'>): Gateway {
  const gw = createGateway(config, { sig: { signer: sig.signer, certificate: sig.certificate }, ...deps })
  cleanups.push(() => gw.close())
  return gw
}

function storedReadings(config: GatewayConfig): StoredReading[] {
  const store = openStore(config.store.path, { now: () => new Date() }, { readonly: true })
  try {
    return store.readReadings()
  } finally {
    store.close()
  }
}

function logTypes(config: GatewayConfig, log: 'system' | 'calibration' | 'consumer', stream = ''): string[] {
  const store = openStore(config.store.path, { now: () => new Date() }, { readonly: true })
  try {
    return readLogChain(store, log, stream).entries.map((e) => String(e.type))
  } finally {
    store.close()
  }
}

function verified(config: GatewayConfig): boolean {
  const store = openStore(config.store.path, { now: () => new Date() }, { readonly: true })
  try {
    return verifyStoreLogs(store, { certificate: sig.certificate }).ok
  } finally {
    store.close()
  }
}

/** Import register of every complete SML file sent (0.1 Wh units, as the meter encodes it). */
function sentImports(sent: readonly SimulatorSent[], complete = true): bigint[] {
  return sent.flatMap((s) => (s.kind === 'sml' && (!complete || !s.emission.truncated) && s.error === undefined ? [BigInt(Math.round(s.emission.values.importWh * 10))] : []))
}

function storedImports(readings: readonly StoredReading[]): bigint[] {
  return readings.filter((r) => r.quantity === '1-0:1.8.0*255').map((r) => {
    expect(r.scaler).toBe(-1)
    expect(r.unit).toBe('Wh')
    return r.mantissa
  })
}

describe('createGateway: SML over TCP (simulator listening on 127.0.0.1:0)', () => {
  it('stores every file received as exact readings, writes consumer-log entries, closes idempotently', async () => {
    const world = manualWorld()
    const sim = createSimulator({ kind: 'sml', output: { kind: 'listen', host: '127.0.0.1', port: 0 }, intervalS: 2, meter: { seed: 21, pvPeakW: 3000 } }, world.sim)
    cleanups.push(() => sim.close())
    await sim.start() // the first file goes to nobody
    const config = configOf([{ id: 'sml-1', kind: 'sml', transport: { tcp: { host: '127.0.0.1', port: sim.port() } }, intervalS: 2, consumer: 'c-1' }])
    const gw = started(config, { now: world.now, setTimer: world.setTimer })
    await gw.start()
    // Send until the gateway has stored three files (the connection comes up asynchronously).
    await vi.waitFor(async () => {
      world.advance(2000)
      await new Promise((resolve) => setImmediate(resolve))
      expect(gw.status().meters[0]!.stored).toBeGreaterThanOrEqual(9)
    }, { timeout: 5000, interval: 20 })
    expect(gw.status().meters[0]).toMatchObject({ id: 'sml-1', state: 'ok' })
    await gw.close('sigterm')
    await gw.close()
    expect(gw.status().state).toBe('closed')

    const readings = storedReadings(config)
    const imports = storedImports(readings)
    // Every stored file is one the simulator sent, in order, with its exact register value.
    const sent = sentImports(world.sent)
    expect(imports.length).toBeGreaterThanOrEqual(3)
    expect(sent.join(',')).toContain(imports.join(','))
    expect(new Set(readings.map((r) => r.quantity))).toEqual(new Set(['1-0:1.8.0*255', '1-0:2.8.0*255', '1-0:16.7.0*255']))
    expect(readings.every((r) => r.meterId === 'sml-1' && r.time.getTime() >= START)).toBe(true)
    expect(logTypes(config, 'system')).toEqual(['gateway-started', 'store-opened', 'config-changed', 'gateway-stopped'])
    const consumer = logTypes(config, 'consumer', 'c-1')
    expect(consumer.length).toBeGreaterThanOrEqual(3)
    expect(new Set(consumer)).toEqual(new Set(['data-processed']))
    expect(verified(config)).toBe(true)
  })

  it('reconnects with backoff when the meter is not there yet, and does not log a config change on restart', async () => {
    const world = manualWorld()
    const sim = createSimulator({ kind: 'sml', output: { kind: 'listen', host: '127.0.0.1', port: 0 }, meter: { seed: 3 } }, world.sim)
    await sim.start()
    const port = sim.port()!
    await sim.close() // nobody listens on the port now
    const config = configOf([{ id: 'sml-2', kind: 'sml', transport: { tcp: { host: '127.0.0.1', port } }, intervalS: 2 }])
    const gw = started(config, { now: world.now, setTimer: world.setTimer })
    await gw.start()
    // The refused connection schedules a retry on the injected timer; bring the meter up on the same port.
    const again = createSimulator({ kind: 'sml', output: { kind: 'listen', host: '127.0.0.1', port }, meter: { seed: 3 } }, world.sim)
    cleanups.push(() => again.close())
    await again.start()
    await vi.waitFor(async () => {
      world.advance(2000)
      await new Promise((resolve) => setImmediate(resolve))
      expect(gw.status().meters[0]!.stored).toBeGreaterThanOrEqual(3)
    }, { timeout: 5000, interval: 20 })
    await gw.close()
    const second = started(config, { now: world.now, setTimer: world.setTimer })
    await second.start()
    await second.close()
    expect(logTypes(config, 'system')).toEqual(['gateway-started', 'store-opened', 'config-changed', 'gateway-stopped', 'gateway-started', 'store-opened', 'gateway-stopped'])
  })
})

describe('createGateway: wireless M-Bus over UDP', () => {
  it('right key → stored; wrong key → calibration and system log entry, nothing stored; unknown meter → logged once', async () => {
    const world = manualWorld()
    const keys = new Map([['k-ok', Buffer.from(KEY, 'hex')], ['k-wrong', Buffer.from(OTHER_KEY, 'hex')]])
    const config = configOf([
      { id: 'gas-1', kind: 'wmbus', mbusId: '11111111', keyId: 'k-ok', transport: { udp: { host: '127.0.0.1', port: 0 } }, intervalS: 32 },
      { id: 'heat-1', kind: 'wmbus', mbusId: '22222222', keyId: 'k-wrong', transport: { udp: { host: '127.0.0.1', port: 0 } }, intervalS: 32 },
    ])
    const gw = started(config, { now: world.now, setTimer: world.setTimer, keys })
    await gw.start()
    const [port] = gw.status().ports
    expect(port).toBeGreaterThan(0)
    const sentBy = new Map<string, SimulatorSent[]>()
    const sims = [
      { kind: 'gas', mode: 7, key: KEY, id: '11111111', seed: 1 },
      { kind: 'heat', mode: 5, key: KEY, id: '22222222', seed: 2 }, // the gateway holds another key for it
      { kind: 'water', mode: 5, key: KEY, id: '99999999', seed: 3 }, // not configured
    ].map((meter) => {
      const sent: SimulatorSent[] = []
      sentBy.set(meter.id, sent)
      return createSimulator({ kind: 'wmbus', output: { kind: 'udp', host: '127.0.0.1', port: port! }, intervalS: 16, jitter: 0, count: 3, meter },
        { ...world.sim, onSent: (x) => { sent.push(x) } })
    })
    for (const s of sims) {
      cleanups.push(() => s.close())
      await s.start()
    }
    for (let i = 2; i <= 3; i++) {
      world.advance(16_000)
      await vi.waitFor(() => { expect([...sentBy.values()].map((x) => x.length)).toEqual([i, i, i]) }, { timeout: 5000, interval: 10 })
    }
    await Promise.all(sims.map((s) => s.finished))
    await vi.waitFor(() => {
      const st = gw.status()
      expect(st.meters.find((m) => m.id === 'heat-1')!.keyRejected).toBe(3)
      expect(st.unknownMeters).toEqual(['99999999'])
      expect(storedVolumes()).toHaveLength(3)
    }, { timeout: 5000, interval: 20 })
    function storedVolumes() {
      return gw.status().meters.find((m) => m.id === 'gas-1')!.stored > 0 ? storedReadings(config).filter((r) => r.quantity === 'volume') : []
    }
    await gw.close()

    const readings = storedReadings(config)
    expect(new Set(readings.map((r) => r.meterId))).toEqual(new Set(['gas-1']))
    const volumes = readings.filter((r) => r.quantity === 'volume')
    const sentVolumes = sentBy.get('11111111')!.map((x) => (x.kind === 'wmbus' ? x.emission.values.volumeM3 : undefined))
    expect(volumes.map((r) => Number(r.mantissa) * 10 ** r.scaler)).toEqual(sentVolumes)
    expect(volumes.every((r) => r.unit === 'm3' && r.status === 0n)).toBe(true)
    const system = logTypes(config, 'system')
    expect(system.filter((t) => t === 'lmn-device-unknown')).toHaveLength(1)
    expect(system.filter((t) => t === 'meter-key-rejected')).toHaveLength(1)
    expect(logTypes(config, 'calibration')).toEqual(['meter-key-invalid'])
    expect(verified(config)).toBe(true)
  })
})

describe('createGateway: SML over a serial line (socat pty pair)', () => {
  async function ptyPair(): Promise<{ a: string; b: string; restart: () => Promise<void> }> {
    const dir = await createTempDir('smgw-gw-pty-')
    const a = join(dir.dir, 'A')
    const b = join(dir.dir, 'B')
    let socat: ChildProcess | undefined
    const run = async () => {
      const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' })
      socat = child
      await vi.waitFor(() => { expect(existsSync(a) && existsSync(b)).toBe(true) }, { timeout: 5000, interval: 20 })
    }
    const stop = async () => {
      const child = socat
      if (child === undefined || child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
    cleanups.push(async () => {
      await stop()
      await dir.remove()
    })
    await run()
    return { a, b, restart: async () => { await stop(); await run() } }
  }

  it('with noise and truncated files: only complete files are stored, the dropped bytes are counted', async () => {
    const { a, b } = await ptyPair()
    const world = manualWorld()
    const config = configOf([{ id: 'ehz-1', kind: 'sml', transport: { serial: { path: b, baudRate: 9600 } }, intervalS: 2 }])
    const gw = started(config, { now: world.now, setTimer: world.setTimer })
    await gw.start()
    const count = 12
    const sim = createSimulator({ kind: 'sml', output: { kind: 'serial', path: a }, count, meter: { seed: 9, quirks: ['noise', 'truncated'], truncateProbability: 0.3 } }, world.sim)
    cleanups.push(() => sim.close())
    await sim.start()
    for (let i = 2; i <= count; i++) {
      world.advance(2000)
      await vi.waitFor(() => { expect(world.sent).toHaveLength(i) }, { timeout: 5000, interval: 10 }) // the next timer is set after the write
    }
    await sim.finished
    const complete = sentImports(world.sent)
    expect(complete.length).toBeLessThan(count) // the seed cuts some files
    expect(complete.length).toBeGreaterThan(0)
    await vi.waitFor(() => { expect(gw.status().meters[0]!.stored).toBe(complete.length * 3) }, { timeout: 5000, interval: 20 })
    await gw.close()
    expect(storedImports(storedReadings(config))).toEqual(complete)
    const noise = world.sent.reduce((n, s) => n + (s.kind === 'sml' ? s.emission.noiseBytes : 0), 0)
    expect(gw.status().meters[0]!.garbageBytes).toBeGreaterThan(noise) // noise plus the cut files
  })

  it('a line that goes away is reopened with backoff (injected timer) and read again', async () => {
    const { a, b, restart } = await ptyPair()
    const world = manualWorld()
    const config = configOf([{ id: 'ehz-2', kind: 'sml', transport: { serial: { path: b } }, intervalS: 2 }])
    const gw = started(config, { now: world.now, setTimer: world.setTimer })
    await gw.start()
    const send = async (seed: number) => {
      const sent: SimulatorSent[] = []
      const sim = createSimulator({ kind: 'sml', output: { kind: 'serial', path: a }, count: 1, meter: { seed } }, { ...world.sim, onSent: (x) => { sent.push(x) } })
      await sim.start()
      await sim.finished
      await sim.close()
      return sentImports(sent)
    }
    const first = await send(1)
    await vi.waitFor(() => { expect(gw.status().meters[0]!.stored).toBe(3) }, { timeout: 5000, interval: 20 })
    await restart() // the old pty pair is gone, a new one appears under the same names
    // The loss is noticed, then the retry timer (1 s) reopens the path; keep advancing until it has.
    const second: bigint[] = []
    await vi.waitFor(async () => {
      world.advance(1000)
      await new Promise((resolve) => setImmediate(resolve))
      second.push(...await send(2)) // files written before the reopening are lost; later ones arrive
      await vi.waitFor(() => { expect(gw.status().meters[0]!.stored).toBeGreaterThanOrEqual(6) }, { timeout: 300, interval: 20 })
    }, { timeout: 10_000, interval: 50 })
    await gw.close()
    const imports = storedImports(storedReadings(config))
    expect(imports[0]).toBe(first[0])
    expect(imports.length).toBeGreaterThanOrEqual(2)
    expect(imports.slice(1).every((v) => second.includes(v))).toBe(true)
  })

  it('wireless M-Bus stick in raw mode with format A CRCs', async () => {
    const { a, b } = await ptyPair()
    const world = manualWorld()
    const config = configOf([{ id: 'heat-9', kind: 'wmbus', mbusId: '33333333', keyId: 'k', transport: { serial: { path: b, frameCrc: 'A' } }, intervalS: 32 }])
    const gw = started(config, { now: world.now, setTimer: world.setTimer, keys: new Map([['k', Buffer.from(KEY, 'hex')]]) })
    await gw.start()
    const sim = createSimulator({ kind: 'wmbus', output: { kind: 'serial', path: a }, count: 2, jitter: 0, meter: { kind: 'heat', mode: 5, key: KEY, crc: 'A', id: '33333333', seed: 4 } }, world.sim)
    cleanups.push(() => sim.close())
    await sim.start()
    await vi.waitFor(() => { expect(world.sent).toHaveLength(1) }, { timeout: 5000, interval: 10 })
    world.advance(32_000)
    await sim.finished
    await vi.waitFor(() => { expect(gw.status().meters[0]!.stored).toBeGreaterThanOrEqual(2) }, { timeout: 5000, interval: 20 })
    await gw.close()
    const energy = storedReadings(config).filter((r) => r.quantity === 'energy')
    expect(energy.map((r) => Number(r.mantissa) * 10 ** r.scaler)).toEqual(world.sent.map((s) => (s.kind === 'wmbus' ? s.emission.values.energyWh : undefined)))
    expect(gw.status().garbageBytes).toBe(0)
  })
})

describe('createGateway: silence and replay', () => {
  it('a meter silent for silentAfterMissed intervals raises a status and one calibration-log entry (injected clock)', async () => {
    const world = manualWorld()
    const meter = createSmlMeterFromConfig(parseSmlMeterConfig({ seed: 5 }))
    const capture = join(tmp.dir, 'capture.sml')
    await writeFile(capture, meter.next(new Date(START)).bytes)
    const config = configOf([
      { id: 'replayed', kind: 'sml', transport: { file: capture }, intervalS: 2 },
      { id: 'never', kind: 'wmbus', mbusId: '44444444', transport: { udp: { host: '127.0.0.1', port: 0 } }, intervalS: 16, silentAfterMissed: 2 },
    ])
    const gw = started(config, { now: world.now, setTimer: world.setTimer })
    await gw.start()
    await gw.flush()
    const state = () => Object.fromEntries(gw.status().meters.map((m) => [m.id, m.state]))
    expect(state()).toEqual({ replayed: 'ok', never: 'waiting' })
    world.advance(5999)
    await gw.flush()
    expect(state()).toEqual({ replayed: 'ok', never: 'waiting' })
    world.advance(1)
    await gw.flush()
    expect(state()).toEqual({ replayed: 'silent', never: 'waiting' })
    world.advance(26_000)
    await gw.flush()
    expect(state()).toEqual({ replayed: 'silent', never: 'silent' })
    world.advance(600_000) // still silent: no further entries
    await gw.close()
    expect(storedReadings(config)).toHaveLength(3)
    const store = openStore(config.store.path, { now: world.now }, { readonly: true })
    const entries = readLogChain(store, 'calibration', '').entries.map((e) => [e.type, JSON.parse(String(e.fields)) as unknown])
    store.close()
    expect(entries).toEqual([
      ['meter-silent', { meterId: 'replayed', missedIntervals: 3 }],
      ['meter-silent', { meterId: 'never', missedIntervals: 2 }],
    ])
  })

  it('a start that fails (serial port missing) is LMN_OPEN_FAILED and leaves the store closed', async () => {
    const config = configOf([{ id: 'ehz-x', kind: 'sml', transport: { serial: { path: join(tmp.dir, 'no-such-tty') } }, intervalS: 2 }])
    const gw = started(config, {})
    await expect(gw.start()).rejects.toMatchObject({ code: 'LMN_OPEN_FAILED' })
    expect(gw.status().state).toBe('closed')
    expect(logTypes(config, 'system')).toEqual(['gateway-started', 'store-opened', 'config-changed', 'gateway-stopped'])
  })
})
