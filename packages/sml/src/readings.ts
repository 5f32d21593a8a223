import { dlmsUnit, formatObisBytes, obisName } from '@smgw/obis'
import type { SmlFile, SmlGetListResponse, SmlInteger, SmlTime, SmlTlHint, SmlValue } from './types.js'

// Local bindings of the imported functions, read once: the per-reading loop then calls
// module-local functions (cheaper than a namespace property read per call under tsx).
const unitSymbol = dlmsUnit
const obisText = formatObisBytes
const nameOf = obisName

/**
 * Workarounds for real meters that do not follow SML 1.04 in how they encode active power
 * (1-0:16.7.0 and the per-phase 36.7.0, 56.7.0, 76.7.0). Each is off by default: turn on
 * only the one your meter needs. Both look at the integer's length as sent (kept in the
 * message's `tl` hints), not at the type the decoder widened it to.
 */
export interface SmlQuirks {
  /**
   * QUIRK(Unsigned power, meter model not verified by us): negative active power sent with
   * an Unsigned TL, e.g. `64 ff1479` (3-byte Unsigned 16 716 921) for -60 295. Home-automation
   * SML readers report such values as huge positive powers for some two-way meters; no
   * meter type is confirmed in a public capture we could check. With this quirk an Unsigned
   * power value whose top bit (of its encoded length) is set is read as two's complement.
   * Fixture: generic-ehz-unsigned-negative-power.hex.
   */
  readonly unsignedNegativePower?: boolean
  /**
   * QUIRK(DZG DVS74, serial numbers 42000000-48999999 and 55000000-58999999 per libsml's
   * detect_buggy_dzg_dvs74; volkszaehler/libsml#105, capture in devZer0/libsml-testing#16):
   * positive power is sent as a shortened Integer whose top bit is set, e.g. `53 8b28`
   * (Integer16 -29 912, i.e. -299.12 W with scaler -2) for +356.24 W. Negative power is
   * always sent in 4 bytes (`55 fffe1393`). With this quirk an Integer power value of
   * 1..3 bytes is read as unsigned. Fixture: dzg-dvs74-signed-positive-power.hex.
   */
  readonly signedPositivePower?: boolean
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
  const signedPositivePower = options.quirks?.signedPositivePower === true
  const anyQuirk = unsignedNegativePower || signedPositivePower
  const names = options.names === true
  for (const m of file.messages) {
    const body = m.body
    if (body.kind !== 'getListResponse') continue
    const serverId = toHex(body.serverId)
    const lengths = anyQuirk ? valueLengths(m.tl, body) : undefined
    for (let i = 0; i < body.valList.length; i++) {
      const e = body.valList[i]!
      const on = e.objName
      const isObis = on.length === 6
      const obis = isObis ? obisText(on) : toHex(on)
      let raw: SmlValue = e.value
      let quirk: SmlQuirkName | undefined
      if (lengths !== undefined && isObis && on[0] === 1 && on[3] === 7 && isActivePower(on[2]!)) {
        const length = lengths[i]!
        const fixed = unsignedNegativePower ? signedFromUnsigned(raw, length) : undefined
        if (fixed !== undefined) {
          raw = fixed
          quirk = 'unsignedNegativePower'
        } else if (signedPositivePower) {
          const positive = unsignedFromShortSigned(raw, length)
          if (positive !== undefined) {
            raw = positive
            quirk = 'signedPositivePower'
          }
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

const WIDTH: Readonly<Record<SmlValue['type'], number>> = {
  bool: 1, bytes: 0, int8: 1, int16: 2, int32: 4, int64: 8, uint8: 1, uint16: 2, uint32: 4, uint64: 8,
}

/**
 * The byte length each list entry's value was sent with. The field index of an entry's
 * value follows from the message layout (the order `parser/encode.ts` writes fields in):
 * 0 message list, 1 transactionId, 2 groupNo, 3 abortOnError, 4 body list, 5 tag,
 * 6 GetListResponse list, 7 clientId, 8 serverId, 9 listName, then actSensorTime, the valList
 * list, and per entry: list, objName, status, valTime, unit, scaler, value, valueSignature.
 */
export function valueLengths(tl: readonly SmlTlHint[] | undefined, body: SmlGetListResponse): number[] {
  const hinted = new Map<number, number>()
  if (tl !== undefined) for (const h of tl) hinted.set(h.at, h.len)
  const out: number[] = []
  let at = 10 + timeFields(body.actSensorTime) + 1
  for (const e of body.valList) {
    const valueAt = at + 5 + timeFields(e.valTime)
    out.push(hinted.get(valueAt) ?? (e.value.type === 'bytes' ? e.value.value.length : WIDTH[e.value.type]))
    at = valueAt + 2
  }
  return out
}

/** TL fields an OPTIONAL SML_Time takes: absent 1, bare Unsigned32 1, secIndex/timestamp 3, local 6. */
function timeFields(t: SmlTime | undefined): number {
  if (t === undefined) return 1
  if (t.kind === 'localTimestamp') return 6
  return t.kind === 'secIndex' && t.bare === true ? 1 : 3
}

const SIGNED_OF = { uint8: 'int8', uint16: 'int16', uint32: 'int32', uint64: 'int64' } as const
const UNSIGNED_OF = { int8: 'uint8', int16: 'uint16', int32: 'uint32', int64: 'uint64' } as const

/** An Unsigned sent in `length` bytes with its top bit set → the negative two's complement value. */
function signedFromUnsigned(v: SmlValue, length: number): SmlValue | undefined {
  if (v.type !== 'uint8' && v.type !== 'uint16' && v.type !== 'uint32' && v.type !== 'uint64') return undefined
  const bits = BigInt(8 * length)
  const big = BigInt(v.value)
  if (big < 1n << (bits - 1n)) return undefined
  const s = big - (1n << bits)
  return { type: SIGNED_OF[v.type], value: Number.isSafeInteger(Number(s)) ? Number(s) : s }
}

/** A negative Integer sent in 1..3 bytes → the unsigned value of those bytes. */
function unsignedFromShortSigned(v: SmlValue, length: number): SmlValue | undefined {
  if (v.type !== 'int8' && v.type !== 'int16' && v.type !== 'int32') return undefined
  if (length > 3 || typeof v.value !== 'number' || v.value >= 0) return undefined
  return { type: UNSIGNED_OF[v.type], value: v.value + 2 ** (8 * length) }
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
