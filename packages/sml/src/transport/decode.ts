import { SmlError } from '../errors.js'
import { crc16X25 } from './crc.js'

// SML 1.04, "SML Transport Protocol Version 1": a file starts with the escape sequence
// 1b1b1b1b followed by the version-1 start 01010101 and ends with 1b1b1b1b 1a, the padding
// count (0..3) and the CRC16 over everything before it. Data bytes 1b1b1b1b are sent twice.
export const ESC = 0x1b
const crc = crc16X25
export const START_LENGTH = 8
export const END_LENGTH = 8

/**
 * Checks and removes the transport v1 framing of one complete SML file: start sequence,
 * escaping, padding, alignment and the CRC16 (X-25, low byte first). Returns the message
 * bytes (a view into `file` when nothing was escaped).
 */
export function decodeSmlTransport(file: Uint8Array): Uint8Array {
  const len = file.length
  for (let i = 0; i < START_LENGTH; i++) {
    if (i >= len) throw new SmlError('SML_TRUNCATED', `the input ends after ${len} bytes, inside the start sequence`, { offset: len })
    if (file[i] !== (i < 4 ? ESC : 0x01)) throw new SmlError('SML_START', 'an SML file starts with 1b1b1b1b 01010101', { offset: i })
  }
  // Segments of unescaped data: pairs [from, to). Only allocated when the file has escaped data.
  let segments: number[] | undefined
  let segStart = START_LENGTH
  let i = START_LENGTH
  for (;;) {
    let j = file.indexOf(ESC, i)
    if (j < 0 || j + 4 > len) throw new SmlError('SML_TRUNCATED', 'the input ends before the end escape sequence', { offset: len })
    if (file[j + 1] !== ESC || file[j + 2] !== ESC || file[j + 3] !== ESC) {
      i = j + 1
      continue
    }
    if (j + 8 > len) throw new SmlError('SML_TRUNCATED', 'the input ends inside an escape sequence', { offset: len })
    const p0 = file[j + 4]!
    if (p0 === ESC && file[j + 5] === ESC && file[j + 6] === ESC && file[j + 7] === ESC) {
      // SML 1.04 transport v1: 1b1b1b1b in the data is sent as 1b1b1b1b 1b1b1b1b.
      segments ??= []
      segments.push(segStart, j + 4)
      segStart = j + 8
      i = j + 8
      continue
    }
    if (p0 !== 0x1a) {
      if (p0 === 0x01 && file[j + 5] === 0x01 && file[j + 6] === 0x01 && file[j + 7] === 0x01) {
        throw new SmlError('SML_TRUNCATED', 'a new file starts before this one ended', { offset: j })
      }
      // Data ending in 1..3 bytes 1b right before the (aligned) end escape: the first
      // four 1b seen are not the escape. Shift to the aligned position (as sml-rs does).
      const k = (4 - (j % 4)) % 4
      let shifted = false
      if (k > 0 && j + k + 8 <= len && file[j + 4 + k] === 0x1a) {
        shifted = true
        for (let m = 0; m < k; m++) if (file[j + 4 + m] !== ESC) shifted = false
      }
      if (!shifted) {
        throw new SmlError('SML_ESCAPE', `unknown escape sequence 1b1b1b1b ${hex(file.subarray(j + 4, j + 8))}`, { offset: j })
      }
      j += k
    }
    return finishFile(file, j, segStart, segments)
  }
}

function finishFile(file: Uint8Array, j: number, segStart: number, segments: number[] | undefined): Uint8Array {
  const len = file.length
  if (j + END_LENGTH > len) throw new SmlError('SML_TRUNCATED', 'the input ends inside the end escape sequence', { offset: len })
  if (j + END_LENGTH < len) throw new SmlError('SML_TRAILING', `${len - j - END_LENGTH} bytes follow the end of the SML file`, { offset: j + END_LENGTH })
  const found = file[len - 2]! | (file[len - 1]! << 8)
  const expected = crc(file, 0, len - 2)
  if (found !== expected) {
    throw new SmlError('SML_CRC', `file CRC16 mismatch: computed ${hex16(expected)}, file carries ${hex16(found)}`, { offset: len - 2, expected, found })
  }
  // SML 1.04 transport v1: the end escape sequence sits on a 4-byte boundary (padding makes it so).
  if (j % 4 !== 0) throw new SmlError('SML_ALIGNMENT', `the end escape sequence is at offset ${j}, not a multiple of 4`, { offset: j })
  const pad = file[j + 5]!
  if (pad > 3 || j - pad < segStart) throw new SmlError('SML_PADDING', `padding count ${pad} is invalid`, { offset: j + 5 })
  for (let m = j - pad; m < j; m++) {
    if (file[m] !== 0) throw new SmlError('SML_PADDING', `padding byte at offset ${m} is ${file[m]!}, not 0`, { offset: m })
  }
  const dataEnd = j - pad
  if (segments === undefined) return file.subarray(START_LENGTH, dataEnd)
  segments.push(segStart, dataEnd)
  let total = 0
  for (let s = 0; s < segments.length; s += 2) total += segments[s + 1]! - segments[s]!
  const out = new Uint8Array(total)
  let o = 0
  for (let s = 0; s < segments.length; s += 2) {
    out.set(file.subarray(segments[s], segments[s + 1]), o)
    o += segments[s + 1]! - segments[s]!
  }
  return out
}

export function hex16(v: number): string {
  return '0x' + v.toString(16).padStart(4, '0')
}

function hex(bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += b.toString(16).padStart(2, '0')
  return s
}
