import { LegalTimeError } from './errors.js'

/*
 * German legal time (gesetzliche Zeit) from the rules, not from the host's time-zone
 * database: results are the same on every host, whatever TZ or ICU data it has.
 *
 * EinhZeitG (Einheiten- und Zeitgesetz, 2008) §4(1): legal time is Central European Time
 * (MEZ, UTC+1); §4(2) with §5 and the SZV: Central European Summer Time (MESZ, UTC+2)
 * during the summer-time period. Directive 2000/84/EC Art. 2–3: the summer-time period
 * begins at 01:00 UTC on the last Sunday in March and ends at 01:00 UTC on the last Sunday
 * in October (so the local clock goes 02:00 → 03:00 in spring and 03:00 → 02:00 in autumn).
 * Earlier years (the Zeitgesetz of 1978 and the Sommerzeitverordnungen under it, following
 * the EC summer-time directives 80/737/EEC … 94/21/EC): 1980 from 6 April to 28 September;
 * 1981–1995 from the last Sunday in March to the last Sunday in September, also at 01:00 UTC.
 * Before 1980 there was no summer time since 1949; this package starts at 1 January 1980.
 */

/** The local calendar view of an instant in German legal time. */
export interface LegalDateTime {
  readonly year: number
  /** 1–12 */
  readonly month: number
  /** 1–31 */
  readonly day: number
  /** 0–23, as the local clock shows it (02 twice on the autumn change day, never on the spring one). */
  readonly hour: number
  /** 0–59 */
  readonly minute: number
  /** 0–59 */
  readonly second: number
  /** 0–999 */
  readonly millisecond: number
  /** 0 = Sunday … 6 = Saturday. */
  readonly weekday: number
  /** 1–366 */
  readonly dayOfYear: number
  /** UTC offset in hours: 1 (MEZ) or 2 (MESZ). */
  readonly offset: 1 | 2
}

/** How `fromLegalTime` resolves local times that do not exist once. */
export interface FromLegalTimeOptions {
  readonly second?: number
  readonly millisecond?: number
  /**
   * A local time in the skipped hour of the spring change (02:00–02:59 on the last Sunday in
   * March): 'forward' (default) reads it with the offset in force before the change (MEZ), so
   * 02:30 becomes 01:30 UTC = 03:30 MESZ, the clock time one hour on, as a clock that was not
   * set forward would show it; 'reject' throws LEGAL_TIME_NONEXISTENT.
   */
  readonly skipped?: 'forward' | 'reject'
  /**
   * A local time in the doubled hour of the autumn change (02:00–02:59 on the last Sunday in
   * October, once in MESZ and once in MEZ): 'earlier' (default) the first occurrence (MESZ),
   * 'later' the second (MEZ), 'reject' throws LEGAL_TIME_AMBIGUOUS.
   */
  readonly repeated?: 'earlier' | 'later' | 'reject'
}

const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000
const FIRST_YEAR = 1980
const LAST_YEAR = 9999
/** 1 January 1980 00:00 MEZ. */
const MIN_MS = Date.UTC(FIRST_YEAR, 0, 1) - HOUR_MS
/** 1 January 10000 00:00 MEZ (exclusive). */
const MAX_MS = Date.UTC(LAST_YEAR + 1, 0, 1) - HOUR_MS

/** Day of month of the last Sunday of `month` (1–12). */
function lastSunday(year: number, month: number): number {
  const last = new Date(Date.UTC(year, month, 0))
  return last.getUTCDate() - last.getUTCDay()
}

/** A summer-time rule for a range of years: the period as [start, end) in UTC milliseconds. */
interface SummerTimeRule {
  readonly firstYear: number
  readonly lastYear: number
  readonly period: (year: number) => readonly [number, number]
  readonly source: string
}

/** The rules as data, oldest first. */
export const SUMMER_TIME_RULES: readonly SummerTimeRule[] = [
  { firstYear: 1980, lastYear: 1980, period: () => [Date.UTC(1980, 3, 6, 1), Date.UTC(1980, 8, 28, 1)], source: 'SZV 1979 (Zeitgesetz 1978 §3); Directive 80/737/EEC' },
  { firstYear: 1981, lastYear: 1995, period: (y) => [Date.UTC(y, 2, lastSunday(y, 3), 1), Date.UTC(y, 8, lastSunday(y, 9), 1)], source: 'Directives 80/737/EEC … 92/20/EEC; SZV under the Zeitgesetz 1978' },
  { firstYear: 1996, lastYear: LAST_YEAR, period: (y) => [Date.UTC(y, 2, lastSunday(y, 3), 1), Date.UTC(y, 9, lastSunday(y, 10), 1)], source: 'Directive 94/21/EC, then 2000/84/EC Art. 2–3; SZV 2001, EinhZeitG 2008 §4–5' },
]

function summerPeriod(year: number): readonly [number, number] | undefined {
  const rule = SUMMER_TIME_RULES.find((r) => year >= r.firstYear && year <= r.lastYear)
  return rule?.period(year)
}

function checkInstant(at: Date): number {
  const ms = at.getTime()
  if (!Number.isFinite(ms)) throw new LegalTimeError('LEGAL_TIME_INVALID_DATE', 'not a valid Date')
  if (ms < MIN_MS || ms >= MAX_MS) throw new LegalTimeError('LEGAL_TIME_OUT_OF_RANGE', `${at.toISOString()} is outside legal time 1980–9999 as this package knows it`)
  return ms
}

function offsetAtMs(ms: number): 1 | 2 {
  const period = summerPeriod(new Date(ms).getUTCFullYear())
  return period !== undefined && ms >= period[0] && ms < period[1] ? 2 : 1
}

/** The UTC offset of legal time at an instant, in hours: 1 (MEZ) or 2 (MESZ). */
export function legalOffset(at: Date): 1 | 2 {
  return offsetAtMs(checkInstant(at))
}

/** The local calendar and clock view of an instant in German legal time. */
export function toLegalTime(at: Date): LegalDateTime {
  const ms = checkInstant(at)
  const offset = offsetAtMs(ms)
  const local = new Date(ms + offset * HOUR_MS)
  const year = local.getUTCFullYear()
  const dayStart = Date.UTC(year, local.getUTCMonth(), local.getUTCDate())
  return {
    year,
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    hour: local.getUTCHours(),
    minute: local.getUTCMinutes(),
    second: local.getUTCSeconds(),
    millisecond: local.getUTCMilliseconds(),
    weekday: local.getUTCDay(),
    dayOfYear: Math.round((dayStart - Date.UTC(year, 0, 1)) / DAY_MS) + 1,
    offset,
  }
}

const isInt = (v: number, min: number, max: number): boolean => Number.isInteger(v) && v >= min && v <= max

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate()
}

/**
 * The instant a local legal date and clock time denotes. Every local time exists exactly
 * once except in the two change hours; see `FromLegalTimeOptions` for the rule applied there.
 */
export function fromLegalTime(year: number, month: number, day: number, hour = 0, minute = 0, options: FromLegalTimeOptions = {}): Date {
  const second = options.second ?? 0
  const millisecond = options.millisecond ?? 0
  if (!isInt(year, FIRST_YEAR, LAST_YEAR)) {
    throw new LegalTimeError(Number.isInteger(year) ? 'LEGAL_TIME_OUT_OF_RANGE' : 'LEGAL_TIME_INVALID_DATE', `year ${year} is not an integer in ${FIRST_YEAR}–${LAST_YEAR}`)
  }
  if (!isInt(month, 1, 12) || !isInt(day, 1, daysInMonth(year, month)) || !isInt(hour, 0, 23) || !isInt(minute, 0, 59) || !isInt(second, 0, 59) || !isInt(millisecond, 0, 999)) {
    throw new LegalTimeError('LEGAL_TIME_INVALID_DATE', `${year}-${month}-${day} ${hour}:${minute}:${second}.${millisecond} is not a date and clock time`)
  }
  const wall = Date.UTC(year, month - 1, day, hour, minute, second, millisecond)
  const winter = wall - HOUR_MS
  const summer = wall - 2 * HOUR_MS
  const winterFits = winter >= MIN_MS && offsetAtMs(winter) === 1
  const summerFits = summer >= MIN_MS && offsetAtMs(summer) === 2
  const text = (): string => `${year}-${pad(month)}-${pad(day)} ${pad(hour)}:${pad(minute)}`
  if (winterFits && summerFits) {
    const rule = options.repeated ?? 'earlier'
    if (rule === 'reject') throw new LegalTimeError('LEGAL_TIME_AMBIGUOUS', `${text()} occurs twice in legal time (autumn change)`)
    return new Date(rule === 'earlier' ? summer : winter)
  }
  if (summerFits) return new Date(summer)
  if (winterFits) return new Date(winter)
  if ((options.skipped ?? 'forward') === 'reject') throw new LegalTimeError('LEGAL_TIME_NONEXISTENT', `${text()} does not exist in legal time (spring change)`)
  return new Date(winter)
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0')

/** The legal day of an instant: its calendar date in legal time, 'YYYY-MM-DD'. */
export function legalDayOf(at: Date): string {
  const t = toLegalTime(at)
  return `${pad(t.year, 4)}-${pad(t.month)}-${pad(t.day)}`
}

/** ISO 8601 with the legal offset, e.g. '2026-03-29T03:00:00.000+02:00'. */
export function formatLegalTime(at: Date): string {
  const t = toLegalTime(at)
  return `${pad(t.year, 4)}-${pad(t.month)}-${pad(t.day)}T${pad(t.hour)}:${pad(t.minute)}:${pad(t.second)}.${pad(t.millisecond, 3)}+0${t.offset}:00`
}

/** Reads 'YYYY-MM-DD' (a real date) into its fields; LEGAL_TIME_INVALID_DATE otherwise. */
export function parseLegalDay(day: string): { readonly year: number; readonly month: number; readonly day: number } {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day)
  if (m === null) throw new LegalTimeError('LEGAL_TIME_INVALID_DATE', `${JSON.stringify(day)} is not a day YYYY-MM-DD`)
  const [year, month, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (!isInt(month, 1, 12) || !isInt(d, 1, daysInMonth(year, month))) throw new LegalTimeError('LEGAL_TIME_INVALID_DATE', `${day} is not a calendar date`)
  if (!isInt(year, FIRST_YEAR, LAST_YEAR)) throw new LegalTimeError('LEGAL_TIME_OUT_OF_RANGE', `${day} is outside ${FIRST_YEAR}–${LAST_YEAR}`)
  return { year, month, day: d }
}

/**
 * The start (local midnight) of a legal day, given an instant in it or the day as
 * 'YYYY-MM-DD'. Midnight exists exactly once on every German day (the changes happen at 02:00).
 */
export function startOfLegalDay(at: Date | string): Date {
  const t = typeof at === 'string' ? parseLegalDay(at) : toLegalTime(at)
  return fromLegalTime(t.year, t.month, t.day)
}

/**
 * The same local clock time `days` calendar days later (or earlier, negative): from a day's
 * start this gives that day's start, so a legal day is 23, 24 or 25 hours long. A clock time
 * that falls into a change hour on the target day follows `fromLegalTime`'s defaults.
 */
export function addLegalDays(at: Date, days: number): Date {
  if (!Number.isInteger(days)) throw new LegalTimeError('LEGAL_TIME_INVALID_DATE', `days must be an integer, got ${days}`)
  const t = toLegalTime(at)
  const target = new Date(Date.UTC(t.year, t.month - 1, t.day + days))
  return fromLegalTime(target.getUTCFullYear(), target.getUTCMonth() + 1, target.getUTCDate(), t.hour, t.minute, { second: t.second, millisecond: t.millisecond })
}

/** Local midnight of the 1st of the legal month an instant lies in. */
export function startOfLegalMonth(at: Date): Date {
  const t = toLegalTime(at)
  return fromLegalTime(t.year, t.month, 1)
}

/** The start of the legal month `months` months after (negative: before) the legal month of `at`. */
export function addLegalMonths(at: Date, months: number): Date {
  if (!Number.isInteger(months)) throw new LegalTimeError('LEGAL_TIME_INVALID_DATE', `months must be an integer, got ${months}`)
  const t = toLegalTime(at)
  const index = t.year * 12 + (t.month - 1) + months
  return fromLegalTime(Math.floor(index / 12), (index % 12) + 1, 1)
}

/**
 * The ends of the registration periods within a legal day, in order: the first is the day's
 * start + one period, the last the next day's start. `periodSeconds` divides 3600 (the
 * changes move the clock by whole hours, so every end is also a local clock boundary) or is
 * 86 400 (one daily value at the next local midnight). 15 minutes: 96 ends, 92 on the spring
 * change day, 100 on the autumn change day.
 */
export function legalIntervalEnds(day: Date | string, periodSeconds: number): Date[] {
  if (!(Number.isInteger(periodSeconds) && periodSeconds > 0 && (3600 % periodSeconds === 0 || periodSeconds === 86_400))) {
    throw new LegalTimeError('LEGAL_TIME_PERIOD_INVALID', `a registration period of ${periodSeconds} s neither divides the hour nor is a day`)
  }
  const start = startOfLegalDay(day)
  const end = addLegalDays(start, 1).getTime()
  if (periodSeconds === 86_400) return [new Date(end)]
  const step = periodSeconds * 1000
  const ends: Date[] = []
  for (let t = start.getTime() + step; t <= end; t += step) ends.push(new Date(t))
  return ends
}

/** Length of a legal day in hours: 23 (spring change), 25 (autumn change) or 24. */
export function legalDayHours(day: Date | string): 23 | 24 | 25 {
  const start = startOfLegalDay(day)
  return ((addLegalDays(start, 1).getTime() - start.getTime()) / HOUR_MS) as 23 | 24 | 25
}
