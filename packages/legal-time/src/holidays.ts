import { LegalTimeError } from './errors.js'

/*
 * Nationwide public holidays in Germany. Holidays are state law (Feiertagsgesetze der
 * Länder); the ones every state keeps are listed here. Regional holidays (Heilige Drei
 * Könige, Fronleichnam, Reformationstag, Allerheiligen, Buß- und Bettag after 1994, …)
 * are not included.
 */

export interface Holiday {
  readonly month: number
  readonly day: number
  readonly name: string
}

const DAY_MS = 86_400_000

/** Easter Sunday of the Gregorian calendar (anonymous algorithm, Meeus/Jones/Butcher) as [month, day]. */
export function easterSunday(year: number): readonly [number, number] {
  if (!Number.isInteger(year) || year < 1583 || year > 9999) throw new LegalTimeError('LEGAL_TIME_OUT_OF_RANGE', `Easter is computed for Gregorian years 1583–9999, not ${year}`)
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

/** The nationwide public holidays of a year (1980–9999), by date. */
export function nationalHolidays(year: number): Holiday[] {
  if (!Number.isInteger(year) || year < 1980 || year > 9999) throw new LegalTimeError('LEGAL_TIME_OUT_OF_RANGE', `holidays are known for 1980–9999, not ${year}`)
  const [em, ed] = easterSunday(year)
  const easter = Date.UTC(year, em - 1, ed)
  const fromEaster = (days: number, name: string): Holiday => {
    const d = new Date(easter + days * DAY_MS)
    return { month: d.getUTCMonth() + 1, day: d.getUTCDate(), name }
  }
  const list: Holiday[] = [
    { month: 1, day: 1, name: 'Neujahr' },
    fromEaster(-2, 'Karfreitag'),
    fromEaster(1, 'Ostermontag'),
    { month: 5, day: 1, name: 'Tag der Arbeit' },
    fromEaster(39, 'Christi Himmelfahrt'),
    fromEaster(50, 'Pfingstmontag'),
    { month: 12, day: 25, name: '1. Weihnachtstag' },
    { month: 12, day: 26, name: '2. Weihnachtstag' },
  ]
  // Gesetz über den Tag der deutschen Einheit 1953: 17 June, until 1990.
  if (year <= 1990) list.push({ month: 6, day: 17, name: 'Tag der deutschen Einheit (17. Juni)' })
  // Einigungsvertrag 1990 Art. 2(2): 3 October.
  if (year >= 1990) list.push({ month: 10, day: 3, name: 'Tag der Deutschen Einheit' })
  // Buß- und Bettag: the Wednesday before 23 November, nationwide until 1994 (abolished from 1995 outside Saxony).
  if (year <= 1994) {
    const nov22 = new Date(Date.UTC(year, 10, 22))
    list.push({ month: 11, day: 22 - ((nov22.getUTCDay() + 4) % 7), name: 'Buß- und Bettag' })
  }
  // 500th anniversary of the Reformation: a nationwide holiday once, 31 October 2017.
  if (year === 2017) list.push({ month: 10, day: 31, name: 'Reformationstag (2017)' })
  return list.sort((x, y) => x.month - y.month || x.day - y.day)
}

/** Whether a date is a nationwide public holiday in Germany. */
export function isNationalHoliday(year: number, month: number, day: number): boolean {
  return nationalHolidays(year).some((h) => h.month === month && h.day === day)
}
