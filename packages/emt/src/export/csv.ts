import { describeStatus } from '@smgw/meter-data'
import type { ValueRow } from '../repository/types.js'
import { formatDecimal } from './series.js'

/** Columns of the CSV export, in order. */
export const CSV_COLUMNS = [
  'metering_point', 'metering_point_kind', 'obis', 'register', 'kind', 'period_seconds', 'time', 'value', 'scaler', 'unit',
  'quantity', 'status', 'flags', 'gateway_id', 'message_id',
] as const

/** RFC 4180 §2: a field with comma, quote, CR or LF is quoted, quotes doubled. */
function field(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v
}

/**
 * The values as CSV (RFC 4180: header line, CRLF line ends, quoting where needed). `value`
 * is the exact mantissa, `quantity` = value × 10^scaler in `unit`, empty for a gap; `flags`
 * names the status bits (VALUE_STATUS), space-separated.
 */
export function formatCsv(rows: readonly ValueRow[]): string {
  const lines = [CSV_COLUMNS.join(',')]
  for (const r of rows) {
    const { flags, unknownBits } = describeStatus(r.status)
    lines.push([
      r.meteringPoint, r.meteringPointKind, r.obis, r.register ?? '', r.kind, r.periodSeconds === null ? '' : String(r.periodSeconds),
      r.time.toISOString(), r.value ?? '', String(r.scaler), r.unit ?? '', r.value === null ? '' : formatDecimal(r.value, r.scaler),
      String(r.status), [...flags, ...(unknownBits === 0 ? [] : [`0x${unknownBits.toString(16)}`])].join(' '), r.gatewayId, r.messageId,
    ].map(field).join(','))
  }
  return `${lines.join('\r\n')}\r\n`
}
