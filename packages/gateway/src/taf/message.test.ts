import fc from 'fast-check'
import { VALUE_STATUS, decodeMeterData } from '@smgw/meter-data'
import { addLegalDays, startOfLegalDay } from '@smgw/legal-time'
import { describe, expect, it } from 'vitest'
import { isGatewayError } from '../errors.js'
import type { ReadingInput } from '../store/types.js'
import { aggregateSeries } from './aggregate.js'
import { computeTaf1, computeTaf7, type TafSeries } from './compute.js'
import { buildTafMessage, buildTafMessages, tafMessageId } from './message.js'
import { parseTariffProfiles, type TariffProfileOf } from './profile.js'
import { pseudonymOf } from './pseudonym.js'

const SECRET = new Uint8Array(32).fill(7)
const MP = 'DE0001234567890000000000000000001'
const IMPORT = '1-0:1.8.0*255'
const codeOf = (fn: () => unknown): string | undefined => {
  try { fn() } catch (err) { if (isGatewayError(err)) return err.code; throw err }
  return undefined
}
const day = { start: startOfLegalDay('2026-11-23'), end: addLegalDays(startOfLegalDay('2026-11-23'), 1) }
function meter(meterId: string, base: bigint, step: bigint): ReadingInput[] {
  const out: ReadingInput[] = []
  for (let t = day.start.getTime() - 20_000, i = 0n; t <= day.end.getTime(); t += 10_000, i++) out.push({ meterId, quantity: IMPORT, time: new Date(t), mantissa: base + i * step, scaler: -1, unit: 'Wh' })
  return out
}
const byTime = (a: ReadingInput, b: ReadingInput) => a.time.getTime() - b.time.getTime()

describe('pseudonyms', () => {
  it('are stable per recipient and metering point, and unlinkable across recipients', () => {
    const a1 = pseudonymOf(SECRET, 'EMT-1', MP)
    expect(a1).toMatch(/^p-[0-9a-f]{32}$/)
    expect(pseudonymOf(SECRET, 'EMT-1', MP)).toBe(a1)
    expect(pseudonymOf(SECRET, 'EMT-2', MP)).not.toBe(a1)
    expect(pseudonymOf(new Uint8Array(32).fill(8), 'EMT-1', MP)).not.toBe(a1)
    // The length prefix keeps 'EMT-1'+'X…' and 'EMT-1X'+'…' apart.
    expect(pseudonymOf(SECRET, 'EMT-1', 'XY')).not.toBe(pseudonymOf(SECRET, 'EMT-1X', 'Y'))
    expect(codeOf(() => pseudonymOf(new Uint8Array(15), 'EMT-1', MP))).toBe('TAF_INPUT_INVALID')
  })

  it('property: distinct (recipient, metering point) pairs give distinct pseudonyms; one pair always the same', () => {
    const idArb = fc.stringMatching(/^[A-Za-z0-9._:-]{1,32}$/)
    fc.assert(fc.property(idArb, idArb, idArb, (r1, r2, mp) => {
      expect(pseudonymOf(SECRET, r1, mp)).toBe(pseudonymOf(SECRET, r1, mp))
      if (r1 !== r2) expect(pseudonymOf(SECRET, r1, mp)).not.toBe(pseudonymOf(SECRET, r2, mp))
    }), { numRuns: 300 })
  })
})

describe('TAF messages', () => {
  const [taf7] = parseTariffProfiles([{
    id: 'taf7-M1', useCase: 'taf7', meteringPoint: MP, channels: [{ meterId: 'ehz-1', obis: IMPORT }],
    recipients: [{ id: 'EMT-1', role: 'supplier', pseudonymise: true }, { id: 'MSB-1', role: 'metering-point-operator' }],
    schedule: { send: { dailyAt: '00:30' } },
  }]) as [TariffProfileOf<'taf7'>]
  const computation = computeTaf7(taf7, { readings: meter('ehz-1', 100n, 1n) }, day)
  const createdAt = new Date('2026-11-23T23:30:00Z')

  it('builds one valid message per recipient with a deterministic ID, pseudonymised where the profile says', () => {
    const messages = buildTafMessages(taf7, computation, { gatewayId: 'smgw-0001', createdAt, pseudonymSecret: SECRET })
    expect(messages.map((m) => m.recipient)).toEqual(['EMT-1', 'MSB-1'])
    const [emt, msb] = messages
    expect(emt!.messageId).toBe(`smgw-0001:taf7-M1:EMT-1:${day.end.getTime() / 1000}`)
    expect(tafMessageId('smgw-0001', 'taf7-M1', 'EMT-1', day.end)).toBe(emt!.messageId)
    const decoded = decodeMeterData(emt!.bytes)
    expect(decoded).toEqual(emt!.message)
    expect(decoded).toMatchObject({
      gatewayId: 'smgw-0001', recipient: 'EMT-1', useCase: 'taf7', createdAt: createdAt.toISOString(),
      meteringPoint: { kind: 'pseudonym', id: pseudonymOf(SECRET, 'EMT-1', MP) },
      period: { start: day.start.toISOString(), end: day.end.toISOString() },
    })
    expect(decoded.series[0]!.values).toHaveLength(96)
    expect(new TextDecoder().decode(emt!.bytes)).not.toContain(MP)
    expect(decodeMeterData(msb!.bytes).meteringPoint).toEqual({ kind: 'metering-point', id: MP })
    // Recomputing gives the same IDs and values.
    const again = buildTafMessages(taf7, computeTaf7(taf7, { readings: meter('ehz-1', 100n, 1n) }, day), { gatewayId: 'smgw-0001', createdAt, pseudonymSecret: SECRET })
    expect(again.map((m) => m.bytes)).toEqual(messages.map((m) => m.bytes))
  })

  it('never builds a message for a recipient the profile does not name', () => {
    expect(codeOf(() => buildTafMessage(taf7, computation, 'EMT-2', { gatewayId: 'smgw-0001', createdAt, pseudonymSecret: SECRET }))).toBe('TAF_RECIPIENT_UNKNOWN')
    fc.assert(fc.property(fc.stringMatching(/^[A-Za-z0-9._:-]{1,32}$/), (who) => {
      const named = taf7.recipients.some((r) => r.id === who)
      if (named) return
      expect(codeOf(() => buildTafMessage(taf7, computation, who, { gatewayId: 'smgw-0001', createdAt, pseudonymSecret: SECRET }))).toBe('TAF_RECIPIENT_UNKNOWN')
    }), { numRuns: 100 })
    expect(codeOf(() => buildTafMessages(taf7, computation, { gatewayId: 'smgw-0001', createdAt }))).toBe('TAF_INPUT_INVALID') // pseudonym without secret
  })

  it('carries gaps as null with the gap bit through to the bytes', () => {
    const [taf1] = parseTariffProfiles([{ id: 'taf1-M1', useCase: 'taf1', meteringPoint: MP, channels: [{ meterId: 'ehz-1', obis: IMPORT }], recipients: [{ id: 'LF-1', role: 'supplier' }], schedule: { billingPeriod: 'monthly' } }]) as [TariffProfileOf<'taf1'>]
    const c = computeTaf1(taf1, { readings: [] }, { start: new Date('2026-10-31T23:00:00Z'), end: new Date('2026-11-30T23:00:00Z') })
    const m = buildTafMessage(taf1, c, 'LF-1', { gatewayId: 'smgw-0001', createdAt })
    expect(decodeMeterData(m.bytes).series[0]!.values).toEqual([{ time: '2026-11-30T23:00:00.000Z', value: null, status: VALUE_STATUS.gap }])
  })
})

describe('aggregation', () => {
  const channels = (n: number) => Array.from({ length: n }, (_, i) => ({ meterId: `m${i}`, obis: IMPORT, meteringPoint: `MP-${i}` }))
  const profile = (n: number) => parseTariffProfiles([{
    id: 'agg', useCase: 'taf7', meteringPoint: 'house-7', channels: channels(n), recipients: [{ id: 'VNB-1', role: 'grid-operator' }],
    schedule: { send: { everyHours: 24 } }, aggregate: { group: 'house-7' },
  }])[0] as TariffProfileOf<'taf7'>

  it('sums the same series over ≥ 5 metering points, exactly and with mixed scalers', () => {
    const p = profile(6)
    const readings = Array.from({ length: 6 }, (_, i) => meter(`m${i}`, BigInt(1000 * i), BigInt(i + 1))).flat().sort(byTime)
    const c = computeTaf7(p, { readings }, day)
    const [m] = buildTafMessages(p, c, { gatewayId: 'smgw-0001', createdAt: day.end })
    const msg = decodeMeterData(m!.bytes)
    expect(msg.meteringPoint).toEqual({ kind: 'aggregate', id: 'house-7', consumers: 6 })
    expect(msg.series).toHaveLength(1)
    const expectedAt = (k: number) => c.series.reduce((sum, s) => sum + BigInt(s.values[k]!.value!), 0n).toString()
    expect(msg.series[0]!.values[0]!.value).toBe(expectedAt(0))
    expect(msg.series[0]!.values[95]!.value).toBe(expectedAt(95))
    const mixed = aggregateSeries(c.series.map((s, i) => (i === 0 ? { ...s, scaler: 0, values: s.values.map((v) => ({ ...v, value: v.value })) } : s)), 5)
    expect(mixed[0]!.scaler).toBe(-1)
    expect(BigInt(mixed[0]!.values[0]!.value!)).toBe(BigInt(expectedAt(0)) + BigInt(c.series[0]!.values[0]!.value!) * 9n)
  })

  it('a gap at any metering point makes the sum a gap', () => {
    const p = profile(5)
    const readings = Array.from({ length: 5 }, (_, i) => meter(`m${i}`, 0n, 1n)).flat()
      .filter((r) => !(r.meterId === 'm3' && r.time.getTime() > day.end.getTime() - 3_600_000)).sort(byTime)
    const [m] = buildTafMessages(p, computeTaf7(p, { readings }, day), { gatewayId: 'smgw-0001', createdAt: day.end })
    const values = decodeMeterData(m!.bytes).series[0]!.values
    expect(values.filter((v) => v.value === null)).toHaveLength(4)
    expect(values.at(-1)!.status & VALUE_STATUS.gap).toBe(VALUE_STATUS.gap)
  })

  it('property: each aggregate value is the exact sum of its addends, a gap when any is a gap; fewer than the minimum is refused', () => {
    const value: fc.Arbitrary<bigint | null> = fc.oneof(fc.constant(null), fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }))
    fc.assert(fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 6 }), fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 9, maxLength: 9 }), fc.array(value, { minLength: 54, maxLength: 54 }), (n, len, scalers, raw) => {
      const series: TafSeries[] = Array.from({ length: n }, (_, i) => ({
        meterId: `m${i}`, meteringPoint: `MP-${i}`, obis: IMPORT, unit: 'Wh', scaler: scalers[i]!, kind: 'profile', periodSeconds: 900,
        values: Array.from({ length: len }, (_, k) => {
          const v = raw[i * 6 + k] ?? null
          return { time: new Date(day.start.getTime() + (k + 1) * 900_000).toISOString(), value: v === null ? null : v.toString(), status: v === null ? VALUE_STATUS.gap : 0 }
        }),
      }))
      if (n < 5) { expect(codeOf(() => aggregateSeries(series, 5))).toBe('TAF_AGGREGATION_TOO_FEW'); return }
      const [agg] = aggregateSeries(series, 5)
      const min = Math.min(...series.map((s) => s.scaler))
      expect(agg!.scaler).toBe(min)
      expect(agg!.consumers).toBe(n)
      agg!.values.forEach((v, k) => {
        const parts = series.map((s) => s.values[k]!.value)
        if (parts.includes(null)) expect([v.value, v.status & VALUE_STATUS.gap]).toEqual([null, VALUE_STATUS.gap])
        else expect(v.value).toBe(series.reduce((sum, s) => sum + BigInt(s.values[k]!.value!) * 10n ** BigInt(s.scaler - min), 0n).toString())
      })
    }), { numRuns: 200 })
  })

  it('refuses fewer than the minimum: TAF_AGGREGATION_TOO_FEW, nothing built', () => {
    const p = profile(5)
    const c = computeTaf7(p, { readings: [] }, day)
    const four: TafSeries[] = c.series.slice(0, 4)
    expect(codeOf(() => aggregateSeries(four, 5))).toBe('TAF_AGGREGATION_TOO_FEW')
    expect(codeOf(() => aggregateSeries([], 5))).toBe('TAF_AGGREGATION_TOO_FEW')
    expect(codeOf(() => buildTafMessages(p, { ...c, series: four }, { gatewayId: 'smgw-0001', createdAt: day.end }))).toBe('TAF_AGGREGATION_TOO_FEW')
    expect(codeOf(() => aggregateSeries(c.series, 4))).toBe('TAF_INPUT_INVALID')
    expect(codeOf(() => aggregateSeries([...c.series.slice(0, 4), { ...c.series[4]!, meteringPoint: 'MP-0' }], 5))).toBe('TAF_AGGREGATION_TOO_FEW')
  })
})
