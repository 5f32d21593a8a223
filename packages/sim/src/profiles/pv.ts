import { SimError } from '../errors.js'
import { hashUnit } from '../random.js'
import type { PowerProfile } from './standard.js'

export interface PvProfileOptions {
  /** Peak power of the plant in W (output at clear sky, sun in the zenith). */
  readonly peakW: number
  /** Seed for the cloud noise. */
  readonly seed: number
  /** Site; defaults to the centre of Germany (51.0° N, 10.5° E). */
  readonly latitude?: number
  readonly longitude?: number
  /** 0 = always clear sky, 1 = full cloud noise (default 1). */
  readonly cloudiness?: number
}

const RAD = Math.PI / 180
const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000

/** sin(solar elevation) for an instant (Cooper's declination, Spencer's equation of time; ±1°). */
export function sinSolarElevation(at: Date, latitude: number, longitude: number): number {
  const dayStart = Date.UTC(at.getUTCFullYear(), 0, 1)
  const n = Math.floor((at.getTime() - dayStart) / DAY_MS) + 1
  const utcHours = (at.getTime() % DAY_MS) / HOUR_MS
  const declination = 23.44 * Math.sin((2 * Math.PI * (284 + n)) / 365) * RAD
  const b = (2 * Math.PI * (n - 81)) / 364
  const eotMinutes = 9.87 * Math.sin(2 * b) - 7.53 * Math.cos(b) - 1.5 * Math.sin(b)
  const solarHours = utcHours + longitude / 15 + eotMinutes / 60
  const hourAngle = 15 * (solarHours - 12) * RAD
  const phi = latitude * RAD
  return Math.sin(phi) * Math.sin(declination) + Math.cos(phi) * Math.cos(declination) * Math.cos(hourAngle)
}

/**
 * Clear-sky share of peak output for sin(elevation) `s`: direct beam attenuated by air mass
 * (Meinel & Meinel: 0.7^(AM^0.678), AM ≈ 1/s), normalised to 1 at the zenith. An
 * approximation for a horizontal plane; no diffuse light, no module temperature.
 */
export function clearSkyShare(s: number): number {
  if (s <= 0) return 0
  return s * 0.7 ** ((1 / s) ** 0.678 - 1)
}

/**
 * A PV generation profile: clear-sky bell curve by day of year and time of day, times a
 * seeded cloud factor that varies by day and by hour (interpolated, so power is continuous).
 * A pure function of the instant and the seed.
 */
export function createPvProfile(options: PvProfileOptions): PowerProfile {
  const { peakW, seed } = options
  if (!Number.isFinite(peakW) || peakW < 0) throw new SimError('SIM_CONFIG', `PV peakW must be ≥ 0, got ${peakW}`)
  const latitude = options.latitude ?? 51.0
  const longitude = options.longitude ?? 10.5
  const cloudiness = options.cloudiness ?? 1
  const cloudAt = (hourIndex: number): number => {
    const day = Math.floor(hourIndex / 24)
    return 0.6 * hashUnit(seed ^ 0x5bd1e995, day) + 0.4 * hashUnit(seed, hourIndex)
  }
  return {
    name: 'pv',
    powerW: (at) => {
      const share = clearSkyShare(sinSolarElevation(at, latitude, longitude))
      if (share === 0) return 0
      const hours = at.getTime() / HOUR_MS
      const k = Math.floor(hours)
      const c0 = cloudAt(k)
      const c = c0 + (cloudAt(k + 1) - c0) * (hours - k)
      return peakW * share * (1 - 0.8 * cloudiness * c)
    },
  }
}
