import { z } from 'zod'

/**
 * The `time` section of the gateway configuration: the NTP server the administrator set
 * and the parameters of the legal-time rules (see legal-clock.ts).
 */
export const TimeConfig = z.strictObject({
  ntp: z.strictObject({
    host: z.string().min(1).max(253),
    port: z.int().min(1).max(65_535).default(123),
  }),
  /** Seconds between two synchronisations; RFC 4330 (2006) §10: never below 15 s. */
  pollIntervalS: z.int().min(15).max(86_400).default(3600),
  /** The registration period of tariff values, s; the tolerance is 3 % of it (900 s → 27 s). */
  registrationPeriodS: z.int().min(1).max(86_400).default(900),
  /** Assumed worst-case drift of the system clock between syncs, ppm (100 ppm: restricted 75 h after the last sync). */
  assumedDriftPpm: z.number().min(0).max(10_000).default(100),
  /** Per attempt, ms. */
  timeoutMs: z.int().min(1).max(60_000).default(2000),
  /** Further attempts after a timeout or a bad answer (with doubling backoff). */
  retries: z.int().min(0).max(10).default(2),
})
export type TimeConfig = z.infer<typeof TimeConfig>
