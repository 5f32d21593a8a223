import { createSocket } from 'node:dgram'
import { afterEach, describe, expect, it } from 'vitest'
import { SimError } from '../errors.js'
import { createNtpServer, encodeNtpReply, parseNtpServerConfig, type NtpRequestEvent, type NtpServer } from './server.js'

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
// A client request (RFC 4330 §5): LI 0 VN 4 mode 3, poll 6, transmit 2026-05-01T08:00:00.250Z.
const REQUEST = hex(`23 00 06 00 ${'00'.repeat(36)} ed9edc00 40000000`)
const AT = new Date('2026-05-01T08:00:00.000Z')

const servers: NtpServer[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close()
})

/** Sends one datagram to 127.0.0.1:port and returns the first reply (bounded wait). */
function ask(port: number, bytes: Uint8Array, waitMs = 5000): Promise<Uint8Array | undefined> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4')
    const timer = setTimeout(() => { socket.close(); resolve(undefined) }, waitMs)
    socket.on('message', (msg) => {
      clearTimeout(timer)
      socket.close()
      resolve(new Uint8Array(msg))
    })
    socket.send(bytes, port, '127.0.0.1', (err) => { if (err) reject(err) })
  })
}

async function start(config: Parameters<typeof createNtpServer>[0], events: NtpRequestEvent[] = []): Promise<number> {
  const server = createNtpServer({ port: 0, ...config }, { now: () => AT, onRequest: (e) => events.push(e) })
  servers.push(server)
  await server.start()
  return server.port()!
}

describe('encodeNtpReply', () => {
  it('answers a client request: same version, mode 4, originate = the client transmit, the lying clock in receive/transmit', () => {
    const config = parseNtpServerConfig({ offsetMs: 1500 })
    const r = encodeNtpReply(REQUEST, config, AT.getTime() + 1500, AT.getTime() + 1500.5)
    if (!('bytes' in r)) throw new Error(r.reason)
    expect(Buffer.from(r.bytes).toString('hex')).toBe([
      '24', '01', '06', 'ec', // LI 0 VN 4 mode 4, stratum 1, poll copied, precision -20
      '00000000', '00000010', // root delay, root dispersion
      '53494d00', // "SIM"
      'ed9edbc1 8020c49c', // reference: 64 s before transmit (07:59:57.5005)
      'ed9edc00 40000000', // originate = client transmit
      'ed9edc01 80000000', // receive 08:00:01.500
      'ed9edc01 8020c49c', // transmit 08:00:01.5005
    ].join('').replace(/ /g, ''))
    expect(r.reply).toBe('time')
  })

  it('kiss-o\'-death: stratum 0, the kiss code as reference ID, no timestamps but the originate', () => {
    const r = encodeNtpReply(REQUEST, parseNtpServerConfig({ kissCode: 'RATE' }), 0, 0)
    if (!('bytes' in r)) throw new Error(r.reason)
    expect(r.reply).toBe('kiss')
    expect(r.bytes[1]).toBe(0)
    expect(Buffer.from(r.bytes.subarray(12, 16)).toString('latin1')).toBe('RATE')
    expect(Buffer.from(r.bytes.subarray(24, 32)).toString('hex')).toBe('ed9edc0040000000')
    expect(r.bytes.subarray(32, 48).every((b) => b === 0)).toBe(true)
  })

  it('ignores what is not a client request', () => {
    const config = parseNtpServerConfig({})
    expect(encodeNtpReply(REQUEST.subarray(0, 47), config, 0, 0)).toEqual({ reason: '47 bytes, an NTP header has 48' })
    const server = Uint8Array.from(REQUEST)
    server[0] = 0x24
    expect(encodeNtpReply(server, config, 0, 0)).toEqual({ reason: 'mode 4, not a client request' })
  })
})

describe('createNtpServer', () => {
  it('answers real SNTP requests over UDP on 127.0.0.1 port 0 with the chosen offset', async () => {
    const events: NtpRequestEvent[] = []
    const port = await start({ offsetMs: -30_000 }, events)
    expect(port).toBeGreaterThan(0)
    const reply = await ask(port, REQUEST)
    expect(reply).toBeDefined()
    const view = new DataView(reply!.buffer)
    expect(reply![0]).toBe(0x24)
    expect(Buffer.from(reply!.subarray(24, 32)).toString('hex')).toBe('ed9edc0040000000')
    // 08:00:00 − 30 s = 07:59:30 → 0xed9edc00 − 30 s
    expect(view.getUint32(40)).toBe(0xed9edc00 - 30)
    expect(view.getUint32(44)).toBe(0)
    await expect.poll(() => events.length).toBe(1)
    expect(events[0]).toMatchObject({ answered: true, reply: 'time', serverTime: new Date(AT.getTime() - 30_000) })
  })

  it('sends leap indicator 3 when told to, and changes its offset while running', async () => {
    const server = createNtpServer({ port: 0, leap: 3, stratum: 2, referenceId: 'X' }, { now: () => AT })
    servers.push(server)
    await server.start()
    server.setOffsetMs(2000)
    const reply = await ask(server.port()!, REQUEST)
    expect(reply![0]! >> 6).toBe(3)
    expect(reply![1]).toBe(2)
    expect(new DataView(reply!.buffer).getUint32(40)).toBe(0xed9edc00 + 2)
    expect(() => { server.setOffsetMs(Number.NaN) }).toThrow(SimError)
  })

  it('does not answer a datagram that is not a client request, and reports it', async () => {
    const events: NtpRequestEvent[] = []
    const port = await start({}, events)
    // Garbage, then a request from the same socket: the first reply is the request's.
    const socket = createSocket('udp4')
    const first = new Promise<Uint8Array>((resolve) => { socket.once('message', (msg) => { resolve(new Uint8Array(msg)) }) })
    await new Promise<void>((resolve) => { socket.send(hex('deadbeef'), port, '127.0.0.1', () => { resolve() }) })
    await expect.poll(() => events.length).toBe(1)
    socket.send(REQUEST, port, '127.0.0.1')
    const reply = await first
    socket.close()
    expect(Buffer.from(reply.subarray(24, 32)).toString('hex')).toBe('ed9edc0040000000')
    expect(events[0]).toEqual({ from: { address: '127.0.0.1', port: expect.any(Number) as number }, answered: false, reason: '4 bytes, an NTP header has 48' })
    await expect.poll(() => events.length).toBe(2)
    expect(events[1]).toMatchObject({ answered: true, reply: 'time' })
  })

  it('start and close are idempotent; a busy port is SIM_TRANSPORT, a bad option SIM_CONFIG', async () => {
    const server = createNtpServer({ port: 0 })
    await server.start()
    await server.start()
    const port = server.port()!
    const other = createNtpServer({ port })
    await expect(other.start()).rejects.toMatchObject({ code: 'SIM_TRANSPORT' })
    await server.close()
    await server.close()
    expect(server.port()).toBeUndefined()
    for (const bad of [{ stratum: 0 }, { stratum: 16 }, { kissCode: 'rate' }, { leap: 4 }, { port: 70_000 }, { offsetMs: Number.NaN }, { extra: 1 }]) {
      expect(() => createNtpServer(bad as never)).toThrow(expect.objectContaining({ code: 'SIM_CONFIG' }) as Error)
    }
  })
})
