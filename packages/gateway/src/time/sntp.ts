import { GatewayError } from '../errors.js'

/*
 * SNTPv4 packet codec — pure: bytes in, typed values out, no clock, no socket.
 *
 * Packet format: RFC 5905 (June 2010) §7.3 Figure 8; client rules: RFC 4330 (January
 * 2006) §5. Only the 48-byte header is read; extension fields and the optional MAC that
 * may follow it (RFC 5905 §7.3, §7.5) are ignored: SNTP does not authenticate them.
 *
 *   0                   1                   2                   3
 *   |LI | VN  |Mode |    Stratum    |     Poll      |   Precision   |  0
 *   |                          Root Delay                           |  4
 *   |                       Root Dispersion                         |  8
 *   |                        Reference ID                           | 12
 *   |                  Reference Timestamp (64)                     | 16
 *   |                   Origin Timestamp (64)                       | 24
 *   |                   Receive Timestamp (64)                      | 32
 *   |                   Transmit Timestamp (64)                     | 40
 */

/** Length of the NTP header without extension fields (RFC 5905 §7.3). */
export const SNTP_PACKET_BYTES = 48

/** Seconds from the NTP prime epoch (1900-01-01T00:00:00Z, era 0) to the Unix epoch (RFC 5905 §6 Figure 4). */
export const NTP_UNIX_OFFSET_S = 2_208_988_800

const ERA_S = 2 ** 32
const ERA_MS = ERA_S * 1000
const FRACTION = 2 ** 32

/**
 * An NTP 64-bit timestamp (RFC 5905 §6): whole seconds since the start of its era
 * (era 0 began 1900-01-01; era 1 begins 2036-02-07T06:28:16Z) and a binary fraction
 * of a second (2⁻³² s units). The era is not in the packet: see `ntpToUnixMs`.
 */
export interface NtpTimestamp {
  /** 0 … 2³²−1 */
  readonly seconds: number
  /** 0 … 2³²−1 */
  readonly fraction: number
}

/** RFC 5905 §7.3: leap indicator. 3 = clock unsynchronised (refused by the decoder). */
export type LeapIndicator = 0 | 1 | 2 | 3

/** RFC 5905 §7.3 Figure 10: association modes the codec names. */
export const NTP_MODE = { client: 3, server: 4 } as const

/**
 * Kiss codes RFC 5905 §7.4 Figure 13 names; any four printable ASCII characters are
 * passed on (the client reacts to DENY/RSTR by stopping and to RATE by slowing down).
 */
export const KISS_CODES: Readonly<Record<string, string>> = {
  ACST: 'the association belongs to a unicast server',
  AUTH: 'server authentication failed',
  AUTO: 'autokey sequence failed',
  BCST: 'the association belongs to a broadcast server',
  CRYP: 'cryptographic authentication or identification failed',
  DENY: 'access denied by remote server',
  DROP: 'lost peer in symmetric mode',
  RSTR: 'access denied due to local policy',
  INIT: 'the association has not yet synchronized for the first time',
  MCST: 'the association belongs to a dynamically discovered server',
  NKEY: 'no key found',
  RATE: 'rate exceeded: the server has temporarily denied access because the client exceeded the rate threshold',
  RMOT: 'alteration of association from a remote host running ntpdc',
  STEP: 'a step change in system time has occurred, but the association has not yet resynchronized',
}

/** A decoded, checked server reply. */
export interface SntpResponse {
  readonly leap: 0 | 1 | 2
  /** 3 or 4 (an SNTPv4 server replies with the request's version, RFC 4330 §5). */
  readonly version: number
  readonly mode: 4
  /** 1 (primary reference) … 15. */
  readonly stratum: number
  /** log₂ seconds. */
  readonly poll: number
  /** log₂ seconds. */
  readonly precision: number
  /** Round-trip delay to the reference clock, ms (NTP short format 16.16 s). */
  readonly rootDelayMs: number
  /** Dispersion to the reference clock, ms (NTP short format 16.16 s). */
  readonly rootDispersionMs: number
  /** Stratum 1: four ASCII characters (e.g. 'GPS', 'PPS', 'DCF'); above: 8 hex digits (IPv4 address or hash). */
  readonly referenceId: string
  readonly referenceTime: NtpTimestamp
  readonly originateTime: NtpTimestamp
  readonly receiveTime: NtpTimestamp
  readonly transmitTime: NtpTimestamp
}

/**
 * Converts Unix milliseconds to an NTP timestamp. The era is dropped (RFC 5905 §6: the
 * 64-bit timestamp holds seconds modulo 2³²); fractions of a millisecond are kept to 2⁻³² s.
 */
export function unixMsToNtp(ms: number): NtpTimestamp {
  if (!Number.isFinite(ms)) throw new RangeError(`not a finite instant: ${String(ms)}`)
  const totalS = Math.floor(ms / 1000)
  let fraction = Math.round(((ms - totalS * 1000) / 1000) * FRACTION)
  let s = totalS + NTP_UNIX_OFFSET_S
  if (fraction >= FRACTION) {
    fraction -= FRACTION
    s += 1
  }
  return { seconds: ((s % ERA_S) + ERA_S) % ERA_S, fraction }
}

/**
 * Converts an NTP timestamp to Unix milliseconds, choosing the era (RFC 5905 §6,
 * "era" and "timestamp" arithmetic) that puts the result nearest to `pivotMs`
 * (e.g. the local clock): unambiguous while the true time lies within ±68 years of
 * the pivot. Without a pivot, the rule of RFC 4330 §3: most significant bit set →
 * 1968–2036 (era 0), clear → 2036–2104 (era 1).
 */
export function ntpToUnixMs(ts: NtpTimestamp, pivotMs?: number): number {
  const inEra0 = (ts.seconds - NTP_UNIX_OFFSET_S) * 1000 + (ts.fraction / FRACTION) * 1000
  if (pivotMs === undefined) return ts.seconds >= 0x8000_0000 ? inEra0 : inEra0 + ERA_MS
  return inEra0 + Math.round((pivotMs - inEra0) / ERA_MS) * ERA_MS
}

/**
 * The client request (RFC 4330 §5): LI 0, VN 4, mode 3 (client), every other field
 * zero except the transmit timestamp, which the server copies into its originate
 * field. Pass a timestamp with unpredictable low fraction bits: it is the nonce the
 * reply is matched with (RFC 5905 §8, "bogus packet" check; draft-ietf-ntp-data-minimization).
 */
export function encodeSntpRequest(transmitTime: NtpTimestamp): Uint8Array {
  checkTimestamp(transmitTime)
  const bytes = new Uint8Array(SNTP_PACKET_BYTES)
  const view = new DataView(bytes.buffer)
  view.setUint8(0, (0 << 6) | (4 << 3) | NTP_MODE.client)
  writeTimestamp(view, 40, transmitTime)
  return bytes
}

/** The NTP header fields, unchecked (for servers and diagnostics). */
export interface SntpHeader {
  readonly leap: LeapIndicator
  readonly version: number
  readonly mode: number
  readonly stratum: number
  readonly poll: number
  readonly precision: number
  readonly rootDelay: number
  readonly rootDispersion: number
  readonly referenceId: Uint8Array
  readonly referenceTime: NtpTimestamp
  readonly originateTime: NtpTimestamp
  readonly receiveTime: NtpTimestamp
  readonly transmitTime: NtpTimestamp
}

/** Reads the 48-byte header without judging it; TIME_RESPONSE_INVALID when shorter than 48 bytes. */
export function decodeSntpHeader(bytes: Uint8Array): SntpHeader {
  if (bytes.length < SNTP_PACKET_BYTES) {
    throw new GatewayError('TIME_RESPONSE_INVALID', `SNTP packet too short: ${bytes.length} bytes, the header has ${SNTP_PACKET_BYTES} (RFC 5905 §7.3)`)
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const b0 = view.getUint8(0)
  return {
    leap: (b0 >> 6) as LeapIndicator,
    version: (b0 >> 3) & 0b111,
    mode: b0 & 0b111,
    stratum: view.getUint8(1),
    poll: view.getInt8(2),
    precision: view.getInt8(3),
    rootDelay: view.getUint32(4) / 65_536,
    rootDispersion: view.getUint32(8) / 65_536,
    referenceId: bytes.slice(12, 16),
    referenceTime: readTimestamp(view, 16),
    originateTime: readTimestamp(view, 24),
    receiveTime: readTimestamp(view, 32),
    transmitTime: readTimestamp(view, 40),
  }
}

/**
 * The kiss code of a kiss-o'-death packet (stratum 0, RFC 5905 §7.4: the reference ID
 * carries four ASCII characters), or undefined when `bytes` is not one.
 */
export function decodeKissCode(bytes: Uint8Array): string | undefined {
  if (bytes.length < SNTP_PACKET_BYTES || bytes[1] !== 0) return undefined
  return formatAscii(bytes.subarray(12, 16)) ?? Buffer.from(bytes.subarray(12, 16)).toString('hex')
}

/** The kiss code named by a TIME_KISS_OF_DEATH error of `decodeSntpResponse` (its message starts `SNTP kiss-o'-death CODE`). */
export function kissCodeOf(err: unknown): string | undefined {
  if (!(err instanceof GatewayError) || err.code !== 'TIME_KISS_OF_DEATH') return undefined
  return /^SNTP kiss-o'-death (\S+)/.exec(err.message)?.[1]?.replace(/:$/, '')
}

/**
 * Decodes and checks a server reply to the request that carried `expectedOriginate`
 * (RFC 4330 §5 "sanity checks", RFC 5905 §8). Each failure has its own code:
 * - TIME_RESPONSE_INVALID: shorter than 48 bytes, version not 3 or 4, mode not 4
 *   (server), zero transmit or receive timestamp (RFC 4330 §5: "the Transmit Timestamp
 *   field MUST NOT be zero"), or a transmit time before the receive time;
 * - TIME_KISS_OF_DEATH: stratum 0 (RFC 5905 §7.4), with the kiss code in the message
 *   (`decodeKissCode` returns it);
 * - TIME_SERVER_UNSYNCHRONISED: leap indicator 3 or stratum 16 and above (RFC 5905 §7.3);
 * - TIME_ORIGINATE_MISMATCH: the originate timestamp is not our transmit timestamp,
 *   bit for bit — a bogus, duplicate or spoofed packet (RFC 5905 §8).
 */
export function decodeSntpResponse(bytes: Uint8Array, expectedOriginate: NtpTimestamp): SntpResponse {
  const h = decodeSntpHeader(bytes)
  const invalid = (reason: string): GatewayError => new GatewayError('TIME_RESPONSE_INVALID', `SNTP response invalid: ${reason}`)
  if (h.version !== 3 && h.version !== 4) throw invalid(`version ${h.version}, expected 4 (or 3) (RFC 4330 §5)`)
  if (h.mode !== NTP_MODE.server) throw invalid(`mode ${h.mode}, expected 4 (server) (RFC 4330 §5)`)
  // RFC 5905 §8: a packet whose origin timestamp is not ours is bogus — checked before
  // anything else a forger controls, so a spoofed kiss-o'-death cannot stop the client.
  if (h.originateTime.seconds !== expectedOriginate.seconds || h.originateTime.fraction !== expectedOriginate.fraction) {
    throw new GatewayError('TIME_ORIGINATE_MISMATCH', `SNTP response originate timestamp ${formatTimestamp(h.originateTime)} is not our transmit timestamp ${formatTimestamp(expectedOriginate)} (RFC 5905 §8: bogus or spoofed packet)`)
  }
  if (h.stratum === 0) {
    const code = decodeKissCode(bytes) ?? '????'
    throw new GatewayError('TIME_KISS_OF_DEATH', `SNTP kiss-o'-death ${code}${KISS_CODES[code] === undefined ? '' : `: ${KISS_CODES[code]}`} (RFC 5905 §7.4)`)
  }
  if (h.leap === 3) throw new GatewayError('TIME_SERVER_UNSYNCHRONISED', 'the time server is not synchronised (leap indicator 3, RFC 5905 §7.3)')
  if (h.stratum >= 16) throw new GatewayError('TIME_SERVER_UNSYNCHRONISED', `the time server is not synchronised (stratum ${h.stratum}, RFC 5905 §7.3)`)
  if (isZero(h.transmitTime)) throw invalid('zero transmit timestamp (RFC 4330 §5)')
  if (isZero(h.receiveTime)) throw invalid('zero receive timestamp')
  const t2 = ntpToUnixMs(h.receiveTime, 0)
  const t3 = ntpToUnixMs(h.transmitTime, t2)
  if (t3 < t2) throw invalid('transmit timestamp before receive timestamp')
  return {
    leap: h.leap, version: h.version, mode: NTP_MODE.server, stratum: h.stratum, poll: h.poll, precision: h.precision,
    rootDelayMs: h.rootDelay * 1000, rootDispersionMs: h.rootDispersion * 1000,
    referenceId: h.stratum === 1 ? (formatAscii(h.referenceId) ?? Buffer.from(h.referenceId).toString('hex')) : Buffer.from(h.referenceId).toString('hex'),
    referenceTime: h.referenceTime, originateTime: h.originateTime, receiveTime: h.receiveTime, transmitTime: h.transmitTime,
  }
}

/**
 * Clock offset and round-trip delay from the four timestamps of one exchange
 * (RFC 5905 §8; RFC 4330 §5): t1 client transmit, t2 server receive, t3 server transmit,
 * t4 client receive, all in ms.
 *   offset = ((t2 − t1) + (t3 − t4)) / 2      delay = (t4 − t1) − (t3 − t2)
 * The offset is what must be added to the client clock; its error is at most delay / 2.
 */
export function computeOffset(t1: number, t2: number, t3: number, t4: number): { offsetMs: number; delayMs: number } {
  return { offsetMs: ((t2 - t1) + (t3 - t4)) / 2, delayMs: (t4 - t1) - (t3 - t2) }
}

function checkTimestamp(ts: NtpTimestamp): void {
  const ok = (n: number) => Number.isInteger(n) && n >= 0 && n < ERA_S
  if (!ok(ts.seconds) || !ok(ts.fraction)) throw new RangeError(`not an NTP timestamp: ${ts.seconds}.${ts.fraction}`)
}

function isZero(ts: NtpTimestamp): boolean {
  return ts.seconds === 0 && ts.fraction === 0
}

function readTimestamp(view: DataView, at: number): NtpTimestamp {
  return { seconds: view.getUint32(at), fraction: view.getUint32(at + 4) }
}

function writeTimestamp(view: DataView, at: number, ts: NtpTimestamp): void {
  view.setUint32(at, ts.seconds)
  view.setUint32(at + 4, ts.fraction)
}

function formatTimestamp(ts: NtpTimestamp): string {
  return `${ts.seconds.toString(16).padStart(8, '0')}.${ts.fraction.toString(16).padStart(8, '0')}`
}

/** Printable ASCII, trailing NULs removed; undefined if anything else. */
function formatAscii(bytes: Uint8Array): string | undefined {
  let end = bytes.length
  while (end > 0 && bytes[end - 1] === 0) end--
  const part = bytes.subarray(0, end)
  if (part.length === 0 || part.some((b) => b < 0x20 || b > 0x7e)) return undefined
  return String.fromCharCode(...part)
}
