import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MeterDataError } from './errors.js'
import { decodeMeterData, encodeMeterData, isRealInstant, type MeterDataMessage } from './message.js'
import { VALUE_STATUS, describeStatus, statusOf } from './status.js'

const T0 = Date.UTC(2026, 10, 22, 23, 0)
const iso = (ms: number) => new Date(ms).toISOString()

/** A TAF 7 day: 96 register values at quarter-hour ends, the 40th a gap. */
function taf7Day(): MeterDataMessage {
  return {
    format: 'smgw-meter-data', version: 1, messageId: 'smgw-0001:taf7:42', gatewayId: 'smgw-0001', recipient: 'emt-1', useCase: 'taf7',
    createdAt: iso(T0 + 86_400_000 + 60_000),
    meteringPoint: { kind: 'pseudonym', id: 'p-3f9a01' },
    period: { start: iso(T0), end: iso(T0 + 86_400_000) },
    series: [{
      obis: '1-0:1.8.0*255', unit: 'Wh', scaler: -1, kind: 'profile', periodSeconds: 900,
      values: Array.from({ length: 96 }, (_, i) => i === 39
        ? { time: iso(T0 + (i + 1) * 900_000), value: null, status: VALUE_STATUS.gap }
        : { time: iso(T0 + (i + 1) * 900_000), value: (123_456_789_012_345_678_901n + BigInt(i * 250)).toString(), status: 0 }),
    }],
  }
}

function codeOf(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    if (err instanceof MeterDataError) return err.code
    throw err
  }
  return 'no error'
}

describe('meter-data message', () => {
  it('round-trips a TAF 7 day exactly, values beyond 2^64 included, keys in schema order', () => {
    const m = taf7Day()
    const bytes = encodeMeterData(m)
    expect(decodeMeterData(bytes)).toEqual(m)
    const text = new TextDecoder().decode(bytes)
    expect(text.startsWith('{"format":"smgw-meter-data","version":1,"messageId":"smgw-0001:taf7:42"')).toBe(true)
    expect(text).toContain(`"value":"${(123_456_789_012_345_678_901n + 250n * 95n).toString()}"`)
    // Same message, keys given in another order → same bytes.
    const shuffled = Object.fromEntries(Object.entries(m).reverse()) as MeterDataMessage
    expect(encodeMeterData(shuffled)).toEqual(bytes)
  })

  it('refuses to encode an invalid message, naming the path', () => {
    const m = taf7Day()
    const bad = { ...m, series: [{ ...m.series[0]!, values: [...m.series[0]!.values].reverse() }] }
    expect(() => encodeMeterData(bad)).toThrow(/series\[0\]\.values\[1\]\.time: times must be strictly increasing/)
  })

  it.each([
    ['a gap without the gap bit', (m: MeterDataMessage) => ({ ...m, series: [{ ...m.series[0]!, values: [{ time: m.period.end, value: null, status: 0 }] }] }), /value is null exactly/],
    ['a value with the gap bit', (m: MeterDataMessage) => ({ ...m, series: [{ ...m.series[0]!, values: [{ time: m.period.end, value: '1', status: VALUE_STATUS.gap }] }] }), /value is null exactly/],
    ['a profile without period', (m: MeterDataMessage) => ({ ...m, series: [{ ...m.series[0]!, periodSeconds: undefined }] }), /periodSeconds/],
    ['a reading with a period', (m: MeterDataMessage) => ({ ...m, series: [{ ...m.series[0]!, kind: 'reading' }] }), /periodSeconds/],
    ['an aggregate of 4', (m: MeterDataMessage) => ({ ...m, meteringPoint: { kind: 'aggregate', id: 'a1', consumers: 4 } }), /consumers/],
    ['a non-UTC time', (m: MeterDataMessage) => ({ ...m, createdAt: '2026-11-23T01:00:00.000+01:00' }), /createdAt/],
    ['an impossible date', (m: MeterDataMessage) => ({ ...m, createdAt: '2026-02-30T00:00:00.000Z' }), /not a real instant/],
    ['a bad OBIS group', (m: MeterDataMessage) => ({ ...m, series: [{ ...m.series[0]!, obis: '1-0:1.8.256*255' }] }), /OBIS groups/],
    ['a fractional value', (m: MeterDataMessage) => ({ ...m, series: [{ ...m.series[0]!, values: [{ time: m.period.end, value: '1.5', status: 0 }] }] }), /decimal integer/],
    ['an unknown field', (m: MeterDataMessage) => ({ ...m, extra: 1 }), /extra|Unrecognized/i],
    ['an unknown use case', (m: MeterDataMessage) => ({ ...m, useCase: 'taf8' }), /useCase/],
    ['no series', (m: MeterDataMessage) => ({ ...m, series: [] }), /series/],
  ])('decode refuses %s (MESSAGE_INVALID)', (_name, mutate, why) => {
    const bytes = new TextEncoder().encode(JSON.stringify(mutate(taf7Day())))
    expect(codeOf(() => decodeMeterData(bytes))).toBe('MESSAGE_INVALID')
    expect(() => decodeMeterData(bytes)).toThrow(why)
  })

  it('tells an unknown format or version apart from an invalid message', () => {
    const m = taf7Day()
    for (const head of [{ version: 2 }, { format: 'cosem-xml' }, { version: '1' }]) {
      expect(codeOf(() => decodeMeterData(new TextEncoder().encode(JSON.stringify({ ...m, ...head }))))).toBe('MESSAGE_VERSION_UNSUPPORTED')
    }
    expect(codeOf(() => decodeMeterData(new TextEncoder().encode('[1]')))).toBe('MESSAGE_INVALID')
    expect(codeOf(() => decodeMeterData(new TextEncoder().encode('{"format"')))).toBe('MESSAGE_NOT_JSON')
    expect(codeOf(() => decodeMeterData(Uint8Array.of(0x7b, 0xff, 0x7d)))).toBe('MESSAGE_NOT_JSON')
  })

  it('property: random messages round-trip; random bytes and truncations give only MeterDataError', () => {
    const value = fc.record({ value: fc.option(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), { nil: undefined }), status: fc.nat({ max: 0x1f }) })
    fc.assert(fc.property(fc.array(value, { maxLength: 50 }), fc.integer({ min: -6, max: 6 }), (vals, scaler) => {
      const m = taf7Day()
      const values = vals.map((v, i) => v.value === undefined
        ? { time: iso(T0 + i * 1000), value: null, status: v.status | VALUE_STATUS.gap }
        : { time: iso(T0 + i * 1000), value: v.value.toString(), status: v.status & ~VALUE_STATUS.gap })
      const msg: MeterDataMessage = { ...m, series: [{ obis: '1-0:16.7.0*255', unit: 'W', scaler, kind: 'actual', values }] }
      expect(decodeMeterData(encodeMeterData(msg))).toEqual(msg)
    }))
    const good = encodeMeterData(taf7Day())
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.nat({ max: good.length - 1 }).map((n) => good.subarray(0, n)),
      fc.tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([i, x]) => { const b = good.slice(); b[i] = b[i]! ^ x; return b })), (bytes) => {
      try {
        decodeMeterData(bytes)
      } catch (err) {
        expect(err).toBeInstanceOf(MeterDataError)
      }
    }))
  })
})

describe('isRealInstant', () => {
  /** The definition it replaces on the receiver's hot path: the shape, and a round trip through Date. */
  const roundTrips = (s: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(s) && Number.isFinite(Date.parse(s)) && new Date(Date.parse(s)).toISOString() === s
  const pad = (n: number, width: number) => String(n).padStart(width, '0')

  it('property: agrees with the Date round trip on every field value, in range or not, and on any string', () => {
    const field = (max: number, width: number) => fc.integer({ min: 0, max }).map((n) => pad(n, width))
    // Often near the edges: century years, month ends, the last hour, minute and second.
    const edgy = (max: number, width: number, ...edges: number[]) => fc.oneof(field(max, width), fc.constantFrom(...edges).map((n) => pad(n, width)))
    const shaped = fc.tuple(edgy(9999, 4, 0, 100, 1900, 2000, 2024, 2100, 2400), edgy(99, 2, 1, 2, 4, 12, 13), edgy(99, 2, 0, 28, 29, 30, 31, 32),
      edgy(99, 2, 23, 24), edgy(99, 2, 59, 60), edgy(99, 2, 59, 60), field(999, 3))
      .map(([y, mo, d, h, mi, sec, ms]) => `${y}-${mo}-${d}T${h}:${mi}:${sec}.${ms}Z`)
    const real = fc.date({ min: new Date('0000-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }).map((d) => d.toISOString())
    fc.assert(fc.property(fc.oneof(shaped, real, fc.string(), real.map((s) => s.replace('Z', '+00:00'))), (s) => {
      expect(isRealInstant(s)).toBe(roundTrips(s))
    }), { numRuns: 20_000 })
  })

  it.each([
    ['2024-02-29T00:00:00.000Z', true], ['2023-02-29T00:00:00.000Z', false], ['1900-02-29T00:00:00.000Z', false], ['2000-02-29T00:00:00.000Z', true],
    ['0000-02-29T12:00:00.000Z', true], ['2026-04-31T00:00:00.000Z', false], ['2026-12-31T23:59:59.999Z', true], ['2026-12-31T24:00:00.000Z', false],
    ['2016-12-31T23:59:60.000Z', false], ['2026-00-10T00:00:00.000Z', false], ['2026-13-10T00:00:00.000Z', false], ['2026-01-00T00:00:00.000Z', false],
    ['2026-01-01T00:00:00Z', false], ['+010000-01-01T00:00:00.000Z', false],
  ])('%s → %s, as the Date round trip', (s, expected) => {
    expect(isRealInstant(s)).toBe(expected)
    expect(roundTrips(s)).toBe(expected)
  })
})

describe('status word', () => {
  it('names flags and unknown bits', () => {
    expect(statusOf('timeInvalid', 'gap')).toBe(0x05)
    expect(describeStatus(0x0105)).toEqual({ flags: ['timeInvalid', 'gap'], unknownBits: 0x0100 })
    expect(describeStatus(0)).toEqual({ flags: [], unknownBits: 0 })
  })
})
