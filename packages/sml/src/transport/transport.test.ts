import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { SmlError } from '../errors.js'
import { crc16X25 } from './crc.js'
import { decodeSmlTransport } from './decode.js'
import { encodeSmlTransport } from './encode.js'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** Rewrites the file CRC after a deliberate change, so only the change is tested. */
function recrc(file: Uint8Array): Uint8Array {
  const out = file.slice()
  const crc = crc16X25(out, 0, out.length - 2)
  out[out.length - 2] = crc & 0xff
  out[out.length - 1] = crc >>> 8
  return out
}

function code(f: () => unknown): string | undefined {
  try {
    f()
  } catch (err) {
    if (err instanceof SmlError) return err.code
    throw err
  }
  return undefined
}

describe('crc16X25', () => {
  it('has the CRC-16/X-25 check value', () => {
    expect(crc16X25(new TextEncoder().encode('123456789'))).toBe(0x906e)
  })

  it('matches a bitwise reference on any range', () => {
    const reference = (b: Uint8Array, start: number, end: number): number => {
      let crc = 0xffff
      for (let i = start; i < end; i++) {
        crc ^= b[i]!
        for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x8408 : crc >>> 1
      }
      return crc ^ 0xffff
    }
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(), fc.nat(), (b, x, y) => {
      const start = x % (b.length + 1)
      const end = start + (y % (b.length - start + 1))
      expect(crc16X25(b, start, end)).toBe(reference(b, start, end))
    }))
  })
})

describe('transport v1', () => {
  // The example from sml-rs' transport decoder documentation.
  const example = hex('1b1b1b1b 01010101 12345678 1b1b1b1b 1a00 b87b')

  it('decodes a minimal file and checks the CRC low byte first', () => {
    expect(toHex(decodeSmlTransport(example))).toBe('12345678')
  })

  it('encodes the same bytes', () => {
    expect(toHex(encodeSmlTransport(hex('12345678')))).toBe(toHex(example))
  })

  it('pads to a multiple of 4 and removes the padding', () => {
    const file = encodeSmlTransport(hex('aabbcc'))
    expect(toHex(file)).toMatch(/^1b1b1b1b01010101aabbcc001b1b1b1b1a01[0-9a-f]{4}$/)
    expect(toHex(decodeSmlTransport(file))).toBe('aabbcc')
  })

  it('escapes 1b1b1b1b in the data and unescapes it', () => {
    const file = encodeSmlTransport(hex('01 1b1b1b1b 02'))
    expect(toHex(file)).toContain('011b1b1b1b1b1b1b1b02')
    expect(toHex(decodeSmlTransport(file))).toBe('011b1b1b1b02')
  })

  it('reads data ending in 1..3 bytes 0x1b right before the end escape', () => {
    for (const data of ['aa1b1b1b', 'aabb1b1b', 'aabbcc1b', '1b1b1b1b 1b1b1b']) {
      const file = encodeSmlTransport(hex(data))
      expect(toHex(decodeSmlTransport(file))).toBe(data.replace(/\s/g, ''))
    }
  })

  it('round-trips any payload', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 8 }), (a, b) => {
      // Mix in runs of 0x1b so escaping is exercised.
      const payload = Uint8Array.from([...a, 0x1b, 0x1b, 0x1b, 0x1b, 0x1b, ...b, 0x1b])
      expect(toHex(decodeSmlTransport(encodeSmlTransport(payload)))).toBe(toHex(payload))
    }))
  })

  it('SML_START: the input does not begin with the start sequence', () => {
    expect(code(() => decodeSmlTransport(hex('001b1b1b 01010101')))).toBe('SML_START')
  })

  it('SML_TRUNCATED: the input ends before the end sequence', () => {
    expect(code(() => decodeSmlTransport(example.subarray(0, 14)))).toBe('SML_TRUNCATED')
    expect(code(() => decodeSmlTransport(example.subarray(0, 18)))).toBe('SML_TRUNCATED')
    expect(code(() => decodeSmlTransport(example.subarray(0, 5)))).toBe('SML_TRUNCATED')
    expect(code(() => decodeSmlTransport(hex('1b1b1b1b01010101 1234 1b1b1b1b01010101')))).toBe('SML_TRUNCATED')
  })

  it('SML_CRC: carries expected and found values', () => {
    const bad = example.slice()
    bad[9] = 0x35
    try {
      decodeSmlTransport(bad)
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(SmlError)
      const e = err as SmlError
      expect(e.code).toBe('SML_CRC')
      expect(e.found).toBe(0x7bb8)
      expect(e.expected).toBe(crc16X25(bad, 0, bad.length - 2))
      expect(e.expected).not.toBe(e.found)
    }
  })

  it('SML_ESCAPE: an unknown escape sequence', () => {
    expect(code(() => decodeSmlTransport(recrc(hex('1b1b1b1b01010101 1b1b1b1b 02020202 1b1b1b1b 1a00 0000'))))).toBe('SML_ESCAPE')
  })

  it('SML_PADDING: padding count above 3 or padding bytes not zero', () => {
    expect(code(() => decodeSmlTransport(recrc(hex('1b1b1b1b01010101 12345678 1b1b1b1b 1a04 0000'))))).toBe('SML_PADDING')
    expect(code(() => decodeSmlTransport(recrc(hex('1b1b1b1b01010101 123456ff 1b1b1b1b 1a01 0000'))))).toBe('SML_PADDING')
  })

  it('SML_ALIGNMENT: the end sequence is not on a 4-byte boundary', () => {
    expect(code(() => decodeSmlTransport(recrc(hex('1b1b1b1b01010101 123456 1b1b1b1b 1a00 0000'))))).toBe('SML_ALIGNMENT')
  })

  it('SML_TRAILING: bytes after the end of the file', () => {
    expect(code(() => decodeSmlTransport(Uint8Array.from([...example, 0])))).toBe('SML_TRAILING')
  })

  it('random bytes only ever raise SmlError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (tail) => {
      const input = Uint8Array.from([0x1b, 0x1b, 0x1b, 0x1b, 1, 1, 1, 1, ...tail])
      try {
        decodeSmlTransport(input)
      } catch (err) {
        expect(err).toBeInstanceOf(SmlError)
      }
    }))
  })
})
