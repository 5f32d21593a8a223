import { MbusError } from '../errors.js'
import { toHex } from '../lib/bytes.js'
import { formatTypeF, formatTypeG, formatTypeI, formatTypeJ } from './datetime.js'
import { RECORD_FUNCTIONS, type DataCoding, type DataRecord, type RawValue, type RecordValue } from './types.js'
import { COMBINABLE_VIFES, FB_VIFS, FD_VIFS, PRIMARY_VIFS, type Unit, type VifEntry, type VifKind } from './vif-table.js'

// EN 13757-3:2018 §6: data records = DIF (DIFE…) VIF (VIFE…) data.

/** DIF bits 0–3 → coding and data length (EN 13757-3:2018 §6.3.3 Table 4); 0Dh is variable, 0Fh special. */
const FIXED_CODINGS: readonly DataCoding[] = [
  'none', 'int8', 'int16', 'int24', 'int32', 'real32', 'int48', 'int64',
  'selection', 'bcd2', 'bcd4', 'bcd6', 'bcd8', 'none', 'bcd12', 'none',
]
const FIXED_SIZES: readonly number[] = [0, 1, 2, 3, 4, 4, 6, 8, 0, 1, 2, 3, 4, 0, 6, 0]
/** DIF nibbles 9h–Ch and Eh are BCD. */
const IS_BCD: readonly boolean[] = [false, false, false, false, false, false, false, false, false, true, true, true, true, false, true, false]

/** Code → entry lookup built once from the typed tables (constant, never mutated). */
function index(table: readonly VifEntry[]): readonly (VifEntry | undefined)[] {
  const out: (VifEntry | undefined)[] = new Array<VifEntry | undefined>(128).fill(undefined)
  for (const e of table) for (let c = e.first; c <= e.last; c++) out[c] = e
  return out
}
const PRIMARY = index(PRIMARY_VIFS)
const FD = index(FD_VIFS)
const FB = index(FB_VIFS)

const MAX_DIFE = 10
const MAX_VIFE = 10

interface VifInfo {
  readonly quantity: string
  readonly unit: Unit
  readonly kind: VifKind
  readonly exponent: number
  readonly mult: number
  readonly additive: number
  readonly modifiers: readonly string[]
}

function fail(code: 'MBUS_DIF' | 'MBUS_VIF' | 'MBUS_TRUNCATED', at: number, message: string): never {
  throw new MbusError(code, `data record at offset ${at}: ${message}`)
}

const NO_MODIFIERS: readonly string[] = Object.freeze([])

/** Precomputed VifInfo for single-byte primary VIFs without VIFEs, the common case (constant). */
const SIMPLE: readonly (VifInfo | undefined)[] = PRIMARY.map((e, code) =>
  e === undefined || code === 0x7f
    ? undefined
    : Object.freeze({
        quantity: e.quantity, unit: e.unit, kind: e.kind ?? 'number',
        exponent: e.exponent ? e.exponent(code) : 0, mult: e.mult ? e.mult(code) : 1,
        additive: 0, modifiers: NO_MODIFIERS,
      }),
)

function decodeVif(bytes: Uint8Array, start: number, recordAt: number): { info: VifInfo; end: number } {
  let pos = start
  if (pos >= bytes.length) fail('MBUS_TRUNCATED', recordAt, 'VIF missing')
  const vif = bytes[pos++]!
  const code = vif & 0x7f
  let ext = (vif & 0x80) !== 0
  let entry: VifEntry | undefined
  let entryCode = code
  let quantity: string | undefined
  let unit: Unit = ''
  let kind: VifKind = 'number'
  const modifiers: string[] = []
  let plainText = false
  let manufacturerVifes = false
  if (code === 0x7b || code === 0x7d) {
    // EN 13757-3:2018 §6.4.4/§6.4.5: FBh / FDh select an extension table coded in the first VIFE.
    if (!ext) fail('MBUS_VIF', recordAt, `VIF ${vif.toString(16)}h without its extension VIFE`)
    if (pos >= bytes.length) fail('MBUS_TRUNCATED', recordAt, 'extension VIFE missing')
    const vife = bytes[pos++]!
    entryCode = vife & 0x7f
    ext = (vife & 0x80) !== 0
    entry = (code === 0x7b ? FB : FD)[entryCode]
    if (!entry) {
      quantity = `${code === 0x7b ? 'fb' : 'fd'}_${entryCode.toString(16).padStart(2, '0')}`
      unit = 'raw'
      kind = 'raw'
    }
  } else if (code === 0x7c) {
    // EN 13757-3:2018 §6.4.3: plain-text VIF; the unit follows as ASCII (after the VIFEs).
    plainText = true
    quantity = 'plain_text'
  } else if (code === 0x7e || code === 0x6f) {
    fail('MBUS_VIF', recordAt, `VIF ${vif.toString(16)}h is ${code === 0x7e ? 'the readout selector "any VIF"' : 'reserved'}`)
  } else {
    entry = PRIMARY[code]
    // EN 13757-3:2018 §6.4.3 Table 10: VIF 7Fh/FFh is manufacturer-specific, VIFEs included.
    if (code === 0x7f) manufacturerVifes = true
  }
  if (entry) {
    quantity = entry.quantity
    unit = entry.unit
    kind = entry.kind ?? 'number'
  }
  let exponent = entry?.exponent ? entry.exponent(entryCode) : 0
  const mult = entry?.mult ? entry.mult(entryCode) : 1
  let additive = 0
  let count = 0
  while (ext) {
    if (pos >= bytes.length) fail('MBUS_TRUNCATED', recordAt, 'VIFE missing')
    if (++count > MAX_VIFE) fail('MBUS_VIF', recordAt, `more than ${MAX_VIFE} VIFEs`)
    const vife = bytes[pos++]!
    ext = (vife & 0x80) !== 0
    const c = vife & 0x7f
    if (manufacturerVifes) {
      modifiers.push(`manufacturer_vife_${c.toString(16).padStart(2, '0')}`)
      continue
    }
    if (c === 0x7f) {
      // Table 15: 7Fh — the following VIFEs are manufacturer-specific.
      manufacturerVifes = true
      modifiers.push('manufacturer_vifes')
      continue
    }
    if (c >= 0x70 && c <= 0x77) exponent += (c & 7) - 6
    else if (c === 0x7d) exponent += 3
    else if (c >= 0x78 && c <= 0x7b) additive += 10 ** ((c & 3) - 3)
    let name: string | undefined
    for (const e of COMBINABLE_VIFES) {
      if (c >= e.first && c <= e.last) {
        name = e.name(c)
        break
      }
    }
    modifiers.push(name ?? `vife_${c.toString(16).padStart(2, '0')}`)
  }
  if (plainText) {
    if (pos >= bytes.length) fail('MBUS_TRUNCATED', recordAt, 'plain-text VIF length missing')
    const len = bytes[pos++]!
    if (pos + len > bytes.length) fail('MBUS_TRUNCATED', recordAt, 'plain-text VIF runs past the end')
    modifiers.push(`unit:${reversedLatin1(bytes, pos, len)}`)
    pos += len
  }
  return { info: { quantity: quantity ?? 'unknown', unit, kind, exponent, mult, additive, modifiers }, end: pos }
}

function reversedLatin1(bytes: Uint8Array, at: number, len: number): string {
  let s = ''
  for (let i = at + len - 1; i >= at; i--) s += String.fromCharCode(bytes[i]!)
  return s
}

function readInt(bytes: Uint8Array, at: number, len: number, signed: boolean): number | bigint {
  if (len === 8) {
    const view = new DataView(bytes.buffer, bytes.byteOffset + at, 8)
    const big = signed ? view.getBigInt64(0, true) : view.getBigUint64(0, true)
    const n = Number(big)
    return Number.isSafeInteger(n) ? n : big
  }
  let v = 0
  let f = 1
  for (let i = 0; i < len; i++) {
    v += bytes[at + i]! * f
    f *= 256
  }
  if (signed && v >= f / 2) v -= f
  return v
}

/** BCD, least significant byte first; a top nibble Fh marks a negative value (EN 13757-3:2018 Annex B). */
function readBcd(bytes: Uint8Array, at: number, len: number): number | Uint8Array {
  let v = 0
  let negative = false
  for (let i = at + len - 1; i >= at; i--) {
    const b = bytes[i]!
    let hi = b >> 4
    const lo = b & 0x0f
    if (i === at + len - 1 && hi === 0x0f) {
      negative = true
      hi = 0
    }
    if (hi > 9 || lo > 9) return bytes.slice(at, at + len)
    v = v * 100 + hi * 10 + lo
  }
  return negative && v !== 0 ? -v : v
}

function scale(raw: number, info: VifInfo): number {
  let v = (info.additive === 0 ? raw : raw + info.additive) * info.mult
  // Dividing by an exact power of ten keeps decimal readings exact (2850427 / 100 = 28504.27).
  if (info.exponent < 0) v /= 10 ** -info.exponent
  else if (info.exponent > 0) v *= 10 ** info.exponent
  return v
}

/** The unit of a record: date/time VIFs take it from the coding (types G, F, I, J). */
function unitOf(coding: DataCoding, info: VifInfo): Unit {
  if (info.kind !== 'date' && info.kind !== 'datetime') return info.unit
  switch (coding) {
    case 'int16': return 'date'
    case 'int32': case 'int48': return 'datetime'
    case 'int24': return 'time'
    default: return ''
  }
}

function valueOf(raw: RawValue, coding: DataCoding, info: VifInfo): RecordValue {
  if (raw === null || typeof raw === 'string') return raw
  if (raw instanceof Uint8Array) return toHex(raw)
  const n = typeof raw === 'bigint' ? Number(raw) : raw
  switch (info.kind) {
    case 'number': return scale(n, info)
    case 'date':
    case 'datetime':
      switch (coding) {
        case 'int16': return formatTypeG(n)
        case 'int32': return formatTypeF(n)
        case 'int48': return formatTypeI(n)
        case 'int24': return formatTypeJ(n)
        default: return n
      }
    default: return n
  }
}

/**
 * Decodes the data records of an application layer (after the TPL header and any decryption).
 * 2Fh idle fillers are skipped; manufacturer data after 0Fh/1Fh is kept raw in a last record.
 */
export function decodeDataRecords(bytes: Uint8Array): DataRecord[] {
  const records: DataRecord[] = []
  let pos = 0
  const len = bytes.length
  while (pos < len) {
    const recordAt = pos
    const dif = bytes[pos++]!
    if (dif === 0x2f) continue
    if (dif === 0x0f || dif === 0x1f) {
      // EN 13757-3:2018 §6.3.3 Table 7: manufacturer-specific data to the end of the APDU (1Fh: more records follow in the next telegram).
      const data = bytes.slice(pos)
      records.push({
        storage: 0, tariff: 0, subunit: 0, function: 'instantaneous',
        coding: dif === 0x0f ? 'manufacturer_data' : 'manufacturer_data_more',
        dif: bytes.slice(recordAt, recordAt + 1), vif: new Uint8Array(0),
        raw: data, quantity: 'manufacturer_data', unit: 'raw', value: toHex(data), modifiers: [],
      })
      break
    }
    if ((dif & 0x0f) === 0x0f) fail('MBUS_DIF', recordAt, `special function DIF ${dif.toString(16)}h is reserved or master-to-slave only`)
    let storage = (dif >> 6) & 1
    let tariff = 0
    let subunit = 0
    let ext = (dif & 0x80) !== 0
    let n = 0
    while (ext) {
      if (pos >= len) fail('MBUS_TRUNCATED', recordAt, 'DIFE missing')
      if (n >= MAX_DIFE) fail('MBUS_DIF', recordAt, `more than ${MAX_DIFE} DIFEs`)
      const dife = bytes[pos++]!
      storage += (dife & 0x0f) * 2 ** (1 + 4 * n)
      tariff += ((dife >> 4) & 0x03) * 4 ** n
      subunit += ((dife >> 6) & 0x01) * 2 ** n
      ext = (dife & 0x80) !== 0
      n++
    }
    const difBytes = bytes.subarray(recordAt, pos)
    const vifStart = pos
    let info: VifInfo
    const simple = pos < len && bytes[pos]! < 0x80 ? SIMPLE[bytes[pos]!] : undefined
    if (simple) {
      info = simple
      pos++
    } else {
      const decoded = decodeVif(bytes, pos, recordAt)
      info = decoded.info
      pos = decoded.end
    }
    const vifBytes = bytes.subarray(vifStart, pos)
    const nibble = dif & 0x0f
    let coding: DataCoding
    let raw: RawValue
    if (nibble === 0x0d) {
      // EN 13757-3:2018 §6.3.3 Table 6: LVAR.
      if (pos >= len) fail('MBUS_TRUNCATED', recordAt, 'LVAR missing')
      const lvar = bytes[pos++]!
      let size: number
      if (lvar <= 0xbf) {
        coding = 'text'
        size = lvar
      } else if (lvar >= 0xc0 && lvar <= 0xc9) {
        coding = 'bcd_var'
        size = lvar - 0xc0
      } else if (lvar >= 0xd0 && lvar <= 0xd9) {
        coding = 'bcd_var'
        size = lvar - 0xd0
      } else if (lvar >= 0xe0 && lvar <= 0xef) {
        coding = 'binary'
        size = lvar - 0xe0
      } else if (lvar >= 0xf0 && lvar <= 0xf4) {
        coding = 'binary'
        size = 4 * (lvar - 0xec)
      } else if (lvar === 0xf5) {
        coding = 'binary'
        size = 48
      } else if (lvar === 0xf6) {
        coding = 'binary'
        size = 64
      } else {
        fail('MBUS_DIF', recordAt, `LVAR ${lvar.toString(16)}h is reserved`)
      }
      if (pos + size > len) fail('MBUS_TRUNCATED', recordAt, `variable-length data of ${size} bytes runs past the end`)
      if (coding === 'text') raw = reversedLatin1(bytes, pos, size)
      else if (coding === 'binary') raw = bytes.slice(pos, pos + size)
      else {
        const bcd = readBcd(bytes, pos, size)
        raw = typeof bcd === 'number' && lvar >= 0xd0 && bcd !== 0 ? -bcd : bcd
      }
      pos += size
    } else {
      coding = FIXED_CODINGS[nibble]!
      const size = FIXED_SIZES[nibble]!
      if (pos + size > len) fail('MBUS_TRUNCATED', recordAt, `${coding} data runs past the end`)
      if (size === 0) raw = null
      else if (nibble === 0x05) raw = new DataView(bytes.buffer, bytes.byteOffset + pos, 4).getFloat32(0, true)
      else if (IS_BCD[nibble]!) raw = readBcd(bytes, pos, size)
      else raw = readInt(bytes, pos, size, info.kind === 'number')
      pos += size
    }
    records.push({
      storage, tariff, subunit,
      function: RECORD_FUNCTIONS[(dif >> 4) & 0x03]!,
      coding, dif: difBytes, vif: vifBytes, raw,
      quantity: info.quantity, unit: unitOf(coding, info), value: valueOf(raw, coding, info), modifiers: info.modifiers,
    })
  }
  return records
}
