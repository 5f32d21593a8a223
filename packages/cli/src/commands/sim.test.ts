import { spawn } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { fileURLToPath } from 'node:url'
import { createServer, type Socket } from 'node:net'
import { decodeWirelessTelegram } from '@smgw/mbus'
import { createSmlFramer, decodeSmlFile, extractReadings } from '@smgw/sml'
import { describe, expect, it } from 'vitest'
import type { CliIo } from '../io.js'
import { runCaptured } from '../testing.js'
import { runSimulator } from './sim.js'

const KEY = '000102030405060708090A0B0C0D0E0F'

function captureIo() {
  const out = { stdout: '', stderr: '' }
  const io: CliIo = {
    stdout: (t) => { out.stdout += t },
    stderr: (t) => { out.stderr += t },
    stdoutBytes: (b) => { out.stdout += Buffer.from(b).toString('hex') },
    stdin: async function* () { /* none */ },
    readFile: () => Promise.reject(new Error('unused')),
  }
  return { io, out }
}

describe('smgw sim', () => {
  it('once sml prints one SML file as hex that decodes, reproducibly for a seed and instant', async () => {
    const args = ['sim', 'once', 'sml', '--at', '2025-01-15T18:00:00Z', '--seed', '4', '--annual-kwh', '4000']
    const a = await runCaptured(args)
    const b = await runCaptured(args)
    expect(a.status).toBe(0)
    expect(a.stdout).toBe(b.stdout)
    expect(a.stdout).toMatch(/^1b1b1b1b01010101[0-9a-f]+\n$/)
    const readings = extractReadings(decodeSmlFile(Buffer.from(a.stdout.trim(), 'hex')))
    const imported = readings.find((r) => r.obis === '1-0:1.8.0*255')?.value as number
    // A day of a 4000 kWh/a household in January: about 11 kWh.
    expect(imported).toBeGreaterThan(8000)
    expect(imported).toBeLessThan(16000)
    const json = await runCaptured([...args, '--json'])
    expect(JSON.parse(json.stdout)).toMatchObject({ frame: 'sml', importWh: imported, hex: a.stdout.trim() })
    const decoded = await runCaptured(['decode', 'sml', '--jsonl'], a.stdout)
    expect(decoded.status).toBe(0)
  })

  it('once wmbus prints a telegram that decodes with the key', async () => {
    const r = await runCaptured(['sim', 'once', 'wmbus', '--meter', 'heat', '--mode', '7', '--key', KEY, '--id', '00001234', '--at', '2025-02-01T12:00:00Z', '--json'])
    expect(r.status).toBe(0)
    const out = JSON.parse(r.stdout)
    const t = decodeWirelessTelegram(Buffer.from(out.hex, 'hex'), { key: Buffer.from(KEY, 'hex') })
    expect(t.meter).toMatchObject({ id: '00001234', deviceType: { name: expect.stringMatching(/heat/) } })
    expect(t.records.find((x) => x.quantity === 'energy')?.value).toBe(out.energyWh)
    const d = await runCaptured(['decode', 'wmbus', out.hex, '--key', KEY])
    expect(d.status).toBe(0)
  })

  it('sml --tcp pushes --count files to a TCP server, reporting each on stderr and as JSON', async () => {
    const framer = createSmlFramer()
    const frames: Uint8Array[] = []
    const sockets: Socket[] = []
    const server = createServer((s) => {
      sockets.push(s)
      s.on('data', (chunk) => { for (const ev of framer.push(chunk)) if (ev.kind === 'frame') frames.push(ev.bytes) })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const port = (server.address() as { port: number }).port
      const r = await runCaptured(['sim', 'sml', '--tcp', `127.0.0.1:${port}`, '--count', '2', '--interval', '1', '--json', '--quirk', 'u16-body-tag'])
      expect(r.status).toBe(0)
      expect(r.stderr).toMatch(/#1 sml .* Wh in/)
      expect(r.stderr).toMatch(/#2 sml/)
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { seq: number; hex: string })
      expect(lines.map((l) => l.seq)).toEqual([1, 2])
      await expect.poll(() => frames.length, { timeout: 5000 }).toBe(2)
      expect(frames.map((f) => Buffer.from(f).toString('hex'))).toEqual(lines.map((l) => l.hex))
    } finally {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  })

  it('sml --json says which files were cut and how much noise preceded each: the complete ones are exactly what a receiver frames', async () => {
    const framer = createSmlFramer()
    const frames: string[] = []
    const sockets: Socket[] = []
    const server = createServer((s) => {
      sockets.push(s)
      s.on('data', (chunk) => { for (const ev of framer.push(chunk)) if (ev.kind === 'frame') frames.push(Buffer.from(ev.bytes).toString('hex')) })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const port = (server.address() as { port: number }).port
      // With seed 1 the meter cuts the second of four files (the draws depend on the seed only).
      const r = await runCaptured(['sim', 'sml', '--tcp', `127.0.0.1:${port}`, '--count', '4', '--interval', '1', '--json', '--quirk', 'noise', '--quirk', 'truncated', '--seed', '1'])
      expect(r.status).toBe(0)
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { truncated: boolean; noiseBytes: number; hex: string })
      expect(lines.map((l) => l.truncated)).toEqual([false, true, false, false])
      for (const l of lines) expect(l.noiseBytes).toBeGreaterThanOrEqual(1)
      const complete = lines.filter((l) => !l.truncated)
      // The hex of a complete file is noise + file: the framed bytes are its tail.
      await expect.poll(() => frames.length, { timeout: 5000 }).toBe(complete.length)
      expect(frames).toEqual(complete.map((l) => l.hex.slice(2 * l.noiseBytes)))
    } finally {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  })

  it('wmbus --udp sends a telegram per datagram', async () => {
    const socket = createSocket('udp4')
    const got: Buffer[] = []
    socket.on('message', (m) => got.push(m))
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
    try {
      const r = await runCaptured(['sim', 'wmbus', '--udp', `127.0.0.1:${socket.address().port}`, '--meter', 'water', '--key', KEY, '--count', '1'])
      expect(r.status).toBe(0)
      expect(r.stderr).toMatch(/#1 wmbus water .* m3 access \d+/)
      await expect.poll(() => got.length, { timeout: 5000 }).toBe(1)
      expect(decodeWirelessTelegram(got[0]!, { key: Buffer.from(KEY, 'hex') }).meter.id).toBe('12345678')
    } finally {
      await new Promise<void>((resolve) => socket.close(() => { resolve() }))
    }
  })

  it('--meters runs several meters, each with its own id and seed', async () => {
    const socket = createSocket('udp4')
    const got: Buffer[] = []
    socket.on('message', (m) => got.push(m))
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
    try {
      const r = await runCaptured(['sim', 'wmbus', '--udp', `127.0.0.1:${socket.address().port}`, '--meters', '3', '--id', '10000000', '--mode', '0', '--count', '1', '--json'])
      expect(r.status).toBe(0)
      expect(r.stderr).toMatch(/\[2\] #1 wmbus/)
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { meter: number; id: string; hex: string })
      expect(lines.map((l) => l.meter).sort()).toEqual([0, 1, 2])
      // Each line names the meter that sent it, and that meter's telegram is the one in the line.
      for (const l of lines) expect(decodeWirelessTelegram(Buffer.from(l.hex, 'hex')).meter.id).toBe(l.id)
      expect(lines.map((l) => l.id).sort()).toEqual(['10000000', '10000001', '10000002'])
      await expect.poll(() => got.length, { timeout: 5000 }).toBe(3)
      expect(got.map((d) => decodeWirelessTelegram(d).meter.id).sort()).toEqual(['10000000', '10000001', '10000002'])
    } finally {
      await new Promise<void>((resolve) => socket.close(() => { resolve() }))
    }
    expect((await runCaptured(['sim', 'wmbus', '--serial', '/dev/null', '--meters', '2', '--mode', '0'])).status).toBe(2)
    expect((await runCaptured(['sim', 'wmbus', '--udp', '127.0.0.1:9', '--meters', '2', '--id', '99999999', '--mode', '0'])).status).toBe(2)
    expect((await runCaptured(['sim', 'sml', '--listen', '0', '--meters', '0'])).status).toBe(2)
  })

  it('stops gracefully when aborted (as on SIGINT)', async () => {
    const { io, out } = captureIo()
    const controller = new AbortController()
    const running = runSimulator([{ kind: 'sml', output: { kind: 'listen', port: 0 }, intervalS: 1 }], io, false, controller.signal)
    await expect.poll(() => out.stderr, { timeout: 5000 }).toMatch(/listening on port \d+/)
    controller.abort()
    await expect(running).resolves.toBe(0)
    expect(out.stderr).toMatch(/#1 sml/)
  })

  it('the smgw process closes gracefully on SIGINT and SIGTERM, exit 0', async () => {
    const bin = fileURLToPath(new URL('../../bin/smgw.js', import.meta.url))
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const child = spawn(process.execPath, [bin, 'sim', 'sml', '--listen', '0', '--interval', '1'], { stdio: ['ignore', 'ignore', 'pipe'] })
      let stderr = ''
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { resolve(code) }))
      try {
        await expect.poll(() => stderr, { timeout: 15_000, interval: 50 }).toMatch(/listening on port \d+/)
        child.kill(signal)
        expect(await exited).toBe(0)
        expect(stderr).toMatch(/#1 sml/)
      } finally {
        child.kill('SIGKILL')
      }
    }
  }, 40_000)

  it('usage errors exit 2, output failures exit 1', async () => {
    expect((await runCaptured(['sim', 'sml'])).status).toBe(2)
    expect((await runCaptured(['sim', 'sml', '--listen', '0', '--tcp', '127.0.0.1:1'])).status).toBe(2)
    expect((await runCaptured(['sim', 'sml', '--tcp', 'nohostport'])).status).toBe(2)
    const interval = await runCaptured(['sim', 'sml', '--listen', '0', '--interval', '9'])
    expect(interval.status).toBe(2)
    expect(interval.stderr).toMatch(/SIM_CONFIG/)
    const quirk = await runCaptured(['sim', 'once', 'sml', '--quirk', 'sparkles'])
    expect([quirk.status, quirk.stderr]).toEqual([2, expect.stringMatching(/SIM_UNKNOWN_QUIRK/)])
    const key = await runCaptured(['sim', 'once', 'wmbus', '--mode', '5'])
    expect([key.status, key.stderr]).toEqual([2, expect.stringMatching(/SIM_KEY/)])
    expect((await runCaptured(['sim', 'once', 'wmbus', '--meter', 'oil'])).status).toBe(2)
    expect((await runCaptured(['sim', 'once', 'sml', '--seed', 'x'])).status).toBe(2)
    // Nothing listens on port 1 of 127.0.0.1.
    const refused = await runCaptured(['sim', 'sml', '--tcp', '127.0.0.1:1', '--count', '1'])
    expect([refused.status, refused.stderr]).toEqual([1, expect.stringMatching(/SIM_TRANSPORT/)])
  })

  it('--help shows examples', async () => {
    const r = await runCaptured(['sim', 'sml', '--help'])
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/Examples:/)
    expect(r.stdout).toMatch(/smgw sim wmbus --udp/)
  })
})
