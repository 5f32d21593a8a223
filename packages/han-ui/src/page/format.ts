import { translate, type Language, type MessageKey } from './i18n.js'

/*
 * Pure formatting of what the HAN API returns: exact decimal values (mantissa × 10^scaler,
 * never through a float), the status word in words, legal-time dates. No DOM, no clock.
 */

/** Status bits of a value (`VALUE_STATUS` of @smgw/meter-data; its README has the table). */
export const STATUS_BITS: readonly { readonly bit: number; readonly key: MessageKey }[] = [
  { bit: 0x0001, key: 'status.timeInvalid' },
  { bit: 0x0002, key: 'status.meterError' },
  { bit: 0x0004, key: 'status.gap' },
  { bit: 0x0008, key: 'status.substitute' },
  { bit: 0x0010, key: 'status.manipulation' },
]
export const STATUS_GAP = 0x0004

/** Legal time in Germany: the gateway's times are UTC instants, shown in Europe/Berlin. */
export const LEGAL_TIME_ZONE = 'Europe/Berlin'

const DECIMAL = /^-?\d+$/

/**
 * The exact decimal of `mantissa × 10^scaler` with plain digits, e.g. ('123456789', -1) → '12345678.9'.
 * Throws a RangeError for a mantissa that is not a decimal integer string.
 */
export function scaleDecimal(mantissa: string, scaler: number): string {
  if (!DECIMAL.test(mantissa) || !Number.isInteger(scaler)) throw new RangeError(`not a scaled decimal: ${mantissa} × 10^${scaler}`)
  const negative = mantissa.startsWith('-')
  let digits = (negative ? mantissa.slice(1) : mantissa).replace(/^0+(?=\d)/, '')
  let result: string
  if (scaler >= 0) {
    result = digits === '0' ? '0' : digits + '0'.repeat(scaler)
  } else {
    const places = -scaler
    digits = digits.padStart(places + 1, '0')
    const int = digits.slice(0, digits.length - places)
    const frac = digits.slice(digits.length - places).replace(/0+$/, '')
    result = frac === '' ? int : `${int}.${frac}`
  }
  return negative && result !== '0' ? `-${result}` : result
}

/** Units shown to a person: energy in kWh (three places moved), power in W, the rest as given. */
const DISPLAY_UNITS: Readonly<Record<string, { unit: string; shift: number }>> = {
  Wh: { unit: 'kWh', shift: -3 },
  varh: { unit: 'kvarh', shift: -3 },
}

export interface DisplayValue { readonly text: string; readonly unit: string }

/**
 * A value for people: exact digits, grouped and with the decimal mark of `lang`, in the display
 * unit (Wh → kWh). ('123456789', -1, 'Wh', 'de') → { text: '12.345,6789', unit: 'kWh' }.
 */
export function formatValue(mantissa: string, scaler: number, unit: string, lang: Language): DisplayValue {
  const display = DISPLAY_UNITS[unit]
  const plain = scaleDecimal(mantissa, scaler + (display?.shift ?? 0))
  const negative = plain.startsWith('-')
  const [int = '0', frac] = (negative ? plain.slice(1) : plain).split('.')
  const group = lang === 'de' ? '.' : ','
  const mark = lang === 'de' ? ',' : '.'
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, group)
  const text = `${negative ? '−' : ''}${grouped}${frac === undefined ? '' : mark + frac}`
  return { text, unit: display?.unit ?? unit }
}

/** A number for charts only (display unit); the text shown to people comes from formatValue. */
export function chartNumber(mantissa: string | null, scaler: number, unit: string): number | null {
  if (mantissa === null) return null
  const display = DISPLAY_UNITS[unit]
  return Number(scaleDecimal(mantissa, scaler + (display?.shift ?? 0)))
}

export function displayUnit(unit: string): string {
  return DISPLAY_UNITS[unit]?.unit ?? unit
}

/** The status word in words: 'ok' for 0, else one phrase per set bit (unknown bits named in hex). */
export function statusWords(status: number, lang: Language): string[] {
  if (!Number.isInteger(status) || status < 0) throw new RangeError(`not a status word: ${status}`)
  if (status === 0) return [translate(lang, 'status.ok')]
  const words: string[] = []
  let rest = status
  for (const { bit, key } of STATUS_BITS) {
    if ((status & bit) !== 0) { words.push(translate(lang, key)); rest &= ~bit }
  }
  if (rest !== 0) words.push(translate(lang, 'status.unknown', { bits: rest.toString(16).padStart(4, '0') }))
  return words
}

/** An instant in legal time, e.g. '23.11.2026, 14:15' (de) or '11/23/2026, 2:15 PM' (en). */
export function formatTime(iso: string, lang: Language): string {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  return new Intl.DateTimeFormat(lang === 'de' ? 'de-DE' : 'en-GB', {
    timeZone: LEGAL_TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  }).format(date)
}

/** Bytes for people: 1536 → '1.5 KiB'. */
export function formatBytes(bytes: number, lang: Language): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let i = 0
  while (value >= 1024 && i < units.length - 1) { value /= 1024; i++ }
  const number = new Intl.NumberFormat(lang === 'de' ? 'de-DE' : 'en-GB', { maximumFractionDigits: 1 }).format(value)
  return `${number} ${units[i] ?? 'B'}`
}

/** A use case's profile ID in words: 'taf7' → 'TAF 7'; other IDs as they are. */
export function purposeLabel(purpose: string): string {
  const match = /^taf(\d+)$/i.exec(purpose)
  return match ? `TAF ${match[1] ?? ''}` : purpose
}
