import { spawn, type ChildProcess } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createConnection, createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeWirelessTelegram } from '@smgw/mbus'
import { createSmlFramer, decodeSmlFile, extractReadings } from '@smgw/sml'
import { SerialPort } from 'serialport'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { SmlMeterValues } from '../sml/meter.js'
import { createSimulator, type SimulatorDeps, type SimulatorSent } from './simulator.js'

const KEY = '000102030405060708090a0b0c0d0e0f'
const START = Date.UTC(2025, 0, 15, 17, 0, 0)

/** A clock and timers the test drives: nothing waits on wall-clock time. */
function manualWorld() {
  let now = START
  const timers: { ms: number; fn: () => void; cancelled: boolean }[] = []
  const delays: number[] = []
  const sent: SimulatorSent[] = []
  const waiters: (() => void)[] = []
  const deps: SimulatorDeps = {
    now: () => new Date(now),
    setTimer: (ms, fn) => {
      const t = { ms, fn, cancelled: false }
      timers.push(t)
      delays.push(ms)
      return () => { t.cancelled = true }
    },
    onSent: (s) => {
      sent.push(s)
      waiters.splice(0).forEach((w) => { w() })
    },
  }
  /** Runs the next timer after advancing the clock by its delay; resolves when its frame is written. */
  const fire = async (): Promise<void> => {
    const t = timers.shift()
    if (t === undefined) throw new Error('no timer pending')
    if (t.cancelled) return
    now += t.ms
    const written = new Promise<void>((resolve) => { waiters.push(resolve) })
    t.fn()
    await written
  }
  return { deps, fire, sent, delays, timers }
}

function smlValuesOf(bytes: Uint8Array): Omit<SmlMeterValues, 'at' | 'secIndex'> {
  const r = new Map(extractReadings(decodeSmlFile(bytes)).map((x) => [x.obis, x.value]))
  return { importWh: r.get('1-0:1.8.0*255') as number, exportWh: r.get('1-0:2.8.0*255') as number, powerW: r.get('1-0:16.7.0*255') as number }
}

function sentSml(s: SimulatorSent): Omit<SmlMeterValues, 'at' | 'secIndex'> {
  if (s.kind !== 'sml') throw new Error('not sml')
  return { importWh: s.emission.values.importWh, exportWh: s.emission.values.exportWh, powerW: s.emission.values.powerW }
}

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describe('createSimulator over TCP and UDP', () => {
  it('SML as a TCP client: the peer receives every file, with the values reported as sent', async () => {
    const received: Uint8Array[] = []
    const framer = createSmlFramer()
    const server: Server = createServer((socket) => {
      socket.on('data', (chunk) => {
        for (const ev of framer.push(chunk)) if (ev.kind === 'frame') received.push(ev.bytes)
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise((resolve) => server.close(() => { resolve() })))
    const port = (server.address() as { port: number }).port
    const world = manualWorld()
    const sim = createSimulator({ kind: 'sml', output: { kind: 'tcp', host: '127.0.0.1', port }, intervalS: 2, count: 4, meter: { seed: 5 } }, world.deps)
    cleanups.push(() => sim.close())
    await sim.start()
    for (let i = 0; i < 3; i++) await world.fire()
    await sim.finished
    expect(world.timers).toHaveLength(0) // count reached: nothing scheduled
    expect(world.delays).toEqual([2000, 2000, 2000])
    await vi.waitFor(() => { expect(received).toHaveLength(4) }, { timeout: 5000 })
    expect(received.map(smlValuesOf)).toEqual(world.sent.map(sentSml))
    expect(world.sent.every((s) => s.error === undefined)).toBe(true)
  })

  it('SML as a TCP client reconnects when the peer went away', async () => {
    let connections = 0
    const framer = createSmlFramer()
    const frames: Uint8Array[] = []
    const server: Server = createServer((socket) => {
      connections++
      if (connections === 1) {
        socket.destroy()
        return
      }
      socket.on('data', (chunk) => {
        for (const ev of framer.push(chunk)) if (ev.kind === 'frame') frames.push(ev.bytes)
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise((resolve) => { server.close(() => { resolve() }) }))
    const world = manualWorld()
    const sim = createSimulator({ kind: 'sml', output: { kind: 'tcp', port: (server.address() as { port: number }).port } }, world.deps)
    cleanups.push(() => sim.close())
    await sim.start()
    await vi.waitFor(async () => {
      await world.fire()
      expect(frames.length).toBeGreaterThanOrEqual(1)
    }, { timeout: 5000, interval: 10 })
    expect(connections).toBe(2)
  })

  it('SML as a TCP server: a client that connects gets the files from then on', async () => {
    const world = manualWorld()
    const sim = createSimulator({ kind: 'sml', output: { kind: 'listen', port: 0 }, meter: { profile: 'g0', seed: 2, signature: true } }, world.deps)
    cleanups.push(() => sim.close())
    await sim.start()
    expect(world.sent).toHaveLength(1) // the first file went out at start, to nobody
    const port = sim.port()
    expect(port).toBeGreaterThan(0)
    const received: Uint8Array[] = []
    const framer = createSmlFramer()
    const client = createConnection({ host: '127.0.0.1', port: port! })
    cleanups.push(() => { client.destroy() })
    client.on('data', (chunk) => {
      for (const ev of framer.push(chunk)) if (ev.kind === 'frame') received.push(ev.bytes)
    })
    await new Promise<void>((resolve) => client.once('connect', () => { resolve() }))
    await vi.waitFor(async () => {
      await world.fire()
      expect(received.length).toBeGreaterThanOrEqual(2)
    }, { timeout: 5000, interval: 10 })
    const bySent = new Map(world.sent.map((s) => [JSON.stringify(sentSml(s)), s]))
    for (const file of received) expect(bySent.has(JSON.stringify(smlValuesOf(file)))).toBe(true)
    await sim.close()
    await sim.close() // idempotent
    await sim.finished
  })

  it('wireless M-Bus over UDP, mode 7: one datagram per telegram, intervals 16–96 s with seeded jitter', async () => {
    const socket = createSocket('udp4')
    const datagrams: Buffer[] = []
    socket.on('message', (m) => datagrams.push(m))
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise((resolve) => socket.close(() => { resolve() })))
    const world = manualWorld()
    const config = { kind: 'wmbus', output: { kind: 'udp', host: '127.0.0.1', port: socket.address().port }, intervalS: 20, jitter: 0.5, count: 6, meter: { kind: 'gas', mode: 7, key: KEY, id: '87654321', seed: 11 } }
    const sim = createSimulator(config, world.deps)
    cleanups.push(() => sim.close())
    await sim.start()
    for (let i = 0; i < 5; i++) await world.fire()
    await sim.finished
    await vi.waitFor(() => { expect(datagrams).toHaveLength(6) }, { timeout: 5000 })
    const key = Uint8Array.from(Buffer.from(KEY, 'hex'))
    const decoded = datagrams.map((d) => decodeWirelessTelegram(d, { key }))
    expect(decoded.map((t) => t.meter.id)).toEqual(Array(6).fill('87654321'))
    const counters = decoded.map((t) => t.afl?.messageCounter ?? -1)
    expect(counters.slice(1).map((c, i) => c - counters[i]!)).toEqual([1, 1, 1, 1, 1])
    expect(decoded.map((t) => t.records.find((r) => r.quantity === 'volume')?.value)).toEqual(world.sent.map((s) => (s.kind === 'wmbus' ? s.emission.values.volumeM3 : null)))
    expect(world.delays.every((ms) => ms >= 16_000 && ms <= 96_000)).toBe(true)
    expect(new Set(world.delays).size).toBeGreaterThan(1)
    // Same seed, same schedule.
    const again = manualWorld()
    const sim2 = createSimulator(config, again.deps)
    cleanups.push(() => sim2.close())
    await sim2.start()
    for (let i = 0; i < 5; i++) await again.fire()
    expect(again.delays).toEqual(world.delays)
  })

  it('runs on real timers too (count 1 finishes at start) and close before start is harmless', async () => {
    const socket = createSocket('udp4')
    const datagrams: Buffer[] = []
    socket.on('message', (m) => datagrams.push(m))
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise((resolve) => socket.close(() => { resolve() })))
    const sim = createSimulator({ kind: 'wmbus', output: { kind: 'udp', port: socket.address().port }, count: 1, meter: { kind: 'water', mode: 0 } })
    await sim.start()
    await sim.finished
    await sim.close()
    await vi.waitFor(() => { expect(datagrams).toHaveLength(1) }, { timeout: 5000 })
    expect(decodeWirelessTelegram(datagrams[0]!).meter.deviceType.name).toBe('water')
    const idle = createSimulator({ kind: 'sml', output: { kind: 'listen', port: 0 } })
    await idle.close()
    await idle.finished
  })

  it('rejects bad configuration and unreachable outputs with typed errors', async () => {
    const code = (f: () => unknown) => {
      try {
        f()
        return 'none'
      } catch (err) {
        return (err as { code?: string }).code
      }
    }
    expect(code(() => createSimulator({ kind: 'sml', output: { kind: 'tcp', port: 0 } }))).toBe('SIM_CONFIG')
    expect(code(() => createSimulator({ kind: 'sml', output: { kind: 'listen', port: 0 }, intervalS: 0.5 }))).toBe('SIM_CONFIG')
    expect(code(() => createSimulator({ kind: 'sml', output: { kind: 'listen', port: 0 }, extra: 1 }))).toBe('SIM_CONFIG')
    expect(code(() => createSimulator({ kind: 'wmbus', output: { kind: 'udp', port: 9 }, intervalS: 10 }))).toBe('SIM_CONFIG')
    expect(code(() => createSimulator({ kind: 'sml', output: { kind: 'listen', port: 0 }, meter: { quirks: ['noise', 'sparkles'] } }))).toBe('SIM_UNKNOWN_QUIRK')
    expect(code(() => createSimulator({ kind: 'wmbus', output: { kind: 'udp', port: 9 }, meter: { mode: 5 } }))).toBe('SIM_KEY')
    expect(code(() => createSimulator({ kind: 'wmbus', output: { kind: 'udp', port: 9 }, meter: { mode: 5, key: 'abcd' } }))).toBe('SIM_CONFIG')
    // A port nobody listens on: bind one, close it, then connect.
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as { port: number }).port
    await new Promise<void>((resolve) => server.close(() => { resolve() }))
    const sim = createSimulator({ kind: 'sml', output: { kind: 'tcp', host: '127.0.0.1', port } })
    await expect(sim.start()).rejects.toMatchObject({ code: 'SIM_TRANSPORT' })
    await sim.close()
    const dir = await mkdtemp(join(tmpdir(), 'smgw-sim-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const serial = createSimulator({ kind: 'sml', output: { kind: 'serial', path: join(dir, 'no-such-tty') } })
    await expect(serial.start()).rejects.toMatchObject({ code: 'SIM_TRANSPORT' })
    await serial.close()
  })
})

describe('createSimulator over a serial line (socat pty pair)', () => {
  async function ptyPair(): Promise<{ a: string; b: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'smgw-sim-pty-'))
    const a = join(dir, 'A')
    const b = join(dir, 'B')
    const socat: ChildProcess = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' })
    cleanups.push(async () => {
      socat.kill('SIGTERM')
      await rm(dir, { recursive: true, force: true })
    })
    await vi.waitFor(() => { expect(existsSync(a) && existsSync(b)).toBe(true) }, { timeout: 5000, interval: 20 })
    return { a, b }
  }

  async function openReader(path: string, onData: (chunk: Buffer) => void): Promise<void> {
    const port = new SerialPort({ path, baudRate: 9600, autoOpen: false })
    await new Promise<void>((resolve, reject) => { port.open((err) => { if (err) reject(err); else resolve() }) })
    port.on('data', onData)
    cleanups.push(() => new Promise((resolve) => { if (port.isOpen) port.close(() => { resolve() }); else resolve() }))
  }

  it('SML with line noise: the reader frames and decodes every file the simulator reports', async () => {
    const { a, b } = await ptyPair()
    const received: Uint8Array[] = []
    let skipped = 0
    const framer = createSmlFramer()
    await openReader(b, (chunk) => {
      for (const ev of framer.push(chunk)) {
        if (ev.kind === 'frame') received.push(ev.bytes)
        else if (ev.kind === 'skipped') skipped += ev.count
      }
    })
    const world = manualWorld()
    const sim = createSimulator({ kind: 'sml', output: { kind: 'serial', path: a }, count: 5, meter: { seed: 3, quirks: ['noise'], profile: 'h0', pvPeakW: 4000 } }, world.deps)
    cleanups.push(() => sim.close())
    await sim.start()
    for (let i = 0; i < 4; i++) await world.fire()
    await sim.finished
    await vi.waitFor(() => { expect(received).toHaveLength(5) }, { timeout: 5000 })
    expect(received.map(smlValuesOf)).toEqual(world.sent.map(sentSml))
    const noise = world.sent.reduce((n, s) => n + (s.kind === 'sml' ? s.emission.noiseBytes : 0), 0)
    expect(skipped).toBe(noise)
  })

  it('wireless M-Bus stick: raw frames with format A CRCs', async () => {
    const { a, b } = await ptyPair()
    const chunks: Buffer[] = []
    await openReader(b, (chunk) => chunks.push(chunk))
    const world = manualWorld()
    const sim = createSimulator({ kind: 'wmbus', output: { kind: 'serial', path: a }, count: 2, meter: { kind: 'heat', mode: 5, key: KEY, crc: 'A', seed: 4 } }, world.deps)
    cleanups.push(() => sim.close())
    await sim.start()
    await world.fire()
    await sim.finished
    const expected = world.sent.map((s) => s.emission.bytes)
    const total = expected.reduce((n, f) => n + f.length, 0)
    await vi.waitFor(() => { expect(Buffer.concat(chunks).length).toBe(total) }, { timeout: 5000 })
    const all = Buffer.concat(chunks)
    // Split by the L-field: format A length on the wire = L + 1 + 2 per block.
    const key = Uint8Array.from(Buffer.from(KEY, 'hex'))
    let at = 0
    for (const frame of expected) {
      const l = all[at]!
      const wire = l + 1 + 2 * (1 + Math.ceil((l - 9) / 16))
      const t = decodeWirelessTelegram(all.subarray(at, at + wire), { key, crc: 'present' })
      expect(t.meter.deviceType.code).toBe(4)
      expect(wire).toBe(frame.length)
      at += wire
    }
    expect(at).toBe(total)
  })
})
