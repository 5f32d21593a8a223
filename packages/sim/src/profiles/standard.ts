import { SimError } from '../errors.js'
import { dayType, season, toLegalTime, type LegalTime } from './legal-time.js'
import { G0_TABLE, H0_TABLE, tableValue, type ProfileTable } from './tables.js'

export type StandardProfileName = 'h0' | 'g0'

/** A source of average power for an instant: W, ≥ 0. */
export interface PowerProfile {
  readonly name: string
  readonly powerW: (at: Date) => number
}

export interface StandardProfileOptions {
  readonly name: StandardProfileName
  /** Annual energy in kWh the profile is scaled to (default 1,000, the BDEW normalisation). */
  readonly annualKwh?: number
  /** Apply the H0 dynamisation polynomial (default true for h0, ignored for g0). */
  readonly dynamic?: boolean
}

const TABLES: Readonly<Record<StandardProfileName, ProfileTable>> = { h0: H0_TABLE, g0: G0_TABLE }

/** The year whose hours the scale factor is computed over (any non-leap year gives within 0.5 %). */
const REFERENCE_YEAR = 2025

/**
 * BDEW dynamisation factor for H0 (VDEW 1999 / BDEW "Anwendung der repräsentativen
 * VDEW-Lastprofile step-by-step"): F(t) = −3.92·10⁻¹⁰·t⁴ + 3.2·10⁻⁷·t³ − 7.02·10⁻⁵·t² + 2.1·10⁻³·t + 1.24,
 * t = day of the year (1 = 1 January).
 */
export function h0DynamisationFactor(dayOfYear: number): number {
  const t = dayOfYear
  return -3.92e-10 * t ** 4 + 3.2e-7 * t ** 3 - 7.02e-5 * t ** 2 + 2.1e-3 * t + 1.24
}

/** The unscaled table shape at a legal time, interpolated linearly between full hours. */
function shapeAt(table: ProfileTable, t: LegalTime, next: LegalTime): number {
  const h = Math.floor(t.hour) % 24
  const frac = t.hour - Math.floor(t.hour)
  const a = tableValue(table, season(t), dayType(t), h)
  const b = tableValue(table, season(next), dayType(next), (h + 1) % 24)
  return a + (b - a) * frac
}

/**
 * A BDEW standard load profile (H0 household, G0 commercial) as average power in W for an
 * instant, scaled so that the reference year integrates to `annualKwh`.
 * See `tables.ts` for how the hourly shapes approximate the quarter-hour BDEW tables.
 */
export function createStandardProfile(options: StandardProfileOptions): PowerProfile {
  const table = TABLES[options.name] as ProfileTable | undefined
  if (table === undefined) throw new SimError('SIM_UNKNOWN_PROFILE', `unknown standard load profile: ${options.name as string}`)
  const annualKwh = options.annualKwh ?? 1000
  if (!Number.isFinite(annualKwh) || annualKwh <= 0) throw new SimError('SIM_CONFIG', `annualKwh must be positive, got ${annualKwh}`)
  const dynamic = options.name === 'h0' && options.dynamic !== false
  const raw = (at: Date): number => {
    const t = toLegalTime(at)
    const next = toLegalTime(new Date(at.getTime() + 3_600_000))
    const shape = shapeAt(table, t, next)
    return dynamic ? shape * h0DynamisationFactor(t.dayOfYear) : shape
  }
  // Scale: mean power over the reference year (sampled at every half hour) → annualKwh / 8760 h.
  const start = Date.UTC(REFERENCE_YEAR, 0, 1) - 3_600_000
  const end = Date.UTC(REFERENCE_YEAR + 1, 0, 1) - 3_600_000
  let sum = 0
  let n = 0
  for (let ms = start + 900_000; ms < end; ms += 1_800_000) {
    sum += raw(new Date(ms))
    n++
  }
  const scale = (annualKwh * 1000) / 8760 / (sum / n)
  return {
    name: options.name,
    powerW: (at) => raw(at) * scale,
  }
}
