import { VALUE_STATUS, type MeterValue } from '@smgw/meter-data'
import { fromLegalTime, isNationalHoliday, toLegalTime } from '@smgw/legal-time'
import { GatewayError } from '../errors.js'
import type { IntervalValueInput, ReadingInput } from '../store/types.js'
import { clockMinutes, type TafChannel, type TariffProfile, type TariffProfileOf, type Weekday } from './profile.js'

/*
 * The tariff use cases as pure functions: readings from the store (sorted by value time),
 * a period, and the periods in which legal time was not assured → meter-data series.
 *
 * Register value at a boundary t: the last reading of the channel with time ≤ t and
 * t − time ≤ tolerance (TOLERANCE below). Older or none: a gap — value null, status gap.
 * Nothing is ever interpolated, extrapolated or substituted (issue 6: "gaps are never
 * silently filled"). Status bits (VALUE_STATUS of @smgw/meter-data):
 *  - timeInvalid: t, or the time of the reading used, lies in a period where legal time
 *    was not assured (the legal clock's invalid periods, [from, to));
 *  - meterError: the reading's own status word has a bit of the channel's meterErrorMask,
 *    or its unit differs from the series' unit;
 *  - gap: no value.
 */

/** [from, to): legal time not assured (unsynchronised, restricted); `to` absent while it lasts. */
export interface TimeInvalidPeriod {
  readonly from: Date
  readonly to?: Date
}

export interface TafInput {
  /** Readings of the profile's channels (others are ignored), sorted by value time. */
  readonly readings: readonly ReadingInput[]
  readonly invalidTime?: readonly TimeInvalidPeriod[]
}

/** A computed series: the meter-data series plus where it came from (for aggregation and storage). */
export interface TafSeries {
  readonly meterId: string
  readonly meteringPoint: string
  readonly obis: string
  readonly unit?: string
  readonly scaler: number
  readonly kind: 'reading' | 'profile' | 'actual'
  readonly register?: string
  readonly periodSeconds?: number
  readonly values: readonly MeterValue[]
}

export interface TafComputation {
  readonly period: { readonly start: Date; readonly end: Date }
  readonly series: readonly TafSeries[]
  /** Values to keep as interval values (TAF 7 profile values, TAF 6 daily values); gaps are absent rows. */
  readonly intervalValues: readonly IntervalValueInput[]
}

/** wireless M-Bus TPL status byte (EN 13757-7:2018 §7.5.6): application error states 10/11 (bit 1), permanent error (bit 3), temporary error (bit 4). */
export const MBUS_ERROR_MASK = 0x1a
const OBIS_KEY = /^\d{1,3}-\d{1,3}:\d{1,3}\.\d{1,3}\.\d{1,3}\*\d{1,3}$/

/**
 * Default tolerance in seconds: 3 % of the registration period (TR-03109-1: legal time may
 * deviate by 3 % of the registration period, 27 s for 15 min), between 1 s and 900 s; for
 * actual values the sending interval (TAF 10/14) or 60 s (TAF 9).
 */
export function toleranceSecondsOf(profile: TariffProfile): number {
  if (profile.toleranceSeconds !== undefined) return profile.toleranceSeconds
  const clamp = (registrationSeconds: number): number => Math.min(900, Math.max(1, Math.round(registrationSeconds * 0.03)))
  switch (profile.useCase) {
    case 'taf7': return clamp(profile.schedule.periodSeconds)
    case 'taf1': case 'taf2': case 'taf6': return clamp(86_400)
    case 'taf9': return 60
    case 'taf10': case 'taf14': return profile.schedule.everySeconds
  }
}

interface Channel {
  readonly channel: TafChannel
  readonly meteringPoint: string
  readonly quantity: string
  readonly errorMask: bigint
  readonly readings: ReadingInput[]
  readonly times: number[]
}

function channelsOf(profile: TariffProfile, input: TafInput): Channel[] {
  const channels: Channel[] = profile.channels.map((c) => {
    const quantity = c.quantity ?? c.obis
    const mask = c.meterErrorMask ?? (OBIS_KEY.test(quantity) ? 0 : MBUS_ERROR_MASK)
    return { channel: c, meteringPoint: c.meteringPoint ?? profile.meteringPoint, quantity, errorMask: BigInt(mask), readings: [], times: [] }
  })
  const byKey = new Map(channels.map((c) => [`${c.channel.meterId}\u0000${c.quantity}`, c]))
  let last = Number.NEGATIVE_INFINITY
  input.readings.forEach((r, i) => {
    const t = r.time.getTime()
    if (!(t >= last)) throw new GatewayError('TAF_INPUT_INVALID', `readings must be sorted by time: reading ${i} (${Number.isFinite(t) ? r.time.toISOString() : 'invalid'}) is before its predecessor`)
    last = t
    const c = byKey.get(`${r.meterId}\u0000${r.quantity}`)
    if (c !== undefined) { c.readings.push(r); c.times.push(t) }
  })
  return channels
}

/** Index of the last element ≤ t, or −1. */
function lastAtOrBefore(times: readonly number[], t: number): number {
  let lo = 0
  let hi = times.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (times[mid]! <= t) lo = mid + 1
    else hi = mid
  }
  return lo - 1
}

function invalidAt(periods: readonly TimeInvalidPeriod[], t: number): boolean {
  return periods.some((p) => t >= p.from.getTime() && (p.to === undefined || t < p.to.getTime()))
}

/** A register or actual value at an instant, before scaling into its series. */
interface Point {
  readonly time: Date
  readonly mantissa: bigint | null
  readonly scaler: number
  readonly unit: string | undefined
  readonly status: number
}

function pointAt(c: Channel, at: Date, toleranceMs: number, invalid: readonly TimeInvalidPeriod[]): Point {
  const t = at.getTime()
  const i = lastAtOrBefore(c.times, t)
  const reading = i >= 0 && t - c.times[i]! <= toleranceMs ? c.readings[i] : undefined
  let status = invalidAt(invalid, t) ? VALUE_STATUS.timeInvalid : 0
  if (reading === undefined) return { time: at, mantissa: null, scaler: 0, unit: undefined, status: status | VALUE_STATUS.gap }
  if (invalidAt(invalid, reading.time.getTime())) status |= VALUE_STATUS.timeInvalid
  if (reading.status !== undefined && (reading.status & c.errorMask) !== 0n) status |= VALUE_STATUS.meterError
  return { time: at, mantissa: reading.mantissa, scaler: reading.scaler, unit: reading.unit, status }
}

const pow10 = (n: number): bigint => 10n ** BigInt(n)

/** Brings points to one scaler (the smallest: exact) and one unit; a point in another unit is a meter error. */
function toSeries(c: Channel, points: readonly Point[], shape: Pick<TafSeries, 'kind' | 'register' | 'periodSeconds'>): TafSeries {
  const present = points.filter((p) => p.mantissa !== null)
  const scaler = present.length === 0 ? 0 : Math.min(...present.map((p) => p.scaler))
  const unit = present[0]?.unit
  const values: MeterValue[] = points.map((p) => {
    if (p.mantissa === null) return { time: p.time.toISOString(), value: null, status: p.status }
    const status = p.unit === unit ? p.status : p.status | VALUE_STATUS.meterError
    return { time: p.time.toISOString(), value: (p.mantissa * pow10(p.scaler - scaler)).toString(), status }
  })
  return {
    meterId: c.channel.meterId, meteringPoint: c.meteringPoint, obis: c.channel.obis, scaler, kind: shape.kind, values,
    ...(unit === undefined ? {} : { unit }),
    ...(shape.register === undefined ? {} : { register: shape.register }),
    ...(shape.periodSeconds === undefined ? {} : { periodSeconds: shape.periodSeconds }),
  }
}

function checkPeriod(start: Date, end: Date): void {
  if (!(start.getTime() < end.getTime())) throw new GatewayError('TAF_INPUT_INVALID', 'a period must end after it starts')
}

/** Interval values for the store: measured values only (the table has no gap rows). */
function intervalValuesOf(series: readonly TafSeries[], periodSeconds: number): IntervalValueInput[] {
  const out: IntervalValueInput[] = []
  for (const s of series) {
    for (const v of s.values) {
      if (v.value === null) continue
      out.push({ meterId: s.meterId, quantity: s.obis, periodSeconds, end: new Date(v.time), mantissa: BigInt(v.value), scaler: s.scaler, status: v.status, ...(s.unit === undefined ? {} : { unit: s.unit }) })
    }
  }
  return out
}

/** Register values of every channel at the given instants (TAF 1, TAF 6). */
function readingsAt(profile: TariffProfile, input: TafInput, instants: readonly Date[]): TafSeries[] {
  const tol = toleranceSecondsOf(profile) * 1000
  const invalid = input.invalidTime ?? []
  return channelsOf(profile, input).map((c) => toSeries(c, instants.map((t) => pointAt(c, t, tol, invalid)), { kind: 'reading' }))
}

/** TAF 1: the register value of every channel at the end of the billing period (local midnight of the 1st). */
export function computeTaf1(profile: TariffProfileOf<'taf1'>, input: TafInput, period: { readonly start: Date; readonly end: Date }): TafComputation {
  checkPeriod(period.start, period.end)
  return { period, series: readingsAt(profile, input, [period.end]), intervalValues: [] }
}

/** TAF 6 daily value set: the register of every channel at the end of a legal day (kept 42 days as 86 400 s interval values). */
export function computeTaf6Daily(profile: TariffProfileOf<'taf6'>, input: TafInput, day: { readonly start: Date; readonly end: Date }): TafComputation {
  checkPeriod(day.start, day.end)
  const series = readingsAt(profile, input, [day.end])
  return { period: day, series, intervalValues: intervalValuesOf(series, 86_400) }
}

/** TAF 6 on-demand reading: the register of every channel at one instant. */
export function computeTaf6Reading(profile: TariffProfileOf<'taf6'>, input: TafInput, at: Date): TafComputation {
  return { period: { start: at, end: at }, series: readingsAt(profile, input, [at]), intervalValues: [] }
}

/**
 * TAF 7: register values at the end of every registration period in (start, end] — the
 * period's boundaries are legal-time boundaries, so a legal day has 96 quarter-hour values,
 * 92 on the last Sunday in March and 100 on the last Sunday in October.
 */
export function computeTaf7(profile: TariffProfileOf<'taf7'>, input: TafInput, period: { readonly start: Date; readonly end: Date }): TafComputation {
  checkPeriod(period.start, period.end)
  const step = profile.schedule.periodSeconds * 1000
  const span = period.end.getTime() - period.start.getTime()
  if (span % step !== 0 || period.start.getTime() % step !== 0) throw new GatewayError('TAF_INPUT_INVALID', `period ${period.start.toISOString()}–${period.end.toISOString()} is not on ${profile.schedule.periodSeconds} s boundaries`)
  const ends: Date[] = []
  for (let t = period.start.getTime() + step; t <= period.end.getTime(); t += step) ends.push(new Date(t))
  const tol = toleranceSecondsOf(profile) * 1000
  const invalid = input.invalidTime ?? []
  const series = channelsOf(profile, input).map((c) => toSeries(c, ends.map((t) => pointAt(c, t, tol, invalid)), { kind: 'profile', periodSeconds: profile.schedule.periodSeconds }))
  return { period, series, intervalValues: intervalValuesOf(series, profile.schedule.periodSeconds) }
}

/** Actual values (power, voltage, current) of every channel at an instant: TAF 9 on request, TAF 10/14 at each period end. */
export function computeActual(profile: TariffProfileOf<'taf9' | 'taf10' | 'taf14'>, input: TafInput, at: Date, start = at): TafComputation {
  const tol = toleranceSecondsOf(profile) * 1000
  const invalid = input.invalidTime ?? []
  const series = channelsOf(profile, input).map((c) => toSeries(c, [pointAt(c, at, tol, invalid)], { kind: 'actual' }))
  return { period: { start, end: at }, series, intervalValues: [] }
}

const WEEKDAY_NAMES: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']

/** The tariff register active at an instant under a TAF 2 switching schedule (local legal time). */
export function activeRegister(profile: TariffProfileOf<'taf2'>, at: Date): string {
  const t = toLegalTime(at)
  const { registers } = profile
  const weekday = registers.holidays === 'sunday' && isNationalHoliday(t.year, t.month, t.day) ? 'sun' : WEEKDAY_NAMES[t.weekday]!
  const minute = t.hour * 60 + t.minute + t.second / 60 + t.millisecond / 60_000
  const window = registers.switching.find((w) => w.days.includes(weekday) && clockMinutes(w.from) <= minute && minute < clockMinutes(w.to))
  return window?.register ?? registers.default
}

/** A stretch of time in which one tariff register is active. */
export interface RegisterSegment {
  readonly start: Date
  readonly end: Date
  readonly register: string
}

/**
 * The switching segments of a TAF 2 profile within [start, end): each switching time is
 * the local clock time of a window's `from`/`to` on each day (a time in the skipped spring
 * hour moves on by an hour, one in the doubled autumn hour is its first occurrence:
 * @smgw/legal-time's fromLegalTime rule), adjacent segments of one register merged.
 */
export function registerSegments(profile: TariffProfileOf<'taf2'>, start: Date, end: Date): RegisterSegment[] {
  checkPeriod(start, end)
  // Candidate instants: every quarter hour on the local clock would be exact but slow for a
  // year; the windows' own edges are enough — the register can only change there or at midnight.
  const edges = new Set<number>([start.getTime(), end.getTime()])
  const minutes = new Set<number>([0])
  for (const w of profile.registers.switching) { minutes.add(clockMinutes(w.from)); minutes.add(clockMinutes(w.to) % 1440) }
  const first = toLegalTime(start)
  for (let d = 0; ; d++) {
    const day = new Date(Date.UTC(first.year, first.month - 1, first.day + d))
    let beyond = false
    for (const m of minutes) {
      const t = legalInstant(day, m)
      if (t > start.getTime() && t < end.getTime()) edges.add(t)
      if (m === 0 && t >= end.getTime()) beyond = true
    }
    if (beyond) break
  }
  const sorted = [...edges].sort((a, b) => a - b)
  const segments: RegisterSegment[] = []
  for (let i = 0; i + 1 < sorted.length; i++) {
    const register = activeRegister(profile, new Date(sorted[i]!))
    const prev = segments.at(-1)
    if (prev !== undefined && prev.register === register) segments[segments.length - 1] = { ...prev, end: new Date(sorted[i + 1]!) }
    else segments.push({ start: new Date(sorted[i]!), end: new Date(sorted[i + 1]!), register })
  }
  return segments
}

function legalInstant(dayUtc: Date, minute: number): number {
  return fromLegalClock(dayUtc.getUTCFullYear(), dayUtc.getUTCMonth() + 1, dayUtc.getUTCDate(), minute)
}

function fromLegalClock(year: number, month: number, day: number, minute: number): number {
  return fromLegalTime(year, month, day, Math.floor(minute / 60), minute % 60).getTime()
}

/**
 * TAF 2: consumption split into tariff registers. The meter register is read at every
 * switching boundary (the last reading at or before it within the tolerance — consumption
 * between that reading and the boundary counts for the next segment, never split by
 * interpolation); each segment's consumption R(end) − R(start) goes to its register. A
 * series per channel and register holds the register's running total since the period
 * start at the end of each of its segments. A segment with a gap at either end makes that
 * and every later total of its register a gap (an unknown addend stays unknown); a meter
 * register that goes backwards is a gap with meterError.
 */
export function computeTaf2(profile: TariffProfileOf<'taf2'>, input: TafInput, period: { readonly start: Date; readonly end: Date }): TafComputation {
  const segments = registerSegments(profile, period.start, period.end)
  const tol = toleranceSecondsOf(profile) * 1000
  const invalid = input.invalidTime ?? []
  const series: TafSeries[] = []
  for (const c of channelsOf(profile, input)) {
    const bounds = [segments[0]!.start, ...segments.map((s) => s.end)].map((t) => pointAt(c, t, tol, invalid))
    const present = bounds.filter((p) => p.mantissa !== null)
    const scaler = present.length === 0 ? 0 : Math.min(...present.map((p) => p.scaler))
    const unit = present[0]?.unit
    const scaled = (p: Point): bigint | null => (p.mantissa === null || p.unit !== unit ? null : p.mantissa * pow10(p.scaler - scaler))
    for (const name of profile.registers.names) {
      let total: bigint | null = 0n
      let carried = 0
      const values: MeterValue[] = []
      segments.forEach((s, i) => {
        if (s.register !== name) return
        const a = bounds[i]!
        const b = bounds[i + 1]!
        const [va, vb] = [scaled(a), scaled(b)]
        let status = (a.status | b.status) & ~VALUE_STATUS.gap
        if (a.unit !== b.unit && a.mantissa !== null && b.mantissa !== null) status |= VALUE_STATUS.meterError
        if (va === null || vb === null) total = null
        else if (vb < va) { total = null; status |= VALUE_STATUS.meterError }
        else if (total !== null) total += vb - va
        carried |= status
        values.push(total === null
          ? { time: s.end.toISOString(), value: null, status: carried | VALUE_STATUS.gap }
          : { time: s.end.toISOString(), value: total.toString(), status: carried })
      })
      series.push({
        meterId: c.channel.meterId, meteringPoint: c.meteringPoint, obis: c.channel.obis, scaler, kind: 'reading', register: name, values,
        ...(unit === undefined ? {} : { unit }),
      })
    }
  }
  return { period, series, intervalValues: [] }
}

/**
 * TAF 6 on request with the daily value set: the kept daily values (period 86 400 s) of
 * each channel before the reading's instant, then the reading itself, in one `reading`
 * series, brought to one scaler exactly. The period starts at the first daily value.
 */
export function withDailyValues(computation: TafComputation, daily: readonly IntervalValueInput[]): TafComputation {
  const at = computation.period.end.getTime()
  let start = computation.period.start.getTime()
  const series = computation.series.map((s) => {
    const kept = daily
      .filter((v) => v.meterId === s.meterId && v.quantity === s.obis && v.periodSeconds === 86_400 && v.end.getTime() < at)
      .sort((a, b) => a.end.getTime() - b.end.getTime())
    if (kept.length === 0) return s
    start = Math.min(start, kept[0]!.end.getTime())
    const current = s.values.some((v) => v.value !== null) ? [s.scaler] : []
    const scaler = Math.min(...current, ...kept.map((v) => v.scaler))
    const unit = s.values.some((v) => v.value !== null) ? s.unit : kept[0]!.unit
    const rescale = (v: MeterValue): MeterValue => (v.value === null ? v : { ...v, value: (BigInt(v.value) * pow10(s.scaler - scaler)).toString() })
    const values: MeterValue[] = [
      ...kept.map((v) => ({ time: v.end.toISOString(), value: (v.mantissa * pow10(v.scaler - scaler)).toString(), status: v.unit === unit ? v.status : v.status | VALUE_STATUS.meterError })),
      ...s.values.map(rescale),
    ]
    return { ...s, scaler, values, ...(unit === undefined ? {} : { unit }) }
  })
  return { ...computation, period: { start: new Date(start), end: computation.period.end }, series }
}
