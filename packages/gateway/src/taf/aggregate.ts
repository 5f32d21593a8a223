import { VALUE_STATUS, type MeterValue } from '@smgw/meter-data'
import { GatewayError } from '../errors.js'
import type { TafSeries } from './compute.js'

/*
 * Aggregation (principle 3: "aggregated over ≥ 5 consumers"): the series of one OBIS code
 * (and register/kind) summed over the metering points of an aggregating profile. Fewer
 * metering points than the minimum is TAF_AGGREGATION_TOO_FEW: nothing is computed, so
 * nothing can be sent. At an instant where any metering point has a gap, the sum is a gap
 * too (a partial sum would be a sum over fewer consumers and silently wrong); the other
 * status bits of all addends are carried (OR).
 */

export interface AggregatedSeries extends Omit<TafSeries, 'meterId' | 'meteringPoint'> {
  /** How many metering points the values are summed over. */
  readonly consumers: number
}

const pow10 = (n: number): bigint => 10n ** BigInt(n)

export function aggregateSeries(series: readonly TafSeries[], minConsumers: number): AggregatedSeries[] {
  if (!Number.isInteger(minConsumers) || minConsumers < 5) throw new GatewayError('TAF_INPUT_INVALID', `aggregation needs at least 5 consumers, not ${minConsumers}`)
  if (series.length === 0) throw new GatewayError('TAF_AGGREGATION_TOO_FEW', `no series to aggregate, the aggregate needs at least ${minConsumers} metering points`)
  const groups = new Map<string, TafSeries[]>()
  for (const s of series) {
    const key = `${s.obis}\u0000${s.kind}\u0000${s.register ?? ''}\u0000${s.periodSeconds ?? ''}`
    groups.set(key, [...(groups.get(key) ?? []), s])
  }
  const out: AggregatedSeries[] = []
  for (const group of groups.values()) {
    const first = group[0]!
    const points = new Set(group.map((s) => s.meteringPoint))
    if (points.size < minConsumers) {
      throw new GatewayError('TAF_AGGREGATION_TOO_FEW', `${first.obis}: ${points.size} metering points, the aggregate needs at least ${minConsumers} — not computed, not sent`)
    }
    if (points.size !== group.length) throw new GatewayError('TAF_INPUT_INVALID', `${first.obis}: a metering point has more than one series`)
    const times = first.values.map((v) => v.time)
    if (group.some((s) => s.values.length !== times.length || s.values.some((v, i) => v.time !== times[i]))) {
      throw new GatewayError('TAF_INPUT_INVALID', `${first.obis}: the series to sum have different times`)
    }
    const units = new Set(group.flatMap((s) => (s.values.some((v) => v.value !== null) ? [s.unit] : [])))
    if (units.size > 1) throw new GatewayError('TAF_INPUT_INVALID', `${first.obis}: the series to sum have different units`)
    const scaler = Math.min(...group.map((s) => s.scaler))
    const values: MeterValue[] = times.map((time, i) => {
      let status = 0
      let sum: bigint | null = 0n
      for (const s of group) {
        const v = s.values[i]!
        status |= v.status
        if (v.value === null) sum = null
        else if (sum !== null) sum += BigInt(v.value) * pow10(s.scaler - scaler)
      }
      return sum === null ? { time, value: null, status: status | VALUE_STATUS.gap } : { time, value: sum.toString(), status }
    })
    const unit = [...units][0]
    out.push({
      obis: first.obis, scaler, kind: first.kind, values, consumers: points.size,
      ...(unit === undefined ? {} : { unit }),
      ...(first.register === undefined ? {} : { register: first.register }),
      ...(first.periodSeconds === undefined ? {} : { periodSeconds: first.periodSeconds }),
    })
  }
  return out
}
