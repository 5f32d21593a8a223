import { fromLegalTime, toLegalTime } from '@smgw/legal-time'
import { z } from 'zod'
import type { ExpiryCutoffs } from '../store/types.js'

/*
 * Retention of personal data in the gateway (MsbG, 2016/2023): what the store keeps and
 * for how long, per data class. Pure: `planRetention` turns the policy and an instant into
 * cutoffs; the store deletes, the retention service schedules and logs.
 *
 * Periods count whole legal days (German legal time, Europe/Berlin; EinhZeitG §4): a
 * period of N days keeps today and the N legal days before it, so a cutoff always falls
 * on a legal midnight and a day's data goes at once, not hour by hour.
 */

/**
 * Upper bound of every period: personal readings are deleted at the latest three years
 * after the end of the year in which they arose (Messstellenbetriebsgesetz, MsbG 2016 as
 * amended 2023; the project's reading in DOMAIN.md "Retention" — the paragraph is not
 * cited here because it moved between versions). A fixed period of at most 3 × 365 days
 * meets it for every reading, whatever day of the year it arose; longer periods are refused.
 */
export const MAX_RETENTION_DAYS = 3 * 365

/** Purposes whose delivered data are deleted right after delivery: grid status (TAF 9, 10, 14). */
export const GRID_STATUS_PURPOSES: readonly string[] = ['taf9', 'taf10', 'taf14']

/** Registration period of TAF 6 daily value sets, seconds. */
export const DAILY_PERIOD_S = 86_400

const days = z.int().min(1).max(MAX_RETENTION_DAYS, `at most ${MAX_RETENTION_DAYS} days: readings are deleted at the latest 3 years after the end of their year (MsbG)`)

/** The `retention` section of the gateway configuration; every key optional. */
export const RetentionConfig = z.strictObject({
  /** Readings as the meters sent them. Default 730: the consumer sees 24 months. */
  readingsDays: days.default(730),
  /** Interval values (TAF 7 load profiles and the like) other than daily values. Default 730. */
  intervalValuesDays: days.default(730),
  /** Daily values (interval values with period 86 400 s, TAF 6 daily value sets). Default 42. */
  dailyValuesDays: days.default(42),
  /** Delivered outbox items (grid-status purposes excepted: deleted right away). Default 7; 0: right away. */
  deliveredOutboxDays: z.int().min(0).max(MAX_RETENTION_DAYS).default(7),
  /** Seconds between two runs (one also runs at start). Default 86 400. */
  runEveryS: z.int().min(60).max(7 * 86_400).default(86_400),
})
export type RetentionConfig = z.infer<typeof RetentionConfig>

export const DEFAULT_RETENTION: RetentionConfig = Object.freeze(RetentionConfig.parse({}))

/** The cutoffs of one run, and what they mean, for the store and the consumer-log text. */
export interface RetentionPlan {
  readonly cutoffs: ExpiryCutoffs
  /** The legal bound (1 January, 00:00 legal time, three years back): no cutoff lies before it. */
  readonly legalLimit: Date
  readonly now: Date
}

/**
 * The cutoffs at `now`: everything strictly before a cutoff may go. A period longer
 * than the legal bound (possible only for a policy that bypassed the schema) is cut to it.
 */
export function planRetention(policy: RetentionConfig, now: Date): RetentionPlan {
  const today = toLegalTime(now)
  const back = (n: number): Date => legalMidnight(today.year, today.month, today.day - n)
  const legalLimit = legalMidnight(today.year - 3, 1, 1)
  const bounded = (d: Date): Date => (d.getTime() < legalLimit.getTime() ? legalLimit : d)
  const delivered = policy.deliveredOutboxDays === 0 ? now : back(policy.deliveredOutboxDays)
  return {
    now,
    legalLimit,
    cutoffs: {
      readings: bounded(back(policy.readingsDays)),
      intervalValues: bounded(back(policy.intervalValuesDays)),
      intervalValuesByPeriod: new Map([[DAILY_PERIOD_S, bounded(back(policy.dailyValuesDays))]]),
      deliveredOutbox: delivered,
      deliveredOutboxByPurpose: new Map(GRID_STATUS_PURPOSES.map((p) => [p, now])),
    },
  }
}

/** A period in plain words: whole years as months ("24 months" for 730 days, as the consumer sees them), else days. */
export function formatPeriod(n: number): string {
  if (n >= 365 && n % 365 === 0) return `${(n / 365) * 12} months`
  return n === 1 ? '1 day' : `${n} days`
}

const LEGAL_DATE_TEXT = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', day: 'numeric', month: 'short', year: 'numeric' })

/** "30 Nov 2024": the legal date of an instant, for consumer-log text. */
export function formatLegalDate(d: Date): string {
  return LEGAL_DATE_TEXT.format(d)
}

/**
 * 00:00 legal time of a calendar date (month 1–12; day may overflow, as in Date.UTC).
 * Legal midnight is never skipped or doubled: the clock changes at 02:00/03:00.
 */
export function legalMidnight(year: number, month: number, day: number): Date {
  const date = new Date(Date.UTC(year, month - 1, day))
  return fromLegalTime(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate())
}
