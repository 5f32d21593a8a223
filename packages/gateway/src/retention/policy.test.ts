import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DEFAULT_RETENTION, GRID_STATUS_PURPOSES, MAX_RETENTION_DAYS, RetentionConfig, formatLegalDate, formatPeriod, legalMidnight, planRetention } from './policy.js'

const berlinClock = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })

describe('RetentionConfig', () => {
  it('defaults: readings and interval values 730 days, daily values 42, delivered outbox 7, daily runs', () => {
    expect(DEFAULT_RETENTION).toEqual({ readingsDays: 730, intervalValuesDays: 730, dailyValuesDays: 42, deliveredOutboxDays: 7, runEveryS: 86_400 })
  })

  it('refuses periods beyond 3 years (MsbG upper bound), zero or fractional days, unknown keys', () => {
    expect(RetentionConfig.safeParse({ readingsDays: MAX_RETENTION_DAYS }).success).toBe(true)
    for (const bad of [{ readingsDays: MAX_RETENTION_DAYS + 1 }, { intervalValuesDays: 2000 }, { dailyValuesDays: 0 }, { readingsDays: 1.5 }, { runEveryS: 10 }, { keepForever: true }]) {
      expect(RetentionConfig.safeParse(bad).success, JSON.stringify(bad)).toBe(false)
    }
  })
})

describe('planRetention', () => {
  it('cuts at legal midnights, N legal days back', () => {
    const now = new Date('2026-11-30T10:00:00Z')
    const plan = planRetention(DEFAULT_RETENTION, now)
    expect(plan.cutoffs.readings.toISOString()).toBe('2024-11-29T23:00:00.000Z') // 30 Nov 2024, 00:00 MEZ
    expect(plan.cutoffs.intervalValues.toISOString()).toBe('2024-11-29T23:00:00.000Z')
    expect(plan.cutoffs.intervalValuesByPeriod?.get(86_400)?.toISOString()).toBe('2026-10-18T22:00:00.000Z') // 19 Oct 2026, 00:00 MESZ
    expect(plan.cutoffs.deliveredOutbox.toISOString()).toBe('2026-11-22T23:00:00.000Z')
    expect([...(plan.cutoffs.deliveredOutboxByPurpose ?? new Map<string, Date>())]).toEqual(GRID_STATUS_PURPOSES.map((p) => [p, now]))
    expect(plan.legalLimit.toISOString()).toBe('2022-12-31T23:00:00.000Z') // 1 Jan 2023, 00:00 MEZ
    expect(formatLegalDate(plan.cutoffs.readings)).toBe('30 Nov 2024')
  })

  it('takes the legal day, not the UTC day: 23:30 UTC on 30 Nov is 1 Dec in Germany', () => {
    const plan = planRetention(DEFAULT_RETENTION, new Date('2026-11-30T23:30:00Z'))
    expect(formatLegalDate(plan.cutoffs.readings)).toBe('1 Dec 2024')
    expect(plan.cutoffs.readings.toISOString()).toBe('2024-11-30T23:00:00.000Z')
  })

  it('delivered outbox items with 0 days go right away', () => {
    const now = new Date('2026-11-30T10:00:00Z')
    expect(planRetention({ ...DEFAULT_RETENTION, deliveredOutboxDays: 0 }, now).cutoffs.deliveredOutbox).toEqual(now)
  })

  it('never cuts before the legal bound, even for a policy that bypassed the schema', () => {
    const plan = planRetention({ ...DEFAULT_RETENTION, readingsDays: 5000, intervalValuesDays: 5000 }, new Date('2026-06-15T12:00:00Z'))
    expect(plan.cutoffs.readings).toEqual(plan.legalLimit)
    expect(plan.cutoffs.intervalValues).toEqual(plan.legalLimit)
    expect(plan.legalLimit.toISOString()).toBe('2022-12-31T23:00:00.000Z')
  })

  it('legal midnight across the clock changes of 2026 (29 March, 25 October)', () => {
    expect(legalMidnight(2026, 3, 29).toISOString()).toBe('2026-03-28T23:00:00.000Z')
    expect(legalMidnight(2026, 3, 30).toISOString()).toBe('2026-03-29T22:00:00.000Z')
    expect(legalMidnight(2026, 10, 25).toISOString()).toBe('2026-10-24T22:00:00.000Z')
    expect(legalMidnight(2026, 10, 26).toISOString()).toBe('2026-10-25T23:00:00.000Z')
    expect(legalMidnight(2026, 12, 32).toISOString()).toBe('2026-12-31T23:00:00.000Z') // day overflow → 1 Jan 2027
  })

  it('property: cutoffs are legal midnights, within [legal bound, now], and keep every reading of the last N legal days', () => {
    const days = fc.integer({ min: 1, max: MAX_RETENTION_DAYS })
    fc.assert(fc.property(fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true }), days, days, (now, readingsDays, dailyValuesDays) => {
      const plan = planRetention({ ...DEFAULT_RETENTION, readingsDays, dailyValuesDays }, now)
      const daily = plan.cutoffs.intervalValuesByPeriod?.get(86_400)
      for (const c of [plan.cutoffs.readings, plan.cutoffs.intervalValues, daily!, plan.cutoffs.deliveredOutbox, plan.legalLimit]) {
        expect(berlinClock.format(c)).toBe('00:00:00')
        expect(c.getTime()).toBeLessThanOrEqual(now.getTime())
      }
      // Within the MsbG bound: everything kept arose in this year or the three before it.
      expect(plan.cutoffs.readings.getTime()).toBeGreaterThanOrEqual(plan.legalLimit.getTime())
      // A reading exactly readingsDays × 24 h ago (ignoring the clock change hour) is kept.
      expect(plan.cutoffs.readings.getTime()).toBeLessThanOrEqual(now.getTime() - readingsDays * 86_400_000 + 3_600_000)
      // …and one a legal day more than that is not.
      expect(plan.cutoffs.readings.getTime()).toBeGreaterThan(now.getTime() - (readingsDays + 1) * 86_400_000 - 3_600_000)
    }), { numRuns: 300 })
  })
})

describe('formatPeriod', () => {
  it('whole years as months, else days', () => {
    expect([730, 1095, 365, 42, 1].map(formatPeriod)).toEqual(['24 months', '36 months', '12 months', '42 days', '1 day'])
  })
})
