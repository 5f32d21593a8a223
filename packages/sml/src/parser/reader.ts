import { SmlError } from '../errors.js'
import type { SmlInteger, SmlIntegerType, SmlTlHint, SmlUnsigned, SmlUnsignedType, SmlValue } from '../types.js'
import { TL_TYPE } from './tags.js'

// Local copies: hot paths read module-local constants, not an imported object's properties.
const OCTETS = TL_TYPE.octets
const BOOL = TL_TYPE.bool
const INT = TL_TYPE.int
const UINT = TL_TYPE.uint
const LIST = TL_TYPE.list

const TYPE_NAMES = ['Octet String', '?1', '?2', '?3', 'Boolean', 'Integer', 'Unsigned', 'List'] as const

/** Smallest number of TL bytes for a field (SML 1.04 "Type-Length-Field": 4 length bits per TL byte). */
export function canonicalTlSize(type: number, len: number): number {
  if (type === LIST) {
    let k = 1
    while (len >= 16 ** k) k++
    return k
  }
  // For scalars the length counts the TL bytes themselves.
  let k = 1
  while (len + k >= 16 ** k) k++
  return k
}

/** Byte width by integer size: 1→8 bits, 2→16, 3..4→32, 5..8→64 (SML 1.04 allows shortened integers). */
const WIDTH_FOR_LEN = [0, 1, 2, 4, 4, 8, 8, 8, 8] as const
const UINT_TYPE: Record<number, SmlUnsignedType> = { 1: 'uint8', 2: 'uint16', 4: 'uint32', 8: 'uint64' }
const INT_TYPE: Record<number, SmlIntegerType> = { 1: 'int8', 2: 'int16', 4: 'int32', 8: 'int64' }

/**
 * A single-pass cursor over message bytes. After `tl()` the fields `type`, `len` (data bytes
 * for scalars, element count for lists) and `size` (TL bytes) describe the field just read;
 * no object is allocated per field. Each TL read advances `tok`, the field index used by
 * `SmlTlHint.at`.
 */
export class Reader {
  pos: number
  tok = 0
  type = 0
  len = 0
  size = 0
  hints: SmlTlHint[] | undefined
  depth = 0

  private readonly ab: ArrayBufferLike
  private readonly base: number

  constructor(readonly buf: Uint8Array, start: number, readonly end: number, readonly strictTime: boolean) {
    this.pos = start
    this.ab = buf.buffer
    this.base = buf.byteOffset
  }

  fail(code: 'SML_TL' | 'SML_TYPE' | 'SML_LIST_LENGTH' | 'SML_UNKNOWN_TAG' | 'SML_END' | 'SML_DEPTH', message: string, offset = this.pos): never {
    throw new SmlError(code, message, { offset })
  }

  truncated(): never {
    throw new SmlError('SML_TRUNCATED', 'the message bytes end inside a field', { offset: this.end })
  }

  /** Reads one TL field. */
  tl(): void {
    const buf = this.buf
    let p = this.pos
    if (p >= this.end) this.truncated()
    let b = buf[p++]!
    const type = (b >> 4) & 7
    let len = b & 0x0f
    let size = 1
    while (b & 0x80) {
      if (p >= this.end) this.truncated()
      b = buf[p++]!
      // SML 1.04 TL field: continuation bytes carry type bits 000.
      if (b & 0x70) this.fail('SML_TL', `TL continuation byte 0x${b.toString(16)} has type bits set`, p - 1)
      if (++size > 7) this.fail('SML_TL', 'TL field longer than 7 bytes', p - 1)
      len = len * 16 + (b & 0x0f)
    }
    if (type !== LIST) {
      if (type !== OCTETS && type < BOOL) this.fail('SML_TL', `unknown TL type ${type}`, this.pos)
      len -= size
      if (len < 0) this.fail('SML_TL', `TL length ${len + size} is smaller than the TL field itself`, this.pos)
      if (p + len > this.end) this.truncated()
    }
    this.pos = p
    this.type = type
    this.len = len
    this.size = size
    this.tok++
  }

  /** `n` bytes at `pos` as a view into the input (the constructor form is about twice as fast as `subarray`). */
  view(n: number): Uint8Array {
    return new Uint8Array(this.ab, this.base + this.pos, n)
  }

  takeHints(): SmlTlHint[] | undefined {
    const h = this.hints
    this.hints = undefined
    return h
  }

  /** Records a hint when the TL just read is not what the encoder would write by default. */
  note(defaultLen: number, byte?: number): void {
    // A 1-byte TL is always the shortest; longer ones are checked against the shortest form.
    if (this.len !== defaultLen || byte !== undefined || (this.size > 1 && this.size !== canonicalTlSize(this.type, this.len))) {
      const hint: SmlTlHint = byte === undefined
        ? { at: this.tok - 1, size: this.size, len: this.len }
        : { at: this.tok - 1, size: this.size, len: this.len, byte }
      ;(this.hints ??= []).push(hint)
    }
  }

  expect(type: number, what: string): void {
    if (this.type !== type) this.fail('SML_TYPE', `${what}: expected ${TYPE_NAMES[type]!}, found ${TYPE_NAMES[this.type]!}`)
  }

  /** An absent OPTIONAL field is the single byte 0x01. Consumes it. */
  absent(): boolean {
    if (this.pos < this.end && this.buf[this.pos] === 0x01) {
      this.pos++
      this.tok++
      return true
    }
    return false
  }

  /** A SEQUENCE of exactly `count` elements. */
  list(count: number, what: string): void {
    this.tl()
    this.expect(LIST, what)
    if (this.len !== count) this.fail('SML_LIST_LENGTH', `${what}: expected ${count} elements, found ${this.len}`)
    this.note(count)
  }

  /** A SEQUENCE OF: returns the element count. */
  listOf(what: string): number {
    this.tl()
    this.expect(LIST, what)
    this.note(this.len)
    return this.len
  }

  octets(what: string): Uint8Array {
    this.tl()
    this.expect(OCTETS, what)
    this.note(this.len)
    const v = this.view(this.len)
    this.pos += this.len
    return v
  }

  optOctets(what: string): Uint8Array | undefined {
    return this.absent() ? undefined : this.octets(what)
  }

  bool(what: string): boolean {
    this.tl()
    this.expect(BOOL, what)
    if (this.len !== 1) this.fail('SML_TYPE', `${what}: a Boolean has 1 byte, found ${this.len}`)
    const b = this.buf[this.pos++]!
    this.note(1, b > 1 ? b : undefined)
    return b !== 0
  }

  /** Unsigned of declared byte width `width` (1, 2, 4, 8); shorter or longer encodings are accepted when the value fits. */
  uint(width: number, what: string): SmlInteger {
    this.tl()
    this.expect(UINT, what)
    const n = this.len
    if (n < 1 || n > 8) this.fail('SML_TYPE', `${what}: an Unsigned has 1..8 bytes, found ${n}`)
    this.note(width)
    const v = readUnsigned(this.buf, this.pos, n)
    this.pos += n
    if (n > width && !fitsUnsigned(v, width)) this.fail('SML_TYPE', `${what}: ${String(v)} does not fit Unsigned${width * 8}`)
    return v
  }

  int(width: number, what: string): SmlInteger {
    this.tl()
    this.expect(INT, what)
    const n = this.len
    if (n < 1 || n > 8) this.fail('SML_TYPE', `${what}: an Integer has 1..8 bytes, found ${n}`)
    this.note(width)
    const v = readSigned(this.buf, this.pos, n)
    this.pos += n
    if (n > width && !fitsSigned(v, width)) this.fail('SML_TYPE', `${what}: ${String(v)} does not fit Integer${width * 8}`)
    return v
  }

  u8(what: string): number {
    return this.uint(1, what) as number
  }

  u16(what: string): number {
    return this.uint(2, what) as number
  }

  u32(what: string): number {
    return this.uint(4, what) as number
  }

  i8(what: string): number {
    return this.int(1, what) as number
  }

  i16(what: string): number {
    return this.int(2, what) as number
  }

  optU8(what: string): number | undefined {
    return this.absent() ? undefined : this.u8(what)
  }

  optI8(what: string): number | undefined {
    return this.absent() ? undefined : this.i8(what)
  }

  /** SML_Status ::= CHOICE { Unsigned8, Unsigned16, Unsigned32, Unsigned64 }: the width comes from the TL. */
  status(what: string): SmlUnsigned {
    this.tl()
    this.expect(UINT, what)
    return this.unsignedByLength(what)
  }

  private unsignedByLength(what: string): SmlUnsigned {
    const n = this.len
    if (n < 1 || n > 8) this.fail('SML_TYPE', `${what}: an Unsigned has 1..8 bytes, found ${n}`)
    const width = WIDTH_FOR_LEN[n]!
    this.note(width)
    const value = readUnsigned(this.buf, this.pos, n)
    this.pos += n
    return { type: UINT_TYPE[width]!, value }
  }

  /** SML_Value ::= CHOICE { Boolean, Octet String, Integer8..64, Unsigned8..64, SML_ListType }. */
  value(what: string): SmlValue {
    this.tl()
    const n = this.len
    switch (this.type) {
      case OCTETS: {
        this.note(n)
        const v = this.view(n)
        this.pos += n
        return { type: 'bytes', value: v }
      }
      case UINT:
        return this.unsignedByLength(what)
      case INT: {
        if (n < 1 || n > 8) this.fail('SML_TYPE', `${what}: an Integer has 1..8 bytes, found ${n}`)
        const width = WIDTH_FOR_LEN[n]!
        this.note(width)
        const value = readSigned(this.buf, this.pos, n)
        this.pos += n
        return { type: INT_TYPE[width]!, value }
      }
      case BOOL: {
        if (n !== 1) this.fail('SML_TYPE', `${what}: a Boolean has 1 byte, found ${n}`)
        const b = this.buf[this.pos++]!
        this.note(1, b > 1 ? b : undefined)
        return { type: 'bool', value: b !== 0 }
      }
      default:
        return this.fail('SML_TYPE', `${what}: SML_ListType values are not supported`)
    }
  }
}

/** Big-endian unsigned of 1..8 bytes; a number when safe, a bigint otherwise. */
export function readUnsigned(buf: Uint8Array, p: number, n: number): SmlInteger {
  if (n === 1) return buf[p]!
  if (n === 2) return (buf[p]! << 8) | buf[p + 1]!
  if (n <= 6) {
    let v = 0
    for (let i = 0; i < n; i++) v = v * 256 + buf[p + i]!
    return v
  }
  let hi = 0
  for (let i = 0; i < n - 4; i++) hi = hi * 256 + buf[p + i]!
  const q = p + n - 4
  const lo = ((buf[q]! << 24) | (buf[q + 1]! << 16) | (buf[q + 2]! << 8) | buf[q + 3]!) >>> 0
  const v = hi * 4294967296 + lo
  return Number.isSafeInteger(v) ? v : (BigInt(hi) << 32n) | BigInt(lo)
}

/** 256^n for n = 0..6 (a table: `2 ** x` with a variable exponent is a Math.pow call). */
const POW256: readonly number[] = [1, 0x100, 0x1_0000, 0x100_0000, 0x1_0000_0000, 0x100_0000_0000, 0x1_0000_0000_0000]

/** Big-endian two's complement of 1..8 bytes. */
export function readSigned(buf: Uint8Array, p: number, n: number): SmlInteger {
  if (n === 1) return (buf[p]! << 24) >> 24
  const u = readUnsigned(buf, p, n)
  if ((buf[p]! & 0x80) === 0) return u
  if (typeof u === 'number' && n <= 6) return u - POW256[n]!
  const s = BigInt.asIntN(8 * n, BigInt(u))
  return s >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(s) : s
}

function fitsUnsigned(v: SmlInteger, width: number): boolean {
  return BigInt(v) < 1n << BigInt(8 * width)
}

function fitsSigned(v: SmlInteger, width: number): boolean {
  const half = 1n << BigInt(8 * width - 1)
  const b = BigInt(v)
  return b >= -half && b < half
}
