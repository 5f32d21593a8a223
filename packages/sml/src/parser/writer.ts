import { SmlError } from '../errors.js'
import type { SmlInteger, SmlTlHint, SmlValue } from '../types.js'
import { canonicalTlSize } from './reader.js'
import { TL_TYPE } from './tags.js'

/** Width class of an integer by its length, as the decoder assigns it (SML_Value / SML_Status). */
const WIDTH_FOR_LEN: readonly number[] = [0, 1, 2, 4, 4, 8, 8, 8, 8]

const BYTES_BY_TYPE: Readonly<Record<Exclude<SmlValue['type'], 'bytes'>, number>> = {
  bool: 1, int8: 1, int16: 2, int32: 4, int64: 8, uint8: 1, uint16: 2, uint32: 4, uint64: 8,
}

/**
 * Appends TL fields to a growable buffer. Mirrors `Reader`: each TL written advances `tok`,
 * and a hint for that index (from a decoded message) overrides the default TL size and,
 * for integers, the byte length — when the value still fits; otherwise the default is used.
 */
export class Writer {
  buf = new Uint8Array(256)
  pos = 0
  tok = 0
  hints: ReadonlyMap<number, SmlTlHint> | undefined

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
  }

  private hint(): SmlTlHint | undefined {
    return this.hints?.get(this.tok)
  }

  /** Writes a TL field of `size` bytes (0 = canonical). `len` is the data length or element count. */
  private tlRaw(type: number, len: number, size: number): void {
    if (size === 0) size = canonicalTlSize(type, len)
    const total = type === TL_TYPE.list ? len : len + size
    this.ensure(size)
    for (let i = 0; i < size; i++) {
      const nibble = (total / 16 ** (size - 1 - i)) & 0x0f
      const more = i < size - 1 ? 0x80 : 0
      this.buf[this.pos++] = more | (i === 0 ? type << 4 : 0) | nibble
    }
    this.tok++
  }

  private tl(type: number, len: number): void {
    const h = this.hint()
    const size = h !== undefined && h.len === len && fitsTl(type, len, h.size) ? h.size : 0
    this.tlRaw(type, len, size)
  }

  absent(): void {
    this.ensure(1)
    this.buf[this.pos++] = 0x01
    this.tok++
  }

  list(count: number): void {
    this.tl(TL_TYPE.list, count)
  }

  octets(v: Uint8Array): void {
    this.tl(TL_TYPE.octets, v.length)
    this.ensure(v.length)
    this.buf.set(v, this.pos)
    this.pos += v.length
  }

  optOctets(v: Uint8Array | undefined): void {
    if (v === undefined) this.absent()
    else this.octets(v)
  }

  bool(v: boolean): void {
    const h = this.hint()
    const byte = h?.byte !== undefined && v && h.byte !== 0 ? h.byte : v ? 1 : 0
    this.tl(TL_TYPE.bool, 1)
    this.ensure(1)
    this.buf[this.pos++] = byte
  }

  /**
   * An integer of default byte width `width`; a hint may shorten or lengthen it if the value fits.
   * `lengths`: 'any' for fixed-type fields (the schema gives the type), 'choice' where the
   * length selects the type (SML_Value, SML_Status: only lengths of the same width class),
   * 'exact' where the length must stay `width` (the bare SML_Time quirk).
   */
  integer(signed: boolean, width: number, v: SmlInteger, what: string, lengths: 'any' | 'choice' | 'exact' = 'any'): void {
    const h = this.hint()
    if (!fits(signed, width, v)) throw new SmlError('SML_RANGE', `${what}: ${String(v)} does not fit ${signed ? 'Integer' : 'Unsigned'}${width * 8}`)
    let n = width
    let size = 0
    const lenOk = (len: number): boolean =>
      lengths === 'any' ? len >= 1 && len <= 8 : lengths === 'exact' ? len === width : WIDTH_FOR_LEN[len] === width
    if (h !== undefined && lenOk(h.len) && fits(signed, h.len, v)) {
      n = h.len
      if (fitsTl(TL_TYPE.int, n, h.size)) size = h.size
    }
    this.tlRaw(signed ? TL_TYPE.int : TL_TYPE.uint, n, size)
    this.ensure(n)
    writeInteger(this.buf, this.pos, n, v)
    this.pos += n
  }

  u8(v: number, what: string): void {
    this.integer(false, 1, v, what)
  }

  u16(v: number, what: string): void {
    this.integer(false, 2, v, what)
  }

  u32(v: number, what: string): void {
    this.integer(false, 4, v, what)
  }

  i8(v: number, what: string): void {
    this.integer(true, 1, v, what)
  }

  i16(v: number, what: string): void {
    this.integer(true, 2, v, what)
  }

  optU8(v: number | undefined, what: string): void {
    if (v === undefined) this.absent()
    else this.u8(v, what)
  }

  optI8(v: number | undefined, what: string): void {
    if (v === undefined) this.absent()
    else this.i8(v, what)
  }

  value(v: SmlValue, what: string): void {
    switch (v.type) {
      case 'bytes':
        this.octets(v.value)
        return
      case 'bool':
        this.bool(v.value)
        return
      case 'int8': case 'int16': case 'int32': case 'int64':
        this.integer(true, BYTES_BY_TYPE[v.type], v.value, what, 'choice')
        return
      case 'uint8': case 'uint16': case 'uint32': case 'uint64':
        this.integer(false, BYTES_BY_TYPE[v.type], v.value, what, 'choice')
    }
  }

  byte(b: number): void {
    this.ensure(1)
    this.buf[this.pos++] = b
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos)
  }
}

/** Whether `size` TL bytes can carry `len` (a hint is only honoured when it can). */
function fitsTl(type: number, len: number, size: number): boolean {
  if (size < 1 || size > 7) return false
  const total = type === TL_TYPE.list ? len : len + size
  return total < 16 ** size
}

function fits(signed: boolean, bytes: number, v: SmlInteger): boolean {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return false
    if (bytes <= 6) {
      const range = 2 ** (8 * bytes)
      return signed ? v >= -range / 2 && v < range / 2 : v >= 0 && v < range
    }
  }
  const b = BigInt(v)
  const bits = BigInt(8 * bytes)
  return signed ? b >= -(1n << (bits - 1n)) && b < 1n << (bits - 1n) : b >= 0n && b < 1n << bits
}

function writeInteger(buf: Uint8Array, p: number, n: number, v: SmlInteger): void {
  if (typeof v === 'number' && n <= 6) {
    let x = v < 0 ? v + 2 ** (8 * n) : v
    for (let i = n - 1; i >= 0; i--) {
      buf[p + i] = x % 256
      x = Math.floor(x / 256)
    }
    return
  }
  let x = BigInt.asUintN(8 * n, BigInt(v))
  for (let i = n - 1; i >= 0; i--) {
    buf[p + i] = Number(x & 0xffn)
    x >>= 8n
  }
}
