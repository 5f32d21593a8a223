// EN 13757-3:2018 §6.4 value information: the primary VIF table (Table 10), the main VIFE
// extension tables FD (Table 14) and FB (Table 12), and the combinable (orthogonal) VIFEs
// (Table 15), as typed data. Each entry names the quantity, the base unit the value is
// converted to, and how the code's low bits scale it: value = raw × mult × 10^exp.

/** Base units values are converted to; '' for dimensionless counts and identifiers, 'raw' for manufacturer data. */
export type Unit =
  | 'Wh' | 'J' | 'm3' | 'kg' | 'W' | 'J/h' | 'm3/h' | 'kg/h' | '°C' | 'K' | 'bar' | 's' | 'V' | 'A' | 'Hz'
  | 'date' | 'datetime' | 'time' | 'raw' | ''

/** How a record's value is interpreted beyond plain numbers. */
export type VifKind = 'number' | 'date' | 'datetime' | 'identifier' | 'flags' | 'raw'

export interface VifEntry {
  readonly first: number
  readonly last: number
  readonly quantity: string
  readonly unit: Unit
  readonly kind?: VifKind
  /** Decimal exponent from the code (default 0). */
  readonly exponent?: (code: number) => number
  /** Multiplier from the code (default 1), e.g. minutes → seconds. */
  readonly mult?: (code: number) => number
}

const n3 = (c: number): number => c & 0x07
const n2 = (c: number): number => c & 0x03
const n1 = (c: number): number => c & 0x01
const n4 = (c: number): number => c & 0x0f
/** EN 13757-3:2018 Table 10 footnote: nn = 0 seconds, 1 minutes, 2 hours, 3 days. */
const DURATION = [1, 60, 3600, 86400] as const
const duration = (c: number): number => DURATION[c & 0x03]!

/** EN 13757-3:2018 §6.4.3 Table 10: primary VIF codes (extension bit removed). */
export const PRIMARY_VIFS: readonly VifEntry[] = [
  { first: 0x00, last: 0x07, quantity: 'energy', unit: 'Wh', exponent: (c) => n3(c) - 3 },
  { first: 0x08, last: 0x0f, quantity: 'energy', unit: 'J', exponent: n3 },
  { first: 0x10, last: 0x17, quantity: 'volume', unit: 'm3', exponent: (c) => n3(c) - 6 },
  { first: 0x18, last: 0x1f, quantity: 'mass', unit: 'kg', exponent: (c) => n3(c) - 3 },
  { first: 0x20, last: 0x23, quantity: 'on_time', unit: 's', mult: duration },
  { first: 0x24, last: 0x27, quantity: 'operating_time', unit: 's', mult: duration },
  { first: 0x28, last: 0x2f, quantity: 'power', unit: 'W', exponent: (c) => n3(c) - 3 },
  { first: 0x30, last: 0x37, quantity: 'power', unit: 'J/h', exponent: n3 },
  { first: 0x38, last: 0x3f, quantity: 'volume_flow', unit: 'm3/h', exponent: (c) => n3(c) - 6 },
  // m3/min and m3/s converted to m3/h.
  { first: 0x40, last: 0x47, quantity: 'volume_flow', unit: 'm3/h', exponent: (c) => n3(c) - 7, mult: () => 60 },
  { first: 0x48, last: 0x4f, quantity: 'volume_flow', unit: 'm3/h', exponent: (c) => n3(c) - 9, mult: () => 3600 },
  { first: 0x50, last: 0x57, quantity: 'mass_flow', unit: 'kg/h', exponent: (c) => n3(c) - 3 },
  { first: 0x58, last: 0x5b, quantity: 'flow_temperature', unit: '°C', exponent: (c) => n2(c) - 3 },
  { first: 0x5c, last: 0x5f, quantity: 'return_temperature', unit: '°C', exponent: (c) => n2(c) - 3 },
  { first: 0x60, last: 0x63, quantity: 'temperature_difference', unit: 'K', exponent: (c) => n2(c) - 3 },
  { first: 0x64, last: 0x67, quantity: 'external_temperature', unit: '°C', exponent: (c) => n2(c) - 3 },
  { first: 0x68, last: 0x6b, quantity: 'pressure', unit: 'bar', exponent: (c) => n2(c) - 3 },
  { first: 0x6c, last: 0x6c, quantity: 'date', unit: 'date', kind: 'date' },
  { first: 0x6d, last: 0x6d, quantity: 'datetime', unit: 'datetime', kind: 'datetime' },
  { first: 0x6e, last: 0x6e, quantity: 'hca_units', unit: '' },
  { first: 0x70, last: 0x73, quantity: 'averaging_duration', unit: 's', mult: duration },
  { first: 0x74, last: 0x77, quantity: 'actuality_duration', unit: 's', mult: duration },
  { first: 0x78, last: 0x78, quantity: 'fabrication_number', unit: '', kind: 'identifier' },
  { first: 0x79, last: 0x79, quantity: 'enhanced_identification', unit: '', kind: 'identifier' },
  { first: 0x7a, last: 0x7a, quantity: 'bus_address', unit: '', kind: 'identifier' },
  { first: 0x7f, last: 0x7f, quantity: 'manufacturer_specific', unit: 'raw', kind: 'raw' },
]

/** EN 13757-3:2018 §6.4.5 Table 14: VIF = FDh, main VIFE extension table (common entries). */
export const FD_VIFS: readonly VifEntry[] = [
  { first: 0x00, last: 0x03, quantity: 'credit', unit: '', exponent: (c) => n2(c) - 3 },
  { first: 0x04, last: 0x07, quantity: 'debit', unit: '', exponent: (c) => n2(c) - 3 },
  { first: 0x08, last: 0x08, quantity: 'access_number', unit: '', kind: 'identifier' },
  { first: 0x09, last: 0x09, quantity: 'device_type', unit: '', kind: 'identifier' },
  { first: 0x0a, last: 0x0a, quantity: 'manufacturer', unit: '', kind: 'identifier' },
  { first: 0x0b, last: 0x0b, quantity: 'parameter_set_id', unit: '', kind: 'identifier' },
  { first: 0x0c, last: 0x0c, quantity: 'model_version', unit: '', kind: 'identifier' },
  { first: 0x0d, last: 0x0d, quantity: 'hardware_version', unit: '', kind: 'identifier' },
  { first: 0x0e, last: 0x0e, quantity: 'firmware_version', unit: '', kind: 'identifier' },
  { first: 0x0f, last: 0x0f, quantity: 'software_version', unit: '', kind: 'identifier' },
  { first: 0x10, last: 0x10, quantity: 'customer_location', unit: '', kind: 'identifier' },
  { first: 0x11, last: 0x11, quantity: 'customer', unit: '', kind: 'identifier' },
  { first: 0x12, last: 0x12, quantity: 'access_code_user', unit: '', kind: 'identifier' },
  { first: 0x13, last: 0x13, quantity: 'access_code_operator', unit: '', kind: 'identifier' },
  { first: 0x14, last: 0x14, quantity: 'access_code_system_operator', unit: '', kind: 'identifier' },
  { first: 0x15, last: 0x15, quantity: 'access_code_developer', unit: '', kind: 'identifier' },
  { first: 0x16, last: 0x16, quantity: 'password', unit: '', kind: 'identifier' },
  { first: 0x17, last: 0x17, quantity: 'error_flags', unit: '', kind: 'flags' },
  { first: 0x18, last: 0x18, quantity: 'error_mask', unit: '', kind: 'flags' },
  { first: 0x1a, last: 0x1a, quantity: 'digital_output', unit: '', kind: 'flags' },
  { first: 0x1b, last: 0x1b, quantity: 'digital_input', unit: '', kind: 'flags' },
  { first: 0x1c, last: 0x1c, quantity: 'baud_rate', unit: '' },
  { first: 0x1d, last: 0x1d, quantity: 'response_delay_time', unit: '' },
  { first: 0x1e, last: 0x1e, quantity: 'retry', unit: '' },
  { first: 0x1f, last: 0x1f, quantity: 'remote_control', unit: '', kind: 'flags' },
  { first: 0x20, last: 0x20, quantity: 'first_storage_number', unit: '' },
  { first: 0x21, last: 0x21, quantity: 'last_storage_number', unit: '' },
  { first: 0x22, last: 0x22, quantity: 'storage_block_size', unit: '' },
  { first: 0x23, last: 0x23, quantity: 'tariff_subunit_descriptor', unit: '', kind: 'flags' },
  { first: 0x24, last: 0x27, quantity: 'storage_interval', unit: 's', mult: duration },
  { first: 0x28, last: 0x28, quantity: 'storage_interval_months', unit: '' },
  { first: 0x29, last: 0x29, quantity: 'storage_interval_years', unit: '' },
  { first: 0x2c, last: 0x2f, quantity: 'duration_since_readout', unit: 's', mult: duration },
  { first: 0x30, last: 0x30, quantity: 'tariff_start', unit: 'datetime', kind: 'datetime' },
  { first: 0x31, last: 0x33, quantity: 'tariff_duration', unit: 's', mult: duration },
  { first: 0x34, last: 0x37, quantity: 'tariff_period', unit: 's', mult: duration },
  { first: 0x38, last: 0x38, quantity: 'tariff_period_months', unit: '' },
  { first: 0x39, last: 0x39, quantity: 'tariff_period_years', unit: '' },
  { first: 0x3a, last: 0x3a, quantity: 'dimensionless', unit: '' },
  { first: 0x40, last: 0x4f, quantity: 'voltage', unit: 'V', exponent: (c) => n4(c) - 9 },
  { first: 0x50, last: 0x5f, quantity: 'current', unit: 'A', exponent: (c) => n4(c) - 12 },
  { first: 0x60, last: 0x60, quantity: 'reset_counter', unit: '' },
  { first: 0x61, last: 0x61, quantity: 'cumulation_counter', unit: '' },
  { first: 0x62, last: 0x62, quantity: 'control_signal', unit: '', kind: 'flags' },
  { first: 0x63, last: 0x63, quantity: 'day_of_week', unit: '' },
  { first: 0x64, last: 0x64, quantity: 'week_number', unit: '' },
  { first: 0x65, last: 0x65, quantity: 'time_point_of_day_change', unit: '' },
  { first: 0x66, last: 0x66, quantity: 'parameter_activation_state', unit: '', kind: 'flags' },
  { first: 0x67, last: 0x67, quantity: 'special_supplier_information', unit: '', kind: 'identifier' },
  { first: 0x68, last: 0x69, quantity: 'duration_since_cumulation', unit: 's', mult: (c) => (c & 1) === 0 ? 3600 : 86400 },
  { first: 0x6c, last: 0x6d, quantity: 'battery_operating_time', unit: 's', mult: (c) => (c & 1) === 0 ? 3600 : 86400 },
  { first: 0x70, last: 0x70, quantity: 'battery_change_datetime', unit: 'datetime', kind: 'datetime' },
  { first: 0x71, last: 0x71, quantity: 'rf_level_dbm', unit: '' },
  { first: 0x74, last: 0x74, quantity: 'remaining_battery_life', unit: 's', mult: () => 86400 },
  { first: 0x75, last: 0x75, quantity: 'meter_stop_count', unit: '' },
  { first: 0x76, last: 0x76, quantity: 'manufacturer_container', unit: 'raw', kind: 'raw' },
]

/** EN 13757-3:2018 §6.4.4 Table 12: VIF = FBh, main VIFE extension table (the metric entries). */
export const FB_VIFS: readonly VifEntry[] = [
  // 10^(n-1) MWh = 10^(n+5) Wh
  { first: 0x00, last: 0x01, quantity: 'energy', unit: 'Wh', exponent: (c) => n1(c) + 5 },
  // 10^(n-1) GJ = 10^(n+8) J
  { first: 0x08, last: 0x09, quantity: 'energy', unit: 'J', exponent: (c) => n1(c) + 8 },
  // 10^(n+2) m3
  { first: 0x10, last: 0x11, quantity: 'volume', unit: 'm3', exponent: (c) => n1(c) + 2 },
  // 10^(n+2) t = 10^(n+5) kg
  { first: 0x18, last: 0x19, quantity: 'mass', unit: 'kg', exponent: (c) => n1(c) + 5 },
  // 10^(n-1) MW = 10^(n+5) W
  { first: 0x28, last: 0x29, quantity: 'power', unit: 'W', exponent: (c) => n1(c) + 5 },
  // 10^(n-1) GJ/h = 10^(n+8) J/h
  { first: 0x30, last: 0x31, quantity: 'power', unit: 'J/h', exponent: (c) => n1(c) + 8 },
]

/** EN 13757-3:2018 §6.4.6 Table 15: combinable (orthogonal) VIFE names, by code range. */
export const COMBINABLE_VIFES: readonly { readonly first: number; readonly last: number; readonly name: (code: number) => string }[] = [
  { first: 0x00, last: 0x1f, name: (c) => `record_error_${c}` },
  { first: 0x20, last: 0x20, name: () => 'per_second' },
  { first: 0x21, last: 0x21, name: () => 'per_minute' },
  { first: 0x22, last: 0x22, name: () => 'per_hour' },
  { first: 0x23, last: 0x23, name: () => 'per_day' },
  { first: 0x24, last: 0x24, name: () => 'per_week' },
  { first: 0x25, last: 0x25, name: () => 'per_month' },
  { first: 0x26, last: 0x26, name: () => 'per_year' },
  { first: 0x27, last: 0x27, name: () => 'per_revolution' },
  { first: 0x28, last: 0x29, name: (c) => `per_input_pulse_${c & 1}` },
  { first: 0x2a, last: 0x2b, name: (c) => `per_output_pulse_${c & 1}` },
  { first: 0x2c, last: 0x2c, name: () => 'per_litre' },
  { first: 0x2d, last: 0x2d, name: () => 'per_m3' },
  { first: 0x2e, last: 0x2e, name: () => 'per_kg' },
  { first: 0x2f, last: 0x2f, name: () => 'per_kelvin' },
  { first: 0x30, last: 0x30, name: () => 'per_kwh' },
  { first: 0x31, last: 0x31, name: () => 'per_gj' },
  { first: 0x32, last: 0x32, name: () => 'per_kw' },
  { first: 0x33, last: 0x33, name: () => 'per_kelvin_litre' },
  { first: 0x34, last: 0x34, name: () => 'per_volt' },
  { first: 0x35, last: 0x35, name: () => 'per_ampere' },
  { first: 0x36, last: 0x36, name: () => 'multiplied_by_s' },
  { first: 0x37, last: 0x37, name: () => 'multiplied_by_s_per_v' },
  { first: 0x38, last: 0x38, name: () => 'multiplied_by_s_per_a' },
  { first: 0x39, last: 0x39, name: () => 'start_datetime_of' },
  { first: 0x3a, last: 0x3a, name: () => 'uncorrected' },
  { first: 0x3b, last: 0x3b, name: () => 'accumulation_if_positive' },
  { first: 0x3c, last: 0x3c, name: () => 'accumulation_if_negative' },
  { first: 0x40, last: 0x40, name: () => 'lower_limit' },
  { first: 0x48, last: 0x48, name: () => 'upper_limit' },
  { first: 0x41, last: 0x41, name: () => 'lower_limit_exceed_count' },
  { first: 0x49, last: 0x49, name: () => 'upper_limit_exceed_count' },
  { first: 0x42, last: 0x47, name: (c) => `lower_limit_exceed_time_${c.toString(16)}` },
  { first: 0x4a, last: 0x4f, name: (c) => `upper_limit_exceed_time_${c.toString(16)}` },
  { first: 0x50, last: 0x6f, name: (c) => `limit_exceed_duration_${c.toString(16)}` },
  { first: 0x70, last: 0x77, name: (c) => `multiplier_1e${(c & 7) - 6}` },
  { first: 0x78, last: 0x7b, name: (c) => `additive_1e${(c & 3) - 3}` },
  { first: 0x7d, last: 0x7d, name: () => 'multiplier_1e3' },
  { first: 0x7e, last: 0x7e, name: () => 'future_value' },
]

export function findVif(table: readonly VifEntry[], code: number): VifEntry | undefined {
  for (const e of table) if (code >= e.first && code <= e.last) return e
  return undefined
}
