import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatBytes, formatTime, formatValue, purposeLabel, scaleDecimal, statusWords } from './format.js'

describe('scaleDecimal', () => {
  it('moves the decimal point exactly', () => {
    expect(scaleDecimal('123456789', -1)).toBe('12345678.9')
    expect(scaleDecimal('5', -3)).toBe('0.005')
    expect(scaleDecimal('1200', -2)).toBe('12')
    expect(scaleDecimal('-15', -1)).toBe('-1.5')
    expect(scaleDecimal('7', 2)).toBe('700')
    expect(scaleDecimal('0', 3)).toBe('0')
    expect(scaleDecimal('-0', -2)).toBe('0')
    expect(scaleDecimal('00042', 0)).toBe('42')
  })
  it('refuses what is not a decimal integer', () => {
    for (const bad of ['', '1.5', '1e3', 'abc', ' 1']) expect(() => scaleDecimal(bad, 0)).toThrow(RangeError)
    expect(() => scaleDecimal('1', 0.5)).toThrow(RangeError)
  })
  it('is exact for any mantissa and scaler (property: digits survive, value matches BigInt arithmetic)', () => {
    fc.assert(fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.integer({ min: -12, max: 12 }), (m, s) => {
      const text = scaleDecimal(m.toString(), s)
      const [int = '', frac = ''] = text.replace('-', '').split('.')
      const back = BigInt(int + frac) * (text.startsWith('-') ? -1n : 1n)
      // text = back × 10^-frac.length must equal m × 10^s
      const lhsExp = -frac.length
      const e = Math.min(lhsExp, s)
      expect(back * 10n ** BigInt(lhsExp - e)).toBe(m * 10n ** BigInt(s - e))
      expect(frac.endsWith('0')).toBe(false)
    }))
  })
})

describe('formatValue', () => {
  it('shows energy in kWh with the decimal mark of the language', () => {
    expect(formatValue('123456789', -1, 'Wh', 'de')).toEqual({ text: '12.345,6789', unit: 'kWh' })
    expect(formatValue('123456789', -1, 'Wh', 'en')).toEqual({ text: '12,345.6789', unit: 'kWh' })
  })
  it('keeps power in W and other units as given', () => {
    expect(formatValue('15234', -1, 'W', 'en')).toEqual({ text: '1,523.4', unit: 'W' })
    expect(formatValue('2301', -1, 'V', 'de')).toEqual({ text: '230,1', unit: 'V' })
    expect(formatValue('-500', 0, 'W', 'en')).toEqual({ text: '−500', unit: 'W' })
  })
})

describe('statusWords', () => {
  it('says ok for 0 and names each set bit', () => {
    expect(statusWords(0, 'en')).toEqual(['ok'])
    expect(statusWords(0x0004, 'en')).toEqual(['no value'])
    expect(statusWords(0x0001 | 0x0010, 'de')).toEqual(['Zeit nicht gesichert', 'Manipulation erkannt'])
    expect(statusWords(0x0002 | 0x0008, 'en')).toEqual(['meter reported an error', 'substitute value'])
  })
  it('names unknown bits in hex instead of dropping them', () => {
    expect(statusWords(0x0100 | 0x0004, 'en')).toEqual(['no value', 'unknown flag 0x0100'])
  })
  it('refuses what is not a status word', () => {
    expect(() => statusWords(-1, 'en')).toThrow(RangeError)
    expect(() => statusWords(1.5, 'en')).toThrow(RangeError)
  })
})

describe('formatTime', () => {
  it('shows instants in legal time (CET in winter, CEST in summer)', () => {
    expect(formatTime('2026-11-23T13:15:00.000Z', 'de')).toBe('23.11.2026, 14:15')
    expect(formatTime('2026-07-01T10:00:00.000Z', 'en')).toBe('01/07/2026, 12:00')
  })
  it('leaves an unreadable time as it is', () => {
    expect(formatTime('not a time', 'en')).toBe('not a time')
  })
})

describe('small words', () => {
  it('purposeLabel and formatBytes', () => {
    expect(purposeLabel('taf7')).toBe('TAF 7')
    expect(purposeLabel('custom')).toBe('custom')
    expect(formatBytes(1536, 'en')).toBe('1.5 KiB')
    expect(formatBytes(3 * 1024 * 1024, 'de')).toBe('3 MiB')
    expect(formatBytes(12, 'en')).toBe('12 B')
  })
})
