/**
 * The DLMS/COSEM unit enumeration: DLMS UA 1000-1 Ed. 12 ("Blue Book") §4.3.2
 * Table 4, identical in IEC 62056-6-2:2017 §4.3.2 (formerly IEC 62056-62:2006 Table 4).
 * SML (BSI TR-03109-1 Anlage IV / FNN SML 1.04 §6.3.x `SML_Unit`) uses the same codes.
 *
 * Symbols are ASCII where a superscript would be needed (`m3`, `V2h`) so they survive
 * CSV and log lines; degrees and ohm keep their usual signs.
 */
export interface DlmsUnit {
  readonly code: number
  readonly symbol: string
  readonly quantity: string
}

// DLMS UA 1000-1 Ed. 12 §4.3.2 Table 4. Codes 58 and 59 are not assigned; 253 is reserved.
export const DLMS_UNITS: readonly DlmsUnit[] = [
  { code: 1, symbol: 'a', quantity: 'time (year)' },
  { code: 2, symbol: 'mo', quantity: 'time (month)' },
  { code: 3, symbol: 'wk', quantity: 'time (week)' },
  { code: 4, symbol: 'd', quantity: 'time (day)' },
  { code: 5, symbol: 'h', quantity: 'time (hour)' },
  { code: 6, symbol: 'min', quantity: 'time (minute)' },
  { code: 7, symbol: 's', quantity: 'time (second)' },
  { code: 8, symbol: '°', quantity: 'phase angle' },
  { code: 9, symbol: '°C', quantity: 'temperature' },
  { code: 10, symbol: 'currency', quantity: 'local currency' },
  { code: 11, symbol: 'm', quantity: 'length' },
  { code: 12, symbol: 'm/s', quantity: 'speed' },
  { code: 13, symbol: 'm3', quantity: 'volume' },
  { code: 14, symbol: 'm3', quantity: 'corrected volume' },
  { code: 15, symbol: 'm3/h', quantity: 'volume flux' },
  { code: 16, symbol: 'm3/h', quantity: 'corrected volume flux' },
  { code: 17, symbol: 'm3/d', quantity: 'volume flux' },
  { code: 18, symbol: 'm3/d', quantity: 'corrected volume flux' },
  { code: 19, symbol: 'l', quantity: 'volume (litre)' },
  { code: 20, symbol: 'kg', quantity: 'mass' },
  { code: 21, symbol: 'N', quantity: 'force' },
  { code: 22, symbol: 'Nm', quantity: 'energy (newton metre)' },
  { code: 23, symbol: 'Pa', quantity: 'pressure' },
  { code: 24, symbol: 'bar', quantity: 'pressure' },
  { code: 25, symbol: 'J', quantity: 'energy (joule)' },
  { code: 26, symbol: 'J/h', quantity: 'thermal power' },
  { code: 27, symbol: 'W', quantity: 'active power' },
  { code: 28, symbol: 'VA', quantity: 'apparent power' },
  { code: 29, symbol: 'var', quantity: 'reactive power' },
  { code: 30, symbol: 'Wh', quantity: 'active energy' },
  { code: 31, symbol: 'VAh', quantity: 'apparent energy' },
  { code: 32, symbol: 'varh', quantity: 'reactive energy' },
  { code: 33, symbol: 'A', quantity: 'current' },
  { code: 34, symbol: 'C', quantity: 'electrical charge' },
  { code: 35, symbol: 'V', quantity: 'voltage' },
  { code: 36, symbol: 'V/m', quantity: 'electric field strength' },
  { code: 37, symbol: 'F', quantity: 'capacitance' },
  { code: 38, symbol: 'Ω', quantity: 'resistance' },
  { code: 39, symbol: 'Ωm2/m', quantity: 'resistivity' },
  { code: 40, symbol: 'Wb', quantity: 'magnetic flux' },
  { code: 41, symbol: 'T', quantity: 'magnetic flux density' },
  { code: 42, symbol: 'A/m', quantity: 'magnetic field strength' },
  { code: 43, symbol: 'H', quantity: 'inductance' },
  { code: 44, symbol: 'Hz', quantity: 'frequency' },
  { code: 45, symbol: '1/(Wh)', quantity: 'active energy meter constant' },
  { code: 46, symbol: '1/(varh)', quantity: 'reactive energy meter constant' },
  { code: 47, symbol: '1/(VAh)', quantity: 'apparent energy meter constant' },
  { code: 48, symbol: 'V2h', quantity: 'volt-squared hours' },
  { code: 49, symbol: 'A2h', quantity: 'ampere-squared hours' },
  { code: 50, symbol: 'kg/s', quantity: 'mass flux' },
  { code: 51, symbol: 'S', quantity: 'conductance' },
  { code: 52, symbol: 'K', quantity: 'temperature (kelvin)' },
  { code: 53, symbol: '1/(V2h)', quantity: 'volt-squared hour meter constant' },
  { code: 54, symbol: '1/(A2h)', quantity: 'ampere-squared hour meter constant' },
  { code: 55, symbol: '1/m3', quantity: 'volume meter constant' },
  { code: 56, symbol: '%', quantity: 'percentage' },
  { code: 57, symbol: 'Ah', quantity: 'ampere-hours' },
  { code: 60, symbol: 'Wh/m3', quantity: 'energy per volume' },
  { code: 61, symbol: 'J/m3', quantity: 'calorific value' },
  { code: 62, symbol: 'mol%', quantity: 'molar fraction' },
  { code: 63, symbol: 'g/m3', quantity: 'mass density' },
  { code: 64, symbol: 'Pa s', quantity: 'dynamic viscosity' },
  { code: 65, symbol: 'J/kg', quantity: 'specific energy' },
  { code: 253, symbol: '', quantity: 'reserved' },
  { code: 254, symbol: 'other', quantity: 'other unit' },
  { code: 255, symbol: 'count', quantity: 'no unit, unitless, count' },
]

// Built once per module load from constant data; never mutated (not module-level *state*).
const BY_CODE: ReadonlyMap<number, DlmsUnit> = new Map(DLMS_UNITS.map((u) => [u.code, u]))

/** The unit symbol for a DLMS unit code (30 → 'Wh'), or undefined for an unassigned code. */
export function dlmsUnit(code: number): string | undefined {
  return BY_CODE.get(code)?.symbol
}

/** The whole table row for a DLMS unit code. */
export function dlmsUnitInfo(code: number): DlmsUnit | undefined {
  return BY_CODE.get(code)
}
