import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AdminProtocolError } from './errors.js'
import { peekSignedContent } from './peek-der.js'

/** DER by hand: tag, length (minimal definite form), contents. */
function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(parts)
  const n = body.length
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff]
  return new Uint8Array(Buffer.concat([Buffer.from([tag, ...length]), body]))
}
const oid = (hex: string) => tlv(0x06, Buffer.from(hex, 'hex'))
const ID_SIGNED_DATA = oid('2a864886f70d010702')
const ID_DATA = oid('2a864886f70d010701')
const content = new TextEncoder().encode('{"a":1}')

function signedData(o: { encap?: Uint8Array; contentType?: Uint8Array } = {}): Uint8Array {
  const encap = o.encap ?? tlv(0x30, ID_DATA, tlv(0xa0, tlv(0x04, content)))
  const sd = tlv(0x30, tlv(0x02, Uint8Array.of(1)), tlv(0x31), encap, tlv(0x31))
  return tlv(0x30, o.contentType ?? ID_SIGNED_DATA, tlv(0xa0, sd))
}

function code(f: () => unknown): string {
  try {
    f()
    return 'none'
  } catch (err) {
    return err instanceof AdminProtocolError ? err.code : `foreign ${String(err)}`
  }
}

describe('peekSignedContent (minimal DER walk, RFC 5652 §3, §5.1, §5.2)', () => {
  it('finds the eContent of a hand-built SignedData', () => {
    expect(peekSignedContent(signedData())).toEqual(content)
  })

  it('refuses every deviation as MALFORMED', () => {
    const good = signedData()
    const cases: [string, Uint8Array][] = [
      ['empty', new Uint8Array()],
      ['trailing byte', Uint8Array.from([...good, 0])],
      ['truncated', good.subarray(0, good.length - 1)],
      ['enveloped-data content type', signedData({ contentType: oid('2a864886f70d010703') })],
      ['detached', signedData({ encap: tlv(0x30, ID_DATA) })],
      ['other eContentType', signedData({ encap: tlv(0x30, oid('2a864886f70d010710'), tlv(0xa0, tlv(0x04, content))) })],
      ['constructed OCTET STRING', signedData({ encap: tlv(0x30, ID_DATA, tlv(0xa0, tlv(0x24, tlv(0x04, content)))) })],
      // 0x30 0x80: indefinite length (BER, not DER, X.690 §10.1).
      ['indefinite length', Uint8Array.from([0x30, 0x80, ...good.subarray(2), 0, 0])],
      // 0x30 0x81 0x05: a long form for a length under 128 (X.690 §10.1 minimal).
      ['non-minimal length', Uint8Array.from([0x30, 0x81, 0x05, 0x06, 0x01, 0x00, 0xa0, 0x00])],
      ['five length octets', Uint8Array.from([0x30, 0x85, 0, 0, 0, 0, 1, 0])],
      ['multi-byte tag', Uint8Array.from([0x3f, 0x01, 0x00])],
    ]
    for (const [name, bytes] of cases) expect(code(() => peekSignedContent(bytes)), name).toBe('MALFORMED')
  })

  it('throws only AdminProtocolError for any bytes and never reads past them', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const c = code(() => peekSignedContent(bytes))
      expect(c === 'none' || c === 'MALFORMED').toBe(true)
    }), { numRuns: 2000 })
    const good = signedData()
    fc.assert(fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), (i, x) => {
      const bytes = good.slice()
      bytes[i % bytes.length]! ^= x
      const c = code(() => peekSignedContent(bytes))
      expect(c === 'none' || c === 'MALFORMED').toBe(true)
    }), { numRuns: 2000 })
  })
})
