import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  addLegalDays, addLegalMonths, easterSunday, formatLegalTime, fromLegalTime, isLegalTimeError, isNationalHoliday, legalDayHours,
  legalDayOf, legalIntervalEnds, legalOffset, nationalHolidays, parseLegalDay, startOfLegalDay, startOfLegalMonth, toLegalTime,
  type LegalTimeErrorCode,
} from './index.js'

// The independent reference: the host's ICU time-zone data for Europe/Berlin.
const BERLIN = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'Europe/Berlin', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  hourCycle: 'h23', weekday: 'short', timeZoneName: 'shortOffset',
})
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
function reference(at: Date): number[] {
  const p = Object.fromEntries(BERLIN.formatToParts(at).map((x) => [x.type, x.value]))
  return [Number(p.year), Number(p.month), Number(p.day), Number(p.hour), Number(p.minute), Number(p.second), WEEKDAYS.indexOf(p.weekday ?? ''), p.timeZoneName === 'GMT+2' ? 2 : 1]
}
const view = (at: Date): number[] => {
  const t = toLegalTime(at)
  return [t.year, t.month, t.day, t.hour, t.minute, t.second, t.weekday, t.offset]
}
const codeOf = (fn: () => unknown): LegalTimeErrorCode | undefined => {
  try { fn() } catch (err) { if (isLegalTimeError(err)) return err.code; throw err }
  return undefined
}
const MIN = Date.UTC(1990, 0, 1)
const MAX = Date.UTC(2100, 11, 31)

describe('legal offset and local view', () => {
  it('switches at 01:00 UTC on the last Sundays of March and October (Directive 2000/84/EC)', () => {
    expect(legalOffset(new Date('2026-03-29T00:59:59.999Z'))).toBe(1)
    expect(legalOffset(new Date('2026-03-29T01:00:00Z'))).toBe(2)
    expect(legalOffset(new Date('2026-10-25T00:59:59.999Z'))).toBe(2)
    expect(legalOffset(new Date('2026-10-25T01:00:00Z'))).toBe(1)
    expect(view(new Date('2026-03-29T01:00:00Z'))).toEqual([2026, 3, 29, 3, 0, 0, 0, 2])
    expect(toLegalTime(new Date('2025-12-31T23:30:00Z'))).toMatchObject({ year: 2026, month: 1, day: 1, hour: 0, minute: 30, dayOfYear: 1 })
    expect(toLegalTime(new Date('2024-12-31T12:00:00Z')).dayOfYear).toBe(366)
    // Before 1996 summer time ended on the last Sunday in September.
    expect(legalOffset(new Date('1995-09-24T00:59:59Z'))).toBe(2)
    expect(legalOffset(new Date('1995-09-24T01:00:00Z'))).toBe(1)
    expect(legalOffset(new Date('1980-04-06T01:00:00Z'))).toBe(2)
  })

  it('agrees with Intl.DateTimeFormat(Europe/Berlin) for random instants 1990–2100', () => {
    fc.assert(fc.property(fc.integer({ min: MIN, max: MAX }), (ms) => {
      const at = new Date(ms)
      expect(view(at)).toEqual(reference(at))
      expect(toLegalTime(at).millisecond).toBe(ms % 1000)
    }), { numRuns: 2000 })
  })

  it('agrees with Intl minute by minute around both changes of several years', () => {
    for (const year of [1990, 1995, 1996, 2000, 2024, 2026, 2037, 2038, 2099]) {
      const [march, october] = [[2, 31], [year <= 1995 ? 8 : 9, year <= 1995 ? 30 : 31]].map(([m, d]) => {
        const last = new Date(Date.UTC(year, m, d))
        return Date.UTC(year, m, d! - last.getUTCDay(), 1)
      })
      for (const change of [march!, october!]) {
        for (let ms = change - 2 * 3_600_000; ms <= change + 2 * 3_600_000; ms += 60_000) {
          expect(view(new Date(ms))).toEqual(reference(new Date(ms)))
        }
      }
    }
  })

  it('formats with the offset', () => {
    expect(formatLegalTime(new Date('2026-03-29T01:00:00Z'))).toBe('2026-03-29T03:00:00.000+02:00')
    expect(formatLegalTime(new Date('2026-11-23T23:01:00.5Z'))).toBe('2026-11-24T00:01:00.500+01:00')
  })

  it('refuses instants outside 1980–9999 and invalid Dates', () => {
    expect(codeOf(() => toLegalTime(new Date('1979-12-31T22:59:59Z')))).toBe('LEGAL_TIME_OUT_OF_RANGE')
    expect(codeOf(() => legalOffset(new Date(Date.UTC(10000, 0, 1))))).toBe('LEGAL_TIME_OUT_OF_RANGE')
    expect(codeOf(() => legalDayOf(new Date(NaN)))).toBe('LEGAL_TIME_INVALID_DATE')
    expect(legalDayOf(new Date('1979-12-31T23:00:00Z'))).toBe('1980-01-01')
  })
})

describe('fromLegalTime', () => {
  it('inverts toLegalTime for every instant outside the doubled hour (property)', () => {
    fc.assert(fc.property(fc.integer({ min: MIN, max: MAX }), (ms) => {
      const t = toLegalTime(new Date(ms))
      const back = fromLegalTime(t.year, t.month, t.day, t.hour, t.minute, { second: t.second, millisecond: t.millisecond, repeated: t.offset === 2 ? 'earlier' : 'later' })
      expect(back.getTime()).toBe(ms)
    }), { numRuns: 2000 })
  })

  it('reads the skipped spring hour forward and the doubled autumn hour as its first occurrence', () => {
    // 29 March 2026: 02:00 MEZ → 03:00 MESZ. 02:30 does not exist.
    expect(fromLegalTime(2026, 3, 29, 2, 30).toISOString()).toBe('2026-03-29T01:30:00.000Z') // = 03:30 MESZ
    expect(codeOf(() => fromLegalTime(2026, 3, 29, 2, 30, { skipped: 'reject' }))).toBe('LEGAL_TIME_NONEXISTENT')
    expect(fromLegalTime(2026, 3, 29, 1, 59).toISOString()).toBe('2026-03-29T00:59:00.000Z')
    expect(fromLegalTime(2026, 3, 29, 3, 0).toISOString()).toBe('2026-03-29T01:00:00.000Z')
    // 25 October 2026: 03:00 MESZ → 02:00 MEZ. 02:30 happens twice.
    expect(fromLegalTime(2026, 10, 25, 2, 30).toISOString()).toBe('2026-10-25T00:30:00.000Z')
    expect(fromLegalTime(2026, 10, 25, 2, 30, { repeated: 'later' }).toISOString()).toBe('2026-10-25T01:30:00.000Z')
    expect(codeOf(() => fromLegalTime(2026, 10, 25, 2, 30, { repeated: 'reject' }))).toBe('LEGAL_TIME_AMBIGUOUS')
    expect(fromLegalTime(2026, 10, 25, 3, 0, { repeated: 'reject' }).toISOString()).toBe('2026-10-25T02:00:00.000Z')
  })

  it('refuses fields that are no date or clock time', () => {
    expect(codeOf(() => fromLegalTime(2026, 2, 29))).toBe('LEGAL_TIME_INVALID_DATE')
    expect(codeOf(() => fromLegalTime(2026, 13, 1))).toBe('LEGAL_TIME_INVALID_DATE')
    expect(codeOf(() => fromLegalTime(2026, 1, 1, 24))).toBe('LEGAL_TIME_INVALID_DATE')
    expect(codeOf(() => fromLegalTime(2026, 1, 1, 1.5))).toBe('LEGAL_TIME_INVALID_DATE')
    expect(codeOf(() => fromLegalTime(1979, 12, 31))).toBe('LEGAL_TIME_OUT_OF_RANGE')
    expect(codeOf(() => parseLegalDay('2026-04-31'))).toBe('LEGAL_TIME_INVALID_DATE')
    expect(codeOf(() => parseLegalDay('26-04-01'))).toBe('LEGAL_TIME_INVALID_DATE')
  })
})

describe('legal days, months and intervals', () => {
  it('cuts days at local midnight: 23, 24 and 25 hours', () => {
    expect(startOfLegalDay(new Date('2026-03-29T12:00:00Z')).toISOString()).toBe('2026-03-28T23:00:00.000Z')
    expect(startOfLegalDay('2026-07-01').toISOString()).toBe('2026-06-30T22:00:00.000Z')
    expect(addLegalDays(new Date('2026-03-28T23:00:00Z'), 1).toISOString()).toBe('2026-03-29T22:00:00.000Z')
    expect(addLegalDays(new Date('2026-10-25T23:00:00Z'), -1).toISOString()).toBe('2026-10-24T22:00:00.000Z')
    expect([legalDayHours('2026-03-29'), legalDayHours('2026-10-25'), legalDayHours('2026-11-23')]).toEqual([23, 25, 24])
    expect(legalDayOf(new Date('2026-11-23T22:59:59.999Z'))).toBe('2026-11-23')
    expect(legalDayOf(new Date('2026-11-23T23:00:00Z'))).toBe('2026-11-24')
  })

  it('gives 92, 96 and 100 quarter-hour ends, the last at the next midnight', () => {
    const spring = legalIntervalEnds('2026-03-29', 900)
    const autumn = legalIntervalEnds('2026-10-25', 900)
    const normal = legalIntervalEnds('2026-11-23', 900)
    expect([spring.length, autumn.length, normal.length]).toEqual([92, 100, 96])
    expect(spring[0]!.toISOString()).toBe('2026-03-28T23:15:00.000Z')
    expect(spring.at(-1)!.toISOString()).toBe('2026-03-29T22:00:00.000Z')
    expect(autumn.at(-1)!.toISOString()).toBe('2026-10-25T23:00:00.000Z')
    expect(legalIntervalEnds('2026-10-25', 86_400).map((d) => d.toISOString())).toEqual(['2026-10-25T23:00:00.000Z'])
    expect(legalIntervalEnds('2026-10-25', 3600)).toHaveLength(25)
    expect(codeOf(() => legalIntervalEnds('2026-10-25', 7200))).toBe('LEGAL_TIME_PERIOD_INVALID')
    expect(codeOf(() => legalIntervalEnds('2026-10-25', 0))).toBe('LEGAL_TIME_PERIOD_INVALID')
  })

  it('has as many quarter hours per day as the day has hours × 4, and every end is on a local quarter hour (property)', () => {
    fc.assert(fc.property(fc.integer({ min: MIN, max: MAX }), (ms) => {
      const day = legalDayOf(new Date(ms))
      const ends = legalIntervalEnds(day, 900)
      expect(ends.length).toBe(legalDayHours(day) * 4)
      const t = toLegalTime(ends[ends.length - 2]!)
      expect(t.minute % 15).toBe(0)
      expect(t.second).toBe(0)
      expect(legalDayOf(new Date(ends.at(-1)!.getTime() - 1))).toBe(day)
      const [y, m, d] = day.split('-').map(Number)
      const lastSundayOf = (month: number) => { const l = new Date(Date.UTC(y!, month, 0)); return l.getUTCDate() - l.getUTCDay() }
      const autumnMonth = y! <= 1995 ? 9 : 10
      const expected = m === 3 && d === lastSundayOf(3) ? 92 : m === autumnMonth && d === lastSundayOf(autumnMonth) ? 100 : 96
      expect(ends.length).toBe(expected)
    }), { numRuns: 500 })
  })

  it('steps months from their first midnight', () => {
    expect(startOfLegalMonth(new Date('2026-03-31T22:30:00Z')).toISOString()).toBe('2026-03-31T22:00:00.000Z') // 1 April 00:30 MESZ
    expect(addLegalMonths(new Date('2026-11-15T00:00:00Z'), 2).toISOString()).toBe('2026-12-31T23:00:00.000Z') // 1 Jan 2027
    expect(addLegalMonths(new Date('2026-01-15T00:00:00Z'), -1).toISOString()).toBe('2025-11-30T23:00:00.000Z')
    expect(codeOf(() => addLegalMonths(new Date(), 0.5))).toBe('LEGAL_TIME_INVALID_DATE')
  })
})

describe('public holidays', () => {
  it('computes Easter and the nationwide holidays', () => {
    expect(easterSunday(2024)).toEqual([3, 31])
    expect(easterSunday(2026)).toEqual([4, 5])
    expect(easterSunday(2038)).toEqual([4, 25])
    expect(isNationalHoliday(2025, 4, 18)).toBe(true) // Karfreitag
    expect(isNationalHoliday(2025, 6, 9)).toBe(true) // Pfingstmontag
    expect(isNationalHoliday(2025, 6, 19)).toBe(false) // Fronleichnam: regional
    expect(isNationalHoliday(2017, 10, 31)).toBe(true)
    expect(isNationalHoliday(2018, 10, 31)).toBe(false)
    expect(isNationalHoliday(1994, 11, 16)).toBe(true) // Buß- und Bettag, still nationwide
    expect(isNationalHoliday(1995, 11, 22)).toBe(false)
    expect(isNationalHoliday(1989, 6, 17)).toBe(true)
    expect(isNationalHoliday(1989, 10, 3)).toBe(false)
    expect(nationalHolidays(2026).map((h) => `${h.month}-${h.day}`)).toEqual(['1-1', '4-3', '4-6', '5-1', '5-14', '5-25', '10-3', '12-25', '12-26'])
    expect(codeOf(() => nationalHolidays(1979))).toBe('LEGAL_TIME_OUT_OF_RANGE')
    expect(codeOf(() => easterSunday(1500))).toBe('LEGAL_TIME_OUT_OF_RANGE')
  })
})
