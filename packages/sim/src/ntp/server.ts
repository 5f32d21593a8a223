import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import { isIPv6 } from 'node:net'
import { z } from 'zod'
import { SimError } from '../errors.js'

/*
 * An SNTP server simulator (RFC 4330 (2006) §5 server side, packet of RFC 5905 (2010)
 * §7.3) answering real client requests over UDP with a chosen clock: the host clock plus
 * `offsetMs` — a lying clock, for the gateway's legal-time tests and the demo. It can
 * also send kiss-o'-death replies (stratum 0, RFC 5905 §7.4) or claim to be
 * unsynchronised (leap indicator 3). The packet is written here, not taken from
 * @smgw/gateway: a simulator must not share the code it tests.
 */

export const NtpServerConfig = z.strictObject({
  host: z.string().min(1).max(253).default('127.0.0.1'),
  /** 0: any free port (see `port()` after start). */
  port: z.int().min(0).max(65_535).default(123),
  /** How far this server's clock is ahead of the host clock, ms (negative: behind). */
  offsetMs: z.number().min(-1e12).max(1e12).default(0),
  /** 1 (primary reference) … 15. */
  stratum: z.int().min(1).max(15).default(1),
  /** Reply with kiss-o'-death and this code (e.g. RATE, DENY, RSTR) instead of the time. */
  kissCode: z.string().regex(/^[A-Z]{4}$/, 'four capital letters (RFC 5905 §7.4)').optional(),
  /** RFC 5905 §7.3 leap indicator; 3 = "clock unsynchronised". */
  leap: z.int().min(0).max(3).default(0),
  /** Reference ID for stratum 1: up to four ASCII characters. */
  referenceId: z.string().regex(/^[\x20-\x7e]{1,4}$/, '1–4 ASCII characters').default('SIM'),
})
export type NtpServerConfig = z.infer<typeof NtpServerConfig>
export type NtpServerConfigInput = z.input<typeof NtpServerConfig>

export interface NtpRequestEvent {
  readonly from: { readonly address: string; readonly port: number }
  /** false: the datagram was not an SNTP client request and was ignored (`reason`). */
  readonly answered: boolean
  readonly reason?: string
  /** What the reply said: 'time', 'kiss' or 'unsynchronised'. */
  readonly reply?: 'time' | 'kiss' | 'unsynchronised'
  /** The server clock's time in the reply (transmit timestamp), for 'time' replies. */
  readonly serverTime?: Date
}

export interface NtpServerDeps {
  /** The host clock (default the system clock); the server answers with this + offsetMs. */
  readonly now?: () => Date
  readonly onRequest?: (event: NtpRequestEvent) => void
}

export interface NtpServer {
  start(): Promise<void>
  close(): Promise<void>
  /** The bound port after start. */
  port(): number | undefined
  /** Changes the lying clock's offset while running (tests, demo). */
  setOffsetMs(ms: number): void
}

/** Seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (RFC 5905 §6 Figure 4). */
const NTP_UNIX_OFFSET_S = 2_208_988_800
const ERA_S = 2 ** 32

/** Writes Unix ms as an NTP 64-bit timestamp at `at` (seconds modulo 2³², RFC 5905 §6). */
function writeNtpTime(view: DataView, at: number, ms: number): void {
  const s = Math.floor(ms / 1000)
  let fraction = Math.round(((ms - s * 1000) / 1000) * 2 ** 32)
  let seconds = s + NTP_UNIX_OFFSET_S
  if (fraction >= 2 ** 32) {
    fraction -= 2 ** 32
    seconds += 1
  }
  view.setUint32(at, ((seconds % ERA_S) + ERA_S) % ERA_S)
  view.setUint32(at + 4, fraction)
}

export function parseNtpServerConfig(input: unknown): NtpServerConfig {
  const r = NtpServerConfig.safeParse(input)
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')
    throw new SimError('SIM_CONFIG', `invalid NTP server configuration: ${issues}`, { cause: r.error })
  }
  return r.data
}

/**
 * Builds the reply to one client request (pure): `receiveMs` and `transmitMs` are the
 * server clock's times (Unix ms). Returns undefined for anything but a client request
 * (mode 3, version 1–4, at least 48 bytes; RFC 4330 §5 "server operations").
 */
export function encodeNtpReply(request: Uint8Array, config: NtpServerConfig, receiveMs: number, transmitMs: number): { bytes: Uint8Array; reply: 'time' | 'kiss' | 'unsynchronised' } | { reason: string } {
  if (request.length < 48) return { reason: `${request.length} bytes, an NTP header has 48` }
  const mode = request[0]! & 0b111
  const version = (request[0]! >> 3) & 0b111
  if (mode !== 3) return { reason: `mode ${mode}, not a client request` }
  if (version < 1 || version > 4) return { reason: `version ${version}` }
  const out = new Uint8Array(48)
  const view = new DataView(out.buffer)
  const kiss = config.kissCode !== undefined
  // RFC 4330 §5: the reply carries the request's version, mode 4 (server).
  view.setUint8(0, (config.leap << 6) | (version << 3) | 4)
  view.setUint8(1, kiss ? 0 : config.stratum)
  view.setInt8(2, new DataView(request.buffer, request.byteOffset).getInt8(2)) // poll: copied
  view.setInt8(3, -20) // precision ≈ 1 µs
  view.setUint32(4, 0) // root delay
  view.setUint32(8, 0x0000_0010) // root dispersion ≈ 0.24 ms
  const ref = kiss ? config.kissCode! : config.referenceId
  for (let i = 0; i < ref.length; i++) out[12 + i] = ref.charCodeAt(i)
  if (!kiss) writeNtpTime(view, 16, transmitMs - 64_000) // reference: the last "update", a minute ago
  out.set(request.subarray(40, 48), 24) // originate = the client's transmit timestamp, verbatim
  if (!kiss) {
    writeNtpTime(view, 32, receiveMs)
    writeNtpTime(view, 40, transmitMs)
  }
  return { bytes: out, reply: kiss ? 'kiss' : config.leap === 3 ? 'unsynchronised' : 'time' }
}

/** The SNTP server simulator: `start` binds the UDP port, `close` releases it; both idempotent. */
export function createNtpServer(input: NtpServerConfigInput, deps: NtpServerDeps = {}): NtpServer {
  const config = parseNtpServerConfig(input)
  const now = deps.now ?? (() => new Date())
  let offsetMs = config.offsetMs
  let socket: Socket | undefined
  let starting: Promise<void> | undefined

  const answer = (msg: Buffer, rinfo: RemoteInfo): void => {
    const s = socket
    if (s === undefined) return
    const from = { address: rinfo.address, port: rinfo.port }
    const receiveMs = now().getTime() + offsetMs
    const transmitMs = now().getTime() + offsetMs
    const r = encodeNtpReply(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), { ...config, offsetMs }, receiveMs, transmitMs)
    if ('reason' in r) {
      deps.onRequest?.({ from, answered: false, reason: r.reason })
      return
    }
    s.send(r.bytes, rinfo.port, rinfo.address, (err) => {
      if (err) deps.onRequest?.({ from, answered: false, reason: `reply not sent: ${err.message}` })
      else deps.onRequest?.({ from, answered: true, reply: r.reply, ...(r.reply === 'kiss' ? {} : { serverTime: new Date(transmitMs) }) })
    })
  }

  return {
    start() {
      starting ??= new Promise<void>((resolve, reject) => {
        const s = createSocket(isIPv6(config.host) ? 'udp6' : 'udp4')
        const onError = (err: Error): void => {
          s.close()
          starting = undefined
          reject(new SimError('SIM_TRANSPORT', `cannot listen on UDP ${config.host}:${config.port}: ${err.message}`, { cause: err }))
        }
        s.once('error', onError)
        s.bind(config.port, config.host, () => {
          s.off('error', onError)
          s.on('error', () => undefined) // a failed send is reported per request
          s.on('message', answer)
          socket = s
          resolve()
        })
      })
      return starting
    },
    async close() {
      // A start in flight finishes first, so that its socket is closed too.
      await starting?.catch(() => undefined)
      const s = socket
      socket = undefined
      starting = undefined
      if (s === undefined) return
      await new Promise<void>((resolve) => { s.close(() => { resolve() }) })
    },
    port: () => socket?.address().port,
    setOffsetMs(ms) {
      if (!Number.isFinite(ms)) throw new SimError('SIM_CONFIG', `offsetMs must be a finite number, got ${String(ms)}`)
      offsetMs = ms
    },
  }
}
