import { MbusError } from '../errors.js'
import { concatBytes } from '../lib/bytes.js'
import { RECORD_FUNCTIONS, type DataCoding, type DataRecordInput, type RawValue } from './types.js'

// EN 13757-3:2018 §6: the inverse of decodeDataRecords.

const NIBBLE: Readonly<Partial<Record<DataCoding, number>>> = {
  none: 0x0, int8: 0x1, int16: 0x2, int24: 0x3, int32: 0x4, real32: 0x5, int48: 0x6, int64: 0x7, selection: 0x8,
  bcd2: 0x9, bcd4: 0xa, bcd6: 0xb, bcd8: 0xc, text: 0xd, binary: 0xd, bcd_var: 0xd, bcd12: 0xe,
}
const SIZE: Readonly<Partial<Record<DataCoding, number>>> = {
  int8: 1, int16: 2, int24: 3, int32: 4, int48: 6, int64: 8, bcd2: 1, bcd4: 2, bcd6: 3, bcd8: 4, bcd12: 6,
}

function bad(message: string): never {
  throw new MbusError('MBUS_ENCODE', message)
}

function checkField(value: number, max: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) bad(`${what} out of range: ${value}`)
  return value
}

function encodeDif(r: DataRecordInput, nibble: number): Uint8Array {
  const storage = checkField(r.storage ?? 0, 2 ** 41 - 1, 'storage number')
  const tariff = checkField(r.tariff ?? 0, 4 ** 10 - 1, 'tariff')
  const subunit = checkField(r.subunit ?? 0, 2 ** 10 - 1, 'subunit')
  const fn = RECORD_FUNCTIONS.indexOf(r.function ?? 'instantaneous')
  if (fn < 0) bad(`unknown function ${String(r.function)}`)
  const out: number[] = [((storage & 1) << 6) | (fn << 4) | nibble]
  let s = Math.floor(storage / 2)
  let t = tariff
  let u = subunit
  while (s > 0 || t > 0 || u > 0) {
    out[out.length - 1] = out[out.length - 1]! | 0x80
    out.push((s % 16) | ((t % 4) << 4) | ((u % 2) << 6))
    s = Math.floor(s / 16)
    t = Math.floor(t / 4)
    u = Math.floor(u / 2)
  }
  return Uint8Array.from(out)
}

function encodeInt(raw: RawValue, size: number): Uint8Array {
  if (typeof raw !== 'number' && typeof raw !== 'bigint') bad(`int${size * 8} needs a number, got ${typeof raw}`)
  if (typeof raw === 'number' && !Number.isSafeInteger(raw)) bad(`int${size * 8} needs an integer, got ${raw}`)
  const big = BigInt(raw)
  const bits = BigInt(size * 8)
  if (big < -(1n << (bits - 1n)) || big >= 1n << bits) bad(`${String(raw)} does not fit in int${size * 8}`)
  let v = BigInt.asUintN(size * 8, big)
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) {
    out[i] = Number(v & 0xffn)
    v >>= 8n
  }
  return out
}

function encodeBcd(raw: RawValue, size: number): Uint8Array {
  if (raw instanceof Uint8Array) {
    if (raw.length !== size) bad(`BCD bytes must be ${size} long, got ${raw.length}`)
    return raw
  }
  if (typeof raw !== 'number' || !Number.isSafeInteger(raw)) bad(`BCD needs an integer, got ${String(raw)}`)
  const negative = raw < 0
  const digits = Math.abs(raw).toString()
  const maxDigits = negative ? size * 2 - 1 : size * 2
  if (digits.length > maxDigits) bad(`${raw} does not fit in ${size * 2}-digit BCD`)
  const padded = digits.padStart(size * 2, '0')
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) {
    const hi = padded.charCodeAt(2 * i) - 48
    const lo = padded.charCodeAt(2 * i + 1) - 48
    out[size - 1 - i] = (hi << 4) | lo
  }
  if (negative) out[size - 1] = out[size - 1]! | 0xf0
  return out
}

function encodeData(r: DataRecordInput): Uint8Array {
  const { coding, raw } = r
  switch (coding) {
    case 'none':
    case 'selection':
      if (raw !== null) bad(`${coding} carries no data`)
      return new Uint8Array(0)
    case 'int8': case 'int16': case 'int24': case 'int32': case 'int48': case 'int64':
      return encodeInt(raw, SIZE[coding]!)
    case 'bcd2': case 'bcd4': case 'bcd6': case 'bcd8': case 'bcd12':
      return encodeBcd(raw, SIZE[coding]!)
    case 'real32': {
      if (typeof raw !== 'number') bad('real32 needs a number')
      const out = new Uint8Array(4)
      new DataView(out.buffer).setFloat32(0, raw, true)
      return out
    }
    case 'text': {
      if (typeof raw !== 'string') bad('text needs a string')
      if (raw.length > 0xbf) bad('text must be at most 191 characters')
      for (let i = 0; i < raw.length; i++) if (raw.charCodeAt(i) > 0xff) bad('text must be Latin-1')
      const out = new Uint8Array(raw.length + 1)
      out[0] = raw.length
      // Characters are sent last one first (EN 13757-3:2018 §6.3.3).
      for (let i = 0; i < raw.length; i++) out[raw.length - i] = raw.charCodeAt(i)
      return out
    }
    case 'binary': {
      if (!(raw instanceof Uint8Array)) bad('binary needs bytes')
      let lvar: number
      if (raw.length <= 15) lvar = 0xe0 + raw.length
      else if (raw.length <= 32 && raw.length % 4 === 0) lvar = 0xec + raw.length / 4
      else if (raw.length === 48) lvar = 0xf5
      else if (raw.length === 64) lvar = 0xf6
      else bad(`binary of ${raw.length} bytes has no LVAR`)
      return concatBytes([Uint8Array.of(lvar), raw])
    }
    case 'bcd_var': {
      if (typeof raw !== 'number' || !Number.isSafeInteger(raw)) bad('bcd_var needs an integer')
      const size = Math.max(1, Math.ceil(Math.abs(raw).toString().length / 2))
      const bcd = encodeBcd(Math.abs(raw), size)
      return concatBytes([Uint8Array.of((raw < 0 ? 0xd0 : 0xc0) + size), bcd])
    }
    case 'manufacturer_data':
    case 'manufacturer_data_more':
      bad('manufacturer data is encoded as a whole record')
  }
}

/** Encodes data records (the inverse of decodeDataRecords). Manufacturer data must come last. */
export function encodeDataRecords(records: readonly DataRecordInput[]): Uint8Array {
  const parts: Uint8Array[] = []
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!
    if (r.coding === 'manufacturer_data' || r.coding === 'manufacturer_data_more') {
      if (i !== records.length - 1) bad('manufacturer data must be the last record')
      if (!(r.raw instanceof Uint8Array)) bad('manufacturer data needs bytes')
      parts.push(Uint8Array.of(r.coding === 'manufacturer_data' ? 0x0f : 0x1f), r.raw)
      continue
    }
    const nibble = NIBBLE[r.coding]
    if (nibble === undefined) bad(`unknown coding ${r.coding}`)
    if (r.vif.length === 0) bad('a data record needs a VIF')
    parts.push(encodeDif(r, nibble), r.vif, encodeData(r))
  }
  return concatBytes(parts)
}
