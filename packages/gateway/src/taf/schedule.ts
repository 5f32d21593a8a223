import { addLegalDays, addLegalMonths, fromLegalTime, startOfLegalDay, startOfLegalMonth, toLegalTime } from '@smgw/legal-time'
import { GatewayError } from '../errors.js'
import { clockMinutes, type TariffProfile } from './profile.js'

/*
 * The periods a scheduled tariff profile computes, all cut at legal-time boundaries
 * (Europe/Berlin rules from @smgw/legal-time): [start, end), due for computing and sending
 * at `dueAt` (≥ end). TAF 6 computes its daily value set per legal day; TAF 9 has no
 * schedule (on request only).
 */

export interface TafPeriod {
  readonly start: Date
  readonly end: Date
  /** When the period is computed and sent: its end, or the next day's `dailyAt` for TAF 7. */
  readonly dueAt: Date
}

const dayPeriod = (at: Date): { start: Date; end: Date } => {
  const start = startOfLegalDay(at)
  return { start, end: addLegalDays(start, 1) }
}

const billing = (at: Date, kind: 'daily' | 'monthly' | 'yearly'): { start: Date; end: Date } => {
  if (kind === 'daily') return dayPeriod(at)
  if (kind === 'monthly') {
    const start = startOfLegalMonth(at)
    return { start, end: addLegalMonths(start, 1) }
  }
  const year = toLegalTime(at).year
  return { start: fromLegalTime(year, 1, 1), end: fromLegalTime(year + 1, 1, 1) }
}

/** Whether the profile is computed on a schedule (all but TAF 9). */
export function isScheduled(profile: TariffProfile): boolean {
  return profile.useCase !== 'taf9'
}

/** The period of a scheduled profile that contains `at`. */
export function periodContaining(profile: TariffProfile, at: Date): TafPeriod {
  switch (profile.useCase) {
    case 'taf1':
    case 'taf2': {
      const p = billing(at, profile.schedule.billingPeriod)
      return { ...p, dueAt: p.end }
    }
    case 'taf6': {
      const p = dayPeriod(at)
      return { ...p, dueAt: p.end }
    }
    case 'taf7': {
      const send = profile.schedule.send
      const day = dayPeriod(at)
      if ('dailyAt' in send) {
        const minutes = clockMinutes(send.dailyAt)
        const next = toLegalTime(day.end)
        return { ...day, dueAt: fromLegalTime(next.year, next.month, next.day, Math.floor(minutes / 60), minutes % 60) }
      }
      // Every N hours on the local clock: 00:00, N:00, … (a change day has one shorter or longer period).
      const t = toLegalTime(at)
      const bounds: Date[] = []
      for (let h = 0; h < 24; h += send.everyHours) bounds.push(fromLegalTime(t.year, t.month, t.day, h))
      bounds.push(day.end)
      let i = bounds.length - 2
      while (i > 0 && bounds[i]!.getTime() > at.getTime()) i--
      return { start: bounds[i]!, end: bounds[i + 1]!, dueAt: bounds[i + 1]! }
    }
    case 'taf10':
    case 'taf14': {
      // everySeconds divides 3600 and legal offsets are whole hours: UTC multiples are local clock boundaries.
      const step = profile.schedule.everySeconds * 1000
      const start = Math.floor(at.getTime() / step) * step
      return { start: new Date(start), end: new Date(start + step), dueAt: new Date(start + step) }
    }
    case 'taf9':
      throw new GatewayError('TAF_INPUT_INVALID', `profile ${profile.id}: taf9 has no schedule (values on request only)`)
  }
}

/** The period starting at `start`, which must be one of the profile's period boundaries. */
export function periodStartingAt(profile: TariffProfile, start: Date): TafPeriod {
  const p = periodContaining(profile, start)
  if (p.start.getTime() !== start.getTime()) {
    throw new GatewayError('TAF_INPUT_INVALID', `profile ${profile.id}: ${start.toISOString()} is not a period boundary (the period containing it starts ${p.start.toISOString()})`)
  }
  return p
}
