import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatCanonicalJson } from './canonical-json.js'

describe('formatCanonicalJson (RFC 8785)', () => {
  it('sorts members by UTF-16 code units and writes no whitespace (RFC 8785 §3.2.3 example keys)', () => {
    // RFC 8785 §3.2.3: "\r" < "1" < "\u0080" < "ö" < "€" < "😀" < "\ufb33" in UTF-16 order.
    const value = { '€': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '😀': 'Emoji: Grinning Face', '\u0080': 'Control', 'ö': 'Latin Small Letter O With Diaeresis' }
    expect(formatCanonicalJson(value)).toBe('{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":"Latin Small Letter O With Diaeresis","€":"Euro Sign","😀":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}')
    expect(formatCanonicalJson({ b: [1, { d: true, c: null }], a: -0 })).toBe('{"a":0,"b":[1,{"c":null,"d":true}]}')
    expect(formatCanonicalJson({ n: 1e21, m: 0.000001 })).toBe('{"m":0.000001,"n":1e+21}')
  })

  it('refuses values JSON cannot hold', () => {
    for (const v of [undefined, 1n, Number.NaN, Infinity, () => 1, new Date(0), { a: undefined }]) expect(() => formatCanonicalJson(v)).toThrow(TypeError)
  })

  it('property: parse ∘ format is the identity and format is stable', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      const text = formatCanonicalJson(v)
      expect(formatCanonicalJson(JSON.parse(text))).toBe(text)
    }))
  })
})
