import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MbusError } from '../errors.js'
import { crc16En13757 } from './crc.js'
import { decodeManufacturer, encodeManufacturer } from './manufacturer.js'
import { decodeWirelessLink, encodeWirelessLink } from './wireless.js'

const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))

// OMS Vol. 2 Annex N.2.1 as sent over the air (format A) and as receivers deliver it.
const WITH_CRC = h('2E44931578563412330333637A2A0020255923C95AAA26D1B2E7493BC2AD013EC4A6F6D3529B520EDFF0EA6DEFC955B29D6D69EBF3EC8A')
const WITHOUT_CRC = h('2E4493157856341233037A2A0020255923C95AAA26D1B2E7493B013EC4A6F6D3529B520EDFF0EA6DEFC99D6D69EBF3')

describe('link layer fields', () => {
  it('CRC-16 EN 13757: the first block of Annex N.2.1', () => {
    expect(crc16En13757(WITH_CRC, 0, 10)).toBe(0x3363)
  })

  it('manufacturer letters ⇄ code', () => {
    expect(decodeManufacturer(0x1593)).toBe('ELS')
    expect(encodeManufacturer('ELS')).toBe(0x1593)
    expect(encodeManufacturer('KAM')).toBe(0x2c2d)
    expect(() => encodeManufacturer('kam')).toThrow(expect.objectContaining({ code: 'MBUS_ENCODE' }) as Error)
  })

  it('decodes address, version and device type; the id as printed on the meter', () => {
    const link = decodeWirelessLink(WITHOUT_CRC)
    expect(link.control).toBe(0x44)
    expect(link.address).toEqual({ manufacturer: 'ELS', id: '12345678', version: 0x33, deviceType: { code: 3, name: 'gas' } })
    expect(link.crcPresent).toBe(false)
    expect(link.payload[0]).toBe(0x7a)
  })
})

describe('decodeWirelessLink: CRC detection', () => {
  it('auto: format A CRCs are verified and stripped', () => {
    const link = decodeWirelessLink(WITH_CRC)
    expect(link.crcPresent).toBe(true)
    expect(link.format).toBe('A')
    expect(link.payload).toEqual(decodeWirelessLink(WITHOUT_CRC).payload)
  })

  it('forced: crc absent refuses the CRC form, crc present refuses the plain form', () => {
    expect(() => decodeWirelessLink(WITH_CRC, { crc: 'absent' })).toThrow(expect.objectContaining({ code: 'MBUS_FRAME' }) as Error)
    expect(() => decodeWirelessLink(WITHOUT_CRC, { crc: 'present' })).toThrow(MbusError)
    expect(() => decodeWirelessLink(WITHOUT_CRC, { crc: 'present', format: 'A' })).toThrow(expect.objectContaining({ code: 'MBUS_TRUNCATED' }) as Error)
    expect(decodeWirelessLink(WITH_CRC, { crc: 'present', format: 'A' }).format).toBe('A')
  })

  it('MBUS_CRC when a bit flips in a CRC-protected block', () => {
    const bad = WITH_CRC.slice()
    bad[15] = bad[15]! ^ 0x01
    expect(() => decodeWirelessLink(bad)).toThrow(expect.objectContaining({ code: 'MBUS_CRC' }) as Error)
  })

  it('format B: one CRC for short frames, two for long ones', () => {
    for (const size of [5, 100, 116, 117, 118, 200]) {
      const payload = new Uint8Array(size).map((_, i) => (i * 7 + 3) & 0xff)
      payload[0] = 0x78
      const address = { manufacturer: 'ABC', id: '00001234', version: 1, deviceType: 7 }
      const framed = encodeWirelessLink({ address, payload, crc: 'B' })
      expect(framed[0]).toBe(framed.length - 1)
      const link = decodeWirelessLink(framed)
      expect(link.format).toBe('B')
      expect(link.payload).toEqual(payload)
      const bad = framed.slice()
      bad[framed.length - 3] = bad[framed.length - 3]! ^ 0x80
      expect(() => decodeWirelessLink(bad, { crc: 'present', format: 'B' })).toThrow(expect.objectContaining({ code: 'MBUS_CRC' }) as Error)
    }
  })

  it('MBUS_TRUNCATED when bytes are missing, MBUS_FRAME for an impossible L-field', () => {
    expect(() => decodeWirelessLink(WITHOUT_CRC.subarray(0, 20))).toThrow(expect.objectContaining({ code: 'MBUS_TRUNCATED' }) as Error)
    expect(() => decodeWirelessLink(new Uint8Array(0))).toThrow(expect.objectContaining({ code: 'MBUS_TRUNCATED' }) as Error)
    expect(() => decodeWirelessLink(h('05440102'))).toThrow(expect.objectContaining({ code: 'MBUS_FRAME' }) as Error)
  })

  it('round trip with and without CRCs, formats A and B', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 240 }),
        fc.constantFrom(undefined, 'A' as const, 'B' as const),
        fc.integer({ min: 0, max: 99999999 }),
        (payload, crc, id) => {
          const address = { manufacturer: 'QDS', id: String(id).padStart(8, '0'), version: 0x55, deviceType: 8 }
          const framed = encodeWirelessLink({ address, payload, ...(crc ? { crc } : {}) })
          const link = decodeWirelessLink(framed, { crc: crc ? 'present' : 'absent', format: crc ?? 'auto' })
          expect(link.payload).toEqual(payload)
          expect(link.address.id).toBe(address.id)
        },
      ),
      { numRuns: 500 },
    )
  })
})
