import { describe, expect, it } from 'vitest'
import { aesCmac } from '../lib/cmac.js'
import { decodeAfl, encodeAfl } from './afl.js'

const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))

// OMS Annex N profile B: AFL in front of a short TPL header; Kmac from CEN/TR 17167 F.3.
const AFL = h('90 0F 002C 25 B30A0000 21924D4F2FB66E01')
const TPDU = h('7A75002007109058475F4BC91DF878B80A1B0F98B629024AAC727942BFC549233C0140829B93')
const KMAC = h('C9CD19FF5A9AAD5A6BBDA13BD2C4C7AD')

describe('authentication and fragmentation layer (EN 13757-7 AFL)', () => {
  it('decodes FCL, MCL, MCR and MAC; the MAC covers MCL ‖ MCR ‖ TPDU', () => {
    const bytes = new Uint8Array(AFL.length + TPDU.length)
    bytes.set(AFL)
    bytes.set(TPDU, AFL.length)
    const { afl, payload, macPrefix } = decodeAfl(bytes)
    expect(afl).toMatchObject({ fragmentControl: 0x2c00, fragmentId: 0, moreFragments: false, messageControl: 0x25, authenticationType: 5, messageCounter: 0x0ab3 })
    expect(afl.mac).toEqual(h('21924D4F2FB66E01'))
    expect(payload).toEqual(TPDU)
    expect(macPrefix).toEqual(h('25 B30A0000'))
    const mac = aesCmac(KMAC, new Uint8Array([...macPrefix, ...TPDU])).subarray(0, 8)
    expect(mac).toEqual(afl.mac)
  })

  it('encodeAfl reproduces the example AFL', () => {
    const out = encodeAfl({ messageCounter: 0x0ab3 }, TPDU, (data) => aesCmac(KMAC, data))
    expect(out.subarray(0, AFL.length)).toEqual(AFL)
  })

  it('MBUS_FRAME when a field runs past AFL.L; MBUS_FRAGMENTED for a fragment', () => {
    expect(() => decodeAfl(h('90 03 002C 25 7A'))).toThrow(expect.objectContaining({ code: 'MBUS_FRAME' }) as Error)
    expect(() => decodeAfl(h('90 02 0240 7A'))).toThrow(expect.objectContaining({ code: 'MBUS_FRAGMENTED' }) as Error)
    expect(() => decodeAfl(h('90 0F 002C'))).toThrow(expect.objectContaining({ code: 'MBUS_TRUNCATED' }) as Error)
  })
})
