import { crc16X25 } from './crc.js'
import { ESC } from './decode.js'

/**
 * Wraps message bytes in the transport v1 framing (SML 1.04, "SML Transport Protocol Version 1"): start sequence,
 * escaping of 1b1b1b1b in the data, zero padding to a multiple of 4, end sequence with the
 * padding count and the CRC16 low byte first.
 */
export function encodeSmlTransport(payload: Uint8Array): Uint8Array {
  // Count escapes first so the output is allocated once.
  let escapes = 0
  let run = 0
  for (let i = 0; i < payload.length; i++) {
    if (payload[i] === ESC) {
      if (++run === 4) {
        escapes++
        run = 0
      }
    } else run = 0
  }
  const dataLength = payload.length + escapes * 4
  const pad = (4 - (dataLength % 4)) % 4
  const out = new Uint8Array(8 + dataLength + pad + 8)
  out.set([ESC, ESC, ESC, ESC, 1, 1, 1, 1], 0)
  let o = 8
  if (escapes === 0) {
    out.set(payload, o)
    o += payload.length
  } else {
    run = 0
    for (let i = 0; i < payload.length; i++) {
      const b = payload[i]!
      out[o++] = b
      if (b === ESC) {
        if (++run === 4) {
          out[o++] = ESC; out[o++] = ESC; out[o++] = ESC; out[o++] = ESC
          run = 0
        }
      } else run = 0
    }
  }
  o += pad // already zero
  out[o++] = ESC; out[o++] = ESC; out[o++] = ESC; out[o++] = ESC
  out[o++] = 0x1a
  out[o++] = pad
  const crc = crc16X25(out, 0, o)
  out[o++] = crc & 0xff
  out[o] = crc >>> 8
  return out
}
