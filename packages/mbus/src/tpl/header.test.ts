import { describe, expect, it } from 'vitest'
import { decodeTplHeader, encodeTplHeader } from './header.js'

const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))

describe('transport layer headers (EN 13757-7)', () => {
  it('short header 7Ah: ACC, status, configuration → mode and blocks', () => {
    const { header, body } = decodeTplHeader(h('7A 2A 00 2025 AABB'))
    expect(header).toMatchObject({ ci: 0x7a, kind: 'short', accessNumber: 42, status: 0, configuration: 0x2520, securityMode: 5, encryptedBlocks: 2 })
    expect(body).toEqual(h('AABB'))
  })

  it('long header 72h: meter address and the IV order M ‖ ID ‖ version ‖ type', () => {
    const { header } = decodeTplHeader(h('72 78563412 9315 33 03 2A 00 0000'))
    expect(header.address).toEqual({ manufacturer: 'ELS', id: '12345678', version: 0x33, deviceType: { code: 3, name: 'gas' } })
    expect(header.addressBytes).toEqual(h('9315 78563412 33 03'))
  })

  it('mode 7 reads the configuration field extension', () => {
    const { header, body } = decodeTplHeader(h('7A 75 00 2007 10 99'))
    expect(header).toMatchObject({ securityMode: 7, encryptedBlocks: 2, configurationExtension: 0x10 })
    expect(body).toEqual(h('99'))
  })

  it('78h has no header; other CIs are MBUS_CI_UNSUPPORTED; short input MBUS_TRUNCATED', () => {
    expect(decodeTplHeader(h('78 0413')).header).toMatchObject({ kind: 'none', securityMode: 0 })
    expect(() => decodeTplHeader(h('79 00'))).toThrow(expect.objectContaining({ code: 'MBUS_CI_UNSUPPORTED' }) as Error)
    expect(() => decodeTplHeader(h('7A 00 00'))).toThrow(expect.objectContaining({ code: 'MBUS_TRUNCATED' }) as Error)
  })

  it('encode ⇄ decode', () => {
    const address = { manufacturer: 'ELS', id: '12345678', version: 0x33, deviceType: 3 }
    const long = encodeTplHeader({ kind: 'long', address, accessNumber: 7, status: 4 }, 5, 3)
    expect(decodeTplHeader(long).header).toMatchObject({ kind: 'long', accessNumber: 7, status: 4, securityMode: 5, encryptedBlocks: 3, address: { id: '12345678' } })
    expect(() => encodeTplHeader({ kind: 'none' }, 5, 1)).toThrow(expect.objectContaining({ code: 'MBUS_ENCODE' }) as Error)
  })
})
