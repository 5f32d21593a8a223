import { describe, expect, it } from 'vitest'
import { dayType, legalOffset, season, toLegalTime } from './legal-time.js'

describe('German legal time (rules from @smgw/legal-time) and the BDEW day classes', () => {
  it('switches to summer time on the last Sunday of March at 01:00 UTC and gives the clock as fractional hours', () => {
    expect(legalOffset(new Date('2025-03-30T00:59:59Z'))).toBe(1)
    expect(legalOffset(new Date('2025-03-30T01:00:00Z'))).toBe(2)
    expect(legalOffset(new Date('2025-10-26T00:59:59Z'))).toBe(2)
    expect(legalOffset(new Date('2025-10-26T01:00:00Z'))).toBe(1)
    const t = toLegalTime(new Date('2025-03-30T01:30:00Z'))
    expect([t.month, t.day, t.hour, t.offset]).toEqual([3, 30, 3.5, 2])
    expect(toLegalTime(new Date('2025-11-23T11:45:36Z')).hour).toBe(12.76)
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
