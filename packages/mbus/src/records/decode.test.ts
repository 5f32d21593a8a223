import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MbusError } from '../errors.js'
import { decodeDataRecords } from './decode.js'
import { encodeDataRecords } from './encode.js'
import type { DataCoding, DataRecordInput, RecordFunction } from './types.js'

const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const one = (s: string) => {
  const records = decodeDataRecords(h(s))
  expect(records).toHaveLength(1)
  return records[0]!
}

describe('decodeDataRecords: data types (EN 13757-3:2018 Table 4)', () => {
  it.each([
    ['00 13', 'none', null, null],
    ['01 13 05', 'int8', 5, 0.005],
    ['01 13 FB', 'int8', -5, -0.005],
    ['02 13 3412', 'int16', 0x1234, 4.66],
    ['03 13 563412', 'int24', 0x123456, 1193.046],
    ['04 13 78563412', 'int32', 0x12345678, 305419.896],
    ['06 13 010000000000', 'int48', 1, 0.001],
    ['06 13 FFFFFFFFFFFF', 'int48', -1, -0.001],
    ['07 13 0100000000000000', 'int64', 1, 0.001],
    ['07 13 FFFFFFFFFFFFFF7F', 'int64', 0x7fffffffffffffffn, Number(0x7fffffffffffffffn) / 1000],
    ['05 13 0000C03F', 'real32', 1.5, 0.0015],
    ['09 13 42', 'bcd2', 42, 0.042],
    ['0A 13 3412', 'bcd4', 1234, 1.234],
    ['0B 13 563412', 'bcd6', 123456, 123.456],
    ['0C 13 78563412', 'bcd8', 12345678, 12345.678],
    ['0C 13 785634F2', 'bcd8', -2345678, -2345.678],
    ['0E 13 563412907856', 'bcd12', 567890123456, 567890123.456],
  ] as const)('%s → %s', (bytes, coding, raw, value) => {
    const r = one(bytes)
    expect(r.coding).toBe(coding)
    expect(r.raw).toEqual(raw)
    expect(r.value).toBe(value)
    expect(r.quantity).toBe('volume')
    expect(r.unit).toBe('m3')
  })

  it('invalid BCD digits keep the bytes raw and give no value', () => {
    const r = one('0A 13 FFFF')
    expect(r.raw).toEqual(h('FFFF'))
    expect(r.value).toBe('ffff')
  })

  it('variable length: text (sent last character first), binary, positive and negative BCD', () => {
    expect(one('0D FD11 03 434241').value).toBe('ABC')
    const bin = one('0D FD11 E3 010203')
    expect(bin.coding).toBe('binary')
    expect(bin.raw).toEqual(h('010203'))
    expect(one('0D 13 C2 3412').raw).toBe(1234)
    expect(one('0D 13 D2 3412').value).toBe(-1.234)
    expect(one('0D FD11 F0 ' + '00'.repeat(16)).raw).toEqual(new Uint8Array(16))
  })

  it('date type G, datetime types F and I, time type J', () => {
    expect(one('02 6C FE04')).toMatchObject({ quantity: 'date', unit: 'date', value: '2007-04-30' })
    expect(one('04 6D 32371F15')).toMatchObject({ quantity: 'datetime', unit: 'datetime', value: '2008-05-31T23:50' })
    expect(one('06 6D 0A 32371F15 00')).toMatchObject({ unit: 'datetime', value: '2008-05-31T23:50:10' })
    expect(one('03 6D 1E2D0C').value).toBe('12:45:30')
    // IV bit (invalid) set in type F.
    expect(one('04 6D B2371F15').value).toBe(null)
  })
})

describe('decodeDataRecords: DIF / DIFE', () => {
  it('storage, tariff, subunit and function from DIF and DIFEs', () => {
    // DIF C4: ext, storage bit 1, function 0 (instantaneous), int32; DIFE 5A: subunit 1, tariff 1, storage 0xA.
    const r = one('C4 5A 13 01000000')
    expect([r.storage, r.tariff, r.subunit, r.function]).toEqual([1 + (0xa << 1), 1, 1, 'instantaneous'])
    expect(one('14 13 01000000').function).toBe('maximum')
    expect(one('24 13 01000000').function).toBe('minimum')
    expect(one('34 13 01000000').function).toBe('error')
    expect(one('84 01 13 01000000').storage).toBe(2)
    expect(one('84 80 10 13 01000000').tariff).toBe(4)
  })

  it('skips 2Fh fillers and keeps manufacturer data after 0Fh / 1Fh raw', () => {
    const records = decodeDataRecords(h('2F 2F 01 13 05 2F 0F 0102 2F'))
    expect(records.map((r) => r.quantity)).toEqual(['volume', 'manufacturer_data'])
    expect(records[1]).toMatchObject({ coding: 'manufacturer_data', unit: 'raw', value: '01022f' })
    expect(decodeDataRecords(h('1F AA'))[0]!.coding).toBe('manufacturer_data_more')
  })
})

describe('decodeDataRecords: VIF tables', () => {
  it.each([
    ['04 03 E8030000', 'energy', 'Wh', 1000],
    ['04 06 E8030000', 'energy', 'Wh', 1000000],
    ['04 0E 01000000', 'energy', 'J', 1e6],
    ['04 1B 01000000', 'mass', 'kg', 1],
    ['04 20 02000000', 'on_time', 's', 2],
    ['04 22 02000000', 'on_time', 's', 7200],
    ['04 27 02000000', 'operating_time', 's', 172800],
    ['04 2B 02000000', 'power', 'W', 2],
    ['04 33 02000000', 'power', 'J/h', 2000],
    ['04 3B 02000000', 'volume_flow', 'm3/h', 0.002],
    ['04 43 06000000', 'volume_flow', 'm3/h', 0.036],
    ['04 4F 01000000', 'volume_flow', 'm3/h', 3600 / 100],
    ['04 53 02000000', 'mass_flow', 'kg/h', 2],
    ['02 59 2C01', 'flow_temperature', '°C', 3],
    ['02 5D E803', 'return_temperature', '°C', 10],
    ['02 61 0500', 'temperature_difference', 'K', 0.05],
    ['02 65 D2FF', 'external_temperature', '°C', -0.46],
    ['02 6A 0A00', 'pressure', 'bar', 1],
    ['02 6E 0A00', 'hca_units', '', 10],
    ['02 72 0300', 'averaging_duration', 's', 10800],
    ['02 74 0300', 'actuality_duration', 's', 3],
    ['0C 78 44332211', 'fabrication_number', '', 11223344],
    ['0C 79 44332211', 'enhanced_identification', '', 11223344],
    ['01 7A 05', 'bus_address', '', 5],
    ['02 FD 17 0401', 'error_flags', '', 0x104],
    ['01 FD 08 2A', 'access_number', '', 42],
    ['02 FD 48 E803', 'voltage', 'V', 100],
    ['02 FD 59 0100', 'current', 'A', 1e-3],
    ['02 FD 3A 0700', 'dimensionless', '', 7],
    ['02 FD 74 0200', 'remaining_battery_life', 's', 172800],
    ['02 FB 00 0200', 'energy', 'Wh', 200000],
    ['02 FB 09 0200', 'energy', 'J', 2e9],
    ['02 FB 10 0200', 'volume', 'm3', 200],
    ['02 FB 29 0200', 'power', 'W', 2e6],
  ] as const)('%s → %s', (bytes, quantity, unit, value) => {
    const r = one(bytes)
    expect([r.quantity, r.unit]).toEqual([quantity, unit])
    expect(r.value).toBeCloseTo(value, 9)
  })

  it('combinable VIFEs: per time, multiplicative and additive corrections, limits', () => {
    expect(one('02 93 22 0100')).toMatchObject({ quantity: 'volume', modifiers: ['per_hour'] })
    expect(one('02 93 75 0100')).toMatchObject({ value: 1e-4, modifiers: ['multiplier_1e-1'] })
    expect(one('02 93 7D 0100')).toMatchObject({ value: 1, modifiers: ['multiplier_1e3'] })
    // Additive 10^(nn-3) in the VIF's unit: (1 + 10^0) litres.
    expect(one('02 93 7B 0100')).toMatchObject({ value: 0.002, modifiers: ['additive_1e0'] })
    expect(one('02 93 48 0100').modifiers).toEqual(['upper_limit'])
    expect(one('02 FD 97 3A 0100').modifiers).toEqual(['uncorrected'])
  })

  it('plain-text VIF: the unit text follows the VIFEs', () => {
    const r = one('02 FC 22 03 6E6170 0500')
    expect(r.quantity).toBe('plain_text')
    expect(r.modifiers).toEqual(['per_hour', 'unit:pan'])
    expect(r.value).toBe(5)
  })

  it('manufacturer-specific VIF 7Fh / FFh and its VIFEs are kept raw', () => {
    const r = one('02 FF 20 0500')
    expect(r).toMatchObject({ quantity: 'manufacturer_specific', unit: 'raw', value: 5, modifiers: ['manufacturer_vife_20'] })
    expect(one('01 FB 7F 05')).toMatchObject({ quantity: 'fb_7f', unit: 'raw' })
  })
})

describe('decodeDataRecords: errors', () => {
  it.each([
    ['MBUS_DIF', '3F'],
    ['MBUS_DIF', '0D 13 F8'],
    ['MBUS_DIF', '84 80 80 80 80 80 80 80 80 80 80 00 13 00'],
    ['MBUS_VIF', '01 6F 00'],
    ['MBUS_VIF', '01 7E 00'],
    ['MBUS_VIF', '01 7D 00'],
    ['MBUS_VIF', '01 93 80 80 80 80 80 80 80 80 80 80 00 00'],
    ['MBUS_TRUNCATED', '04 13 0102'],
    ['MBUS_TRUNCATED', '84'],
    ['MBUS_TRUNCATED', '04'],
    ['MBUS_TRUNCATED', '0D 13 05 41'],
  ] as const)('%s for %s', (code, bytes) => {
    expect(() => decodeDataRecords(h(bytes))).toThrow(expect.objectContaining({ code }) as Error)
  })

  it('random bytes give records or an MbusError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        try {
          decodeDataRecords(bytes)
        } catch (err) {
          expect(err).toBeInstanceOf(MbusError)
        }
      }),
      { numRuns: 3000 },
    )
  })
})

const FUNCTIONS: RecordFunction[] = ['instantaneous', 'maximum', 'minimum', 'error']
const INT_SIZES: Partial<Record<DataCoding, number>> = { int8: 1, int16: 2, int24: 3, int32: 4, int48: 6 }
const BCD_DIGITS: Partial<Record<DataCoding, number>> = { bcd2: 2, bcd4: 4, bcd6: 6, bcd8: 8, bcd12: 12 }
/** Numeric VIFs (signed integers): volume, energy, power, temperatures, FD voltage. */
const NUMERIC_VIFS = ['13', '06', '2b', '59', '65', 'fd48', 'fb00', '9322', '9375']

const arbRecord: fc.Arbitrary<DataRecordInput> = fc
  .record({
    storage: fc.oneof(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 2 ** 41 - 1 })),
    tariff: fc.integer({ min: 0, max: 4 ** 10 - 1 }),
    subunit: fc.integer({ min: 0, max: 1023 }),
    function: fc.constantFrom(...FUNCTIONS),
    vif: fc.constantFrom(...NUMERIC_VIFS),
    kind: fc.constantFrom('int8', 'int16', 'int24', 'int32', 'int48', 'int64', 'bcd2', 'bcd4', 'bcd6', 'bcd8', 'bcd12', 'real32', 'none', 'text', 'binary', 'bcd_var'),
    seed: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
    neg: fc.boolean(),
    text: fc.string({ maxLength: 20, unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) }),
    bytes: fc.uint8Array({ maxLength: 15 }),
    float: fc.float({ noNaN: true }),
  })
  .map((a): DataRecordInput => {
    const base = { storage: a.storage, tariff: a.tariff, subunit: a.subunit, function: a.function, vif: h(a.vif) }
    const coding = a.kind as DataCoding
    const size = INT_SIZES[coding]
    if (size !== undefined) {
      const max = 2 ** (size * 8 - 1)
      return { ...base, coding, raw: Math.floor(a.seed * 2 * max) - max }
    }
    if (coding === 'int64') return { ...base, coding, raw: Math.floor(a.seed * 2 ** 52) * (a.neg ? -1 : 1) || 0 }
    const digits = BCD_DIGITS[coding]
    if (digits !== undefined) {
      const v = Math.floor(a.seed * 10 ** (digits - 1))
      return { ...base, coding, raw: a.neg && v !== 0 ? -v : v }
    }
    if (coding === 'real32') return { ...base, coding, raw: a.float === 0 ? 0 : a.float }
    if (coding === 'text') return { ...base, coding, raw: a.text }
    if (coding === 'binary') return { ...base, coding, raw: a.bytes }
    if (coding === 'bcd_var') return { ...base, coding, raw: Math.floor(a.seed * 1e12) }
    return { ...base, coding: 'none', raw: null }
  })

describe('encodeDataRecords ⇄ decodeDataRecords', () => {
  it('records → bytes → records keeps every field', () => {
    fc.assert(
      fc.property(fc.array(arbRecord, { maxLength: 6 }), (records) => {
        const decoded = decodeDataRecords(encodeDataRecords(records))
        expect(decoded.map((r) => ({ storage: r.storage, tariff: r.tariff, subunit: r.subunit, function: r.function, coding: r.coding, vif: r.vif, raw: r.raw }))).toEqual(
          records.map((r) => ({ ...r, vif: r.vif })),
        )
      }),
      { numRuns: 1000 },
    )
  })

  it('bytes → records → bytes is the identity for canonical records', () => {
    fc.assert(
      fc.property(fc.array(arbRecord, { maxLength: 6 }), (records) => {
        const bytes = encodeDataRecords(records)
        expect(encodeDataRecords(decodeDataRecords(bytes))).toEqual(bytes)
      }),
      { numRuns: 500 },
    )
  })

  it('the OMS example APDU re-encodes byte for byte', () => {
    const apdu = h('0C1427048502046D32371F1502FD170000')
    expect(encodeDataRecords(decodeDataRecords(apdu))).toEqual(apdu)
  })

  it('rejects values that do not fit with MBUS_ENCODE', () => {
    const bad: DataRecordInput[] = [
      { coding: 'int8', vif: h('13'), raw: 300 },
      { coding: 'bcd2', vif: h('13'), raw: 123 },
      { coding: 'int16', vif: h('13'), raw: 'x' },
      { coding: 'int16', vif: new Uint8Array(0), raw: 1 },
      { coding: 'binary', vif: h('13'), raw: new Uint8Array(17) },
      { storage: -1, coding: 'int8', vif: h('13'), raw: 1 },
    ]
    for (const r of bad) expect(() => encodeDataRecords([r])).toThrow(expect.objectContaining({ code: 'MBUS_ENCODE' }) as Error)
  })
})
