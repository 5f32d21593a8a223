import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeEll, encodeEll } from './ell.js'

const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const LINK = h('2D2C692845631B16')
const KEY = h('4E5508544202058100DFEFA06B0934A5')

describe('extended link layer (EN 13757-4 ELL)', () => {
  it('CI 8Ch: CC and ACC only', () => {
    const { ell, payload } = decodeEll(h('8C 20 75 7A 01'), LINK, undefined)
    expect(ell).toEqual({ ci: 0x8c, communicationControl: 0x20, accessNumber: 0x75, encryption: 'none' })
    expect(payload).toEqual(h('7A 01'))
  })

  it('CI 8Eh: receiver address (CEN/TR 17167 F.3: XYZ 33445566)', () => {
    const { ell } = decodeEll(h('8E 80 75 3A63 66554433 0A 31 90'), LINK, undefined)
    expect(ell.receiver).toEqual({ manufacturer: 'XYZ', id: '33445566', version: 0x0a, deviceType: { code: 0x31, name: 'communication controller' } })
  })

  it('CI 8Dh with AES-128-CTR (jMBus Kamstrup vector): decrypts and checks the payload CRC', () => {
    const payload = h('8D 30 50 209CD621 B006B1140AEF4953AE5B86FAFC0B00E70705B846')
    const { ell, payload: inner } = decodeEll(payload, LINK, KEY)
    expect(ell.encryption).toBe('aes-128-ctr')
    expect(ell.sessionNumber! >>> 29).toBe(1)
    expect(inner).toEqual(h('7802FF2000000413803C070044139F380700'))
    expect(() => decodeEll(payload, LINK, undefined)).toThrow(expect.objectContaining({ code: 'MISSING_KEY' }) as Error)
  })

  it('encode ⇄ decode, with and without encryption and receiver', () => {
    fc.assert(
      fc.property(
        fc.record({ cc: fc.integer({ min: 0, max: 255 }), acc: fc.integer({ min: 0, max: 255 }), sn: fc.integer({ min: 0, max: 0x1fffffff }), encrypt: fc.boolean(), receiver: fc.boolean() }),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        (o, inner, key) => {
          const input = {
            communicationControl: o.cc, accessNumber: o.acc, sessionNumber: o.sn, encrypt: o.encrypt,
            ...(o.receiver ? { receiver: { manufacturer: 'XYZ', id: '33445566', version: 1, deviceType: 0x31 } } : {}),
          }
          const decoded = decodeEll(encodeEll(input, inner, LINK, key), LINK, key)
          expect(decoded.payload).toEqual(inner)
          expect(decoded.ell.accessNumber).toBe(o.acc)
          expect(decoded.ell.encryption).toBe(o.encrypt ? 'aes-128-ctr' : 'none')
          expect((decoded.ell.sessionNumber ?? 0) & 0x1fffffff).toBe(o.sn)
        },
      ),
      { numRuns: 300 },
    )
  })
})
