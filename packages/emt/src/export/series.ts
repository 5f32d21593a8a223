import { toLegalTime } from '@smgw/legal-time'
import type { ValueRow } from '../repository/types.js'

/*
 * Shared pieces of the exports: rows grouped into metering points and series, exact
 * decimal scaling, and the digits of German legal time (MEZ/MESZ, from @smgw/legal-time). Pure functions.
 */

export interface ExportValue {
  readonly time: Date
  readonly value: string | null
  readonly status: number
  readonly gatewayId: string
  readonly messageId: string
}

export interface ExportSeries {
  readonly obis: string
  readonly unit: string | null
  readonly scaler: number
  readonly kind: ValueRow['kind']
  readonly register: string | null
  readonly periodSeconds: number | null
  readonly values: readonly ExportValue[]
}

export interface ExportMeteringPoint {
  readonly id: string
  readonly kind: ValueRow['meteringPointKind']
  readonly series: readonly ExportSeries[]
}

/** Groups repository rows (any order) by metering point, then by series identity (OBIS, register, kind, unit, scaler, period), values by time. */
export function groupValues(rows: readonly ValueRow[]): ExportMeteringPoint[] {
  const points = new Map<string, { id: string; kind: ValueRow['meteringPointKind']; series: Map<string, ExportSeries & { values: ExportValue[] }> }>()
  for (const r of rows) {
    let point = points.get(r.meteringPoint)
    if (point === undefined) {
      point = { id: r.meteringPoint, kind: r.meteringPointKind, series: new Map() }
      points.set(r.meteringPoint, point)
    }
    const key = JSON.stringify([r.obis, r.register, r.kind, r.unit, r.scaler, r.periodSeconds])
    let series = point.series.get(key)
    if (series === undefined) {
      series = { obis: r.obis, unit: r.unit, scaler: r.scaler, kind: r.kind, register: r.register, periodSeconds: r.periodSeconds, values: [] }
      point.series.set(key, series)
    }
    series.values.push({ time: r.time, value: r.value, status: r.status, gatewayId: r.gatewayId, messageId: r.messageId })
  }
  const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
  return [...points.values()].sort((a, b) => byString(a.id, b.id)).map((p) => ({
    id: p.id, kind: p.kind,
    series: [...p.series.values()]
      .sort((a, b) => byString(a.obis, b.obis) || byString(a.register ?? '', b.register ?? '') || byString(a.kind, b.kind))
      .map((s) => ({ ...s, values: [...s.values].sort((a, b) => a.time.getTime() - b.time.getTime()) })),
  }))
}

/** mantissa × 10^scaler as an exact decimal string ("123456789", -1 → "12345678.9"; "5", -3 → "0.005"; "12", 2 → "1200"). */
export function formatDecimal(mantissa: string, scaler: number): string {
  const negative = mantissa.startsWith('-')
  const digits = negative ? mantissa.slice(1) : mantissa
  let out: string
  if (scaler >= 0) {
    out = digits === '0' ? '0' : digits + '0'.repeat(scaler)
  } else {
    const padded = digits.padStart(-scaler + 1, '0')
    out = `${padded.slice(0, padded.length + scaler)}.${padded.slice(padded.length + scaler)}`
  }
  return negative && /[1-9]/.test(out) ? `-${out}` : out
}

/** The local legal date/time digits of an instant: { digits: 'CCYYMMDDHHMM', offset: 1 | 2 }. */
export function legalDigits(at: Date): { readonly digits: string; readonly offset: 1 | 2 } {
  const t = toLegalTime(at)
  const p = (n: number) => String(n).padStart(2, '0')
  return { digits: `${String(t.year)}${p(t.month)}${p(t.day)}${p(t.hour)}${p(t.minute)}`, offset: t.offset }
}
