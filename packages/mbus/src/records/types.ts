import type { Unit } from './vif-table.js'

/** DIF bits 4–5 (EN 13757-3:2018 §6.3.2 Table 5). */
export type RecordFunction = 'instantaneous' | 'maximum' | 'minimum' | 'error'
export const RECORD_FUNCTIONS: readonly RecordFunction[] = ['instantaneous', 'maximum', 'minimum', 'error']

/**
 * How the data field is coded (DIF bits 0–3, EN 13757-3:2018 §6.3.3 Table 4; variable
 * length split by LVAR, Table 6; special functions 0Fh/1Fh as manufacturer data).
 */
export type DataCoding =
  | 'none' | 'int8' | 'int16' | 'int24' | 'int32' | 'int48' | 'int64' | 'real32' | 'selection'
  | 'bcd2' | 'bcd4' | 'bcd6' | 'bcd8' | 'bcd12'
  | 'text' | 'binary' | 'bcd_var'
  | 'manufacturer_data' | 'manufacturer_data_more'

/**
 * The data field as coded: integers and BCD as numbers (bigint for 64-bit integers beyond
 * 2^53), real32 as number, text as string, binary / invalid BCD / manufacturer data as bytes,
 * null when there is no data.
 */
export type RawValue = number | bigint | string | Uint8Array | null

/** The value in the base unit: number, date/time text, text, hex for bytes, null for no data. */
export type RecordValue = number | string | null

/** One data record of the application layer (EN 13757-3:2018 §6). */
export interface DataRecord {
  readonly storage: number
  readonly tariff: number
  readonly subunit: number
  readonly function: RecordFunction
  readonly coding: DataCoding
  /** DIF and DIFEs as received (a view into the decoded APDU, not a copy). */
  readonly dif: Uint8Array
  /** VIF, VIFEs (and a plain-text unit) as received, a view like `dif`; empty for manufacturer data. */
  readonly vif: Uint8Array
  readonly raw: RawValue
  /** e.g. 'energy', 'volume', 'flow_temperature', 'date', 'error_flags', 'manufacturer_data'. */
  readonly quantity: string
  readonly unit: Unit
  /** `raw` scaled to `unit` (date/time types as ISO 8601 text without zone). */
  readonly value: RecordValue
  /** Combinable VIFEs as names (e.g. 'per_hour', 'lower_limit', 'multiplier_1e-3'); a plain-text unit as 'unit:<text>'. */
  readonly modifiers: readonly string[]
}

/** What the encoder needs for one record; a decoded DataRecord is one. */
export interface DataRecordInput {
  readonly storage?: number
  readonly tariff?: number
  readonly subunit?: number
  readonly function?: RecordFunction
  readonly coding: DataCoding
  /** VIF and VIFEs exactly as they are to be sent (ignored for manufacturer data). */
  readonly vif: Uint8Array
  readonly raw: RawValue
}
