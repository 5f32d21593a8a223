import fc from 'fast-check'
import { VALUE_STATUS } from '@smgw/meter-data'
import { addLegalDays, legalDayHours, legalDayOf, startOfLegalDay } from '@smgw/legal-time'
import { describe, expect, it } from 'vitest'
import { isGatewayError } from '../errors.js'
import type { ReadingInput } from '../store/types.js'
import { activeRegister, computeActual, computeTaf1, computeTaf2, computeTaf6Daily, computeTaf6Reading, computeTaf7, registerSegments } from './compute.js'
import { parseTariffProfiles, type TariffProfileOf } from './profile.js'
import { periodContaining, periodStartingAt } from './schedule.js'

const MP = 'DE0001234567890000000000000000001'
const IMPORT = '1-0:1.8.0*255'
const POWER = '1-0:16.7.0*255'

function profileOf<U extends 'taf1' | 'taf2' | 'taf6' | 'taf7' | 'taf9' | 'taf10' | 'taf14'>(useCase: U, extra: object = {}): TariffProfileOf<U> {
  const register = useCase === 'taf1' || useCase === 'taf2' || useCase === 'taf6' || useCase === 'taf7'
  const [p] = parseTariffProfiles([{
    id: `${useCase}-M1`, useCase, meteringPoint: MP,
    channels: [{ meterId: 'ehz-1', obis: register ? IMPORT : POWER }],
    recipients: [{ id: useCase === 'taf10' ? 'VNB-1' : 'EMT-1', role: useCase === 'taf10' ? 'grid-operator' : 'supplier' }],
    ...extra,
  }])
  return p as TariffProfileOf<U>
}
const taf7 = (extra: object = {}) => profileOf('taf7', { schedule: { send: { dailyAt: '00:30' } }, ...extra })

/** A meter register that counts `perStep` every `stepS` seconds from `fromMs` to `toMs`, value = steps since epoch-ish base. */
function register(fromMs: number, toMs: number, stepS = 10, o: { meterId?: string; quantity?: string; status?: (t: number) => bigint | undefined; base?: bigint; perStep?: bigint } = {}): ReadingInput[] {
  const out: ReadingInput[] = []
  for (let t = fromMs; t <= toMs; t += stepS * 1000) {
    const status = o.status?.(t)
    out.push({
      meterId: o.meterId ?? 'ehz-1', quantity: o.quantity ?? IMPORT, time: new Date(t), scaler: -1, unit: 'Wh',
      mantissa: (o.base ?? 1_000_000n) + BigInt((t - fromMs) / (stepS * 1000)) * (o.perStep ?? 1n),
      ...(status === undefined ? {} : { status }),
    })
  }
  return out
}
const day = (d: string) => ({ start: startOfLegalDay(d), end: addLegalDays(startOfLegalDay(d), 1) })
const codeOf = (fn: () => unknown): string | undefined => {
  try { fn() } catch (err) { if (isGatewayError(err)) return err.code; throw err }
  return undefined
}

describe('TAF 7: quarter-hour register values at legal-time boundaries', () => {
  it.each([['2026-03-29', 92], ['2026-10-25', 100], ['2026-11-23', 96], ['2027-03-28', 92], ['2027-10-31', 100]])('%s has %i values', (d, n) => {
    const p = day(d)
    const r = computeTaf7(taf7(), { readings: register(p.start.getTime() - 60_000, p.end.getTime() + 60_000) }, p)
    const [s] = r.series
    expect(s!.values).toHaveLength(n)
    expect(s).toMatchObject({ obis: IMPORT, unit: 'Wh', scaler: -1, kind: 'profile', periodSeconds: 900 })
    expect(s!.values.every((v) => v.status === 0 && v.value !== null)).toBe(true)
    expect(s!.values[0]!.time).toBe(new Date(p.start.getTime() + 900_000).toISOString())
    expect(s!.values.at(-1)!.time).toBe(p.end.toISOString())
    // Register at each end: the reading exactly at the end (readings every 10 s from 60 s before the start).
    expect(s!.values.map((v) => BigInt(v.value!))).toEqual(s!.values.map((_, i) => 1_000_000n + 6n + BigInt((i + 1) * 90)))
    expect(r.intervalValues).toHaveLength(n)
    expect(r.intervalValues[0]).toMatchObject({ meterId: 'ehz-1', quantity: IMPORT, periodSeconds: 900, scaler: -1, unit: 'Wh', status: 0 })
  })

  it('never fills a gap: a quarter hour without a reading within 27 s is null with the gap bit', () => {
    const p = day('2026-11-23')
    const outage = [Date.parse('2026-11-23T09:00:00Z'), Date.parse('2026-11-23T09:30:00Z')] // 10:00–10:30 MEZ
    const readings = register(p.start.getTime() - 60_000, p.end.getTime()).filter((r) => r.time.getTime() < outage[0]! || r.time.getTime() >= outage[1]!)
    const values = computeTaf7(taf7(), { readings }, p).series[0]!.values
    const gaps = values.filter((v) => v.value === null)
    expect(gaps.map((v) => v.time)).toEqual(['2026-11-23T09:15:00.000Z'])
    expect(gaps[0]!.status).toBe(VALUE_STATUS.gap)
    // 10:00 uses the reading of 09:59:50 (10 s old), 10:30 the reading at 10:30.
    expect(values.find((v) => v.time === '2026-11-23T09:00:00.000Z')!.value).not.toBeNull()
    const r = computeTaf7(taf7(), { readings }, p)
    expect(r.intervalValues).toHaveLength(95)
  })

  it('a reading older than the tolerance is not used; a reading after the boundary never is', () => {
    const p = { start: new Date('2026-11-23T10:00:00Z'), end: new Date('2026-11-23T10:15:00Z') }
    const at = (iso: string, m: bigint): ReadingInput => ({ meterId: 'ehz-1', quantity: IMPORT, time: new Date(iso), mantissa: m, scaler: 0, unit: 'Wh' })
    expect(computeTaf7(taf7(), { readings: [at('2026-11-23T10:14:33Z', 5n), at('2026-11-23T10:15:01Z', 6n)] }, p).series[0]!.values[0]!.value).toBe('5')
    expect(computeTaf7(taf7(), { readings: [at('2026-11-23T10:14:32Z', 5n), at('2026-11-23T10:15:01Z', 6n)] }, p).series[0]!.values[0]!.value).toBeNull()
    expect(computeTaf7(taf7({ toleranceSeconds: 60 }), { readings: [at('2026-11-23T10:14:32Z', 5n)] }, p).series[0]!.values[0]!.value).toBe('5')
  })

  it('marks values whose boundary lies in a period without assured legal time, and keeps them', () => {
    const p = day('2026-11-23')
    const invalidTime = [{ from: new Date('2026-11-23T10:00:00Z'), to: new Date('2026-11-23T10:20:00Z') }, { from: new Date('2026-11-23T22:50:00Z') }]
    const values = computeTaf7(taf7(), { readings: register(p.start.getTime() - 60_000, p.end.getTime()), invalidTime }, p).series[0]!.values
    expect(values.filter((v) => v.status === VALUE_STATUS.timeInvalid).map((v) => v.time))
      .toEqual(['2026-11-23T10:00:00.000Z', '2026-11-23T10:15:00.000Z', '2026-11-23T23:00:00.000Z'])
    expect(values.every((v) => v.value !== null)).toBe(true)
  })

  it('marks values from readings whose meter status has an error bit of the channel mask', () => {
    const p = day('2026-11-23')
    const bad = [Date.parse('2026-11-23T12:00:00Z'), Date.parse('2026-11-23T12:31:00Z')]
    const status = (t: number) => (t >= bad[0]! && t < bad[1]! ? 0x182n | 0x10000n : 0x182n)
    const readings = register(p.start.getTime() - 60_000, p.end.getTime(), 10, { status })
    const masked = computeTaf7(taf7({ channels: [{ meterId: 'ehz-1', obis: IMPORT, meterErrorMask: 0x10000 }] }), { readings }, p).series[0]!.values
    expect(masked.filter((v) => v.status === VALUE_STATUS.meterError).map((v) => v.time)).toEqual(['2026-11-23T12:00:00.000Z', '2026-11-23T12:15:00.000Z', '2026-11-23T12:30:00.000Z'])
    // SML default mask 0: the FNN status word is not interpreted without configuration.
    expect(computeTaf7(taf7(), { readings }, p).series[0]!.values.every((v) => v.status === 0)).toBe(true)
    // wM-Bus quantities: the EN 13757-7 TPL status (0x08 permanent error) by default.
    const water = taf7({ channels: [{ meterId: 'w-1', obis: '8-0:1.0.0', quantity: 'volume' }] })
    const wmbus = register(p.start.getTime() - 60_000, p.end.getTime(), 30, { meterId: 'w-1', quantity: 'volume', status: (t) => (t >= bad[0]! && t < bad[1]! ? 0x08n : 0n) })
    expect(computeTaf7(water, { readings: wmbus }, p).series[0]!.values.filter((v) => v.status === VALUE_STATUS.meterError)).toHaveLength(3)
  })

  it('rescales to the smallest scaler exactly and flags a unit change as a meter error', () => {
    const p = { start: new Date('2026-11-23T10:00:00Z'), end: new Date('2026-11-23T10:30:00Z') }
    const at = (iso: string, m: bigint, scaler: number, unit = 'Wh'): ReadingInput => ({ meterId: 'ehz-1', quantity: IMPORT, time: new Date(iso), mantissa: m, scaler, unit })
    const s = computeTaf7(taf7(), { readings: [at('2026-11-23T10:15:00Z', 12345n, 0), at('2026-11-23T10:30:00Z', 123460n, -1, 'kWh')] }, p).series[0]!
    expect(s.scaler).toBe(-1)
    expect(s.values.map((v) => [v.value, v.status])).toEqual([['123450', 0], ['123460', VALUE_STATUS.meterError]])
  })

  it('refuses unsorted readings and periods off the registration grid', () => {
    const p = day('2026-11-23')
    const readings = register(p.start.getTime(), p.start.getTime() + 60_000).reverse()
    expect(codeOf(() => computeTaf7(taf7(), { readings }, p))).toBe('TAF_INPUT_INVALID')
    expect(codeOf(() => computeTaf7(taf7(), { readings: [] }, { start: new Date(p.start.getTime() + 1000), end: p.end }))).toBe('TAF_INPUT_INVALID')
    expect(codeOf(() => computeTaf7(taf7(), { readings: [] }, { start: p.end, end: p.start }))).toBe('TAF_INPUT_INVALID')
  })

  it('properties: 92/96/100 values by date, gap ⇔ null, each value = last reading within 27 s, monotone with the register', () => {
    fc.assert(fc.property(
      fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2100, 0, 1) }),
      fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 1500 }),
      fc.array(fc.nat(5), { minLength: 1, maxLength: 1500 }),
      (ms, spacings, increments) => {
        const d = legalDayOf(new Date(ms))
        const p = day(d)
        const readings: ReadingInput[] = []
        let t = p.start.getTime() - 30_000
        let value = 0n
        for (let i = 0; t <= p.end.getTime(); i++) {
          value += BigInt(increments[i % increments.length]!)
          readings.push({ meterId: 'ehz-1', quantity: IMPORT, time: new Date(t), mantissa: value, scaler: 0, unit: 'Wh' })
          t += spacings[i % spacings.length]! * 1000
        }
        const values = computeTaf7(taf7(), { readings }, p).series[0]!.values
        expect(values).toHaveLength(legalDayHours(d) * 4)
        let last = -1n
        for (const v of values) {
          const end = Date.parse(v.time)
          const before = readings.filter((r) => r.time.getTime() <= end).at(-1)
          const expected = before !== undefined && end - before.time.getTime() <= 27_000 ? before.mantissa.toString() : null
          expect(v.value).toBe(expected)
          expect(v.value === null).toBe((v.status & VALUE_STATUS.gap) !== 0)
          if (v.value !== null) { expect(BigInt(v.value) >= last).toBe(true); last = BigInt(v.value) }
        }
      },
    ), { numRuns: 40 })
  })
})

describe('TAF 1: register value at the end of the billing period', () => {
  it('reads the register at local midnight of the 1st, a gap when the meter was silent', () => {
    const p = profileOf('taf1', { schedule: { billingPeriod: 'monthly' } })
    const period = periodContaining(p, new Date('2026-11-15T12:00:00Z'))
    expect([period.start.toISOString(), period.end.toISOString()]).toEqual(['2026-10-31T23:00:00.000Z', '2026-11-30T23:00:00.000Z'])
    const readings = register(period.end.getTime() - 3_600_000, period.end.getTime() + 3_600_000, 2)
    const [s] = computeTaf1(p, { readings }, period).series
    expect(s).toMatchObject({ kind: 'reading', values: [{ time: '2026-11-30T23:00:00.000Z', value: String(1_000_000 + 1800), status: 0 }] })
    const silent = readings.filter((r) => r.time.getTime() < period.end.getTime() - 900_000 - 1)
    expect(computeTaf1(p, { readings: silent }, period).series[0]!.values[0]).toEqual({ time: '2026-11-30T23:00:00.000Z', value: null, status: VALUE_STATUS.gap })
    const yearly = periodContaining(profileOf('taf1', { schedule: { billingPeriod: 'yearly' } }), new Date('2026-06-01T00:00:00Z'))
    expect([yearly.start.toISOString(), yearly.end.toISOString()]).toEqual(['2025-12-31T23:00:00.000Z', '2026-12-31T23:00:00.000Z'])
  })
})

describe('TAF 6: daily value set and on-demand reading', () => {
  it('keeps the register at each legal midnight as a 86 400 s interval value and reads on demand', () => {
    const p = profileOf('taf6')
    const period = periodContaining(p, new Date('2026-03-29T12:00:00Z'))
    expect([period.start.toISOString(), period.end.toISOString()]).toEqual(['2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z'])
    const readings = register(period.end.getTime() - 600_000, period.end.getTime() + 600_000, 5)
    const daily = computeTaf6Daily(p, { readings }, period)
    expect(daily.series[0]!.values).toEqual([{ time: '2026-03-29T22:00:00.000Z', value: String(1_000_000 + 120), status: 0 }])
    expect(daily.intervalValues).toEqual([{ meterId: 'ehz-1', quantity: IMPORT, periodSeconds: 86_400, end: period.end, mantissa: 1_000_120n, scaler: -1, unit: 'Wh', status: 0 }])
    const now = new Date(period.end.getTime() + 7_000)
    expect(computeTaf6Reading(p, { readings }, now).series[0]!.values).toEqual([{ time: now.toISOString(), value: String(1_000_000 + 121), status: 0 }])
  })
})

describe('TAF 9, 10, 14: actual values', () => {
  const power = (fromMs: number, toMs: number) => register(fromMs, toMs, 2, { quantity: POWER, base: 1500n, perStep: 3n })
  it('gives the latest actual value within the tolerance, else a gap', () => {
    const t0 = Date.parse('2026-11-23T10:00:00Z')
    const readings = power(t0, t0 + 60_000)
    const p9 = profileOf('taf9')
    expect(computeActual(p9, { readings }, new Date(t0 + 61_000)).series[0]).toMatchObject({ kind: 'actual', obis: POWER, values: [{ value: String(1500 + 30 * 3), status: 0 }] })
    expect(computeActual(p9, { readings }, new Date(t0 + 60_000 + 61_000)).series[0]!.values[0]).toMatchObject({ value: null, status: VALUE_STATUS.gap })
    const p10 = profileOf('taf10', { channels: [{ meterId: 'ehz-1', obis: '1-0:32.7.0' }, { meterId: 'ehz-1', obis: '1-0:31.7.0' }], schedule: { everySeconds: 10 } })
    const period = periodContaining(p10, new Date(t0 + 15_000))
    expect([period.start.getTime() - t0, period.end.getTime() - t0]).toEqual([10_000, 20_000])
    const volts = register(t0, t0 + 60_000, 2, { quantity: '1-0:32.7.0*255', base: 2300n, perStep: 0n })
    const r = computeActual(p10, { readings: volts }, period.end, period.start)
    expect(r.series.map((s) => [s.obis, s.values[0]!.value])).toEqual([['1-0:32.7.0*255', '2300'], ['1-0:31.7.0*255', null]])
    expect(r.period).toEqual({ start: period.start, end: period.end })
  })
})

describe('TAF 2: tariff registers cut at switching boundaries', () => {
  const windows = { names: ['HT', 'NT'], default: 'NT', switching: [{ register: 'HT', days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '06:00', to: '22:00' }] }
  const taf2 = (extra: object = {}) => profileOf('taf2', { schedule: { billingPeriod: 'daily' }, registers: windows, ...extra })

  it('splits a Monday into NT 00–06, HT 06–22, NT 22–24 and sums per register', () => {
    const p = taf2()
    const period = periodContaining(p, new Date('2026-11-23T12:00:00Z'))
    expect(registerSegments(p, period.start, period.end).map((s) => [s.register, s.start.toISOString(), s.end.toISOString()])).toEqual([
      ['NT', '2026-11-22T23:00:00.000Z', '2026-11-23T05:00:00.000Z'],
      ['HT', '2026-11-23T05:00:00.000Z', '2026-11-23T21:00:00.000Z'],
      ['NT', '2026-11-23T21:00:00.000Z', '2026-11-23T23:00:00.000Z'],
    ])
    // 1 unit (0.1 Wh) every 10 s: 360 per hour.
    const r = computeTaf2(p, { readings: register(period.start.getTime() - 60_000, period.end.getTime() + 60_000) }, period)
    expect(r.series.map((s) => [s.register, s.values.map((v) => [v.time, v.value, v.status])])).toEqual([
      ['HT', [['2026-11-23T21:00:00.000Z', String(16 * 360), 0]]],
      ['NT', [['2026-11-23T05:00:00.000Z', String(6 * 360), 0], ['2026-11-23T23:00:00.000Z', String(8 * 360), 0]]],
    ])
    expect(r.series[0]).toMatchObject({ obis: IMPORT, unit: 'Wh', scaler: -1, kind: 'reading' })
  })

  it('counts consumption between the last reading before a boundary and the boundary for the next segment (no interpolation)', () => {
    const p = taf2({ toleranceSeconds: 60 })
    const period = periodContaining(p, new Date('2026-11-23T12:00:00Z'))
    const at = (iso: string, m: bigint): ReadingInput => ({ meterId: 'ehz-1', quantity: IMPORT, time: new Date(iso), mantissa: m, scaler: 0, unit: 'Wh' })
    const readings = [
      at('2026-11-22T22:59:30Z', 100n), // read for 00:00
      at('2026-11-23T04:59:30Z', 160n), // read for 06:00; the 40 Wh until the 05:00:30 reading count for HT
      at('2026-11-23T05:00:30Z', 200n),
      at('2026-11-23T20:59:50Z', 500n), // read for 22:00
      at('2026-11-23T22:59:59Z', 520n), // read for 24:00
    ]
    const r = computeTaf2(p, { readings }, period)
    expect(r.series.map((s) => [s.register, s.values.map((v) => v.value)])).toEqual([['HT', ['340']], ['NT', ['60', '80']]])
  })

  it('handles the autumn change: a Sunday window 01:00–04:00 lasts four hours', () => {
    const p = taf2({ registers: { names: ['HT', 'NT'], default: 'NT', switching: [{ register: 'HT', days: ['sun'], from: '01:00', to: '04:00' }] } })
    const period = periodContaining(p, new Date('2026-10-25T12:00:00Z'))
    expect(period.end.getTime() - period.start.getTime()).toBe(25 * 3_600_000)
    const r = computeTaf2(p, { readings: register(period.start.getTime() - 60_000, period.end.getTime()) }, period)
    expect(r.series.map((s) => [s.register, s.values.at(-1)!.value])).toEqual([['HT', String(4 * 360)], ['NT', String(21 * 360)]])
    // Spring: 01:00–04:00 on 29 March 2026 lasts two hours.
    const spring = periodContaining(p, new Date('2026-03-29T12:00:00Z'))
    const rs = computeTaf2(p, { readings: register(spring.start.getTime() - 60_000, spring.end.getTime()) }, spring)
    expect(rs.series.map((s) => [s.register, s.values.at(-1)!.value])).toEqual([['HT', String(2 * 360)], ['NT', String(21 * 360)]])
  })

  it('treats holidays as Sundays when asked', () => {
    const asSunday = taf2({ registers: { ...windows, holidays: 'sunday' } })
    const christmas = new Date('2026-12-25T10:00:00Z') // a Friday
    expect(activeRegister(asSunday, christmas)).toBe('NT')
    expect(activeRegister(taf2(), christmas)).toBe('HT')
  })

  it('a gap makes that total and every later total of the register a gap; a register going back is a meter error', () => {
    const p = taf2()
    const period = periodContaining(p, new Date('2026-11-23T12:00:00Z'))
    const all = register(period.start.getTime() - 60_000, period.end.getTime())
    const withoutSix = all.filter((r) => Math.abs(r.time.getTime() - Date.parse('2026-11-23T05:00:00Z')) > 1_200_000) // beyond the 900 s default
    const r = computeTaf2(p, { readings: withoutSix }, period)
    expect(r.series.map((s) => [s.register, s.values.map((v) => [v.value, v.status])])).toEqual([
      ['HT', [[null, VALUE_STATUS.gap]]],
      ['NT', [[null, VALUE_STATUS.gap], [null, VALUE_STATUS.gap]]],
    ])
    const back = all.map((x) => (x.time.getTime() > Date.parse('2026-11-23T15:00:00Z') ? { ...x, mantissa: x.mantissa - 100_000n } : x))
    const rb = computeTaf2(p, { readings: back }, period)
    expect(rb.series[0]!.values[0]).toEqual({ time: '2026-11-23T21:00:00.000Z', value: null, status: VALUE_STATUS.gap | VALUE_STATUS.meterError })
  })

  it('property: per-register totals add up to the meter advance over the period when nothing is missing', () => {
    fc.assert(fc.property(fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2060, 0, 1) }), fc.array(fc.nat(9), { minLength: 1, maxLength: 50 }), (ms, incs) => {
      const p = taf2()
      const period = periodStartingAt(p, startOfLegalDay(new Date(ms)))
      const readings: ReadingInput[] = []
      let v = 0n
      for (let t = period.start.getTime() - 20_000, i = 0; t <= period.end.getTime(); t += 20_000, i++) {
        v += BigInt(incs[i % incs.length]!)
        readings.push({ meterId: 'ehz-1', quantity: IMPORT, time: new Date(t), mantissa: v, scaler: 0, unit: 'Wh' })
      }
      const r = computeTaf2(p, { readings }, period)
      const totals = r.series.map((s) => BigInt(s.values.at(-1)?.value ?? '0'))
      const first = readings.filter((x) => x.time.getTime() <= period.start.getTime()).at(-1)!.mantissa
      const last = readings.filter((x) => x.time.getTime() <= period.end.getTime()).at(-1)!.mantissa
      expect(totals.reduce((a, b) => a + b, 0n)).toBe(last - first)
      for (const s of r.series) for (let i = 1; i < s.values.length; i++) expect(BigInt(s.values[i]!.value!) >= BigInt(s.values[i - 1]!.value!)).toBe(true)
    }), { numRuns: 40 })
  })
})

describe('schedules', () => {
  it('cuts TAF 7 send periods on the local clock, including change days', () => {
    const p = taf7({ schedule: { send: { everyHours: 6 } } })
    const spring = periodContaining(p, new Date('2026-03-29T02:00:00Z')) // 04:00 MESZ
    expect([spring.start.toISOString(), spring.end.toISOString()]).toEqual(['2026-03-28T23:00:00.000Z', '2026-03-29T04:00:00.000Z']) // 00:00–06:00 local, 5 h
    const daily = periodContaining(taf7(), new Date('2026-11-23T12:00:00Z'))
    expect(daily.dueAt.toISOString()).toBe('2026-11-23T23:30:00.000Z')
    expect(codeOf(() => periodStartingAt(p, new Date('2026-03-29T01:00:00Z')))).toBe('TAF_INPUT_INVALID')
    expect(codeOf(() => periodContaining(profileOf('taf9'), new Date()))).toBe('TAF_INPUT_INVALID')
  })
})
