import { describe, expect, it } from 'vitest'
import { SimError } from '../errors.js'
import { createPvProfile } from './pv.js'
import { createStandardProfile, h0DynamisationFactor } from './standard.js'

/** Energy in kWh over [from, to) by the midpoint rule with 15-minute steps. */
function energyKwh(powerW: (at: Date) => number, from: number, to: number): number {
  let wh = 0
  for (let ms = from; ms < to; ms += 900_000) wh += powerW(new Date(ms + 450_000)) / 4
  return wh / 1000
}

describe('standard load profiles', () => {
  it('integrates to the configured annual energy', () => {
    const h0 = createStandardProfile({ name: 'h0', annualKwh: 3500 })
    const year2025 = energyKwh(h0.powerW, Date.UTC(2024, 11, 31, 23), Date.UTC(2025, 11, 31, 23))
    expect(year2025).toBeGreaterThan(3500 * 0.99)
    expect(year2025).toBeLessThan(3500 * 1.01)
    const g0 = createStandardProfile({ name: 'g0', annualKwh: 20_000 })
    const year2027 = energyKwh(g0.powerW, Date.UTC(2026, 11, 31, 23), Date.UTC(2027, 11, 31, 23))
    expect(Math.abs(year2027 / 20_000 - 1)).toBeLessThan(0.02)
  })

  it('has the H0 shape: evening peak above the night minimum, winter above summer', () => {
    const h0 = createStandardProfile({ name: 'h0' })
    const p = (iso: string) => h0.powerW(new Date(iso))
    expect(p('2025-01-15T18:00:00Z')).toBeGreaterThan(3 * p('2025-01-15T02:00:00Z'))
    expect(p('2025-01-15T18:00:00Z')).toBeGreaterThan(p('2025-07-16T17:00:00Z'))
    // Sunday late morning above the same workday hour.
    expect(p('2025-01-19T10:00:00Z')).toBeGreaterThan(p('2025-01-15T10:00:00Z'))
    // Continuous: no jump at a full hour.
    expect(Math.abs(p('2025-01-15T17:59:59Z') - p('2025-01-15T18:00:00Z'))).toBeLessThan(0.1)
  })

  it('applies the H0 dynamisation polynomial', () => {
    expect(h0DynamisationFactor(1)).toBeCloseTo(1.2421, 3)
    expect(h0DynamisationFactor(200)).toBeLessThan(0.85)
    const dyn = createStandardProfile({ name: 'h0', dynamic: true })
    const flat = createStandardProfile({ name: 'h0', dynamic: false })
    const jan = new Date('2025-01-15T11:00:00Z')
    const jul = new Date('2025-07-16T10:00:00Z')
    expect(dyn.powerW(jan) / flat.powerW(jan)).toBeGreaterThan(dyn.powerW(jul) / flat.powerW(jul))
  })

  it('has the G0 shape: business hours on workdays', () => {
    const g0 = createStandardProfile({ name: 'g0' })
    const p = (iso: string) => g0.powerW(new Date(iso))
    expect(p('2025-02-12T10:00:00Z')).toBeGreaterThan(2 * p('2025-02-16T10:00:00Z')) // Wed vs Sun
    expect(p('2025-02-12T10:00:00Z')).toBeGreaterThan(2 * p('2025-02-12T02:00:00Z'))
  })

  it('rejects unknown profiles and bad energies with typed errors', () => {
    expect(() => createStandardProfile({ name: 'x9' as 'h0' })).toThrow(expect.objectContaining({ code: 'SIM_UNKNOWN_PROFILE' }))
    expect(() => createStandardProfile({ name: 'h0', annualKwh: -1 })).toThrow(SimError)
    expect(() => createStandardProfile({ name: 'h0', annualKwh: Number.NaN })).toThrow(expect.objectContaining({ code: 'SIM_CONFIG' }))
    expect(() => createPvProfile({ peakW: -5, seed: 1 })).toThrow(expect.objectContaining({ code: 'SIM_CONFIG' }))
  })
})

describe('PV profile', () => {
  const pv = createPvProfile({ peakW: 10_000, seed: 7 })
  const p = (iso: string) => pv.powerW(new Date(iso))

  it('is zero at night and peaks around solar noon', () => {
    expect(p('2025-06-21T22:00:00Z')).toBe(0)
    expect(p('2025-12-21T06:00:00Z')).toBe(0)
    const clear = createPvProfile({ peakW: 10_000, seed: 7, cloudiness: 0 })
    const noon = clear.powerW(new Date('2025-06-21T11:20:00Z'))
    expect(noon).toBeGreaterThan(7000)
    expect(noon).toBeLessThanOrEqual(10_000)
    expect(noon).toBeGreaterThan(clear.powerW(new Date('2025-06-21T07:00:00Z')))
    expect(noon).toBeGreaterThan(2 * clear.powerW(new Date('2025-12-21T11:20:00Z')))
  })

  it('cloud noise depends on the seed only, never exceeds clear sky', () => {
    const again = createPvProfile({ peakW: 10_000, seed: 7 })
    const other = createPvProfile({ peakW: 10_000, seed: 8 })
    const clear = createPvProfile({ peakW: 10_000, seed: 7, cloudiness: 0 })
    let differs = 0
    for (let h = 0; h < 24 * 30; h++) {
      const at = new Date(Date.UTC(2025, 5, 1) + h * 3_600_000)
      expect(again.powerW(at)).toBe(pv.powerW(at))
      expect(pv.powerW(at)).toBeLessThanOrEqual(clear.powerW(at))
      if (other.powerW(at) !== pv.powerW(at)) differs++
    }
    expect(differs).toBeGreaterThan(100)
  })
})
