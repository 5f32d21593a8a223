import { VALUE_STATUS, type ValueStatusFlag } from '@smgw/meter-data'
import type { ValueRow } from '../repository/types.js'
import { formatDecimal, groupValues, legalDigits, type ExportSeries, type ExportValue } from './series.js'

/*
 * EDIFACT MSCONS (UN D.04B, segment layout after BDEW MSCONS 2.4c, the German metering
 * data message): one interchange (UNB…UNZ), one message (UNH…UNT) per metering point.
 * Syntax: ISO 9735 (UNOC, version 3); service string advice UNA:+.? ' ; the release
 * character ? escapes ? ' + : in data. Times are German legal time with their offset
 * (DTM format 303: CCYYMMDDHHMMZZZ, e.g. 202611230000?+01), as in market communication.
 *
 * Mapping (documented in the README):
 *   metering point      → LOC+172 (Meldepunkt)
 *   series              → LIN + PIA+5 <OBIS A-B:C.D.E, F omitted when 255>:SRW
 *   profile value       → QTY + DTM+163 (interval start) + DTM+164 (interval end)
 *   reading/actual      → QTY + DTM+7 (value time)
 *   status → QTY qualifier: 220 true value; 67 substitute value (substitute bit);
 *                           201 proposed value (meterError or manipulation bit)
 *   status flags        → one STS+Z18++<code> each (project codes, see STATUS_CODES)
 *   gap (value null)    → no QTY group: MSCONS has no empty quantity; the interval is absent
 */

/** UN/ECE Recommendation 20 unit codes for the DLMS units we export, with the decimal shift to that unit. */
export const MSCONS_UNITS: Readonly<Record<string, { readonly code: string; readonly shift: number }>> = {
  Wh: { code: 'KWH', shift: -3 },
  W: { code: 'KWT', shift: -3 },
  varh: { code: 'K3', shift: -3 },
  var: { code: 'KVR', shift: -3 },
  V: { code: 'VLT', shift: 0 },
  A: { code: 'AMP', shift: 0 },
  m3: { code: 'MTQ', shift: 0 },
  Hz: { code: 'HTZ', shift: 0 },
}

/** STS status codes for VALUE_STATUS flags (project-defined Z codes; BDEW's own lists need the market role context). */
export const MSCONS_STATUS_CODES: Readonly<Record<Exclude<ValueStatusFlag, 'gap'>, string>> = {
  timeInvalid: 'ZTI',
  meterError: 'ZME',
  substitute: 'ZSU',
  manipulation: 'ZMA',
}

export interface MsconsOptions {
  /** Interchange sender (our market partner ID). */
  readonly sender: string
  /** Interchange recipient. */
  readonly recipient: string
  /** Interchange control reference (UNB/UNZ 0020), at most 14 characters. */
  readonly reference: string
  /** Preparation time (UNB, DTM+137). */
  readonly createdAt: Date
  /** A line break after each segment terminator (readable; default false). */
  readonly lineBreaks?: boolean
}

/** ISO 9735 release character: ? before ? ' + : */
export function escapeEdifact(text: string): string {
  return text.replace(/[?'+:]/g, (c) => `?${c}`)
}

function dtm(qualifier: string, at: Date): string {
  const { digits, offset } = legalDigits(at)
  return `DTM+${qualifier}:${digits}?+0${String(offset)}:303`
}

function obisForPia(obis: string): string {
  const m = /^(\d+-\d+):(\d+\.\d+\.\d+)\*(\d+)$/.exec(obis)
  if (m === null) return escapeEdifact(obis)
  return escapeEdifact(`${m[1] ?? ''}:${m[2] ?? ''}${m[3] === '255' ? '' : `*${m[3] ?? ''}`}`)
}

function qtyQualifier(status: number): string {
  if ((status & VALUE_STATUS.substitute) !== 0) return '67'
  if ((status & (VALUE_STATUS.meterError | VALUE_STATUS.manipulation)) !== 0) return '201'
  return '220'
}

function valueSegments(series: ExportSeries, v: ExportValue): string[] {
  if (v.value === null) return []
  const unit = series.unit === null ? undefined : MSCONS_UNITS[series.unit]
  const quantity = formatDecimal(v.value, series.scaler + (unit?.shift ?? 0))
  const unitCode = unit?.code ?? (series.unit === null ? 'C62' : escapeEdifact(series.unit))
  const out = [`QTY+${qtyQualifier(v.status)}:${quantity}:${unitCode}`]
  if (series.kind === 'profile' && series.periodSeconds !== null) {
    out.push(dtm('163', new Date(v.time.getTime() - series.periodSeconds * 1000)), dtm('164', v.time))
  } else {
    out.push(dtm('7', v.time))
  }
  for (const [flag, code] of Object.entries(MSCONS_STATUS_CODES) as [Exclude<ValueStatusFlag, 'gap'>, string][]) {
    if ((v.status & VALUE_STATUS[flag]) !== 0) out.push(`STS+Z18++${code}`)
  }
  return out
}

/** The rows as one MSCONS interchange. */
export function formatMscons(rows: readonly ValueRow[], options: MsconsOptions): string {
  const ref = escapeEdifact(options.reference.slice(0, 14))
  const created = legalDigits(options.createdAt)
  const segments: string[] = [
    `UNB+UNOC:3+${escapeEdifact(options.sender)}:500+${escapeEdifact(options.recipient)}:500+${created.digits.slice(2, 8)}:${created.digits.slice(8, 12)}+${ref}`,
  ]
  const points = groupValues(rows)
  points.forEach((point, index) => {
    const messageRef = String(index + 1)
    const body: string[] = [
      `UNH+${messageRef}+MSCONS:D:04B:UN:2.4c`,
      `BGM+7+${ref}-${messageRef}+9`,
      dtm('137', options.createdAt),
      `NAD+MS+${escapeEdifact(options.sender)}::293`,
      `NAD+MR+${escapeEdifact(options.recipient)}::293`,
      'UNS+D',
      'NAD+DP',
      `LOC+172+${escapeEdifact(point.id)}`,
    ]
    const times = point.series.flatMap((s) => s.values.map((v) => [s.kind === 'profile' && s.periodSeconds !== null ? v.time.getTime() - s.periodSeconds * 1000 : v.time.getTime(), v.time.getTime()] as const))
    if (times.length > 0) {
      const first = times.reduce((m, t) => Math.min(m, t[0]), Infinity)
      const last = times.reduce((m, t) => Math.max(m, t[1]), -Infinity)
      body.push(dtm('163', new Date(first)), dtm('164', new Date(last)))
    }
    point.series.forEach((series, i) => {
      body.push(`LIN+${String(i + 1)}`, `PIA+5+${obisForPia(series.obis)}:SRW`)
      for (const v of series.values) body.push(...valueSegments(series, v))
    })
    // UNT 0074: the number of segments in the message, UNH and UNT included.
    body.push(`UNT+${String(body.length + 1)}+${messageRef}`)
    segments.push(...body)
  })
  segments.push(`UNZ+${String(points.length)}+${ref}`)
  const end = options.lineBreaks === true ? "'\n" : "'"
  return `UNA:+.? '${options.lineBreaks === true ? '\n' : ''}${segments.join(end)}${end}`
}
