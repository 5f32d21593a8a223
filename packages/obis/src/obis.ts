import { ObisError } from './errors.js'

/**
 * An OBIS code, IEC 62056-61:2006 §4 (value groups A..F, each 0..255).
 * A = medium, B = channel, C = quantity, D = processing, E = tariff / further classification,
 * F = billing period (255 = not used / current value).
 */
export interface Obis {
  readonly a: number
  readonly b: number
  readonly c: number
  readonly d: number
  readonly e: number
  readonly f: number
}

/**
 * Defaults for the groups a short form leaves out.
 * IEC 62056-61:2006 §4.3 allows omitting A, B and F in displays; we assume
 * electricity channel 0 (`1-0:`) and F = 255 unless the caller says otherwise.
 */
export interface ParseObisOptions {
  readonly a?: number
  readonly b?: number
  readonly f?: number
}

// A-B:C.D.E*F with optional `A-B:` and optional `*F` (or `&F`, the billing-period separator).
// Group separators per IEC 62056-61:2006 §4.2: `-` after A, `:` after B, `.` between C/D/E, `*` before F.
const OBIS_TEXT = /^(?:(\d{1,3})-(\d{1,3}):)?(\d{1,3})\.(\d{1,3})(?:\.(\d{1,3}))?(?:[*&](\d{1,3}))?$/

/**
 * Parses `1-0:1.8.0*255`, `1-0:1.8.0`, `1.8.0`, `1.8` (E = 0) and `1-0:1.8.0&255`.
 * Also accepts the 12-digit hex form `0100010800ff`.
 */
export function parseObis(text: string, options: ParseObisOptions = {}): Obis {
  const trimmed = text.trim()
  if (/^[0-9a-fA-F]{12}$/.test(trimmed)) return decodeObis(Uint8Array.from(Buffer.from(trimmed, 'hex')))
  const m = OBIS_TEXT.exec(trimmed)
  if (m === null) throw new ObisError('OBIS_SYNTAX', `not an OBIS code: ${JSON.stringify(text)}`)
  const group = (s: string | undefined, fallback: number, name: string): number => {
    if (s === undefined) return fallback
    const v = Number(s)
    if (v > 255) throw new ObisError('OBIS_RANGE', `OBIS group ${name} is ${v}, outside 0..255 in ${JSON.stringify(text)}`)
    return v
  }
  return {
    a: group(m[1], options.a ?? 1, 'A'),
    b: group(m[2], options.b ?? 0, 'B'),
    c: group(m[3], 0, 'C'),
    d: group(m[4], 0, 'D'),
    e: group(m[5], 0, 'E'),
    f: group(m[6], options.f ?? 255, 'F'),
  }
}

/** `1-0:1.8.0*255`; with `{ short: true }` F = 255 is left out (`1-0:1.8.0`). */
export function formatObis(obis: Obis, options: { readonly short?: boolean } = {}): string {
  checkObis(obis)
  const base = `${obis.a}-${obis.b}:${obis.c}.${obis.d}.${obis.e}`
  return options.short === true && obis.f === 255 ? base : `${base}*${obis.f}`
}

/** The 6-byte form used by SML (objName) and DLMS (logical name), IEC 62056-61:2006 §4.1. */
export function decodeObis(bytes: Uint8Array): Obis {
  if (bytes.length !== 6) throw new ObisError('OBIS_LENGTH', `an OBIS code has 6 bytes, got ${bytes.length}`)
  return { a: bytes[0]!, b: bytes[1]!, c: bytes[2]!, d: bytes[3]!, e: bytes[4]!, f: bytes[5]! }
}

export function encodeObis(obis: Obis): Uint8Array {
  checkObis(obis)
  return Uint8Array.of(obis.a, obis.b, obis.c, obis.d, obis.e, obis.f)
}

/** Formats 6 bytes directly (`1-0:1.8.0*255`) without building an object; throws OBIS_LENGTH otherwise. */
export function formatObisBytes(bytes: Uint8Array): string {
  if (bytes.length !== 6) throw new ObisError('OBIS_LENGTH', `an OBIS code has 6 bytes, got ${bytes.length}`)
  // Hot path (one call per SML reading): decimal strings from a table, no number formatting.
  return DEC[bytes[0]!]! + '-' + DEC[bytes[1]!]! + ':' + DEC[bytes[2]!]! + '.' + DEC[bytes[3]!]! + '.' + DEC[bytes[4]!]! + '*' + DEC[bytes[5]!]!
}

/** '0'..'255', a constant table. */
const DEC: readonly string[] = Array.from({ length: 256 }, (_, i) => String(i))

export function isObis(value: unknown): value is Obis {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Record<string, unknown>
  return (['a', 'b', 'c', 'd', 'e', 'f'] as const).every((k) => isGroup(v[k]))
}

function isGroup(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255
}

function checkObis(obis: Obis): void {
  for (const k of ['a', 'b', 'c', 'd', 'e', 'f'] as const) {
    if (!isGroup(obis[k])) throw new ObisError('OBIS_RANGE', `OBIS group ${k.toUpperCase()} is ${String(obis[k])}, outside 0..255`)
  }
}
