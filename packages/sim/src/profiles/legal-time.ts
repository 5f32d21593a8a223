/**
 * The simulators' view of German legal time: the legal-time rules come from
 * @smgw/legal-time (rule-based, no host time-zone dependency); the BDEW day classification
 * and seasons of the standard load profiles stay here.
 */
import { isNationalHoliday, toLegalTime as toLegalDateTime } from '@smgw/legal-time'

export { easterSunday, isNationalHoliday, legalOffset } from '@smgw/legal-time'

/** The local calendar view of an instant as the load profiles use it. */
export interface LegalTime {
  readonly year: number
  /** 1–12 */
  readonly month: number
  /** 1–31 */
  readonly day: number
  /** Hours since local midnight on the clock, fractional (0 ≤ h < 24; 23 or 25 h days are folded onto the clock). */
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

/** @smgw/legal-time's view with the clock time as fractional hours. */
export function toLegalTime(at: Date): LegalTime {
  const t = toLegalDateTime(at)
  const hour = t.hour + t.minute / 60 + t.second / 3600 + t.millisecond / 3_600_000
  return { year: t.year, month: t.month, day: t.day, hour, weekday: t.weekday, dayOfYear: t.dayOfYear, offset: t.offset }
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
