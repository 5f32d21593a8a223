import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import { createNtpServer, type NtpServer } from '@smgw/sim'
import { afterEach, describe, expect, it } from 'vitest'
import { GatewayError } from '../errors.js'
import type { CalibrationLogEntry } from '../log/entries.js'
import { TimeConfig } from './config.js'
import { createTimeService, querySntp, type SetTimer } from './ntp-client.js'
import { computeOffset } from './sntp.js'

const systemNow = () => new Date()
const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

async function simulator(config: Parameters<typeof createNtpServer>[0]): Promise<{ server: NtpServer; port: number; requests: () => number }> {
  let requests = 0
  const server = createNtpServer({ host: '127.0.0.1', port: 0, ...config }, { onRequest: () => { requests++ } })
  await server.start()
  closers.push(() => server.close())
  return { server, port: server.port()!, requests: () => requests }
}

/** A raw UDP peer on 127.0.0.1 port 0 that lets the test decide what to answer. */
async function rawPeer(onRequest: (msg: Buffer, rinfo: RemoteInfo, socket: Socket) => void): Promise<{ port: number; requests: () => number }> {
  const socket = createSocket('udp4')
  let requests = 0
  socket.on('message', (msg, rinfo) => {
    requests++
    onRequest(msg, rinfo, socket)
  })
  await new Promise<void>((resolve) => { socket.bind(0, '127.0.0.1', resolve) })
  closers.push(() => new Promise((resolve) => { socket.close(() => { resolve() }) }))
  return { port: socket.address().port, requests: () => requests }
}

/** A reply to `request` as a server would send it, then altered by `edit` (byte offsets of RFC 5905 §7.3). */
function replyTo(request: Buffer, edit: (b: Buffer) => void = () => undefined): Buffer {
  const b = Buffer.alloc(48)
  b[0] = 0x24
  b[1] = 1
  request.copy(b, 24, 40, 48) // originate
  request.copy(b, 32, 40, 48) // receive = transmit = the client's own time: offset ≈ 0
  request.copy(b, 40, 40, 48)
  edit(b)
  return b
}

/**
 * Timers the test fires: the per-attempt timeout (TIMEOUT_MS) is kept until `fire()`;
 * anything else (backoff) runs on the next turn of the event loop.
 */
const TIMEOUT_MS = 60_000
function createTestTimers() {
  const pending: (() => void)[] = []
  const setTimer: SetTimer = (ms, fn) => {
    if (ms !== TIMEOUT_MS) {
      const t = setImmediate(fn)
      return () => { clearImmediate(t) }
    }
    let live = true
    pending.push(() => { if (live) fn() })
    return () => { live = false }
  }
  return { setTimer, fire: () => { for (const fn of pending.splice(0)) fn() } }
}

describe('querySntp against the simulator over UDP', () => {
  it('measures the simulator\'s offset within the RFC 5905 §8 error bound (delay / 2)', async () => {
    for (const offsetMs of [1500, -30_000, 0]) {
      const sim = await simulator({ offsetMs })
      const r = await querySntp({ host: '127.0.0.1', port: sim.port }, {}, { systemNow })
      const m = computeOffset(r.t1, r.t2, r.t3, r.t4)
      expect(Math.abs(m.offsetMs - offsetMs)).toBeLessThanOrEqual(m.delayMs / 2 + 1)
      expect(r).toMatchObject({ attempts: 1, response: { stratum: 1, referenceId: 'SIM', mode: 4 } })
    }
  })

  it('kiss-o\'-death: TIME_KISS_OF_DEATH at once, no retry', async () => {
    const sim = await simulator({ kissCode: 'RATE' })
    const q = querySntp({ host: '127.0.0.1', port: sim.port }, { retries: 3 }, { systemNow })
    await expect(q).rejects.toMatchObject({ code: 'TIME_KISS_OF_DEATH', message: expect.stringContaining('RATE') as string })
    expect(sim.requests()).toBe(1)
  })

  it('leap indicator 3: TIME_SERVER_UNSYNCHRONISED, no retry', async () => {
    const sim = await simulator({ leap: 3 })
    await expect(querySntp({ host: '127.0.0.1', port: sim.port }, { retries: 3 }, { systemNow })).rejects.toMatchObject({ code: 'TIME_SERVER_UNSYNCHRONISED' })
    expect(sim.requests()).toBe(1)
  })
})

describe('querySntp against a raw peer', () => {
  it('a silent server: one fresh request per attempt, then TIME_QUERY_TIMEOUT', async () => {
    const timers = createTestTimers()
    const ports = new Set<number>()
    const peer = await rawPeer((_msg, rinfo) => {
      ports.add(rinfo.port)
      setImmediate(timers.fire) // the attempt times out as soon as its request has arrived
    })
    const q = querySntp({ host: '127.0.0.1', port: peer.port }, { timeoutMs: TIMEOUT_MS, retries: 2, backoffMs: 1 }, { systemNow, setTimer: timers.setTimer })
    await expect(q).rejects.toMatchObject({ code: 'TIME_QUERY_TIMEOUT' })
    expect(peer.requests()).toBe(3)
    expect(ports.size).toBe(3) // one socket per attempt
  })

  it('a spoofed reply (wrong originate) is dropped: the genuine one that follows is taken', async () => {
    const peer = await rawPeer((msg, rinfo, socket) => {
      socket.send(replyTo(msg, (b) => { b[31] = b[31]! ^ 1 }), rinfo.port, rinfo.address)
      socket.send(replyTo(msg), rinfo.port, rinfo.address)
    })
    const r = await querySntp({ host: '127.0.0.1', port: peer.port }, { retries: 0 }, { systemNow })
    expect(r.attempts).toBe(1)
    expect(Math.abs(computeOffset(r.t1, r.t2, r.t3, r.t4).offsetMs)).toBeLessThan(1000)
  })

  it('only spoofed replies: TIME_ORIGINATE_MISMATCH when the attempt times out', async () => {
    const timers = createTestTimers()
    let armed = false
    const peer = await rawPeer((msg, rinfo, socket) => {
      armed = true
      socket.send(replyTo(msg, (b) => { b.fill(0, 24, 32) }), rinfo.port, rinfo.address)
    })
    // The client reads the clock when a datagram arrives and decodes it in the same turn: time out right after.
    const now = () => {
      if (armed) {
        armed = false
        setImmediate(timers.fire)
      }
      return new Date()
    }
    const q = querySntp({ host: '127.0.0.1', port: peer.port }, { timeoutMs: TIMEOUT_MS, retries: 0 }, { systemNow: now, setTimer: timers.setTimer })
    await expect(q).rejects.toMatchObject({ code: 'TIME_ORIGINATE_MISMATCH' })
    expect(peer.requests()).toBe(1)
  })

  it('an invalid reply fails the attempt (TIME_RESPONSE_INVALID), each retry gets a new request', async () => {
    const peer = await rawPeer((msg, rinfo, socket) => {
      socket.send(replyTo(msg, (b) => { b.fill(0, 40, 48) }), rinfo.port, rinfo.address) // zero transmit timestamp
    })
    await expect(querySntp({ host: '127.0.0.1', port: peer.port }, { retries: 1, backoffMs: 0 }, { systemNow })).rejects.toMatchObject({ code: 'TIME_RESPONSE_INVALID' })
    expect(peer.requests()).toBe(2)
  })

  it('an unreachable port (ICMP refused on the connected socket) and an abort are TIME_QUERY_FAILED', async () => {
    const closed = createSocket('udp4')
    await new Promise<void>((resolve) => { closed.bind(0, '127.0.0.1', resolve) })
    const port = closed.address().port
    await new Promise<void>((resolve) => { closed.close(() => { resolve() }) })
    const timers = createTestTimers()
    await expect(querySntp({ host: '127.0.0.1', port }, { timeoutMs: TIMEOUT_MS, retries: 0 }, { systemNow, setTimer: timers.setTimer }))
      .rejects.toMatchObject({ code: 'TIME_QUERY_FAILED' })

    const controller = new AbortController()
    const peer = await rawPeer(() => { controller.abort() })
    await expect(querySntp({ host: '127.0.0.1', port: peer.port }, { timeoutMs: TIMEOUT_MS, signal: controller.signal }, { systemNow, setTimer: timers.setTimer }))
      .rejects.toMatchObject({ code: 'TIME_QUERY_FAILED', message: expect.stringContaining('aborted') as string })
    expect(peer.requests()).toBe(1)
    await expect(querySntp({ host: '127.0.0.1', port: peer.port }, { signal: controller.signal }, { systemNow })).rejects.toBeInstanceOf(GatewayError)
  })
})

describe('createTimeService', () => {
  function createPollTimers() {
    const polls: { ms: number; fn: () => void }[] = []
    const setTimer: SetTimer = (ms, fn) => {
      if (ms < 60_000) {
        const t = setTimeout(fn, ms) // the query's own timeout (never reached on loopback) and backoff
        return () => { clearTimeout(t) }
      }
      const entry = { ms, fn }
      polls.push(entry)
      return () => { polls.splice(polls.indexOf(entry), 1) }
    }
    return { polls, setTimer }
  }

  it('synchronises at start against the simulator, polls, and goes restricted when the server clock jumps 40 s', async () => {
    const sim = await simulator({ offsetMs: 2500 })
    const entries: CalibrationLogEntry[] = []
    const timers = createPollTimers()
    const service = createTimeService(TimeConfig.parse({ ntp: { host: '127.0.0.1', port: sim.port }, pollIntervalS: 600 }), {
      setTimer: timers.setTimer,
      calibration: (e) => { entries.push(e); return Promise.resolve() },
    })
    closers.push(() => service.close())
    await service.start()
    await service.start()
    await expect.poll(() => timers.polls.length).toBe(1)
    expect(timers.polls[0]!.ms).toBe(600_000)
    expect(service.clock.status().state).toBe('synchronised')
    expect(Math.abs(service.clock.status().offsetMs - 2500)).toBeLessThan(1000)

    sim.server.setOffsetMs(2500 + 40_000)
    timers.polls.splice(0)[0]!.fn()
    await expect.poll(() => timers.polls.length).toBe(1)
    expect(sim.requests()).toBe(2)
    expect(service.clock.status().state).toBe('restricted')
    expect(entries.map((e) => e.type)).toEqual(['time-synchronised', 'time-drift-exceeded', 'restricted-state', 'time-synchronised'])

    await service.close()
    await service.close()
    expect(timers.polls).toHaveLength(0)
  })

  it('kiss-o\'-death RATE doubles the poll interval; DENY stops querying (holdover checks continue)', async () => {
    const rate = await simulator({ kissCode: 'RATE' })
    const t1 = createPollTimers()
    const slow = createTimeService(TimeConfig.parse({ ntp: { host: '127.0.0.1', port: rate.port }, pollIntervalS: 3600 }), { setTimer: t1.setTimer })
    closers.push(() => slow.close())
    await slow.start()
    await expect.poll(() => t1.polls.length).toBe(1)
    expect(t1.polls[0]!.ms).toBe(7_200_000)

    const deny = await simulator({ kissCode: 'DENY' })
    const t2 = createPollTimers()
    const denied = createTimeService(TimeConfig.parse({ ntp: { host: '127.0.0.1', port: deny.port } }), { setTimer: t2.setTimer })
    closers.push(() => denied.close())
    await denied.start()
    await expect.poll(() => t2.polls.length).toBe(1)
    t2.polls.splice(0)[0]!.fn()
    await expect.poll(() => t2.polls.length).toBe(1)
    expect(deny.requests()).toBe(1)
    expect(denied.clock.status().state).toBe('unsynchronised')
  })

  it('close aborts a query in flight', async () => {
    const peer = await rawPeer(() => undefined) // never answers
    const service = createTimeService(TimeConfig.parse({ ntp: { host: '127.0.0.1', port: peer.port }, timeoutMs: 60_000 }))
    // start() waits for the first attempt; close() aborts it, and start() resolves then.
    const starting = service.start()
    await expect.poll(() => peer.requests()).toBe(1)
    await service.close()
    await starting
    expect(service.clock.status().state).toBe('unsynchronised')
  })
})
