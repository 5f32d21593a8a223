import { addLegalDays, addLegalMonths, startOfLegalDay, startOfLegalMonth } from '@smgw/legal-time'
import { VALUE_STATUS } from '@smgw/meter-data'
import type { Store } from '../store/types.js'
import { computeTaf6Reading } from '../taf/compute.js'
import type { TariffProfileOf } from '../taf/profile.js'

/*
 * The consumer's history (GET /api/v1/meters/:id/history): register values at interval ends
 * in legal time. Quarter hours come from the interval values the TAF stored (TAF 7) where
 * they exist; every other point is computed from the readings with the TAF rule
 * (computeTaf6Reading: the last reading at or before the instant, no older than the
 * tolerance — 27 s for 15 min, 900 s for days and months as for TAF 1/6 — else a gap).
 */

export const HISTORY_RESOLUTIONS = ['15min', 'day', 'month'] as const
export type HistoryResolution = (typeof HISTORY_RESOLUTIONS)[number]
/** How far back the HAN shows data (months). */
export const HISTORY_MONTHS = 24
/** Points per response at most. */
export const HISTORY_MAX_POINTS = 3000

export interface HistoryPoint {
  readonly time: string
  /** Exact decimal of the mantissa at `scaler`; null for a gap. */
  readonly value: string | null
  /** VALUE_STATUS bits of @smgw/meter-data (gap, timeInvalid, meterError, …). */
  readonly status: number
}

export interface History {
  readonly quantity: string
  readonly unit: string | null
  readonly scaler: number
  readonly resolution: HistoryResolution
  readonly points: readonly HistoryPoint[]
}

/** Interval ends in (from, to] on legal-time boundaries; undefined when more than `max`. */
export function historyInstants(resolution: HistoryResolution, from: Date, to: Date, max = HISTORY_MAX_POINTS): Date[] | undefined {
  const out: Date[] = []
  const push = (t: Date): boolean => {
    if (t.getTime() > from.getTime() && t.getTime() <= to.getTime()) out.push(t)
    return out.length <= max
  }
  if (resolution === '15min') {
    // Legal time is UTC+1 or +2: quarter hours of legal time are quarter hours of UTC.
    const step = 900_000
    for (let t = Math.floor(from.getTime() / step) * step + step; t <= to.getTime(); t += step) if (!push(new Date(t))) return undefined
    return out
  }
  let t = resolution === 'day' ? startOfLegalDay(from) : startOfLegalMonth(from)
  while (t.getTime() <= to.getTime()) {
    if (!push(t)) return undefined
    t = resolution === 'day' ? addLegalDays(t, 1) : addLegalMonths(t, 1)
  }
  return out
}

interface RawPoint { readonly time: Date; readonly mantissa: bigint | null; readonly scaler: number; readonly unit: string | undefined; readonly status: number }

export function computeHistory(store: Store, o: { readonly meterId: string; readonly quantity: string; readonly resolution: HistoryResolution; readonly instants: readonly Date[] }): History {
  const toleranceMs = (o.resolution === '15min' ? 27 : 900) * 1000
  const stored = new Map<number, RawPoint>()
  if (o.resolution === '15min' && o.instants.length > 0) {
    for (const v of store.readIntervalValues({ meterId: o.meterId, quantity: o.quantity, from: o.instants[0]!, to: new Date(o.instants.at(-1)!.getTime() + 1) })) {
      if (v.periodSeconds === 900) stored.set(v.end.getTime(), { time: v.end, mantissa: v.mantissa, scaler: v.scaler, unit: v.unit, status: v.status })
    }
  }
  // A one-channel TAF 6 profile over this meter and quantity: the same rule, applied per instant.
  const profile = {
    id: 'han', useCase: 'taf6', meteringPoint: o.meterId, recipients: [], toleranceSeconds: toleranceMs / 1000,
    channels: [{ meterId: o.meterId, obis: o.quantity, quantity: o.quantity }],
  } as unknown as TariffProfileOf<'taf6'>
  const raw: RawPoint[] = o.instants.map((at) => {
    const s = stored.get(at.getTime())
    if (s !== undefined) return s
    const readings = store.readReadings({ meterId: o.meterId, quantity: o.quantity, from: new Date(at.getTime() - toleranceMs), to: new Date(at.getTime() + 1) })
      .sort((a, b) => a.time.getTime() - b.time.getTime())
    const series = computeTaf6Reading(profile, { readings }, at).series[0]
    const v = series?.values[0]
    if (series === undefined || v === undefined || v.value === null) return { time: at, mantissa: null, scaler: 0, unit: undefined, status: v?.status ?? VALUE_STATUS.gap }
    return { time: at, mantissa: BigInt(v.value), scaler: series.scaler, unit: series.unit, status: v.status }
  })
  const present = raw.filter((p) => p.mantissa !== null)
  const scaler = present.length === 0 ? 0 : Math.min(...present.map((p) => p.scaler))
  const unit = present[0]?.unit ?? null
  return {
    quantity: o.quantity, unit, scaler, resolution: o.resolution,
    points: raw.map((p) => ({
      time: p.time.toISOString(),
      value: p.mantissa === null ? null : (p.mantissa * 10n ** BigInt(p.scaler - scaler)).toString(),
      status: p.status,
    })),
  }
}
