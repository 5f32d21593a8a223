import { toLegalTime } from '../profiles/legal-time.js'

/**
 * Consumption models for the wireless meters: simple physical approximations, not measured
 * data. Heating demand follows an outdoor temperature model (sinusoid over the year, coldest
 * mid-January around −1 °C daily mean, warmest mid-July around 19 °C, ±4 K over the day);
 * water follows a household day shape.
 */
export function outdoorTemperatureC(at: Date): number {
  const t = toLegalTime(at)
  const seasonal = 9 - 10 * Math.cos((2 * Math.PI * (t.dayOfYear - 15)) / 365)
  const daily = -4 * Math.cos((2 * Math.PI * (t.hour - 3)) / 24)
  return seasonal + daily
}

/** Space heating plus hot water demand of a flat in W: 250 W/K below 15 °C, 300 W base. */
export function heatDemandW(at: Date): number {
  return Math.max(0, 15 - outdoorTemperatureC(at)) * 250 + 300
}

/** Household water draw in l/h: about 300 l/day, mostly mornings and evenings. */
const WATER_SHAPE: readonly number[] = [2, 1, 1, 1, 1, 3, 12, 30, 25, 15, 12, 12, 14, 12, 10, 9, 10, 14, 20, 25, 22, 18, 12, 6]

export function waterFlowLph(at: Date): number {
  const t = toLegalTime(at)
  const h = Math.floor(t.hour) % 24
  const a = WATER_SHAPE[h]!
  const b = WATER_SHAPE[(h + 1) % 24]!
  return a + (b - a) * (t.hour - Math.floor(t.hour))
}

/** Supply and return temperature of the heating circuit for a demand (heating curve). */
export function circuitTemperaturesC(demandW: number): { readonly flow: number; readonly ret: number } {
  const flow = 35 + Math.min(35, demandW / 180)
  return { flow, ret: flow - 5 - Math.min(15, demandW / 600) }
}
