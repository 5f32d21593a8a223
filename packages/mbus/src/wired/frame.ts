import { MbusError } from '../errors.js'

// EN 13757-2:2018 §5 (FT1.2 of EN 60870-5-1/-2): four frame kinds on the wired M-Bus.

export type WiredFrame =
  /** Single character E5h: acknowledgement. */
  | { readonly kind: 'ack' }
  /** 10h C A CS 16h. */
  | { readonly kind: 'short'; readonly control: number; readonly address: number }
  /** 68h L L 68h C A CI CS 16h with L = 3 (no data). */
  | { readonly kind: 'control'; readonly control: number; readonly address: number; readonly ci: number }
  /** 68h L L 68h C A CI data CS 16h: `payload` starts with the CI-field. */
  | { readonly kind: 'long'; readonly control: number; readonly address: number; readonly ci: number; readonly payload: Uint8Array }

function checksum(bytes: Uint8Array, start: number, end: number): number {
  let sum = 0
  for (let i = start; i < end; i++) sum += bytes[i]!
  return sum & 0xff
}

/** Decodes one complete wired M-Bus frame; the checksum and stop byte are verified. */
export function decodeWiredFrame(bytes: Uint8Array): WiredFrame {
  if (bytes.length === 0) throw new MbusError('MBUS_TRUNCATED', 'empty frame')
  const start = bytes[0]!
  if (start === 0xe5) {
    if (bytes.length !== 1) throw new MbusError('MBUS_FRAME', `single character E5 followed by ${bytes.length - 1} byte(s)`)
    return { kind: 'ack' }
  }
  if (start === 0x10) {
    if (bytes.length < 5) throw new MbusError('MBUS_TRUNCATED', `short frame needs 5 bytes, got ${bytes.length}`)
    if (bytes.length > 5) throw new MbusError('MBUS_FRAME', `short frame has ${bytes.length - 5} trailing byte(s)`)
    if (bytes[4] !== 0x16) throw new MbusError('MBUS_FRAME', 'short frame: stop byte is not 16h')
    const cs = checksum(bytes, 1, 3)
    if (cs !== bytes[3]) throw new MbusError('MBUS_CHECKSUM', `short frame checksum: expected ${cs}, found ${bytes[3]!}`)
    return { kind: 'short', control: bytes[1]!, address: bytes[2]! }
  }
  if (start !== 0x68) throw new MbusError('MBUS_FRAME', `unknown start byte ${start.toString(16)}h`)
  if (bytes.length < 4) throw new MbusError('MBUS_TRUNCATED', 'long frame header incomplete')
  const l = bytes[1]!
  if (bytes[2] !== l || bytes[3] !== 0x68) throw new MbusError('MBUS_FRAME', 'long frame header: L-fields differ or second start byte is not 68h')
  if (l < 3) throw new MbusError('MBUS_FRAME', `long frame L-field ${l} < 3`)
  const total = l + 6
  if (bytes.length < total) throw new MbusError('MBUS_TRUNCATED', `long frame needs ${total} bytes, got ${bytes.length}`)
  if (bytes.length > total) throw new MbusError('MBUS_FRAME', `long frame has ${bytes.length - total} trailing byte(s)`)
  if (bytes[total - 1] !== 0x16) throw new MbusError('MBUS_FRAME', 'long frame: stop byte is not 16h')
  const cs = checksum(bytes, 4, 4 + l)
  if (cs !== bytes[4 + l]) throw new MbusError('MBUS_CHECKSUM', `long frame checksum: expected ${cs}, found ${bytes[4 + l]!}`)
  const control = bytes[4]!
  const address = bytes[5]!
  const ci = bytes[6]!
  if (l === 3) return { kind: 'control', control, address, ci }
  return { kind: 'long', control, address, ci, payload: bytes.subarray(6, 4 + l) }
}

/** Encodes one wired M-Bus frame (checksum and stop byte added). */
export function encodeWiredFrame(frame: WiredFrame): Uint8Array {
  switch (frame.kind) {
    case 'ack':
      return Uint8Array.of(0xe5)
    case 'short': {
      const out = Uint8Array.of(0x10, frame.control & 0xff, frame.address & 0xff, 0, 0x16)
      out[3] = checksum(out, 1, 3)
      return out
    }
    case 'control':
    case 'long': {
      const payload = frame.kind === 'long' ? frame.payload : Uint8Array.of(frame.ci)
      if (payload[0] !== frame.ci) throw new MbusError('MBUS_ENCODE', 'long frame payload must start with its CI-field')
      const l = payload.length + 2
      if (l > 255) throw new MbusError('MBUS_ENCODE', `long frame too long: L would be ${l}`)
      const out = new Uint8Array(l + 6)
      out.set([0x68, l, l, 0x68, frame.control & 0xff, frame.address & 0xff])
      out.set(payload, 6)
      out[4 + l] = checksum(out, 4, 4 + l)
      out[5 + l] = 0x16
      return out
    }
  }
}
