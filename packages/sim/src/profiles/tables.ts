import type { DayType, Season } from './legal-time.js'

/**
 * Hourly shapes of the BDEW standard load profiles H0 (household) and G0 (commercial, general).
 *
 * PROVENANCE — an approximation, not the BDEW data: the real profiles (VDEW "Repräsentative
 * VDEW-Lastprofile", 1999, published by BDEW) are 96 quarter-hour values in W per 1,000 kWh/a
 * for each season × day type. These tables give one value per full hour (the profile is
 * interpolated linearly in between), drawn after the published curves' shape: night minimum
 * around 03:00–05:00, morning rise, midday plateau, evening peak (H0 around 19:00 in winter,
 * later and flatter in summer), G0 business hours 08:00–17:00 on workdays. The transition
 * season is the mean of winter and summer. Absolute values are rescaled by `createLoadProfile`
 * so a reference year integrates to the configured annual energy.
 */
export type HourlyShape = readonly number[]
export type ProfileTable = Readonly<Record<Exclude<Season, 'transition'>, Readonly<Record<DayType, HourlyShape>>>>

export const H0_TABLE: ProfileTable = {
  winter: {
    workday: [70, 55, 48, 45, 45, 50, 70, 110, 125, 120, 118, 130, 150, 140, 125, 115, 120, 150, 200, 210, 190, 165, 140, 100],
    saturday: [80, 65, 55, 50, 48, 50, 60, 85, 115, 140, 150, 160, 170, 155, 140, 135, 140, 165, 195, 200, 180, 160, 140, 110],
    sunday: [85, 70, 58, 52, 48, 48, 50, 60, 90, 130, 165, 190, 200, 170, 140, 125, 125, 145, 180, 190, 175, 150, 125, 100],
  },
  summer: {
    workday: [65, 50, 44, 42, 42, 45, 60, 95, 105, 105, 108, 118, 130, 122, 110, 102, 105, 120, 140, 150, 155, 160, 140, 95],
    saturday: [75, 60, 50, 45, 44, 45, 50, 75, 100, 120, 130, 140, 150, 135, 120, 115, 115, 130, 145, 150, 150, 150, 135, 100],
    sunday: [80, 65, 55, 48, 45, 45, 46, 55, 80, 115, 140, 160, 170, 145, 120, 110, 110, 120, 140, 150, 150, 145, 125, 95],
  },
}

export const G0_TABLE: ProfileTable = {
  winter: {
    workday: [60, 58, 57, 57, 58, 65, 90, 140, 185, 200, 205, 205, 195, 190, 190, 185, 175, 155, 130, 110, 95, 85, 75, 65],
    saturday: [65, 62, 60, 60, 60, 63, 72, 95, 120, 135, 140, 140, 130, 115, 105, 100, 98, 95, 92, 88, 82, 77, 72, 68],
    sunday: [66, 63, 61, 60, 60, 61, 63, 66, 70, 74, 77, 79, 80, 78, 76, 75, 75, 77, 80, 80, 78, 75, 71, 68],
  },
  summer: {
    workday: [52, 50, 49, 49, 50, 56, 78, 122, 162, 178, 184, 186, 178, 172, 170, 165, 155, 135, 112, 94, 82, 74, 65, 56],
    saturday: [56, 53, 52, 52, 52, 54, 62, 82, 104, 117, 122, 122, 113, 100, 91, 87, 85, 82, 80, 76, 71, 67, 62, 59],
    sunday: [57, 55, 53, 52, 52, 53, 55, 57, 61, 64, 67, 69, 70, 68, 66, 65, 65, 67, 69, 69, 68, 65, 62, 59],
  },
}

/** The table value for a season, day type and hour (transition = mean of winter and summer). */
export function tableValue(table: ProfileTable, s: Season, d: DayType, hour: number): number {
  if (s === 'transition') return (table.winter[d][hour]! + table.summer[d][hour]!) / 2
  return table[s][d][hour]!
}
