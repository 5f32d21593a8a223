import { MbusError } from '../errors.js'
import { concatBytes } from '../lib/bytes.js'
import { decodeLinkAddress, encodeLinkAddress, type MeterAddress, type MeterAddressInput } from './address.js'
import { crc16En13757 } from './crc.js'

export type FrameFormat = 'A' | 'B'

export interface WirelessLinkOptions {
  /** 'auto' (default): decided from the L-field against the byte count, CRCs verified when present. */
  readonly crc?: 'auto' | 'present' | 'absent'
  readonly format?: 'auto' | FrameFormat
}

/** The data link layer of a wireless M-Bus frame (EN 13757-4:2019 §5.2). */
export interface WirelessLink {
  /** L-field as received. */
  readonly length: number
  /** C-field (0x44 SND_NR, 0x46 SND_IR, 0x08 RSP_UD, ...). */
  readonly control: number
  readonly address: MeterAddress
  /** The 8 address bytes as sent (M ‖ ID ‖ version ‖ type): the first half of the mode 5 and ELL IVs. */
  readonly addressBytes: Uint8Array
  /** Format of the frame as received; `undefined` when CRCs were absent (then the format cannot be seen). */
  readonly format: FrameFormat | undefined
  readonly crcPresent: boolean
  /** Everything after the address, CRCs stripped: starts with the CI-field. */
  readonly payload: Uint8Array
}

const BLOCK1 = 10

/** Number of CRC bytes format A adds to a frame whose L-field is `l`. */
function formatACrcBytes(l: number): number {
  // EN 13757-4:2019 §5.2.2.2: block 1 = L C M A (10 bytes) + CRC; then blocks of 16 data bytes + CRC.
  const rest = l + 1 - BLOCK1
  return 2 + 2 * Math.ceil(Math.max(0, rest) / 16)
}

function stripFormatA(bytes: Uint8Array, l: number): Uint8Array {
  const out = new Uint8Array(l + 1)
  let src = 0
  let dst = 0
  let blockLen = BLOCK1
  while (dst < l + 1) {
    const n = Math.min(blockLen, l + 1 - dst)
    const crc = crc16En13757(bytes, src, src + n)
    const got = (bytes[src + n]! << 8) | bytes[src + n + 1]!
    if (crc !== got) throw new MbusError('MBUS_CRC', `format A block CRC at offset ${src + n}: expected ${hex4(crc)}, found ${hex4(got)}`)
    out.set(bytes.subarray(src, src + n), dst)
    src += n + 2
    dst += n
    blockLen = 16
  }
  return out
}

/** Format B: the L-field counts the CRC bytes; CRC over bytes 0..125, then over the rest (EN 13757-4:2019 §5.2.2.3). */
function checkFormatB(bytes: Uint8Array): Uint8Array | undefined {
  // Messages are built only on demand (formatBError): under 'auto' a frame without CRCs fails this check on every decode.
  const total = bytes.length
  if (total <= 128) {
    if (total < 12) return undefined
    const crc = crc16En13757(bytes, 0, total - 2)
    const got = (bytes[total - 2]! << 8) | bytes[total - 1]!
    if (crc !== got) return undefined
    const out = bytes.slice(0, total - 2)
    out[0] = out[0]! - 2
    return out
  }
  const crc1 = crc16En13757(bytes, 0, 126)
  const got1 = (bytes[126]! << 8) | bytes[127]!
  if (crc1 !== got1) return undefined
  const crc2 = crc16En13757(bytes, 128, total - 2)
  const got2 = (bytes[total - 2]! << 8) | bytes[total - 1]!
  if (crc2 !== got2) return undefined
  const out = concatBytes([bytes.subarray(0, 126), bytes.subarray(128, total - 2)])
  out[0] = out[0]! - 4
  return out
}

function formatBError(bytes: Uint8Array): string {
  const total = bytes.length
  if (total < 12) return 'too short for format B'
  const end = total <= 128 ? total - 2 : 126
  const crc = crc16En13757(bytes, 0, end)
  const got = (bytes[end]! << 8) | bytes[end + 1]!
  if (crc !== got) return `format B CRC${total > 128 ? ' (block 2)' : ''}: expected ${hex4(crc)}, found ${hex4(got)}`
  const crc2 = crc16En13757(bytes, 128, total - 2)
  return `format B CRC (block 3): expected ${hex4(crc2)}, found ${hex4((bytes[total - 2]! << 8) | bytes[total - 1]!)}`
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0')
}

/**
 * Decodes the link layer of a wireless M-Bus frame, given either as sent over the air
 * (block CRCs present; verified and stripped) or as most receivers deliver it (CRCs removed).
 */
export function decodeWirelessLink(bytes: Uint8Array, options: WirelessLinkOptions = {}): WirelessLink {
  const crcMode = options.crc ?? 'auto'
  const format = options.format ?? 'auto'
  if (bytes.length < 1) throw new MbusError('MBUS_TRUNCATED', 'empty frame')
  const l = bytes[0]!
  if (l < 9) throw new MbusError('MBUS_FRAME', `L-field ${l} is shorter than the link header (9)`)
  let plain: Uint8Array | undefined
  let seenFormat: FrameFormat | undefined
  let crcPresent = false

  const aLength = l + 1 + formatACrcBytes(l)
  const tryA = format !== 'B' && crcMode !== 'absent'
  const tryB = format !== 'A' && crcMode !== 'absent'
  if (tryA && bytes.length === aLength) {
    plain = stripFormatA(bytes, l)
    seenFormat = 'A'
    crcPresent = true
  } else if (bytes.length === l + 1) {
    // Same length for "CRCs absent" and "format B with CRCs": format B CRCs decide under 'auto'.
    const b = tryB ? checkFormatB(bytes) : undefined
    if (b !== undefined) {
      plain = b
      seenFormat = 'B'
      crcPresent = true
    } else if (crcMode === 'present') {
      throw new MbusError(format === 'A' ? 'MBUS_TRUNCATED' : 'MBUS_CRC', format === 'A' ? `format A frame needs ${aLength} bytes, got ${bytes.length}` : formatBError(bytes))
    } else {
      plain = bytes
    }
  } else if (bytes.length < l + 1 || (crcMode !== 'absent' && format !== 'B' && bytes.length < aLength)) {
    throw new MbusError('MBUS_TRUNCATED', `L-field ${l} announces more bytes than the ${bytes.length} received`)
  } else {
    throw new MbusError('MBUS_FRAME', `L-field ${l} does not match the ${bytes.length} bytes received (with or without CRCs)`)
  }
  if (plain.length < 11) throw new MbusError('MBUS_TRUNCATED', 'frame ends before the CI-field')
  return {
    length: l,
    control: plain[1]!,
    address: decodeLinkAddress(plain, 2),
    addressBytes: plain.subarray(2, 10),
    format: seenFormat,
    crcPresent,
    payload: plain.subarray(10),
  }
}

export interface WirelessLinkInput {
  readonly control?: number
  readonly address: MeterAddressInput | MeterAddress
  /** From the CI-field on. */
  readonly payload: Uint8Array
  /** Add block CRCs in the given format; omit for a frame without CRCs (as receivers deliver it). */
  readonly crc?: FrameFormat
}

/** Encodes a wireless M-Bus frame (EN 13757-4:2019 §5.2), with or without block CRCs. */
export function encodeWirelessLink(input: WirelessLinkInput): Uint8Array {
  const head = new Uint8Array(10)
  head[1] = input.control ?? 0x44
  encodeLinkAddress(input.address, head, 2)
  const plain = concatBytes([head, input.payload])
  const l = plain.length - 1
  if (input.crc === undefined) {
    if (l > 255) throw new MbusError('MBUS_ENCODE', `frame too long: L would be ${l}`)
    plain[0] = l
    return plain
  }
  if (input.crc === 'A') {
    if (l > 255) throw new MbusError('MBUS_ENCODE', `frame too long: L would be ${l}`)
    plain[0] = l
    const out = new Uint8Array(l + 1 + formatACrcBytes(l))
    let src = 0
    let dst = 0
    let blockLen = BLOCK1
    while (src < plain.length) {
      const n = Math.min(blockLen, plain.length - src)
      out.set(plain.subarray(src, src + n), dst)
      const crc = crc16En13757(plain, src, src + n)
      out[dst + n] = crc >> 8
      out[dst + n + 1] = crc & 0xff
      src += n
      dst += n + 2
      blockLen = 16
    }
    return out
  }
  // Format B.
  const total = plain.length <= 126 ? plain.length + 2 : plain.length + 4
  if (total - 1 > 255) throw new MbusError('MBUS_ENCODE', `frame too long: L would be ${total - 1}`)
  plain[0] = total - 1
  const out = new Uint8Array(total)
  if (plain.length <= 126) {
    out.set(plain)
    const crc = crc16En13757(out, 0, plain.length)
    out[total - 2] = crc >> 8
    out[total - 1] = crc & 0xff
    return out
  }
  out.set(plain.subarray(0, 126))
  const crc1 = crc16En13757(out, 0, 126)
  out[126] = crc1 >> 8
  out[127] = crc1 & 0xff
  out.set(plain.subarray(126), 128)
  const crc2 = crc16En13757(out, 128, total - 2)
  out[total - 2] = crc2 >> 8
  out[total - 1] = crc2 & 0xff
  return out
}
