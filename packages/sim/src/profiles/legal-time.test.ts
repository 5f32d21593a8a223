import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { dayType, easterSunday, isNationalHoliday, legalOffset, season, toLegalTime } from './legal-time.js'

describe('German legal time', () => {
  it('switches to summer time on the last Sunday of March at 01:00 UTC and back in October', () => {
    expect(legalOffset(new Date('2025-03-30T00:59:59Z'))).toBe(1)
    expect(legalOffset(new Date('2025-03-30T01:00:00Z'))).toBe(2)
    expect(legalOffset(new Date('2025-10-26T00:59:59Z'))).toBe(2)
    expect(legalOffset(new Date('2025-10-26T01:00:00Z'))).toBe(1)
    const t = toLegalTime(new Date('2025-03-30T01:30:00Z'))
    expect([t.month, t.day, t.hour, t.offset]).toEqual([3, 30, 3.5, 2])
  })

  it('agrees with the host time-zone database for Europe/Berlin', () => {
    const fmt = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Berlin', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', weekday: 'short' })
    const weekdays = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2037, 11, 31) }), (ms) => {
        const at = new Date(ms - (ms % 60_000))
        const parts = Object.fromEntries(fmt.formatToParts(at).map((p) => [p.type, p.value]))
        const t = toLegalTime(at)
        expect([t.year, t.month, t.day, Math.floor(t.hour), Math.round((t.hour % 1) * 60) % 60, weekdays[t.weekday]]).toEqual([
          Number(parts.year), Number(parts.month), Number(parts.day), Number(parts.hour), Number(parts.minute), parts.weekday,
        ])
      }),
      { numRuns: 500 },
    )
  })

  it('computes Easter and the nationwide holidays', () => {
    expect(easterSunday(2024)).toEqual([3, 31])
    expect(easterSunday(2025)).toEqual([4, 20])
    expect(easterSunday(2026)).toEqual([4, 5])
    expect(isNationalHoliday(2025, 4, 18)).toBe(true) // Karfreitag
    expect(isNationalHoliday(2025, 4, 21)).toBe(true) // Ostermontag
    expect(isNationalHoliday(2025, 5, 29)).toBe(true) // Christi Himmelfahrt
    expect(isNationalHoliday(2025, 6, 9)).toBe(true) // Pfingstmontag
    expect(isNationalHoliday(2025, 10, 3)).toBe(true)
    expect(isNationalHoliday(2025, 6, 19)).toBe(false) // Fronleichnam: regional only
    expect(isNationalHoliday(2025, 4, 22)).toBe(false)
  })

  it('classifies days and seasons as the BDEW profiles do', () => {
    const at = (iso: string) => toLegalTime(new Date(iso))
    expect(dayType(at('2025-07-16T10:00:00Z'))).toBe('workday')
    expect(dayType(at('2025-07-19T10:00:00Z'))).toBe('saturday')
    expect(dayType(at('2025-07-20T10:00:00Z'))).toBe('sunday')
    expect(dayType(at('2025-10-03T10:00:00Z'))).toBe('sunday') // holiday on a Friday
    expect(dayType(at('2025-12-24T10:00:00Z'))).toBe('saturday') // Wednesday
    expect(dayType(at('2023-12-24T10:00:00Z'))).toBe('sunday') // a Sunday stays Sunday
    expect(dayType(at('2025-01-05T23:30:00Z'))).toBe('workday') // Monday 00:30 local
    expect(season(at('2025-03-20T12:00:00Z'))).toBe('winter')
    expect(season(at('2025-03-21T12:00:00Z'))).toBe('transition')
    expect(season(at('2025-05-15T12:00:00Z'))).toBe('summer')
    expect(season(at('2025-09-14T12:00:00Z'))).toBe('summer')
    expect(season(at('2025-09-15T12:00:00Z'))).toBe('transition')
    expect(season(at('2025-10-31T23:30:00Z'))).toBe('winter') // 00:30 on 1 November (MEZ)
  })
})
