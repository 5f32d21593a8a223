import { connect, type Socket } from 'node:net'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SimError } from '../errors.js'
import { createClsDevice, type ClsDeviceEvent } from './device.js'
import { answerCommand, createLineFramer, type ClsDeviceState } from './protocol.js'

const RULES = { demandKw: 9, safeLimitKw: 4.2 }

/** Timers that run only when the test says so. */
function manualTimers(): { setTimer: (ms: number, fn: () => void) => () => void; fire: () => number } {
  const timers = new Set<{ fn: () => void }>()
  return {
    setTimer: (_ms, fn) => {
      const t = { fn }
      timers.add(t)
      return () => { timers.delete(t) }
    },
    fire: () => {
      const due = [...timers]
      timers.clear()
      for (const t of due) t.fn()
      return due.length
    },
  }
}

/** A client speaking the line protocol: `ask` writes a line and reads the answer line. */
async function client(port: number): Promise<{ ask: (line: string) => Promise<Record<string, unknown>>; socket: Socket }> {
  const socket = connect({ host: '127.0.0.1', port })
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  let buffer = ''
  const waiting: ((line: string) => void)[] = []
  socket.on('data', (c: Buffer) => {
    buffer += c.toString('utf8')
    let nl: number
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + 1)
      waiting.shift()?.(line)
    }
  })
  return {
    socket,
    ask: (line) => new Promise((resolve) => {
      waiting.push((l) => { resolve(JSON.parse(l) as Record<string, unknown>) })
      socket.write(`${line}\n`)
    }),
  }
}

/** Resolves when `events` holds an event matching `match` (checked on each new event). */
function waitForEvent(events: ClsDeviceEvent[], listeners: Set<() => void>, match: (e: ClsDeviceEvent) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (events.some(match)) { listeners.delete(check); resolve() }
    }
    listeners.add(check)
    check()
  })
}

function startDevice(graceS = 30) {
  const timers = manualTimers()
  const events: ClsDeviceEvent[] = []
  const listeners = new Set<() => void>()
  const device = createClsDevice({ port: 0, graceS }, { setTimer: timers.setTimer, onEvent: (e) => { events.push(e); for (const l of [...listeners]) l() } })
  return { device, timers, events, until: (match: (e: ClsDeviceEvent) => boolean) => waitForEvent(events, listeners, match) }
}

describe('controllable device: protocol', () => {
  it('limit, status and release as documented; a limit below the §14a minimum of 4.2 kW is refused', () => {
    const normal: ClsDeviceState = { mode: 'normal', limitKw: null }
    const limited = answerCommand(normal, '{"cmd":"limit","kw":4.2}', RULES)
    expect(limited).toEqual({ answer: { ok: true, cmd: 'limit', mode: 'limited', limitKw: 4.2, powerKw: 4.2 }, next: { mode: 'limited', limitKw: 4.2 } })
    expect(answerCommand(limited.next, '{"cmd":"status"}', RULES).answer).toEqual({ ok: true, cmd: 'status', mode: 'limited', limitKw: 4.2, powerKw: 4.2 })
    expect(answerCommand(limited.next, '{"cmd":"limit","kw":12}', RULES).answer).toMatchObject({ ok: true, limitKw: 12, powerKw: 9 })
    expect(answerCommand(limited.next, '{"cmd":"release"}', RULES)).toEqual({ answer: { ok: true, cmd: 'release', mode: 'normal', limitKw: null, powerKw: 9 }, next: normal })
    expect(answerCommand(limited.next, '{"cmd":"limit","kw":3}', RULES)).toEqual({ answer: expect.objectContaining({ ok: false, error: 'BELOW_MINIMUM' }) as unknown, next: limited.next })
    expect(answerCommand(normal, '{"cmd":"limit","kw":"4.2"}', RULES).answer).toMatchObject({ ok: false, error: 'MALFORMED' })
    expect(answerCommand(normal, '{"cmd":"reboot"}', RULES).answer).toMatchObject({ ok: false, error: 'UNKNOWN_COMMAND' })
    expect(answerCommand(normal, '[1]', RULES).answer).toMatchObject({ ok: false, error: 'MALFORMED' })
    expect(answerCommand(normal, '{', RULES).answer).toMatchObject({ ok: false, error: 'MALFORMED' })
  })

  it('property: any line gets an answer; a refused line never changes the state', () => {
    const arbState = fc.oneof(
      fc.constant<ClsDeviceState>({ mode: 'normal', limitKw: null }),
      fc.double({ min: 4.2, max: 50, noNaN: true }).map((kw): ClsDeviceState => ({ mode: 'limited', limitKw: kw })),
      fc.constant<ClsDeviceState>({ mode: 'fallback', limitKw: 4.2 }),
    )
    const arbLine = fc.oneof(fc.string(), fc.json(), fc.record({ cmd: fc.constantFrom('limit', 'status', 'release', 'x'), kw: fc.oneof(fc.double(), fc.string(), fc.constant(null)) }).map((o) => JSON.stringify(o)))
    fc.assert(fc.property(arbState, arbLine, (state, line) => {
      const { answer, next } = answerCommand(state, line, RULES)
      if (!answer.ok) expect(next).toBe(state)
      else expect(next.limitKw === null || next.limitKw >= RULES.safeLimitKw).toBe(true)
    }))
  })

  it('property: the line framer gives the same lines however the bytes are cut', () => {
    fc.assert(fc.property(fc.array(fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).filter((s) => !s.includes('\n')), { maxLength: 20 }), fc.array(fc.nat(50), { maxLength: 10 }), (lines, cuts) => {
      const bytes = Buffer.from(lines.map((l) => `${l}\n`).join(''))
      const framer = createLineFramer()
      const got: string[] = []
      let at = 0
      for (const c of [...cuts, bytes.length]) {
        const next = Math.min(bytes.length, at + c)
        got.push(...framer.push(bytes.subarray(at, next)).lines)
        at = next
      }
      got.push(...framer.push(bytes.subarray(at)).lines)
      expect(got).toEqual(lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)))
    }))
  })

  it('a line beyond 1024 bytes is an overflow', () => {
    expect(createLineFramer().push(Buffer.alloc(1100, 0x61)).overflow).toBe(true)
    expect(createLineFramer().push(Buffer.alloc(1000, 0x61)).overflow).toBe(false)
  })
})

describe('controllable device: TCP server', () => {
  it('takes a limit over TCP, keeps it while disconnected for the grace time, then falls back to the safe limit', async () => {
    const { device, timers, events, until } = startDevice()
    await device.start()
    const c = await client(device.port()!)
    expect(await c.ask('{"cmd":"limit","kw":5}')).toEqual({ ok: true, cmd: 'limit', mode: 'limited', limitKw: 5, powerKw: 5 })
    expect(device.status()).toEqual({ mode: 'limited', limitKw: 5, powerKw: 5, connections: 1 })
    c.socket.end()
    await until((e) => e.event === 'grace')
    // Within the grace time the limit stays as commanded.
    expect(device.status()).toMatchObject({ mode: 'limited', limitKw: 5, connections: 0 })
    expect(timers.fire()).toBe(1)
    expect(device.status()).toEqual({ mode: 'fallback', limitKw: 4.2, powerKw: 4.2, connections: 0 })
    expect(events.at(-1)).toEqual({ event: 'mode', mode: 'fallback', limitKw: 4.2, powerKw: 4.2, reason: 'fallback' })
    // A new controller lifts the fallback by command.
    const c2 = await client(device.port()!)
    expect(await c2.ask('{"cmd":"status"}')).toMatchObject({ mode: 'fallback', limitKw: 4.2 })
    expect(await c2.ask('{"cmd":"release"}')).toMatchObject({ mode: 'normal', limitKw: null, powerKw: 9 })
    c2.socket.destroy()
    await until((e) => e.event === 'disconnected' && e.connections === 0 && events.filter((x) => x.event === 'disconnected').length === 2)
    // No limit in force: no grace, no fallback.
    expect(timers.fire()).toBe(0)
    expect(device.status().mode).toBe('normal')
    await device.close()
  })

  it('a controller coming back within the grace time keeps the limit (no fallback)', async () => {
    const { device, timers, until } = startDevice()
    await device.start()
    const c = await client(device.port()!)
    await c.ask('{"cmd":"limit","kw":6}')
    c.socket.destroy()
    await until((e) => e.event === 'grace')
    const c2 = await client(device.port()!)
    await until((e) => e.event === 'connected' && e.connections === 1 && c2.socket.readyState === 'open')
    expect(timers.fire()).toBe(0)
    expect(await c2.ask('{"cmd":"status"}')).toMatchObject({ mode: 'limited', limitKw: 6 })
    await device.close()
  })

  it('answers garbage with an error and closes a connection that sends an endless line', async () => {
    const { device } = startDevice()
    await device.start()
    const c = await client(device.port()!)
    expect(await c.ask('hello')).toMatchObject({ ok: false, error: 'MALFORMED' })
    const answer = new Promise<string>((resolve) => { c.socket.once('data', (b: Buffer) => { resolve(b.toString('utf8')) }) })
    c.socket.write(Buffer.alloc(4096, 0x7b))
    expect(JSON.parse(await answer)).toMatchObject({ ok: false, error: 'LINE_TOO_LONG' })
    await new Promise<void>((resolve) => { c.socket.once('close', () => { resolve() }) })
    expect(device.status().mode).toBe('normal')
    await device.close()
  })

  it('SIM_CONFIG for a bad configuration, SIM_TRANSPORT for a port in use', async () => {
    expect(() => createClsDevice({ graceS: -1 })).toThrow(SimError)
    const a = createClsDevice({ port: 0 })
    await a.start()
    const b = createClsDevice({ port: a.port()! })
    await expect(b.start()).rejects.toMatchObject({ code: 'SIM_TRANSPORT' })
    await a.close()
  })
})
