import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { VALUE_STATUS } from '@smgw/meter-data'
import { describe, expect, it } from 'vitest'
import type { ValueRow } from '../repository/types.js'
import { CSV_COLUMNS, formatCsv } from './csv.js'
import { formatJsonExport } from './json.js'
import { escapeEdifact, formatMscons } from './mscons.js'
import { formatDecimal, groupValues, legalDigits } from './series.js'

const fixtures = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures')

function row(o: Omit<Partial<ValueRow>, 'time'> & { time: string }): ValueRow {
  return {
    meteringPoint: 'DE0001234567890000000000000012345', meteringPointKind: 'metering-point', gatewayId: 'smgw-0001', messageId: 'smgw-0001:taf7:1',
    useCase: 'taf7', obis: '1-0:1.8.0*255', unit: 'Wh', scaler: -1, kind: 'profile', register: null, periodSeconds: 900, value: '1000', status: 0,
    ...o, time: new Date(o.time),
  }
}

/** A profile of `n` quarter hours ending after `start` (UTC), values rising by 25 (2.5 Wh). */
function profile(start: string, n: number, gaps: readonly number[] = []): ValueRow[] {
  const t0 = Date.parse(start)
  return Array.from({ length: n }, (_, i) => row({
    time: new Date(t0 + (i + 1) * 900_000).toISOString(),
    value: gaps.includes(i) ? null : String(1_000_000 + 25 * i),
    status: gaps.includes(i) ? VALUE_STATUS.gap : 0,
  }))
}

const options = { sender: '9900000000002', recipient: '9900000000003', reference: 'REF0001', createdAt: new Date('2026-11-24T06:00:00.000Z') }

function segmentsOf(edifact: string): string[] {
  // Split at segment terminators that are not released by '?'.
  return edifact.replace(/^UNA:\+\.\? '/, '').split(/(?<!\?)'/).map((s) => s.replace(/^\n/, '')).filter((s) => s !== '')
}

describe('formatDecimal', () => {
  it('scales exactly', () => {
    expect(formatDecimal('123456789', -1)).toBe('12345678.9')
    expect(formatDecimal('5', -3)).toBe('0.005')
    expect(formatDecimal('-5', -3)).toBe('-0.005')
    expect(formatDecimal('12', 2)).toBe('1200')
    expect(formatDecimal('0', 3)).toBe('0')
    expect(formatDecimal('0', -2)).toBe('0.00')
    expect(formatDecimal('-1234567890123456789012345678901234567890', -4)).toBe('-123456789012345678901234567890123456.7890')
  })
  it('property: the decimal string equals mantissa × 10^scaler (checked with bigint arithmetic)', () => {
    fc.assert(fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.integer({ min: -20, max: 20 }), (m, s) => {
      const text = formatDecimal(m.toString(), s)
      const [int = '', frac = ''] = text.replace('-', '').split('.')
      const magnitude = BigInt(int + frac) * 10n ** BigInt(Math.max(0, -s - frac.length))
      const expected = s >= 0 ? (m < 0n ? -m : m) * 10n ** BigInt(s) : (m < 0n ? -m : m)
      expect(frac.length).toBe(Math.max(0, -s))
      expect(magnitude).toBe(expected)
      expect(text.startsWith('-')).toBe(m < 0n)
    }))
  })
})

describe('legal time', () => {
  it('MEZ/MESZ switches at 01:00 UTC on the last Sundays of March and October', () => {
    expect(legalDigits(new Date('2026-03-29T00:59:59.999Z')).offset).toBe(1)
    expect(legalDigits(new Date('2026-03-29T01:00:00.000Z')).offset).toBe(2)
    expect(legalDigits(new Date('2026-10-25T00:59:59.999Z')).offset).toBe(2)
    expect(legalDigits(new Date('2026-10-25T01:00:00.000Z')).offset).toBe(1)
    expect(legalDigits(new Date('2027-03-28T01:00:00.000Z')).offset).toBe(2)
  })
})

describe('MSCONS', () => {
  it('matches the golden file for one small message (a gap, a substitute value, a meter error with invalid time)', () => {
    const rows = profile('2026-11-22T23:00:00.000Z', 4, [1])
    const edited = rows.map((r, i) => (i === 2 ? { ...r, status: VALUE_STATUS.substitute } : i === 3 ? { ...r, status: VALUE_STATUS.meterError | VALUE_STATUS.timeInvalid } : r))
    const text = formatMscons(edited, { ...options, lineBreaks: true })
    expect(text).toBe(readFileSync(join(fixtures, 'small.mscons'), 'utf8'))
    // Targeted checks beside the golden file.
    expect(text).toContain("QTY+220:100.0000:KWH'\nDTM+163:202611230000?+01:303'\nDTM+164:202611230015?+01:303'")
    expect(text).toContain("QTY+67:100.0050:KWH'")
    expect(text).toContain("QTY+201:100.0075:KWH'\nDTM+163:202611230045?+01:303'\nDTM+164:202611230100?+01:303'\nSTS+Z18++ZTI'\nSTS+Z18++ZME'")
    expect(text).not.toContain('DTM+164:202611230030?+01:303')
  })

  it('has correct UNT and UNZ counts, one message per metering point, escaped data', () => {
    const rows = [
      ...profile('2026-11-22T23:00:00.000Z', 96),
      ...profile('2026-11-22T23:00:00.000Z', 8).map((r) => ({ ...r, meteringPoint: "p?a'b+c:d" })),
      row({ time: '2026-11-23T12:00:00.000Z', kind: 'reading', periodSeconds: null, obis: '1-0:2.8.0*1', register: 'HT', unit: 'Wh', scaler: 0, value: '42' }),
    ]
    const text = formatMscons(rows, options)
    const segs = segmentsOf(text)
    expect(segs[0]).toBe('UNB+UNOC:3+9900000000002:500+9900000000003:500+261124:0700+REF0001')
    expect(segs.at(-1)).toBe('UNZ+2+REF0001')
    const starts = segs.flatMap((s, i) => (s.startsWith('UNH+') ? [i] : []))
    expect(starts).toHaveLength(2)
    for (const start of starts) {
      const end = segs.findIndex((s, i) => i > start && s.startsWith('UNT+'))
      const [, count, ref] = (segs[end] ?? '').split('+')
      expect(Number(count)).toBe(end - start + 1)
      expect(ref).toBe((segs[start] ?? '').split('+')[1])
    }
    expect(segs).toContain("LOC+172+p??a?'b?+c?:d")
    expect(segs).toContain('PIA+5+1-0?:2.8.0*1:SRW')
    expect(segs).toContain('QTY+220:0.042:KWH')
    expect(segs).toContain('DTM+7:202611231300?+01:303')
    expect(segs.filter((s) => s.startsWith('QTY+'))).toHaveLength(96 + 8 + 1)
  })

  it('a DST day (25 October 2026) has 100 quarter hours; 02:00 appears in both MESZ and MEZ', () => {
    const rows = profile('2026-10-24T22:00:00.000Z', 100)
    const segs = segmentsOf(formatMscons(rows, options))
    expect(segs.filter((s) => s.startsWith('QTY+'))).toHaveLength(100)
    expect(segs).toContain('DTM+163:202610250000?+02:303')
    expect(segs).toContain('DTM+164:202610250200?+02:303')
    expect(segs).toContain('DTM+164:202610250200?+01:303')
    expect(segs).toContain('DTM+164:202610260000?+01:303')
    // The first DTM+164 is the message period's end; the other 100 are the interval ends, all distinct.
    const ends = segs.filter((s) => s.startsWith('DTM+164:')).slice(1)
    expect(new Set(ends).size).toBe(100)
  })

  it('escapeEdifact releases ? \' + : and nothing else (property: unescaping gives the input back)', () => {
    expect(escapeEdifact("a?b'c+d:e f")).toBe("a??b?'c?+d?:e f")
    fc.assert(fc.property(fc.string(), (s) => {
      const escaped = escapeEdifact(s)
      expect(escaped.replace(/\?(.)/g, '$1')).toBe(s)
      expect(/(?<!\?)['+:]/.test(escaped.replace(/\?\?/g, ''))).toBe(false)
    }))
  })
})

describe('CSV and JSON', () => {
  it('CSV: RFC 4180 header and quoting, CRLF, exact quantities, gaps empty', () => {
    const rows = [...profile('2026-11-22T23:00:00.000Z', 2, [1]), row({ time: '2026-11-23T12:00:00.000Z', meteringPoint: 'p,"x"', kind: 'reading', periodSeconds: null, register: 'HT', value: '-7', status: 3 })]
    const text = formatCsv(rows)
    const lines = text.split('\r\n')
    expect(lines[0]).toBe(CSV_COLUMNS.join(','))
    expect(lines[1]).toBe('DE0001234567890000000000000012345,metering-point,1-0:1.8.0*255,,profile,900,2026-11-22T23:15:00.000Z,1000000,-1,Wh,100000.0,0,,smgw-0001,smgw-0001:taf7:1')
    expect(lines[2]).toBe('DE0001234567890000000000000012345,metering-point,1-0:1.8.0*255,,profile,900,2026-11-22T23:30:00.000Z,,-1,Wh,,4,gap,smgw-0001,smgw-0001:taf7:1')
    expect(lines[3]).toBe('"p,""x""",metering-point,1-0:1.8.0*255,HT,reading,,2026-11-23T12:00:00.000Z,-7,-1,Wh,-0.7,3,timeInvalid meterError,smgw-0001,smgw-0001:taf7:1')
    expect(lines[4]).toBe('')
    expect(lines).toHaveLength(5)
  })

  it('JSON: grouped by metering point and series, values exact', () => {
    const rows = [...profile('2026-11-22T23:00:00.000Z', 3, [2]), row({ time: '2026-11-23T12:00:00.000Z', meteringPoint: 'p-a', obis: '1-0:2.8.0*255' })]
    const json = JSON.parse(formatJsonExport(rows)) as { format: string; meteringPoints: { id: string; series: { obis: string; values: { value: string | null }[] }[] }[] }
    expect(json.format).toBe('smgw-emt-export')
    expect(json.meteringPoints.map((p) => p.id)).toEqual(['DE0001234567890000000000000012345', 'p-a'])
    expect(json.meteringPoints[0]?.series[0]?.values.map((v) => v.value)).toEqual(['1000000', '1000025', null])
    expect(groupValues([])).toEqual([])
  })
})
