import { describe, expect, it } from 'vitest'
import { chartSeries, statusRuns } from './series.js'

const at = (minutes: number) => new Date(Date.UTC(2026, 10, 23, 0, minutes)).toISOString()

describe('chartSeries', () => {
  it('charts energy registers as use per interval (exact differences, in kWh)', () => {
    const s = chartSeries([
      { time: at(0), value: '10000', status: 0 },
      { time: at(15), value: '12500', status: 0 },
      { time: at(30), value: '12600', status: 0 },
    ], -1, 'Wh')
    expect(s.differences).toBe(true)
    expect(s.x).toEqual([Date.parse(at(15)) / 1000, Date.parse(at(30)) / 1000])
    expect(s.y).toEqual([0.25, 0.01])
    expect(s.gaps).toBe(0)
  })

  it('keeps gaps as gaps: the gap and the interval after it have no value, nothing is joined', () => {
    const s = chartSeries([
      { time: at(0), value: '100', status: 0 },
      { time: at(15), value: null, status: 4 },
      { time: at(30), value: '300', status: 0 },
      { time: at(45), value: '400', status: 0 },
    ], 0, 'Wh')
    expect(s.y).toEqual([null, null, 0.1])
    expect(s.gaps).toBe(1)
  })

  it('charts other quantities as they are, gaps null', () => {
    const s = chartSeries([{ time: at(0), value: '2301', status: 0 }, { time: at(15), value: null, status: 4 }], -1, 'V')
    expect(s).toEqual({ x: [Date.parse(at(0)) / 1000, Date.parse(at(15)) / 1000], y: [230.1, null], gaps: 1, differences: false })
  })
})

describe('statusRuns', () => {
  it('groups consecutive points with the same status and skips good ones', () => {
    expect(statusRuns([
      { time: at(0), status: 0 }, { time: at(15), status: 4 }, { time: at(30), status: 4 }, { time: at(45), status: 4 },
      { time: at(60), status: 1 }, { time: at(75), status: 0 }, { time: at(90), status: 4 },
    ])).toEqual([
      { from: at(15), to: at(45), count: 3, status: 4 },
      { from: at(60), to: at(60), count: 1, status: 1 },
      { from: at(90), to: at(90), count: 1, status: 4 },
    ])
    expect(statusRuns([{ time: at(0), status: 0 }])).toEqual([])
  })
})
