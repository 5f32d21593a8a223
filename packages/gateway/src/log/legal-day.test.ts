import { describe, expect, it } from 'vitest'
import { legalDayOf } from './legal-day.js'

describe('legalDayOf (log day heads)', () => {
  it('cuts at local midnight of legal time, and never throws for instants outside the rules', () => {
    expect(legalDayOf(new Date('2026-03-28T22:59:59.999Z'))).toBe('2026-03-28')
    expect(legalDayOf(new Date('2026-03-28T23:00:00.000Z'))).toBe('2026-03-29')
    expect(legalDayOf(new Date('2026-03-29T21:59:59.999Z'))).toBe('2026-03-29')
    expect(legalDayOf(new Date('2026-03-29T22:00:00.000Z'))).toBe('2026-03-30')
    // An edited log file may carry any time; the verifier must not throw on it.
    expect(legalDayOf(new Date('1970-01-01T23:30:00.000Z'))).toBe('1970-01-02')
    expect(legalDayOf(new Date('0001-01-01T00:00:00.000Z'))).toBe('0001-01-01')
  })
})
