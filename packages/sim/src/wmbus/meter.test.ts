import fc from 'fast-check'
import { decodeWirelessTelegram, type WirelessTelegram } from '@smgw/mbus'
import { describe, expect, it } from 'vitest'
import { createWmbusMeter, type WmbusMeterKind, type WmbusMeterOptions } from './meter.js'

const key = Uint8Array.from(Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex'))
const otherKey = Uint8Array.from(Buffer.from('0f0e0d0c0b0a09080706050403020100', 'hex'))
const START = Date.UTC(2025, 0, 15, 5, 0, 0)

function values(t: WirelessTelegram): Record<string, unknown> {
  return Object.fromEntries(t.records.map((r) => [r.quantity, r.value]))
}

function meter(kind: WmbusMeterKind, options: Partial<WmbusMeterOptions> = {}) {
  return createWmbusMeter({ kind, id: '12345678', mode: 5, key, seed: 9, ...options })
}

describe('wireless M-Bus meters', () => {
  it('water meter, mode 5: volume, flow and date decode with the key; the register grows', () => {
    const m = meter('water')
    const first = m.next(new Date(START))
    const e = m.next(new Date(START + 3 * 3_600_000))
    const t = decodeWirelessTelegram(e.bytes, { key })
    expect(t.meter).toMatchObject({ manufacturer: 'SIM', id: '12345678', deviceType: { code: 7 } })
    expect(t.securityMode).toBe(5)
    expect(t.accessNumber).toBe((first.values.accessNumber + 1) & 0xff)
    expect(values(t)).toEqual({ volume: e.values.volumeM3, volume_flow: e.values.flowM3h, date: '2025-01-15' })
    expect(e.values.volumeM3).toBeGreaterThan(first.values.volumeM3 ?? 0)
    // 06:00–09:00 local is the morning draw: tens of litres.
    expect(e.values.volumeM3).toBeGreaterThan(0.03)
  })

  it('heat meter: energy, volume, power, flow and return temperature', () => {
    const m = meter('heat')
    m.next(new Date(START))
    const e = m.next(new Date(START + 3_600_000))
    const t = decodeWirelessTelegram(e.bytes, { key })
    expect(t.meter.deviceType.code).toBe(4)
    const v = values(t)
    expect(v).toMatchObject({
      energy: e.values.energyWh,
      volume: e.values.volumeM3,
      power: e.values.powerW,
      volume_flow: e.values.flowM3h,
      flow_temperature: e.values.flowTemperatureC,
      return_temperature: e.values.returnTemperatureC,
    })
    expect(e.values.flowTemperatureC).toBeGreaterThan(e.values.returnTemperatureC ?? Infinity)
    expect(e.values.energyWh).toBeGreaterThanOrEqual(1000)
  })

  it('gas meter, mode 7: ELL and AFL, message counter and access number increment', () => {
    const m = meter('gas', { mode: 7, messageCounterStart: 100, accessNumberStart: 254 })
    const decoded = [0, 1, 2].map((i) => {
      const e = m.next(new Date(START + i * 30_000))
      return { e, t: decodeWirelessTelegram(e.bytes, { key }) }
    })
    expect(decoded.map(({ t }) => t.afl?.messageCounter)).toEqual([101, 102, 103])
    expect(decoded.map(({ e }) => e.values.messageCounter)).toEqual([101, 102, 103])
    expect(decoded.map(({ t }) => t.accessNumber)).toEqual([255, 0, 1])
    for (const { e, t } of decoded) {
      expect(t.securityMode).toBe(7)
      expect(t.ell?.accessNumber).toBe(e.values.accessNumber)
      expect(t.meter.deviceType.code).toBe(3)
      expect(values(t).volume).toBe(e.values.volumeM3)
    }
  })

  it('heat cost allocator: HCA units', () => {
    const m = meter('hca', { mode: 7 })
    m.next(new Date(START))
    const e = m.next(new Date(START + 24 * 3_600_000))
    const t = decodeWirelessTelegram(e.bytes, { key })
    expect(t.meter.deviceType.code).toBe(8)
    expect(values(t)).toEqual({ hca_units: e.values.hcaUnits, date: '2025-01-16' })
    expect(e.values.hcaUnits).toBeGreaterThan(100)
  })

  it('frames with format A CRCs decode as sent over the air; mode 0 needs no key', () => {
    const e = meter('water', { crc: 'A', mode: 0 }).next(new Date(START))
    const t = decodeWirelessTelegram(e.bytes, { crc: 'present' })
    expect(t.link.crcPresent).toBe(true)
    expect(t.securityMode).toBe(0)
    expect(values(t).volume).toBe(0)
  })

  it('the wrong key fails the way a gateway sees it', () => {
    const five = meter('water').next(new Date(START))
    expect(() => decodeWirelessTelegram(five.bytes, { key: otherKey })).toThrow(expect.objectContaining({ code: 'DECRYPT_FAILED' }))
    const seven = meter('gas', { mode: 7 }).next(new Date(START))
    expect(() => decodeWirelessTelegram(seven.bytes, { key: otherKey })).toThrow(expect.objectContaining({ code: 'MAC_MISMATCH' }))
    expect(() => decodeWirelessTelegram(seven.bytes)).toThrow(expect.objectContaining({ code: 'MISSING_KEY' }))
  })

  it('rejects bad options and time going backwards with typed errors', () => {
    expect(() => createWmbusMeter({ kind: 'water', id: '1234567', seed: 1, key })).toThrow(expect.objectContaining({ code: 'SIM_CONFIG' }))
    expect(() => createWmbusMeter({ kind: 'water', id: '12345678', seed: 1 })).toThrow(expect.objectContaining({ code: 'SIM_KEY' }))
    expect(() => createWmbusMeter({ kind: 'water', id: '12345678', seed: 1, key: new Uint8Array(8) })).toThrow(expect.objectContaining({ code: 'SIM_KEY' }))
    expect(() => createWmbusMeter({ kind: 'oil' as 'gas', id: '12345678', seed: 1, key })).toThrow(expect.objectContaining({ code: 'SIM_CONFIG' }))
    expect(() => createWmbusMeter({ kind: 'gas', id: '12345678', seed: 1, key, manufacturer: 'S1M' })).toThrow(expect.objectContaining({ code: 'SIM_CONFIG' }))
    const m = meter('water')
    m.next(new Date(START))
    expect(() => m.next(new Date(START - 1))).toThrow(expect.objectContaining({ code: 'SIM_TIME' }))
    // 10⁶ m³ is 10⁹ l: more than the 8 BCD digits of the volume record.
    const full = meter('water', { initialRegister: 1_000_000 })
    expect(() => full.next(new Date(START))).toThrow(expect.objectContaining({ code: 'SIM_ENCODE', cause: expect.objectContaining({ code: 'MBUS_ENCODE' }) }))
  })

  it('property: any kind, mode, seed and schedule decodes with the key and registers never fall', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<WmbusMeterKind>('water', 'heat', 'gas', 'hca'),
        fc.constantFrom<0 | 5 | 7>(0, 5, 7),
        fc.constantFrom<'A' | 'B' | undefined>('A', 'B', undefined),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.array(fc.integer({ min: 16_000, max: 96_000 }), { minLength: 1, maxLength: 8 }),
        (kind, mode, crc, seed, gaps) => {
          const m = createWmbusMeter({ kind, id: '00000042', mode, seed, key, ...(crc ? { crc } : {}) })
          let t = START + (seed % 365) * 86_400_000
          let last = -1
          let access: number | undefined
          for (const gap of gaps) {
            t += gap
            const e = m.next(new Date(t))
            const d = decodeWirelessTelegram(e.bytes, { key })
            expect(d.securityMode).toBe(mode)
            if (access !== undefined) expect(d.accessNumber).toBe((access + 1) & 0xff)
            access = d.accessNumber
            const main = (e.values.energyWh ?? e.values.volumeM3 ?? e.values.hcaUnits)!
            expect(main).toBeGreaterThanOrEqual(last)
            last = main
          }
        },
      ),
      { numRuns: 80 },
    )
  })

  it('is reproducible for a seed', () => {
    const run = (seed: number) => {
      const m = meter('heat', { mode: 7, seed })
      return [0, 1, 2].map((i) => Buffer.from(m.next(new Date(START + i * 40_000)).bytes).toString('hex'))
    }
    expect(run(5)).toEqual(run(5))
    expect(run(5)).not.toEqual(run(6))
  })
})
