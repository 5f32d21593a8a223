/**
 * German legal time (MEZ/MESZ, Europe/Berlin) and the BDEW day classification, computed
 * from the rules instead of the host's time-zone database so results do not depend on it.
 */

/** The local calendar view of an instant in German legal time. */
export interface LegalTime {
  readonly year: number
  /** 1–12 */
  readonly month: number
  /** 1–31 */
  readonly day: number
  /** Hours since local midnight, fractional (0 ≤ h < 24; 23 or 25 h days are folded onto the clock). */
  readonly hour: number
  /** 0 = Sunday … 6 = Saturday (local date). */
  readonly weekday: number
  /** 1–366 */
  readonly dayOfYear: number
  /** UTC offset in hours: 1 (MEZ) or 2 (MESZ). */
  readonly offset: 1 | 2
}

export type DayType = 'workday' | 'saturday' | 'sunday'
export type Season = 'winter' | 'summer' | 'transition'

const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000

/** Day of month of the last Sunday of `month` (1–12). */
function lastSunday(year: number, month: number): number {
  const last = new Date(Date.UTC(year, month, 0))
  return last.getUTCDate() - last.getUTCDay()
}

/**
 * Summer time runs from the last Sunday of March 01:00 UTC to the last Sunday of October
 * 01:00 UTC (Directive 2000/84/EC Art. 1–2; Zeitgesetz 1978 / SZV for Germany).
 */
export function legalOffset(at: Date): 1 | 2 {
  const ms = at.getTime()
  const year = at.getUTCFullYear()
  const start = Date.UTC(year, 2, lastSunday(year, 3), 1)
  const end = Date.UTC(year, 9, lastSunday(year, 10), 1)
  return ms >= start && ms < end ? 2 : 1
}

export function toLegalTime(at: Date): LegalTime {
  const offset = legalOffset(at)
  const local = new Date(at.getTime() + offset * HOUR_MS)
  const year = local.getUTCFullYear()
  const dayOfYear = Math.floor((Date.UTC(year, local.getUTCMonth(), local.getUTCDate()) - Date.UTC(year, 0, 1)) / DAY_MS) + 1
  const msOfDay = local.getTime() - Date.UTC(year, local.getUTCMonth(), local.getUTCDate())
  return {
    year,
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    hour: msOfDay / HOUR_MS,
    weekday: local.getUTCDay(),
    dayOfYear,
    offset,
  }
}

/** Easter Sunday (Gregorian; anonymous algorithm, Meeus/Jones/Butcher) as [month, day]. */
export function easterSunday(year: number): readonly [number, number] {
  const a = year % 19
  const b = Math.floor(year / 100)
  const c = year % 100
  const d = Math.floor(b / 4)
  const e = b % 4
  const f = Math.floor((b + 8) / 25)
  const g = Math.floor((b - f + 1) / 3)
  const h = (19 * a + b - d - g + 15) % 30
  const i = Math.floor(c / 4)
  const k = c % 4
  const l = (32 + 2 * e + 2 * i - h - k) % 7
  const m = Math.floor((a + 11 * h + 22 * l) / 451)
  const month = Math.floor((h + l - 7 * m + 114) / 31)
  const day = ((h + l - 7 * m + 114) % 31) + 1
  return [month, day]
}

/** Nationwide public holidays in Germany (regional ones, e.g. Fronleichnam, are not included). */
export function isNationalHoliday(year: number, month: number, day: number): boolean {
  const fixed = [[1, 1], [5, 1], [10, 3], [12, 25], [12, 26]]
  if (fixed.some(([m, d]) => m === month && d === day)) return true
  const [em, ed] = easterSunday(year)
  const easter = Date.UTC(year, em - 1, ed)
  const offsetDays = Math.round((Date.UTC(year, month - 1, day) - easter) / DAY_MS)
  // Karfreitag −2, Ostermontag +1, Christi Himmelfahrt +39, Pfingstmontag +50.
  return offsetDays === -2 || offsetDays === 1 || offsetDays === 39 || offsetDays === 50
}

/**
 * BDEW standard-load-profile day type: public holidays count as Sundays; 24 and 31 December
 * count as Saturdays unless they fall on a Sunday (VDEW "Repräsentative VDEW-Lastprofile", 1999).
 */
export function dayType(t: LegalTime): DayType {
  if (t.weekday === 0 || isNationalHoliday(t.year, t.month, t.day)) return 'sunday'
  if (t.weekday === 6 || (t.month === 12 && (t.day === 24 || t.day === 31))) return 'saturday'
  return 'workday'
}

/**
 * BDEW season: winter 1 Nov – 20 Mar, summer 15 May – 14 Sep, transition 21 Mar – 14 May
 * and 15 Sep – 31 Oct (VDEW 1999).
 */
export function season(t: LegalTime): Season {
  const md = t.month * 100 + t.day
  if (md >= 1101 || md <= 320) return 'winter'
  if (md >= 515 && md <= 914) return 'summer'
  return 'transition'
}
