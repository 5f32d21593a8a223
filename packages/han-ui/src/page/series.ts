import { chartNumber, STATUS_GAP } from './format.js'

/*
 * History points → chart series. The API gives register values at interval ends; for energy
 * registers (Wh, varh) the chart shows what was used in each interval, the difference of two
 * neighbouring register values. A gap (status gap bit, value null) stays a gap, and so does
 * the interval after it: nothing is interpolated or joined (principle: gaps are never filled).
 */

export interface ChartSeries {
  /** Interval ends, seconds since the epoch (uPlot's x axis). */
  readonly x: number[]
  readonly y: (number | null)[]
  readonly gaps: number
  /** Whether y holds per-interval differences (true) or the values themselves. */
  readonly differences: boolean
}

export function isRegisterUnit(unit: string): boolean {
  return unit === 'Wh' || unit === 'varh'
}

export function chartSeries(points: readonly { time: string; value: string | null; status: number }[], scaler: number, unit: string): ChartSeries {
  const differences = isRegisterUnit(unit)
  const x: number[] = []
  const y: (number | null)[] = []
  let gaps = 0
  let previous: bigint | null = null
  let first = true
  for (const point of points) {
    const gap = point.value === null || (point.status & STATUS_GAP) !== 0
    if (gap) gaps++
    const value = gap ? null : point.value
    if (differences) {
      const current = value === null ? null : BigInt(value)
      if (!first) {
        x.push(Date.parse(point.time) / 1000)
        y.push(current === null || previous === null ? null : chartNumber((current - previous).toString(), scaler, unit))
      }
      previous = current
      first = false
    } else {
      x.push(Date.parse(point.time) / 1000)
      y.push(chartNumber(value, scaler, unit))
    }
  }
  return { x, y, gaps, differences }
}

export interface StatusRun {
  readonly from: string
  readonly to: string
  readonly count: number
  readonly status: number
}

/** Consecutive points with the same non-zero status, as runs (a silent day is one line, not 96). */
export function statusRuns(points: readonly { time: string; status: number }[]): StatusRun[] {
  const runs: StatusRun[] = []
  let current: { from: string; to: string; count: number; status: number } | undefined
  for (const p of points) {
    if (current !== undefined && p.status === current.status) {
      current.to = p.time
      current.count++
      continue
    }
    if (current !== undefined) runs.push(current)
    current = p.status === 0 ? undefined : { from: p.time, to: p.time, count: 1, status: p.status }
  }
  if (current !== undefined) runs.push(current)
  return runs
}
