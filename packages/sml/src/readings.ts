import { dlmsUnit, formatObisBytes, obisName } from '@smgw/obis'
import type { SmlFile, SmlInteger, SmlTime, SmlValue } from './types.js'

// Local bindings of the imported functions, read once: the per-reading loop then calls
// module-local functions (cheaper than a namespace property read per call under tsx).
const unitSymbol = dlmsUnit
const obisText = formatObisBytes
const nameOf = obisName

/** Workarounds for real meters that do not follow SML 1.04; each is off by default. */
export interface SmlQuirks {
  /**
   * QUIRK(DZG DVS74 / DWS74, firmware before 2020 as reported on the volkszaehler wiki page
   * "dzg_dvs74"): the active power registers 1-0:16.7.0, 36.7.0, 56.7.0 and 76.7.0 are sent as
   * Unsigned (e.g. Unsigned32 0xFFFFFF38) while the value is a signed two's complement number
   * (-200). With this quirk, an Unsigned value of those registers whose top bit is set is read
   * as negative. Fixture: dzg-dvs74-negative-power.hex.
   */
  readonly unsignedNegativePower?: boolean
}

export interface ExtractReadingsOptions {
  readonly quirks?: SmlQuirks
  /** Add `name` (from `@smgw/obis`) to each reading. Default false (keeps the hot path lean). */
  readonly names?: boolean
}

export type SmlQuirkName = keyof SmlQuirks

export interface SmlReading {
  /** `1-0:1.8.0*255`, or the objName in hex when it is not 6 bytes. */
  readonly obis: string
  readonly name?: string
  /**
   * The value × 10^scaler: a number, or a bigint when an integer result is not a safe
   * integer (a negative scaler on a bigint raw value gives the nearest number; `raw` stays exact).
   * Octet strings become lower-case hex; booleans stay booleans.
   */
  readonly value: number | bigint | string | boolean
  /** Printable ASCII rendering of an octet-string value (e.g. the manufacturer id 'EMH'). */
  readonly text?: string
  /** DLMS unit symbol (`Wh`, `W`, …); the code when it is not in the table. */
  readonly unit?: string
  readonly unitCode?: number
  readonly scaler?: number
  /** The value exactly as sent. */
  readonly raw: SmlValue
  readonly status?: SmlInteger
  readonly valTime?: SmlTime
  /** valueSignature in hex. */
  readonly signature?: string
  /** serverId of the GetListResponse, hex. */
  readonly serverId: string
  /** Quirks that changed this reading. */
  readonly quirks?: readonly SmlQuirkName[]
}

/** Readings of every GetListResponse in a decoded SML file, in order. */
export function extractReadings(file: SmlFile, options: ExtractReadingsOptions = {}): SmlReading[] {
  const out: SmlReading[] = []
  const unsignedNegativePower = options.quirks?.unsignedNegativePower === true
  const names = options.names === true
  for (const m of file.messages) {
    const body = m.body
    if (body.kind !== 'getListResponse') continue
    const serverId = toHex(body.serverId)
    for (const e of body.valList) {
      const on = e.objName
      const isObis = on.length === 6
      const obis = isObis ? obisText(on) : toHex(on)
      let raw: SmlValue = e.value
      let quirk: SmlQuirkName | undefined
      if (unsignedNegativePower && isObis && on[0] === 1 && on[3] === 7 && isActivePower(on[2]!)) {
        const fixed = signedFromUnsigned(raw)
        if (fixed !== undefined) {
          raw = fixed
          quirk = 'unsignedNegativePower'
        }
      }
      const scaler = e.scaler ?? 0
      let value: SmlReading['value']
      let text: string | undefined
      switch (raw.type) {
        case 'bytes':
          value = toHex(raw.value)
          text = printable(raw.value)
          break
        case 'bool':
          value = raw.value
          break
        default:
          value = scale(raw.value, scaler)
      }
      const unit = e.unit
      // One object literal with every key: all readings share one shape (absent fields are undefined).
      const r: SmlReading = {
        obis,
        name: names && isObis ? nameOf({ a: on[0]!, b: on[1]!, c: on[2]!, d: on[3]!, e: on[4]!, f: on[5]! }) : undefined,
        value,
        text,
        unit: unit === undefined ? undefined : (unitSymbol(unit) ?? String(unit)),
        unitCode: unit,
        scaler: e.scaler,
        raw: e.value,
        status: e.status?.value,
        valTime: e.valTime,
        signature: e.valueSignature === undefined ? undefined : toHex(e.valueSignature),
        serverId,
        quirks: quirk === undefined ? undefined : [quirk],
      }
      out.push(r)
    }
  }
  return out
}

// OBIS C of the active power sums: total and per phase (IEC 62056-61:2006 Table 3).
function isActivePower(c: number): boolean {
  return c === 16 || c === 36 || c === 56 || c === 76
}

const UNSIGNED_BITS = { uint8: 8, uint16: 16, uint32: 32, uint64: 64 } as const
const SIGNED_OF = { uint8: 'int8', uint16: 'int16', uint32: 'int32', uint64: 'int64' } as const

function signedFromUnsigned(v: SmlValue): SmlValue | undefined {
  if (v.type !== 'uint8' && v.type !== 'uint16' && v.type !== 'uint32' && v.type !== 'uint64') return undefined
  const bits = UNSIGNED_BITS[v.type]
  const big = BigInt(v.value)
  if (big < 1n << BigInt(bits - 1)) return undefined
  const s = big - (1n << BigInt(bits))
  return { type: SIGNED_OF[v.type], value: Number.isSafeInteger(Number(s)) ? Number(s) : s }
}

/** raw × 10^scaler without losing integer precision where the result is an integer. */
export function scale(raw: SmlInteger, scaler: number): number | bigint {
  if (scaler === 0) return raw
  if (typeof raw === 'number') {
    if (scaler < 0) return raw / 10 ** -scaler
    const v = raw * 10 ** scaler
    return Number.isSafeInteger(v) ? v : BigInt(raw) * 10n ** BigInt(scaler)
  }
  if (scaler > 0) return raw * 10n ** BigInt(scaler)
  return Number(raw) / 10 ** -scaler
}

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

export function toHex(bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]!]!
  return s
}

function printable(bytes: Uint8Array): string | undefined {
  const n = bytes.length
  if (n === 0 || n > 64) return undefined
  let s = ''
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!
    if (b < 0x20 || b > 0x7e) return undefined
    s += String.fromCharCode(b)
  }
  return s
}
