import type { Obis } from './obis.js'
import { parseObis } from './obis.js'

/** Value group A, IEC 62056-61:2006 §5.2 Table 2. */
export const OBIS_MEDIA: Readonly<Record<number, string>> = {
  0: 'abstract',
  1: 'electricity',
  4: 'heat cost allocator',
  5: 'cooling',
  6: 'heat',
  7: 'gas',
  8: 'cold water',
  9: 'hot water',
}

interface QuantityRow {
  readonly c: number
  /** Name for D = 8 (time integral 1: the energy register). */
  readonly register?: string
  /** Name for D = 7 (instantaneous value). */
  readonly instantaneous?: string
}

// IEC 62056-61:2006 §5.4 Table 3 / DLMS UA 1000-1 Ed. 12 §7.5.1 Table 45: electricity value group C.
const ELECTRICITY: readonly QuantityRow[] = [
  { c: 1, register: 'active energy import (+A)', instantaneous: 'active power import (+P)' },
  { c: 2, register: 'active energy export (-A)', instantaneous: 'active power export (-P)' },
  { c: 3, register: 'reactive energy import (+R)', instantaneous: 'reactive power import (+Q)' },
  { c: 4, register: 'reactive energy export (-R)', instantaneous: 'reactive power export (-Q)' },
  { c: 5, register: 'reactive energy QI', instantaneous: 'reactive power QI' },
  { c: 6, register: 'reactive energy QII', instantaneous: 'reactive power QII' },
  { c: 7, register: 'reactive energy QIII', instantaneous: 'reactive power QIII' },
  { c: 8, register: 'reactive energy QIV', instantaneous: 'reactive power QIV' },
  { c: 9, register: 'apparent energy import (+S)', instantaneous: 'apparent power import' },
  { c: 10, register: 'apparent energy export (-S)', instantaneous: 'apparent power export' },
  { c: 13, instantaneous: 'power factor' },
  { c: 14, instantaneous: 'supply frequency' },
  { c: 15, register: 'absolute active energy (|+A| + |-A|)', instantaneous: 'absolute active power' },
  { c: 16, register: 'net active energy (+A - -A)', instantaneous: 'active power (import - export)' },
  { c: 21, register: 'active energy import L1', instantaneous: 'active power import L1' },
  { c: 22, register: 'active energy export L1', instantaneous: 'active power export L1' },
  { c: 31, instantaneous: 'current L1' },
  { c: 32, instantaneous: 'voltage L1' },
  { c: 33, instantaneous: 'power factor L1' },
  { c: 36, register: 'net active energy L1', instantaneous: 'active power L1 (import - export)' },
  { c: 41, register: 'active energy import L2', instantaneous: 'active power import L2' },
  { c: 42, register: 'active energy export L2', instantaneous: 'active power export L2' },
  { c: 51, instantaneous: 'current L2' },
  { c: 52, instantaneous: 'voltage L2' },
  { c: 53, instantaneous: 'power factor L2' },
  { c: 56, register: 'net active energy L2', instantaneous: 'active power L2 (import - export)' },
  { c: 61, register: 'active energy import L3', instantaneous: 'active power import L3' },
  { c: 62, register: 'active energy export L3', instantaneous: 'active power export L3' },
  { c: 71, instantaneous: 'current L3' },
  { c: 72, instantaneous: 'voltage L3' },
  { c: 73, instantaneous: 'power factor L3' },
  { c: 76, register: 'net active energy L3', instantaneous: 'active power L3 (import - export)' },
  { c: 81, instantaneous: 'phase angle' },
  { c: 91, instantaneous: 'current neutral' },
]

interface ExactRow {
  /** Value groups A, C, D, E that must match (B and F are ignored). */
  readonly a: number
  readonly c: number
  readonly d: number
  readonly e: number
  readonly name: string
}

// Service entries and the other media.
// Electricity: DLMS UA 1000-1 Ed. 12 §7.5 and FNN Lastenheft EDL 1.0 (the OBIS list SML meters send).
// Heat, gas, water: EN 13757-1:2014 Annex / DLMS UA 1000-1 Ed. 12 §7.6-7.8 value group C tables.
const EXACT: readonly ExactRow[] = [
  { a: 1, c: 0, d: 0, e: 0, name: 'owner number' },
  { a: 1, c: 0, d: 0, e: 9, name: 'server id (device identification)' },
  { a: 1, c: 0, d: 2, e: 0, name: 'firmware version' },
  { a: 1, c: 96, d: 1, e: 0, name: 'device id (serial number)' },
  { a: 0, c: 96, d: 1, e: 0, name: 'device id (serial number)' },
  { a: 1, c: 96, d: 5, e: 0, name: 'operating status' },
  { a: 0, c: 96, d: 5, e: 0, name: 'operating status' },
  { a: 1, c: 96, d: 50, e: 1, name: 'manufacturer id' },
  { a: 129, c: 199, d: 130, e: 3, name: 'manufacturer id' },
  { a: 1, c: 96, d: 90, e: 2, name: 'firmware checksum' },
  { a: 1, c: 97, d: 97, e: 0, name: 'error register' },
  { a: 6, c: 1, d: 0, e: 0, name: 'heat energy' },
  { a: 6, c: 2, d: 0, e: 0, name: 'heat flow volume' },
  { a: 6, c: 8, d: 0, e: 0, name: 'heat power' },
  { a: 6, c: 9, d: 0, e: 0, name: 'heat flow rate' },
  { a: 6, c: 10, d: 0, e: 0, name: 'heat flow temperature' },
  { a: 6, c: 11, d: 0, e: 0, name: 'heat return temperature' },
  { a: 6, c: 12, d: 0, e: 0, name: 'heat temperature difference' },
  { a: 7, c: 1, d: 0, e: 0, name: 'gas volume (meter conditions, undisturbed)' },
  { a: 7, c: 3, d: 0, e: 0, name: 'gas volume (meter conditions)' },
  { a: 7, c: 13, d: 0, e: 0, name: 'gas volume (converted, base conditions)' },
  { a: 8, c: 1, d: 0, e: 0, name: 'cold water volume' },
  { a: 8, c: 2, d: 0, e: 0, name: 'cold water flow rate' },
  { a: 9, c: 1, d: 0, e: 0, name: 'hot water volume' },
  { a: 9, c: 2, d: 0, e: 0, name: 'hot water flow rate' },
]

const ELECTRICITY_BY_C: ReadonlyMap<number, QuantityRow> = new Map(ELECTRICITY.map((r) => [r.c, r]))

/**
 * A human name for an OBIS code (`1-0:1.8.1` → 'active energy import (+A) tariff 1'),
 * or undefined when the code is not in our tables. Accepts an `Obis` or any text `parseObis` accepts.
 */
export function obisName(code: Obis | string): string | undefined {
  const o = typeof code === 'string' ? parseObis(code) : code
  const exact = EXACT.find((r) => r.a === o.a && r.c === o.c && r.d === o.d && r.e === o.e)
  if (exact !== undefined) return exact.name
  if (o.a !== 1) return undefined
  const row = ELECTRICITY_BY_C.get(o.c)
  if (row === undefined) return undefined
  // IEC 62056-61:2006 §5.5 Table 4: D = 8 time integral 1 (register), D = 7 instantaneous value.
  // §5.6: E = 0 total, E = 1..9 tariff register.
  if (o.d === 8 && row.register !== undefined) return o.e === 0 ? `${row.register} total` : `${row.register} tariff ${o.e}`
  if (o.d === 7 && row.instantaneous !== undefined) return o.e === 0 ? row.instantaneous : `${row.instantaneous} (${o.e})`
  return undefined
}
