import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { GatewayError } from '../errors.js'
import {
  NTP_UNIX_OFFSET_S, SNTP_PACKET_BYTES, computeOffset, decodeKissCode, decodeSntpHeader, decodeSntpResponse,
  encodeSntpRequest, ntpToUnixMs, unixMsToNtp, type NtpTimestamp,
} from './sntp.js'

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'))

// Our transmit timestamp: 2026-05-01T08:00:00.250Z (0xed9edc00 s since 1900, 0x40000000 = 0.25 s).
const T1: NtpTimestamp = { seconds: 0xed_9e_dc_00, fraction: 0x4000_0000 }

/** A server reply to T1, fields grouped as in RFC 5905 §7.3 Figure 8. */
function reply(over: { b0?: string; stratum?: string; refId?: string; originate?: string; receive?: string; transmit?: string } = {}): Uint8Array {
  return hex([
    over.b0 ?? '24', // LI 0, VN 4, mode 4
    over.stratum ?? '01', // stratum 1
    '06', // poll 2^6 s
    'ec', // precision 2^-20 s
    '00000010', // root delay 16/65536 s
    '00000020', // root dispersion 32/65536 s
    over.refId ?? '47505300', // "GPS\0"
    'ed9edbff 00000000', // reference timestamp
    over.originate ?? 'ed9edc00 40000000', // originate = our transmit
    over.receive ?? 'ed9edc00 80000000', // receive 08:00:00.500
    over.transmit ?? 'ed9edc00 80418937', // transmit 08:00:00.501
  ].join(''))
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    if (err instanceof GatewayError) return err.code
    throw err
  }
  return undefined
}

describe('NTP timestamps', () => {
  it('maps the Unix epoch and 2026 instants to RFC 5905 seconds since 1900', () => {
    expect(unixMsToNtp(0)).toEqual({ seconds: NTP_UNIX_OFFSET_S, fraction: 0 })
    expect(unixMsToNtp(Date.parse('2026-05-01T08:00:00.250Z'))).toEqual(T1)
    expect(ntpToUnixMs(T1)).toBe(Date.parse('2026-05-01T08:00:00.250Z'))
    expect(unixMsToNtp(Date.parse('1900-01-01T00:00:00Z'))).toEqual({ seconds: 0, fraction: 0 })
  })

  it('crosses the era boundary 2036-02-07T06:28:16Z: seconds wrap to 0, the pivot or the MSB rule picks the era', () => {
    const boundary = Date.parse('2036-02-07T06:28:16Z')
    expect(unixMsToNtp(boundary)).toEqual({ seconds: 0, fraction: 0 })
    expect(unixMsToNtp(boundary - 1000)).toEqual({ seconds: 0xffff_ffff, fraction: 0 })
    expect(ntpToUnixMs({ seconds: 0, fraction: 0 })).toBe(boundary) // RFC 4330 §3: MSB clear → era 1
    expect(ntpToUnixMs({ seconds: 0, fraction: 0 }, boundary - 5000)).toBe(boundary)
    expect(ntpToUnixMs({ seconds: 0xffff_ffff, fraction: 0 }, boundary + 5000)).toBe(boundary - 1000)
    expect(ntpToUnixMs({ seconds: 0, fraction: 0 }, Date.parse('1910-01-01T00:00:00Z'))).toBe(Date.parse('1900-01-01T00:00:00Z'))
  })

  it('round-trips any instant within ±68 years of the pivot to 2⁻³² s (property)', () => {
    fc.assert(fc.property(
      fc.integer({ min: Date.parse('1900-01-01T00:00:00Z'), max: Date.parse('2400-01-01T00:00:00Z') }),
      fc.integer({ min: -(2 ** 31 - 1) * 1000, max: (2 ** 31 - 1) * 1000 }),
      fc.double({ min: 0, max: 0.999, noNaN: true }),
      (ms, skew, sub) => {
        const t = ms + sub
        const back = ntpToUnixMs(unixMsToNtp(t), t + skew)
        expect(Math.abs(back - t)).toBeLessThan(1e-3)
        expect(Math.round(ntpToUnixMs(unixMsToNtp(ms), ms + skew))).toBe(ms)
      },
    ))
  })
})

describe('encodeSntpRequest', () => {
  it('writes LI 0, VN 4, mode 3 and only the transmit timestamp (RFC 4330 §5)', () => {
    const req = encodeSntpRequest(T1)
    expect(req.length).toBe(SNTP_PACKET_BYTES)
    expect(Buffer.from(req).toString('hex')).toBe(`23${'00'.repeat(39)}ed9edc0040000000`)
    expect(decodeSntpHeader(req)).toMatchObject({ leap: 0, version: 4, mode: 3, transmitTime: T1 })
  })
})

describe('decodeSntpResponse', () => {
  it('decodes a stratum-1 reply and its four exchange timestamps give offset and delay (RFC 5905 §8)', () => {
    const r = decodeSntpResponse(reply(), T1)
    expect(r).toMatchObject({ leap: 0, version: 4, mode: 4, stratum: 1, poll: 6, precision: -20, referenceId: 'GPS', originateTime: T1 })
    expect(r.rootDelayMs).toBeCloseTo(16 / 65.536, 9)
    expect(r.rootDispersionMs).toBeCloseTo(32 / 65.536, 9)
    const t1 = ntpToUnixMs(T1)
    const t2 = ntpToUnixMs(r.receiveTime, t1)
    const t3 = ntpToUnixMs(r.transmitTime, t1)
    expect(t2 - t1).toBe(250)
    expect(t3 - t2).toBeCloseTo(1, 6)
    // client receives at 08:00:00.300 by its own clock
    const { offsetMs, delayMs } = computeOffset(t1, t2, t3, t1 + 50)
    expect(offsetMs).toBeCloseTo(225.5, 6)
    expect(delayMs).toBeCloseTo(49, 6)
  })

  it('names a stratum ≥ 2 reference ID in hex and accepts version 3', () => {
    const r = decodeSntpResponse(reply({ b0: '1c', stratum: '02', refId: 'c0a80101' }), T1)
    expect(r).toMatchObject({ version: 3, stratum: 2, referenceId: 'c0a80101' })
  })

  it('one code per failure', () => {
    const c = (bytes: Uint8Array) => codeOf(() => decodeSntpResponse(bytes, T1))
    expect(c(reply().subarray(0, 47))).toBe('TIME_RESPONSE_INVALID')
    expect(c(reply({ b0: '23' }))).toBe('TIME_RESPONSE_INVALID') // mode 3: our own request reflected
    expect(c(reply({ b0: '25' }))).toBe('TIME_RESPONSE_INVALID') // mode 5 broadcast
    expect(c(reply({ b0: '14' }))).toBe('TIME_RESPONSE_INVALID') // version 2
    expect(c(reply({ transmit: '00000000 00000000' }))).toBe('TIME_RESPONSE_INVALID')
    expect(c(reply({ receive: '00000000 00000000' }))).toBe('TIME_RESPONSE_INVALID')
    expect(c(reply({ transmit: 'ed9edc00 00000000' }))).toBe('TIME_RESPONSE_INVALID') // before receive
    expect(c(reply({ stratum: '00', refId: '52415445' }))).toBe('TIME_KISS_OF_DEATH')
    expect(c(reply({ b0: 'e4' }))).toBe('TIME_SERVER_UNSYNCHRONISED') // LI 3
    expect(c(reply({ stratum: '10' }))).toBe('TIME_SERVER_UNSYNCHRONISED') // stratum 16
    expect(c(reply({ originate: 'ed9edc00 40000001' }))).toBe('TIME_ORIGINATE_MISMATCH')
    expect(c(reply({ originate: '00000000 00000000' }))).toBe('TIME_ORIGINATE_MISMATCH')
    // A spoofed kiss-o'-death with a wrong originate is bogus, not a kiss (RFC 5905 §8 before §7.4).
    expect(c(reply({ stratum: '00', refId: '44454e59', originate: '00000000 00000001' }))).toBe('TIME_ORIGINATE_MISMATCH')
  })

  it('reports the kiss code of a kiss-o\'-death packet', () => {
    const kod = reply({ stratum: '00', refId: '44454e59' })
    expect(decodeKissCode(kod)).toBe('DENY')
    expect(() => decodeSntpResponse(kod, T1)).toThrow(/DENY: access denied/)
    expect(decodeKissCode(reply())).toBeUndefined()
    expect(decodeKissCode(reply({ stratum: '00', refId: '01020304' }))).toBe('01020304')
  })

  it('any bytes give a checked response or a TIME_ GatewayError, nothing else (property)', () => {
    const ts = fc.record({ seconds: fc.nat({ max: 2 ** 32 - 1 }), fraction: fc.nat({ max: 2 ** 32 - 1 }) })
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 96 }), ts, fc.boolean(), (bytes, origin, plant) => {
      const b = new Uint8Array(bytes)
      // Half the packets carry our originate timestamp so that the checks behind it run too.
      if (plant && b.length >= 48) new DataView(b.buffer).setBigUint64(24, (BigInt(origin.seconds) << 32n) | BigInt(origin.fraction))
      try {
        const r = decodeSntpResponse(b, origin)
        expect(r.mode).toBe(4)
        expect(r.stratum).toBeGreaterThanOrEqual(1)
        expect(r.stratum).toBeLessThan(16)
        expect(r.leap).not.toBe(3)
        expect(r.originateTime).toEqual(origin)
      } catch (err) {
        expect(err).toBeInstanceOf(GatewayError)
        expect((err as GatewayError).code).toMatch(/^TIME_(RESPONSE_INVALID|KISS_OF_DEATH|SERVER_UNSYNCHRONISED|ORIGINATE_MISMATCH)$/)
      }
    }), { numRuns: 2000 })
  })
})
