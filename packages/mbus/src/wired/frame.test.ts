import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MbusError } from '../errors.js'
import { decodeWiredFrame, encodeWiredFrame, type WiredFrame } from './frame.js'

const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))

describe('wired M-Bus frames (EN 13757-2)', () => {
  it('single character, short, control and long frames', () => {
    expect(decodeWiredFrame(h('E5'))).toEqual({ kind: 'ack' })
    // SND_NKE to primary address 1.
    expect(decodeWiredFrame(h('10 40 01 41 16'))).toEqual({ kind: 'short', control: 0x40, address: 1 })
    // Application reset (CI 50h) to address 1.
    expect(decodeWiredFrame(h('68 03 03 68 53 01 50 A4 16'))).toEqual({ kind: 'control', control: 0x53, address: 1, ci: 0x50 })
    const long = decodeWiredFrame(h('6820206808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008916'))
    expect(long).toMatchObject({ kind: 'long', control: 0x08, address: 0xfd, ci: 0x72 })
  })

  it('MBUS_CHECKSUM for a wrong checksum, MBUS_FRAME for wrong framing, MBUS_TRUNCATED when short', () => {
    const code = (bytes: string): string | undefined => {
      try {
        decodeWiredFrame(h(bytes))
        return undefined
      } catch (err) {
        return err instanceof MbusError ? err.code : 'OTHER'
      }
    }
    expect(code('10 40 01 42 16')).toBe('MBUS_CHECKSUM')
    expect(code('6820206808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008A16')).toBe('MBUS_CHECKSUM')
    expect(code('10 40 01 41 17')).toBe('MBUS_FRAME')
    expect(code('68 03 04 68 53 01 50 A4 16')).toBe('MBUS_FRAME')
    expect(code('AA')).toBe('MBUS_FRAME')
    expect(code('E5 E5')).toBe('MBUS_FRAME')
    expect(code('68 20 20 68 08 FD')).toBe('MBUS_TRUNCATED')
    expect(code('10 40')).toBe('MBUS_TRUNCATED')
  })

  it('encode ⇄ decode for every kind', () => {
    const arbFrame: fc.Arbitrary<WiredFrame> = fc.oneof(
      fc.constant({ kind: 'ack' as const }),
      fc.record({ kind: fc.constant('short' as const), control: fc.integer({ min: 0, max: 255 }), address: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('control' as const), control: fc.integer({ min: 0, max: 255 }), address: fc.integer({ min: 0, max: 255 }), ci: fc.integer({ min: 0, max: 255 }) }),
      fc
        .record({ control: fc.integer({ min: 0, max: 255 }), address: fc.integer({ min: 0, max: 255 }), payload: fc.uint8Array({ minLength: 2, maxLength: 252 }) })
        .map((f) => ({ kind: 'long' as const, control: f.control, address: f.address, ci: f.payload[0]!, payload: f.payload })),
    )
    fc.assert(
      fc.property(arbFrame, (frame) => {
        expect(decodeWiredFrame(encodeWiredFrame(frame))).toEqual(frame)
      }),
    )
  })
})
