import { describe, expect, it } from 'vitest'
import { DLMS_UNITS, dlmsUnit, dlmsUnitInfo } from './units.js'

describe('DLMS units', () => {
  it('maps the codes SML and M-Bus meters use', () => {
    expect(dlmsUnit(30)).toBe('Wh')
    expect(dlmsUnit(27)).toBe('W')
    expect(dlmsUnit(13)).toBe('m3')
    expect(dlmsUnit(35)).toBe('V')
    expect(dlmsUnit(33)).toBe('A')
    expect(dlmsUnit(44)).toBe('Hz')
    expect(dlmsUnit(9)).toBe('°C')
    expect(dlmsUnit(255)).toBe('count')
    expect(dlmsUnitInfo(32)).toEqual({ code: 32, symbol: 'varh', quantity: 'reactive energy' })
  })
  it('returns undefined for unassigned codes', () => {
    expect(dlmsUnit(0)).toBeUndefined()
    expect(dlmsUnit(58)).toBeUndefined()
    expect(dlmsUnit(200)).toBeUndefined()
  })
  it('has every code 1..57 and 60..62 exactly once', () => {
    const codes = DLMS_UNITS.map((u) => u.code)
    expect(new Set(codes).size).toBe(codes.length)
    for (let c = 1; c <= 62; c++) if (c !== 58 && c !== 59) expect(codes).toContain(c)
  })
})
