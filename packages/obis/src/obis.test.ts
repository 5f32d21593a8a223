import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { ObisError } from './errors.js'
import { decodeObis, encodeObis, formatObis, formatObisBytes, isObis, parseObis } from './obis.js'

describe('parseObis', () => {
  it('parses the full form', () => {
    expect(parseObis('1-0:1.8.0*255')).toEqual({ a: 1, b: 0, c: 1, d: 8, e: 0, f: 255 })
    expect(parseObis('7-1:13.0.0*12')).toEqual({ a: 7, b: 1, c: 13, d: 0, e: 0, f: 12 })
  })
  it('parses short forms with defaults A=1, B=0, F=255', () => {
    expect(parseObis('1-0:16.7.0')).toEqual({ a: 1, b: 0, c: 16, d: 7, e: 0, f: 255 })
    expect(parseObis('1.8.1')).toEqual({ a: 1, b: 0, c: 1, d: 8, e: 1, f: 255 })
    expect(parseObis('1.8')).toEqual({ a: 1, b: 0, c: 1, d: 8, e: 0, f: 255 })
    expect(parseObis('3.0.0', { a: 7 })).toEqual({ a: 7, b: 0, c: 3, d: 0, e: 0, f: 255 })
    expect(parseObis('1-0:1.8.0&3')).toMatchObject({ f: 3 })
  })
  it('parses 12 hex digits', () => {
    expect(parseObis('0100010800ff')).toEqual({ a: 1, b: 0, c: 1, d: 8, e: 0, f: 255 })
  })
  it('rejects bad syntax with OBIS_SYNTAX', () => {
    for (const bad of ['', '1', '1-0:1.8.0*', 'a.b.c', '1-0:1.8.0.0.0', '1:0-1.8.0']) {
      expect(() => parseObis(bad)).toThrow(expect.objectContaining({ code: 'OBIS_SYNTAX' }))
    }
  })
  it('rejects groups above 255 with OBIS_RANGE', () => {
    expect(() => parseObis('1-0:256.8.0')).toThrow(expect.objectContaining({ code: 'OBIS_RANGE', name: 'ObisError' }))
  })
})

describe('formatObis', () => {
  it('formats full and short', () => {
    const o = parseObis('1-0:2.8.0')
    expect(formatObis(o)).toBe('1-0:2.8.0*255')
    expect(formatObis(o, { short: true })).toBe('1-0:2.8.0')
    expect(formatObis({ ...o, f: 1 }, { short: true })).toBe('1-0:2.8.0*1')
  })
  it('rejects out-of-range groups with OBIS_RANGE', () => {
    expect(() => formatObis({ a: 1, b: 0, c: 1, d: 8, e: -1, f: 255 })).toThrow(ObisError)
    expect(() => encodeObis({ a: 1, b: 0, c: 1.5, d: 8, e: 0, f: 255 })).toThrow(expect.objectContaining({ code: 'OBIS_RANGE' }))
  })
})

describe('decodeObis / encodeObis', () => {
  it('decodes 6 bytes', () => {
    expect(decodeObis(Uint8Array.of(1, 0, 16, 7, 0, 255))).toEqual({ a: 1, b: 0, c: 16, d: 7, e: 0, f: 255 })
    expect(formatObisBytes(Uint8Array.of(1, 0, 16, 7, 0, 255))).toBe('1-0:16.7.0*255')
  })
  it('rejects other lengths with OBIS_LENGTH', () => {
    expect(() => decodeObis(Uint8Array.of(1, 0, 16, 7, 0))).toThrow(expect.objectContaining({ code: 'OBIS_LENGTH' }))
    expect(() => formatObisBytes(new Uint8Array(7))).toThrow(expect.objectContaining({ code: 'OBIS_LENGTH' }))
  })
  const arbObis = fc.record({
    a: fc.integer({ min: 0, max: 255 }), b: fc.integer({ min: 0, max: 255 }), c: fc.integer({ min: 0, max: 255 }),
    d: fc.integer({ min: 0, max: 255 }), e: fc.integer({ min: 0, max: 255 }), f: fc.integer({ min: 0, max: 255 }),
  })
  it('round-trips bytes and text', () => {
    fc.assert(fc.property(arbObis, (o) => {
      expect(decodeObis(encodeObis(o))).toEqual(o)
      expect(parseObis(formatObis(o))).toEqual(o)
      expect(formatObisBytes(encodeObis(o))).toBe(formatObis(o))
      expect(isObis(o)).toBe(true)
    }))
  })
  it('parseObis only ever throws ObisError', () => {
    fc.assert(fc.property(fc.string(), (s) => {
      try { parseObis(s) } catch (err) { expect(err).toBeInstanceOf(ObisError) }
    }))
  })
  it('isObis rejects non-objects and bad groups', () => {
    expect(isObis(null)).toBe(false)
    expect(isObis({ a: 1, b: 0, c: 1, d: 8, e: 0 })).toBe(false)
    expect(isObis({ a: 1, b: 0, c: 1, d: 8, e: 0, f: 256 })).toBe(false)
  })
})
